//! Comparing two rows under a [`Rules`]: rows of one layout column by column
//! by index (identical encodings short-cut to equal, rules resolved once per
//! layout), rows built separately by column name; the first difference makes
//! the reason, every differing column is listed.

use super::Rules;
use super::equal::values_equal;
use crate::row::Row;
use crate::verdict::Verdict;

impl Rules {
    /// Compare two rows column by column under these rules.
    pub fn compare(&self, src: &Row<'_>, dst: &Row<'_>) -> Verdict {
        let same_layout = std::ptr::eq(src.layout(), dst.layout());
        let mut diffs: Vec<String> = Vec::new();
        let mut reason = String::new();
        let mut note = |name: &str, why: String| {
            if diffs.is_empty() {
                reason = why;
            }
            diffs.push(name.to_owned());
        };
        if same_layout {
            // Identical encodings are equal under every rule (each rule is
            // reflexive): most pairs of a healthy migration end here.
            if bytes_eq(src.raw(), dst.raw()) {
                return Verdict::Equal;
            }
            let layout = src.layout();
            let mut cache = self.resolved.borrow_mut();
            if cache.as_ref().is_none_or(|(id, _)| *id != layout.id()) {
                let rules = layout.columns.iter().map(|c| self.rule_for(&c.name)).collect();
                *cache = Some((layout.id(), rules));
            }
            let rules = &cache.as_ref().expect("just resolved").1;
            for (i, rule) in rules.iter().enumerate() {
                if rule.ignore || bytes_eq(src.raw_at(i), dst.raw_at(i)) {
                    continue;
                }
                let (a, b) = match (src.value_at(i), dst.value_at(i)) {
                    (Ok(a), Ok(b)) => (a, b),
                    (Err(e), _) | (_, Err(e)) => return Verdict::Error(e.to_string()),
                };
                if !values_equal(&a, &b, rule) {
                    note(&layout.columns[i].name, format!("{}: {a} != {b}", layout.columns[i].name));
                }
            }
        } else {
            // Rows built separately (native tests): match columns by name.
            for (name, a) in src.columns() {
                let rule = self.rule_for(name);
                if rule.ignore {
                    continue;
                }
                let (a, b) = match (a, dst.value(name)) {
                    (Ok(a), Ok(b)) => (a, b),
                    (_, Err(crate::row::RowError::NoSuchColumn(_))) => {
                        note(name, format!("{name}: missing on destination"));
                        continue;
                    }
                    (Err(e), _) | (_, Err(e)) => return Verdict::Error(e.to_string()),
                };
                if !values_equal(&a, &b, &rule) {
                    note(name, format!("{name}: {a} != {b}"));
                }
            }
            for (name, _) in dst.columns() {
                if src.layout().index_of(name).is_none() && !self.rule_for(name).ignore {
                    note(name, format!("{name}: missing on source"));
                }
            }
        }
        match diffs.len() {
            0 => Verdict::Equal,
            1 => Verdict::Different { columns: diffs, reason },
            n => Verdict::Different { reason: format!("{reason} (+{} more)", n - 1), columns: diffs },
        }
    }
}

/// Byte equality eight bytes at a time. Inside wasm, `==` on slices calls
/// compiler-builtins' byte-by-byte `memcmp`; this is several times faster
/// there and as fast natively for the short runs rows are made of.
#[inline]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in ca.by_ref().zip(cb.by_ref()) {
        if u64::from_ne_bytes(x.try_into().expect("8")) != u64::from_ne_bytes(y.try_into().expect("8")) {
            return false;
        }
    }
    ca.remainder() == cb.remainder()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cmp;
    use crate::row::RowBuf;

    #[test]
    fn exact_rules_report_each_differing_column_with_both_values() {
        let v = cmp(
            &Rules::new(),
            RowBuf::new().col("id", 1).col("name", "Ada").col("age", 36),
            RowBuf::new().col("id", 1).col("name", "Bob").col("age", 37),
        );
        assert_eq!(v.columns(), ["name", "age"]);
        let Verdict::Different { reason, .. } = v else { panic!() };
        assert_eq!(reason, r#"name: "Ada" != "Bob" (+1 more)"#);
    }

    #[test]
    fn bytes_eq_matches_slice_equality() {
        let data: Vec<u8> = (0..40u8).collect();
        for len in 0..20 {
            for shift in 0..3 {
                let a = &data[..len];
                let mut b = data[shift..shift + len].to_vec();
                assert_eq!(bytes_eq(a, &b), a == &b[..], "len {len} shift {shift}");
                if let Some(last) = b.last_mut() {
                    *last ^= 1;
                    assert_eq!(bytes_eq(a, &b), a == &b[..]);
                }
            }
        }
        assert!(!bytes_eq(&[1, 2], &[1, 2, 3]));
    }

    #[test]
    fn ignore_skips_a_column() {
        let r = Rules::new().ignore("etag");
        assert!(cmp(&r, RowBuf::new().col("etag", "a"), RowBuf::new().col("etag", "b")).is_equal());
    }
}
