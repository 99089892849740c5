//! Text: exact by default; `case_insensitive` (Unicode lowercase) and
//! `whitespace_insensitive` (trimmed, inner runs as one space), compared as
//! character iterators so the per-column path never allocates.

use super::ColumnRule;

#[inline]
pub(super) fn text_equal(x: &str, y: &str, rule: &ColumnRule) -> bool {
    if !rule.case_insensitive && !rule.whitespace_insensitive {
        return x == y;
    }
    // Iterators, no allocation: this runs per column per row.
    let ws = rule.whitespace_insensitive;
    if rule.case_insensitive {
        spaced(x, ws).flat_map(char::to_lowercase).eq(spaced(y, ws).flat_map(char::to_lowercase))
    } else {
        spaced(x, ws).eq(spaced(y, ws))
    }
}

/// `s`'s characters; with `collapse`, trimmed and with each run of white
/// space read as one space.
fn spaced(s: &str, collapse: bool) -> impl Iterator<Item = char> + '_ {
    let s = if collapse { s.trim() } else { s };
    let mut in_space = false;
    s.chars().filter_map(move |c| {
        if collapse && c.is_whitespace() {
            (!std::mem::replace(&mut in_space, true)).then_some(' ')
        } else {
            in_space = false;
            Some(c)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Rules, cmp};
    use crate::row::RowBuf;

    #[test]
    fn spaced_collapses_runs_and_trims() {
        assert_eq!(spaced("  a \t\n b  c ", true).collect::<String>(), "a b c");
        assert_eq!(spaced(" a  b ", false).collect::<String>(), " a  b ");
    }

    #[test]
    fn text_case_and_whitespace_rules() {
        let r = Rules::new().case_insensitive("email").whitespace_insensitive("name");
        assert!(cmp(&r, RowBuf::new().col("email", "Ada@X.IO"), RowBuf::new().col("email", "ada@x.io")).is_equal());
        assert!(cmp(&r, RowBuf::new().col("name", " Ada  Lovelace "), RowBuf::new().col("name", "Ada Lovelace")).is_equal());
        assert!(!cmp(&r, RowBuf::new().col("name", "ada"), RowBuf::new().col("name", "Ada")).is_equal());
    }
}
