//! Numbers: integers of either sign and booleans by value, floats by value
//! (within `float_tolerance`), decimals as stored text (by value, with
//! `decimal_scale_insensitive`, or when compared with an integer), and the
//! exact number spelling JSON comparison uses. Parsing works on the stored
//! text without allocating where the per-column path calls it.

use crate::value::Value;

#[inline]
pub(super) fn as_i128(v: &Value<'_>) -> Option<i128> {
    match *v {
        Value::Int(i) => Some(i.into()),
        Value::Uint(u) => Some(u.into()),
        Value::Bool(b) => Some(b.into()),
        _ => None,
    }
}

#[inline]
pub(super) fn as_f64(v: &Value<'_>) -> Option<f64> {
    match *v {
        Value::Float(x) => Some(x),
        Value::Int(i) => Some(i as f64),
        Value::Uint(u) => Some(u as f64),
        Value::Decimal(d) => d.trim().parse().ok(),
        _ => None,
    }
}

#[inline]
pub(super) fn floats_equal(x: f64, y: f64, tolerance: Option<f64>) -> bool {
    if x == y || (x.is_nan() && y.is_nan()) {
        return true;
    }
    match tolerance {
        Some(t) => {
            let d = (x - y).abs();
            d <= t || d <= t * x.abs().max(y.abs())
        }
        None => false,
    }
}

/// A decimal against a decimal or an integer, by value: an integer is
/// written out in a stack buffer, so nothing allocates; two decimals are
/// compared as they are.
pub(super) fn decimal_by_value(a: &Value<'_>, b: &Value<'_>) -> bool {
    if let (Value::Decimal(x), Value::Decimal(y)) = (*a, *b) {
        return plain_decimals_equal(x, y).unwrap_or(false);
    }
    let text = |v: &Value<'_>| match *v {
        Value::Int(i) => IntText::new(i),
        Value::Uint(u) => IntText::new(u),
        _ => IntText { buf: [0; 40], len: 0 },
    };
    let (ta, tb) = (text(a), text(b));
    let sa = if let Value::Decimal(d) = *a { d } else { ta.as_str() };
    let sb = if let Value::Decimal(d) = *b { d } else { tb.as_str() };
    plain_decimals_equal(sa, sb).unwrap_or(false)
}

/// A plain decimal (`-0012.500`, no exponent) as (negative, integer digits,
/// fraction digits), unnormalised; `None` if it is not one.
fn split_decimal(t: &str) -> Option<(bool, &str, &str)> {
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((neg, int, frac))
}

/// Two plain decimals (`-0012.500`, `12.5`, no exponent) by value, without
/// allocating. `None` when either is not a plain decimal.
fn plain_decimals_equal(x: &str, y: &str) -> Option<bool> {
    fn parts(t: &str) -> Option<(bool, &str, &str)> {
        let (neg, int, frac) = split_decimal(t.trim())?;
        let (int, frac) = (int.trim_start_matches('0'), frac.trim_end_matches('0'));
        Some((neg && !(int.is_empty() && frac.is_empty()), int, frac))
    }
    Some(parts(x)? == parts(y)?)
}

/// An integer's decimal text in a stack buffer.
struct IntText {
    buf: [u8; 40],
    len: usize,
}

impl IntText {
    fn new(v: impl std::fmt::Display) -> Self {
        use std::io::Write;
        let mut buf = [0u8; 40];
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        write!(cursor, "{v}").expect("an i128 fits in 40 bytes");
        let len = cursor.position() as usize;
        IntText { buf, len }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("digits are ASCII")
    }
}

/// A number's exact value as (negative, significant digits, exponent):
/// `-01.50`, `-1.5` and `-15e-1` all give (true, "15", -1). Zero is
/// (false, "", 0). `None` for anything that is not a plain decimal number.
pub(super) fn canonical_number(text: &str) -> Option<(bool, String, i64)> {
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (neg, int, frac) = split_decimal(mantissa)?;
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let trimmed = digits.trim_end_matches('0');
    if trimmed.is_empty() {
        return Some((false, String::new(), 0));
    }
    let exponent = exp - frac.len() as i64 + (digits.len() - trimmed.len()) as i64;
    Some((neg, trimmed.to_owned(), exponent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{ALL, Rules, cmp};
    use crate::row::{Row, RowBuf};

    #[test]
    fn floats_compare_by_value_whatever_their_bits() {
        let r = Rules::new();
        let f = |x: f64| RowBuf::new().col("x", x);
        assert!(cmp(&r, f(0.0), f(-0.0)).is_equal(), "different bits, same value");
        assert!(cmp(&r, f(f64::NAN), f(f64::NAN)).is_equal(), "NaN is stored as NaN on both sides");
        // Same rows through one layout: the identical-bytes fast path.
        let layout = crate::row::Layout::new("t", vec![crate::row::Column { name: "x".into(), kind: crate::value::Kind::Float }]);
        let mut enc = crate::codec::Encoder::new();
        enc.value(&Value::Float(0.0));
        enc.value(&Value::Float(-0.0));
        let (a, b) = ([0u32, 9], [9u32, 18]);
        let (ra, rb) = (Row::new(&layout, &enc.buf, &a), Row::new(&layout, &enc.buf, &b));
        assert!(r.compare(&ra, &rb).is_equal());
        assert!(r.compare(&ra, &ra).is_equal());
    }

    #[test]
    fn float_tolerance_is_absolute_or_relative() {
        let r = Rules::new().float_tolerance(ALL, 1e-6);
        let f = |x: f64| RowBuf::new().col("x", x);
        assert!(cmp(&r, f(1.0), f(1.0000005)).is_equal());
        assert!(cmp(&r, f(1e12), f(1e12 + 100.0)).is_equal());
        assert!(!cmp(&r, f(1.0), f(1.01)).is_equal());
        assert!(!cmp(&Rules::new(), f(1.0), f(1.0000005)).is_equal());
    }

    #[test]
    fn plain_decimals_and_integers_compare_by_value_without_allocating() {
        assert_eq!(plain_decimals_equal("-0012.500", "-12.5"), Some(true));
        assert_eq!(plain_decimals_equal("-0.0", "0"), Some(true));
        assert_eq!(plain_decimals_equal(".5", "0.50"), Some(true));
        assert_eq!(plain_decimals_equal("12.5", "12.51"), Some(false));
        assert_eq!(plain_decimals_equal("1e3", "1000"), None);
        assert_eq!(IntText::new(i128::MIN).as_str(), i128::MIN.to_string());
        let r = Rules::new();
        let d = |s: &str| RowBuf::new().col("n", crate::value::OwnedValue::Decimal(s.into()));
        assert!(cmp(&r, d("18446744073709551615"), RowBuf::new().col("n", u64::MAX)).is_equal());
        assert!(!cmp(&r, d("18446744073709551614"), RowBuf::new().col("n", u64::MAX)).is_equal());
    }

    #[test]
    fn canonical_numbers() {
        assert_eq!(canonical_number("-01.50"), Some((true, "15".into(), -1)));
        assert_eq!(canonical_number("-15e-1"), canonical_number("-1.5"));
        assert_eq!(canonical_number("1200"), Some((false, "12".into(), 2)));
        assert_eq!(canonical_number("0.000"), Some((false, String::new(), 0)));
        assert_eq!(canonical_number("1.2.3"), None);
        assert_eq!(canonical_number("abc"), None);
        assert_eq!(canonical_number(""), None);
    }

    #[test]
    fn decimal_scale_normalisation() {
        let d = |s: &str| RowBuf::new().col("p", crate::value::OwnedValue::Decimal(s.into()));
        let r = Rules::new().decimal_scale_insensitive(ALL);
        assert!(cmp(&r, d("1.50"), d("1.5")).is_equal());
        assert!(cmp(&r, d("-0.0"), d("0")).is_equal());
        assert!(cmp(&r, d("007.10"), d("7.1")).is_equal());
        assert!(!cmp(&r, d("1.51"), d("1.5")).is_equal());
        assert!(!cmp(&Rules::new(), d("1.50"), d("1.5")).is_equal());
    }
}
