//! Values a row can hold: what MySQL/MariaDB, PostgreSQL and SQLite give, after
//! the host normalised them. `Value` borrows from an encoded row (no copies on
//! the hot path); `OwnedValue` is what the host and native tests build rows from.

use std::fmt;

/// A calendar date. Fields are kept as stored so MySQL's zero date
/// `0000-00-00` (and zero-in-date values like `2024-00-10`) survive unchanged.
/// Years are signed (PostgreSQL's 1 BC is year 0, 2 BC is -1) and may pass
/// 9999; [`Date::INFINITY`] and [`Date::NEG_INFINITY`] stand for PostgreSQL's
/// `infinity` and `-infinity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    pub const INFINITY: Date = Date { year: i32::MAX, month: 0, day: 0 };
    pub const NEG_INFINITY: Date = Date { year: i32::MIN, month: 0, day: 0 };

    /// A real calendar day: not a zero date, not an infinity.
    pub fn is_calendar_day(&self) -> bool {
        (1..=12).contains(&self.month) && (1..=31).contains(&self.day)
    }
}

/// A time of day or a duration: signed microseconds, because MySQL `TIME`
/// spans -838:59:59 to 838:59:59.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time {
    pub micros: i64,
}

/// A date and time in UTC with microsecond precision. The host converts
/// zone-aware columns (PostgreSQL `timestamptz`) to UTC before encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub date: Date,
    /// Microseconds since midnight, `0..86_400_000_000`.
    pub micros_of_day: u64,
}

/// Microseconds in a day.
pub const MICROS_PER_DAY: u64 = 86_400_000_000;
/// The same, signed, for arithmetic on times before the epoch.
pub const MICROS_PER_DAY_I64: i64 = MICROS_PER_DAY as i64;

/// The kinds of value, one per tag of the row encoding (see `wit/plugin.wit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Null,
    Bool,
    Int,
    Uint,
    Float,
    Decimal,
    Text,
    Bytes,
    Date,
    Time,
    Timestamp,
    Json,
}

/// One column's value, borrowed from an encoded row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    /// Exact decimal text as the database gave it, e.g. `-12.500`.
    Decimal(&'a str),
    Text(&'a str),
    Bytes(&'a [u8]),
    Date(Date),
    Time(Time),
    Timestamp(Timestamp),
    /// JSON text as stored; compare with `Rules::json_semantic` to ignore key
    /// order and whitespace.
    Json(&'a str),
}

/// An owned value: what the host reads from a database and native tests build.
#[derive(Clone, Debug, PartialEq)]
pub enum OwnedValue {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Decimal(String),
    Text(String),
    Bytes(Vec<u8>),
    Date(Date),
    Time(Time),
    Timestamp(Timestamp),
    Json(String),
}

impl Value<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::Uint(_) => Kind::Uint,
            Value::Float(_) => Kind::Float,
            Value::Decimal(_) => Kind::Decimal,
            Value::Text(_) => Kind::Text,
            Value::Bytes(_) => Kind::Bytes,
            Value::Date(_) => Kind::Date,
            Value::Time(_) => Kind::Time,
            Value::Timestamp(_) => Kind::Timestamp,
            Value::Json(_) => Kind::Json,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn to_owned_value(&self) -> OwnedValue {
        match *self {
            Value::Null => OwnedValue::Null,
            Value::Bool(b) => OwnedValue::Bool(b),
            Value::Int(i) => OwnedValue::Int(i),
            Value::Uint(u) => OwnedValue::Uint(u),
            Value::Float(f) => OwnedValue::Float(f),
            Value::Decimal(s) => OwnedValue::Decimal(s.to_owned()),
            Value::Text(s) => OwnedValue::Text(s.to_owned()),
            Value::Bytes(b) => OwnedValue::Bytes(b.to_owned()),
            Value::Date(d) => OwnedValue::Date(d),
            Value::Time(t) => OwnedValue::Time(t),
            Value::Timestamp(t) => OwnedValue::Timestamp(t),
            Value::Json(s) => OwnedValue::Json(s.to_owned()),
        }
    }
}

impl OwnedValue {
    /// Borrow as a `Value`, e.g. to encode it.
    pub fn as_value(&self) -> Value<'_> {
        match self {
            OwnedValue::Null => Value::Null,
            OwnedValue::Bool(b) => Value::Bool(*b),
            OwnedValue::Int(i) => Value::Int(*i),
            OwnedValue::Uint(u) => Value::Uint(*u),
            OwnedValue::Float(f) => Value::Float(*f),
            OwnedValue::Decimal(s) => Value::Decimal(s),
            OwnedValue::Text(s) => Value::Text(s),
            OwnedValue::Bytes(b) => Value::Bytes(b),
            OwnedValue::Date(d) => Value::Date(*d),
            OwnedValue::Time(t) => Value::Time(*t),
            OwnedValue::Timestamp(t) => Value::Timestamp(*t),
            OwnedValue::Json(s) => Value::Json(s),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Date::INFINITY => f.write_str("infinity"),
            Date::NEG_INFINITY => f.write_str("-infinity"),
            d => write!(f, "{:04}-{:02}-{:02}", d.year, d.month, d.day),
        }
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.micros < 0 { "-" } else { "" };
        let m = self.micros.unsigned_abs();
        let (secs, frac) = (m / 1_000_000, m % 1_000_000);
        write!(f, "{sign}{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)?;
        if frac != 0 {
            write!(f, ".{frac:06}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.date, Time { micros: self.micros_of_day as i64 })
    }
}

impl fmt::Display for Value<'_> {
    /// Short, human form for reasons and logs (long text is cut).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn cut(s: &str) -> &str {
            match s.char_indices().nth(64) {
                Some((i, _)) => &s[..i],
                None => s,
            }
        }
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Uint(u) => write!(f, "{u}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Decimal(s) => f.write_str(s),
            Value::Text(s) | Value::Json(s) => write!(f, "{:?}", cut(s)),
            Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            Value::Date(d) => write!(f, "{d}"),
            Value::Time(t) => write!(f, "{t}"),
            Value::Timestamp(t) => write!(f, "{t}"),
        }
    }
}

macro_rules! from_owned {
    ($($t:ty => $v:ident),* $(,)?) => {$(
        impl From<$t> for OwnedValue {
            fn from(x: $t) -> Self { OwnedValue::$v(x.into()) }
        }
    )*};
}
from_owned!(bool => Bool, i64 => Int, i32 => Int, u64 => Uint, u32 => Uint, f64 => Float,
    String => Text, &str => Text, Vec<u8> => Bytes, Date => Date, Time => Time,
    Timestamp => Timestamp);

impl<T: Into<OwnedValue>> From<Option<T>> for OwnedValue {
    fn from(x: Option<T>) -> Self {
        x.map_or(OwnedValue::Null, Into::into)
    }
}
