//! Comparison rules: what real comparators need, ready-made. A `Rules` compares
//! two rows column by column; each rule applies to one column or to `ALL`.
//!
//! ```
//! use movex_guest::{Rules, Precision, ALL, RowBuf};
//! let rules = Rules::new()
//!     .ignore("etag")
//!     .float_tolerance(ALL, 1e-9)
//!     .time_precision("utime", Precision::Seconds)
//!     .case_insensitive("email");
//! let src = RowBuf::new().col("email", "Ada@X.io").col("utime", 1_700_000_000_123i64);
//! let dst = RowBuf::new().col("email", "ada@x.io").col("utime", 1_700_000_000_000i64);
//! assert!(rules.compare(&src.row(), &dst.row()).is_equal());
//! ```
//!
//! Without rules, values compare exactly, with three conversions that are
//! storage artefacts rather than differences: `int` and `uint` compare by
//! number, a decimal compares with an integer by value, and `bool` equals the
//! integers 0 and 1 (MySQL's `BOOLEAN` is `TINYINT(1)`). NULL equals only NULL.

use crate::civil::days_from_civil;
use crate::row::Row;
use crate::value::{MICROS_PER_DAY, Timestamp, Value};
use crate::verdict::Verdict;
use std::cell::RefCell;

/// Which columns a rule applies to: a column name, or `ALL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Columns {
    All,
    Named(String),
}

/// Every column.
pub const ALL: Columns = Columns::All;

impl From<&str> for Columns {
    fn from(s: &str) -> Self {
        Columns::Named(s.to_owned())
    }
}

impl From<String> for Columns {
    fn from(s: String) -> Self {
        Columns::Named(s)
    }
}

/// Precision to truncate times to before comparing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    Seconds,
    Millis,
    Micros,
}

impl Precision {
    fn micros(self) -> u64 {
        match self {
            Precision::Seconds => 1_000_000,
            Precision::Millis => 1_000,
            Precision::Micros => 1,
        }
    }
}

/// What an integer time column counts since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochUnit {
    Seconds,
    Millis,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct ColumnRule {
    ignore: bool,
    float_tolerance: Option<f64>,
    time_precision: Option<Precision>,
    epoch_unit: Option<EpochUnit>,
    /// Integers in this column are epoch times.
    epoch_ints: bool,
    case_insensitive: bool,
    whitespace_insensitive: bool,
    json_semantic: bool,
    /// Text values of this column may hold JSON.
    json_text: bool,
    decimal_scale_insensitive: bool,
}

type Edit = fn(&mut ColumnRule, &RuleArg);

#[derive(Clone, Debug)]
enum RuleArg {
    None,
    Float(f64),
    Precision(Precision),
    Epoch(EpochUnit),
}

/// A set of comparison rules. Build once (in `bind`), compare many times.
#[derive(Debug, Default)]
pub struct Rules {
    edits: Vec<(Columns, Edit, RuleArg)>,
    /// Rules resolved per column for the last layout seen: rows of one batch
    /// share a layout, so this turns name matching into an index lookup.
    resolved: RefCell<Option<(u64, Vec<ColumnRule>)>>,
}

impl Clone for Rules {
    fn clone(&self) -> Self {
        Rules { edits: self.edits.clone(), resolved: RefCell::new(None) }
    }
}

impl Rules {
    /// Exact comparison of every column.
    pub fn new() -> Self {
        Self::default()
    }

    fn with(mut self, cols: Columns, edit: Edit, arg: RuleArg) -> Self {
        self.edits.push((cols, edit, arg));
        self.resolved = RefCell::new(None);
        self
    }

    /// Do not compare these columns.
    pub fn ignore(self, cols: impl Into<Columns>) -> Self {
        self.with(cols.into(), |r, _| r.ignore = true, RuleArg::None)
    }

    /// Floats (and numbers compared with floats) are equal when they differ by
    /// at most `tolerance`, absolutely or relative to the larger magnitude.
    pub fn float_tolerance(self, cols: impl Into<Columns>, tolerance: f64) -> Self {
        let edit: Edit = |r, a| {
            if let RuleArg::Float(t) = a {
                r.float_tolerance = Some(*t)
            }
        };
        self.with(cols.into(), edit, RuleArg::Float(tolerance))
    }

    /// Truncate times and timestamps to `precision` before comparing (a
    /// destination that stores seconds where the source has ms). For a column
    /// named here, integers are taken as epoch times (see `epoch_unit`) and
    /// truncated too; with `ALL`, integers are left alone (ids are integers).
    pub fn time_precision(self, cols: impl Into<Columns>, precision: Precision) -> Self {
        let cols = cols.into();
        let edit: Edit = match cols {
            Columns::All => |r, a| {
                if let RuleArg::Precision(p) = a {
                    r.time_precision = Some(*p)
                }
            },
            Columns::Named(_) => |r, a| {
                if let RuleArg::Precision(p) = a {
                    r.time_precision = Some(*p);
                    r.epoch_ints = true;
                }
            },
        };
        self.with(cols, edit, RuleArg::Precision(precision))
    }

    /// These integer columns count since the epoch in `unit` (without this,
    /// milliseconds): used by `time_precision` and to compare with timestamps.
    pub fn epoch_unit(self, cols: impl Into<Columns>, unit: EpochUnit) -> Self {
        let edit: Edit = |r, a| {
            if let RuleArg::Epoch(u) = a {
                r.epoch_unit = Some(*u);
                r.epoch_ints = true;
            }
        };
        self.with(cols.into(), edit, RuleArg::Epoch(unit))
    }

    /// Text compares without regard to letter case (Unicode lowercase).
    pub fn case_insensitive(self, cols: impl Into<Columns>) -> Self {
        self.with(cols.into(), |r, _| r.case_insensitive = true, RuleArg::None)
    }

    /// Text compares with leading/trailing white space dropped and inner runs
    /// of white space taken as one space.
    pub fn whitespace_insensitive(self, cols: impl Into<Columns>) -> Self {
        self.with(cols.into(), |r, _| r.whitespace_insensitive = true, RuleArg::None)
    }

    /// JSON compares as parsed JSON: key order, white space and number
    /// spelling (`1`, `1.0`, `1e0`) do not matter; numbers compare exactly,
    /// never through f64. For a column named here, text holding JSON is
    /// compared the same way (MariaDB's JSON is LONGTEXT); with `ALL`, only
    /// JSON values are (a text "1.0" is not the text "1").
    pub fn json_semantic(self, cols: impl Into<Columns>) -> Self {
        let cols = cols.into();
        let edit: Edit = match cols {
            Columns::All => |r, _| r.json_semantic = true,
            Columns::Named(_) => |r, _| {
                r.json_semantic = true;
                r.json_text = true;
            },
        };
        self.with(cols, edit, RuleArg::None)
    }

    /// Decimals compare by value: `1.50` equals `1.5` and `01.5`.
    pub fn decimal_scale_insensitive(self, cols: impl Into<Columns>) -> Self {
        self.with(cols.into(), |r, _| r.decimal_scale_insensitive = true, RuleArg::None)
    }

    fn rule_for(&self, column: &str) -> ColumnRule {
        let mut rule = ColumnRule::default();
        for (cols, edit, arg) in &self.edits {
            let hit = match cols {
                Columns::All => true,
                Columns::Named(n) => n == column,
            };
            if hit {
                edit(&mut rule, arg);
            }
        }
        rule
    }

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

fn values_equal(a: &Value<'_>, b: &Value<'_>, rule: &ColumnRule) -> bool {
    use Value::*;
    if rule.epoch_ints
        && let (Some(x), Some(y)) = (epoch_micros(a, rule), epoch_micros(b, rule))
    {
        let p = rule.time_precision.map_or(1, Precision::micros) as i128;
        return x.div_euclid(p) == y.div_euclid(p);
    }
    // Text that is not JSON falls through to the text rules below.
    if rule.json_semantic
        && let (Some(x), Some(y)) = (json_text(a, rule), json_text(b, rule))
        && let Some(eq) = json_equal(x, y)
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
        (Decimal(_) | Int(_) | Uint(_), Decimal(_) | Int(_) | Uint(_)) => {
            let text = |v: &Value<'_>| match *v {
                Value::Int(i) => IntText::new(i),
                Value::Uint(u) => IntText::new(u),
                _ => IntText { buf: [0; 40], len: 0 },
            };
            let (ta, tb) = (text(a), text(b));
            let sa = if let Decimal(d) = *a { d } else { ta.as_str() };
            let sb = if let Decimal(d) = *b { d } else { tb.as_str() };
            plain_decimals_equal(sa, sb).unwrap_or(false)
        }
        (Text(x) | Json(x), Text(y) | Json(y)) => text_equal(x, y, rule),
        (Bytes(x), Bytes(y)) => x == y,
        (Bytes(x), Text(y)) | (Text(y), Bytes(x)) => x == y.as_bytes(),
        (Time(x), Time(y)) => match rule.time_precision {
            Some(p) => x.micros.div_euclid(p.micros() as i64) == y.micros.div_euclid(p.micros() as i64),
            None => x == y,
        },
        (Date(x), Date(y)) => x == y,
        (Timestamp(x), Timestamp(y)) => match rule.time_precision {
            Some(p) if x.date.is_calendar_day() && y.date.is_calendar_day() => {
                timestamp_micros(x).div_euclid(p.micros().into()) == timestamp_micros(y).div_euclid(p.micros().into())
            }
            Some(p) => x.date == y.date && x.micros_of_day / p.micros() == y.micros_of_day / p.micros(),
            None => x == y,
        },
        _ => false,
    }
}

fn as_i128(v: &Value<'_>) -> Option<i128> {
    match *v {
        Value::Int(i) => Some(i.into()),
        Value::Uint(u) => Some(u.into()),
        Value::Bool(b) => Some(b.into()),
        _ => None,
    }
}

fn as_f64(v: &Value<'_>) -> Option<f64> {
    match *v {
        Value::Float(x) => Some(x),
        Value::Int(i) => Some(i as f64),
        Value::Uint(u) => Some(u as f64),
        Value::Decimal(d) => d.trim().parse().ok(),
        _ => None,
    }
}

fn floats_equal(x: f64, y: f64, tolerance: Option<f64>) -> bool {
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

fn text_equal(x: &str, y: &str, rule: &ColumnRule) -> bool {
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
fn canonical_number(text: &str) -> Option<(bool, String, i64)> {
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

fn json_text<'a>(v: &Value<'a>, rule: &ColumnRule) -> Option<&'a str> {
    match *v {
        Value::Json(s) => Some(s),
        Value::Text(s) if rule.json_text => Some(s),
        _ => None,
    }
}

/// `None` unless both sides parse as JSON.
fn json_equal(x: &str, y: &str) -> Option<bool> {
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

/// Microseconds since the epoch for time-like values under `rule`.
fn epoch_micros(v: &Value<'_>, rule: &ColumnRule) -> Option<i128> {
    let unit = match rule.epoch_unit.unwrap_or(EpochUnit::Millis) {
        EpochUnit::Seconds => 1_000_000,
        EpochUnit::Millis => 1_000,
    };
    match *v {
        Value::Int(i) => Some(i128::from(i) * unit),
        Value::Uint(u) => Some(i128::from(u) * unit),
        // Zero dates and infinities are no point in time: compared as stored.
        Value::Timestamp(t) if t.date.is_calendar_day() => Some(timestamp_micros(t)),
        _ => None,
    }
}

fn timestamp_micros(t: Timestamp) -> i128 {
    i128::from(days_from_civil(t.date)) * i128::from(MICROS_PER_DAY) + i128::from(t.micros_of_day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::RowBuf;
    use crate::value::Date;

    fn cmp(rules: &Rules, a: RowBuf, b: RowBuf) -> Verdict {
        rules.compare(&a.row(), &b.row())
    }

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
    fn storage_artefacts_are_not_differences() {
        let r = Rules::new();
        assert!(cmp(&r, RowBuf::new().col("n", 5i64), RowBuf::new().col("n", 5u64)).is_equal());
        assert!(cmp(&r, RowBuf::new().col("b", true), RowBuf::new().col("b", 1i64)).is_equal());
        let dec = RowBuf::new().col("d", crate::value::OwnedValue::Decimal("5.00".into()));
        assert!(cmp(&r, dec, RowBuf::new().col("d", 5i64)).is_equal());
        assert!(!cmp(&r, RowBuf::new().col("n", None::<i64>), RowBuf::new().col("n", 0i64)).is_equal());
    }

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
    fn time_precision_truncates_epoch_ms_and_timestamps() {
        let r = Rules::new().time_precision("utime", Precision::Seconds);
        let ms = |x: i64| RowBuf::new().col("utime", x);
        assert!(cmp(&r, ms(1_700_000_000_999), ms(1_700_000_000_000)).is_equal());
        assert!(!cmp(&r, ms(1_700_000_001_000), ms(1_700_000_000_999)).is_equal());
        // 2023-11-14 22:13:20 UTC is epoch 1_700_000_000 s.
        let ts = Timestamp {
            date: Date { year: 2023, month: 11, day: 14 },
            micros_of_day: (22 * 3600 + 13 * 60 + 20) * 1_000_000 + 250_000,
        };
        assert!(cmp(&r, ms(1_700_000_000_000), RowBuf::new().col("utime", ts)).is_equal());
    }

    #[test]
    fn time_precision_for_all_columns_leaves_integers_alone() {
        let r = Rules::new().time_precision(ALL, Precision::Seconds);
        assert!(!cmp(&r, RowBuf::new().col("id", 1000i64), RowBuf::new().col("id", 1001i64)).is_equal());
        let ts = |us: u64| RowBuf::new().col("t", Timestamp { date: Date { year: 2024, month: 1, day: 1 }, micros_of_day: us });
        assert!(cmp(&r, ts(5_000_001), ts(5_999_999)).is_equal());
        assert!(!cmp(&r, ts(5_999_999), ts(6_000_000)).is_equal());
    }

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
    fn spaced_collapses_runs_and_trims() {
        assert_eq!(spaced("  a \t\n b  c ", true).collect::<String>(), "a b c");
        assert_eq!(spaced(" a  b ", false).collect::<String>(), " a  b ");
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
    fn zero_dates_are_not_moved_to_january_first() {
        let ts = |m: u8, d: u8| {
            RowBuf::new().col("utime", Timestamp { date: Date { year: 0, month: m, day: d }, micros_of_day: 0 })
        };
        let r = Rules::new().time_precision("utime", Precision::Seconds);
        assert!(!cmp(&r, ts(0, 0), ts(1, 1)).is_equal());
        assert!(cmp(&r, ts(0, 0), ts(0, 0)).is_equal());
        let inf = RowBuf::new().col("utime", Timestamp { date: Date::INFINITY, micros_of_day: 0 });
        assert!(!cmp(&r, inf, ts(1, 1)).is_equal());
    }

    #[test]
    fn text_case_and_whitespace_rules() {
        let r = Rules::new().case_insensitive("email").whitespace_insensitive("name");
        assert!(cmp(&r, RowBuf::new().col("email", "Ada@X.IO"), RowBuf::new().col("email", "ada@x.io")).is_equal());
        assert!(cmp(&r, RowBuf::new().col("name", " Ada  Lovelace "), RowBuf::new().col("name", "Ada Lovelace")).is_equal());
        assert!(!cmp(&r, RowBuf::new().col("name", "ada"), RowBuf::new().col("name", "Ada")).is_equal());
    }

    #[test]
    fn json_semantic_ignores_key_order_spacing_and_number_spelling() {
        let j = |s: &str| RowBuf::new().col("doc", crate::value::OwnedValue::Json(s.into()));
        let r = Rules::new().json_semantic("doc");
        assert!(cmp(&r, j(r#"{"a":1,"b":[1,2]}"#), j(r#"{ "b": [1, 2], "a": 1.0 }"#)).is_equal());
        assert!(!cmp(&r, j(r#"{"a":1}"#), j(r#"{"a":2}"#)).is_equal());
        assert!(!cmp(&Rules::new(), j(r#"{"a":1}"#), j(r#"{ "a": 1 }"#)).is_equal());
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
