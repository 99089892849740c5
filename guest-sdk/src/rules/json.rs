//! JSON semantics (`json_semantic`): both sides parsed, key order and white
//! space ignored, numbers compared exactly by their spelled value (never
//! through f64). Which values count as JSON: JSON values, and for a column
//! named in the rule, text too (MariaDB's JSON is LONGTEXT).

use super::ColumnRule;
use super::number::canonical_number;
use crate::value::Value;

#[inline]
pub(super) fn json_text<'a>(v: &Value<'a>, rule: &ColumnRule) -> Option<&'a str> {
    match *v {
        Value::Json(s) => Some(s),
        Value::Text(s) if rule.json_text => Some(s),
        _ => None,
    }
}

/// `None` unless both sides parse as JSON.
pub(super) fn json_equal(x: &str, y: &str) -> Option<bool> {
    match (serde_json::from_str(x), serde_json::from_str(y)) {
        (Ok(a), Ok(b)) => Some(json_values_equal(&a, &b)),
        _ => None,
    }
}

fn json_values_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        // With `arbitrary_precision` a number keeps its text: compare exactly.
        (J::Number(x), J::Number(y)) => canonical_number(&x.to_string()) == canonical_number(&y.to_string()),
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_values_equal(p, q))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| json_values_equal(p, q)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::{ALL, Rules, cmp};
    use crate::row::RowBuf;

    #[test]
    fn json_rule_leaves_non_json_text_to_the_text_rules() {
        let r = Rules::new().json_semantic("doc").case_insensitive("email");
        assert!(cmp(&r, RowBuf::new().col("email", "A@x.io"), RowBuf::new().col("email", "a@x.io")).is_equal());
        assert!(!cmp(&r, RowBuf::new().col("name", "Ada"), RowBuf::new().col("name", "ada")).is_equal());
        // A named column's text holding JSON is compared as JSON ...
        assert!(cmp(&r, RowBuf::new().col("doc", r#"{"a":1,"b":2}"#), RowBuf::new().col("doc", r#"{"b":2,"a":1}"#)).is_equal());
        // ... but with ALL, text stays text: "1.0" is not "1".
        let all = Rules::new().json_semantic(ALL);
        assert!(!cmp(&all, RowBuf::new().col("code", "1.0"), RowBuf::new().col("code", "1")).is_equal());
    }

    #[test]
    fn json_numbers_compare_exactly_not_through_f64() {
        let j = |s: &str| RowBuf::new().col("doc", crate::value::OwnedValue::Json(s.into()));
        let r = Rules::new().json_semantic(ALL);
        assert!(!cmp(&r, j("12345678901234567890"), j("12345678901234567891")).is_equal(), "u64 beyond i64");
        assert!(!cmp(&r, j("123456789012345678901234567890"), j("123456789012345678901234567891")).is_equal());
        assert!(!cmp(&r, j("0.1"), j("0.10000000000000001")).is_equal(), "17 significant digits");
        assert!(cmp(&r, j("[1, 1.50, 2e3]"), j("[1.0, 1.5, 2000]")).is_equal(), "spelling does not matter");
        assert!(cmp(&r, j("-0.0"), j("0")).is_equal());
    }

    #[test]
    fn json_semantic_ignores_key_order_spacing_and_number_spelling() {
        let j = |s: &str| RowBuf::new().col("doc", crate::value::OwnedValue::Json(s.into()));
        let r = Rules::new().json_semantic("doc");
        assert!(cmp(&r, j(r#"{"a":1,"b":[1,2]}"#), j(r#"{ "b": [1, 2], "a": 1.0 }"#)).is_equal());
        assert!(!cmp(&r, j(r#"{"a":1}"#), j(r#"{"a":2}"#)).is_equal());
        assert!(!cmp(&Rules::new(), j(r#"{"a":1}"#), j(r#"{ "a": 1 }"#)).is_equal());
    }
}
