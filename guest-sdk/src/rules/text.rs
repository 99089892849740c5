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
        if x.is_ascii() && y.is_ascii() {
            // ASCII lowercases byte for byte: no character decoding, no
            // Unicode tables (most e-mails, codes and names).
            return if ws {
                spaced(x, ws).map(|c| c.to_ascii_lowercase()).eq(spaced(y, ws).map(|c| c.to_ascii_lowercase()))
            } else {
                x.eq_ignore_ascii_case(y)
            };
        }
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
    fn case_insensitive_text_is_the_same_with_and_without_the_ascii_path() {
        let both = ["Ada@X.IO", "ada@x.io", "ÄDA@x.io", "äda@X.IO", "  Ada   Lovelace ", "ada lovelace", "STRASSE", "straße", "", "a"];
        for ws in [false, true] {
            let rule = ColumnRule { case_insensitive: true, whitespace_insensitive: ws, ..ColumnRule::default() };
            for x in both {
                for y in both {
                    let by_chars = spaced(x, ws).flat_map(char::to_lowercase).eq(spaced(y, ws).flat_map(char::to_lowercase));
                    assert_eq!(text_equal(x, y, &rule), by_chars, "{x:?} vs {y:?}, whitespace_insensitive {ws}");
                }
            }
        }
        let rule = ColumnRule { case_insensitive: true, ..ColumnRule::default() };
        assert!(text_equal("ÄDA", "äda", &rule) && text_equal("ADA", "ada", &rule) && !text_equal("STRASSE", "straße", &rule));
    }

    #[test]
    fn text_case_and_whitespace_rules() {
        let r = Rules::new().case_insensitive("email").whitespace_insensitive("name");
        assert!(cmp(&r, RowBuf::new().col("email", "Ada@X.IO"), RowBuf::new().col("email", "ada@x.io")).is_equal());
        assert!(cmp(&r, RowBuf::new().col("name", " Ada  Lovelace "), RowBuf::new().col("name", "Ada Lovelace")).is_equal());
        assert!(!cmp(&r, RowBuf::new().col("name", "ada"), RowBuf::new().col("name", "Ada")).is_equal());
    }
}
