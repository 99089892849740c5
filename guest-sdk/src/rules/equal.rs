//! One value against another under one column's rule: which rule family
//! (numbers, text, JSON, times) a pair of kinds goes to, and the storage
//! artefacts that are no difference (`int` and `uint` by number, a decimal
//! against an integer by value, `bool` as 0 and 1). NULL equals only NULL.

use super::number::{as_f64, as_i128, decimal_by_value, floats_equal};
use super::{ColumnRule, Precision, json, text, time};
use crate::value::Value;

#[inline]
pub(super) fn values_equal(a: &Value<'_>, b: &Value<'_>, rule: &ColumnRule) -> bool {
    use Value::*;
    if rule.epoch_ints
        && let (Some(x), Some(y)) = (time::epoch_micros(a, rule), time::epoch_micros(b, rule))
    {
        let p = rule.time_precision.map_or(1, Precision::micros) as i128;
        return x.div_euclid(p) == y.div_euclid(p);
    }
    // Text that is not JSON falls through to the text rules below.
    if rule.json_semantic
        && let (Some(x), Some(y)) = (json::json_text(a, rule), json::json_text(b, rule))
        && let Some(eq) = json::json_equal(x, y)
    {
        return eq;
    }
    match (*a, *b) {
        (Null, Null) => true,
        (Null, _) | (_, Null) => false,
        (Float(_), _) | (_, Float(_)) => match (as_f64(a), as_f64(b)) {
            (Some(x), Some(y)) => floats_equal(x, y, rule.float_tolerance),
            _ => false,
        },
        (Int(_) | Uint(_) | Bool(_), Int(_) | Uint(_) | Bool(_)) => as_i128(a) == as_i128(b),
        (Decimal(x), Decimal(y)) if !rule.decimal_scale_insensitive => x == y,
        (Decimal(_) | Int(_) | Uint(_), Decimal(_) | Int(_) | Uint(_)) => decimal_by_value(a, b),
        (Text(x) | Json(x), Text(y) | Json(y)) => text::text_equal(x, y, rule),
        (Bytes(x), Bytes(y)) => x == y,
        (Bytes(x), Text(y)) | (Text(y), Bytes(x)) => x == y.as_bytes(),
        (Time(x), Time(y)) => time::times_equal(x, y, rule.time_precision),
        (Date(x), Date(y)) => x == y,
        (Timestamp(x), Timestamp(y)) => time::timestamps_equal(x, y, rule.time_precision),
        (Text(t), v) | (v, Text(t)) if rule.stored_as_text => spelled_by(t, &v),
        _ => false,
    }
}

/// Whether text `t` spells the typed value `v` ([`super::Rules::stored_as_text`]).
fn spelled_by(t: &str, v: &Value<'_>) -> bool {
    use Value::*;
    match *v {
        Int(_) | Uint(_) | Decimal(_) => decimal_by_value(&Decimal(t), v),
        Date(_) | Time(_) | Timestamp(_) => v.to_string() == t,
        Bool(b) => t == if b { "1" } else { "0" },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::{Rules, cmp};
    use crate::row::RowBuf;

    #[test]
    fn storage_artefacts_are_not_differences() {
        let r = Rules::new();
        assert!(cmp(&r, RowBuf::new().col("n", 5i64), RowBuf::new().col("n", 5u64)).is_equal());
        assert!(cmp(&r, RowBuf::new().col("b", true), RowBuf::new().col("b", 1i64)).is_equal());
        let dec = RowBuf::new().col("d", crate::value::OwnedValue::Decimal("5.00".into()));
        assert!(cmp(&r, dec, RowBuf::new().col("d", 5i64)).is_equal());
        assert!(!cmp(&r, RowBuf::new().col("n", None::<i64>), RowBuf::new().col("n", 0i64)).is_equal());
    }

    #[test]
    fn values_kept_as_text_equal_the_typed_values_they_spell() {
        use crate::value::{Date, OwnedValue, Timestamp};
        let text = |s: &str| RowBuf::new().col("v", s);
        let r = Rules::new().stored_as_text(crate::rules::ALL);
        assert!(cmp(&r, RowBuf::new().col("v", u64::MAX), text("18446744073709551615")).is_equal());
        assert!(!cmp(&r, RowBuf::new().col("v", u64::MAX), text("18446744073709551614")).is_equal());
        assert!(cmp(&r, RowBuf::new().col("v", OwnedValue::Decimal("-1.50".into())), text("-1.5")).is_equal());
        let ts = Timestamp { date: Date { year: 2024, month: 2, day: 29 }, micros_of_day: 86_399_000_001 };
        assert!(cmp(&r, RowBuf::new().col("v", ts), text("2024-02-29 23:59:59.000001")).is_equal());
        assert!(!cmp(&r, RowBuf::new().col("v", ts), text("2024-02-29 23:59:59")).is_equal());
        assert!(!cmp(&r, RowBuf::new().col("v", 7i64), text("seven")).is_equal());
        assert!(!cmp(&Rules::new(), RowBuf::new().col("v", 7i64), text("7")).is_equal(), "only under the rule");
    }
}
