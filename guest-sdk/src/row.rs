//! Rows as a guest sees them: typed, null-aware access by column name over the
//! encoded bytes (nothing is copied until a column is read).
//!
//! `RowBuf` builds an owned row for native unit tests:
//! `RowBuf::new().col("id", 7).col("email", "a@x.io")`.

use crate::codec::{DecodeError, Encoder, Reader};
use crate::value::{Date, Kind, OwnedValue, Time, Timestamp, Value};
use std::sync::atomic::{AtomicU64, Ordering};

/// One compared column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

/// A table's column layout, given to a module once when it is bound. Each
/// layout gets a process-unique `id` so helpers can cache per-layout work.
#[derive(Debug)]
pub struct Layout {
    id: u64,
    pub table: String,
    pub columns: Vec<Column>,
}

static NEXT_LAYOUT: AtomicU64 = AtomicU64::new(1);

impl Layout {
    pub fn new(table: impl Into<String>, columns: Vec<Column>) -> Self {
        Self { id: NEXT_LAYOUT.fetch_add(1, Ordering::Relaxed), table: table.into(), columns }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// One row of a batch: a view over encoded values in layout order.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    layout: &'a Layout,
    data: &'a [u8],
    /// Where each value starts, then where the last one ends.
    offsets: &'a [u32],
}

/// Something went wrong reading a row: no such column, or not the type asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum RowError {
    NoSuchColumn(String),
    WrongType { column: String, wanted: &'static str, found: Kind },
    Decode(DecodeError),
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowError::NoSuchColumn(c) => write!(f, "no column named {c:?} in this layout"),
            RowError::WrongType { column, wanted, found } => {
                write!(f, "column {column:?} holds {found:?}, not {wanted}")
            }
            RowError::Decode(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RowError {}

impl<'a> Row<'a> {
    /// A row over `data`: `offsets` holds where each column's value starts,
    /// then where the last value ends (columns + 1 entries).
    #[inline]
    pub fn new(layout: &'a Layout, data: &'a [u8], offsets: &'a [u32]) -> Self {
        debug_assert_eq!(layout.columns.len() + 1, offsets.len());
        Self { layout, data, offsets }
    }

    pub fn layout(&self) -> &'a Layout {
        self.layout
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The encoded bytes of column `i`: equal bytes mean equal values.
    #[inline]
    pub fn raw_at(&self, i: usize) -> &'a [u8] {
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// The encoded bytes of the whole row.
    #[inline]
    pub fn raw(&self) -> &'a [u8] {
        &self.data[self.offsets[0] as usize..self.offsets[self.offsets.len() - 1] as usize]
    }

    /// The value of column `i` in layout order.
    #[inline]
    pub fn value_at(&self, i: usize) -> Result<Value<'a>, RowError> {
        Reader::value_at(self.data, self.offsets[i] as usize).map_err(RowError::Decode)
    }

    /// The value of a column by name (`Value::Null` for SQL NULL).
    pub fn value(&self, column: &str) -> Result<Value<'a>, RowError> {
        match self.layout.index_of(column) {
            Some(i) => self.value_at(i),
            None => Err(RowError::NoSuchColumn(column.to_owned())),
        }
    }

    /// Typed access: `Ok(None)` for NULL, an error for a missing column or
    /// another type. `row.get::<i64>("age")`.
    pub fn get<T: FromValue<'a>>(&self, column: &str) -> Result<Option<T>, RowError> {
        match self.value(column)? {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some).ok_or_else(|| RowError::WrongType {
                column: column.to_owned(),
                wanted: T::NAME,
                found: v.kind(),
            }),
        }
    }

    /// Text (or JSON or decimal text) of a column; `Ok(None)` for NULL.
    pub fn text(&self, column: &str) -> Result<Option<&'a str>, RowError> {
        self.get::<&'a str>(column)
    }

    pub fn is_null(&self, column: &str) -> Result<bool, RowError> {
        Ok(self.value(column)?.is_null())
    }

    /// Every (column name, value), in layout order.
    pub fn columns(&self) -> impl Iterator<Item = (&'a str, Result<Value<'a>, RowError>)> + '_ {
        let layout = self.layout;
        (0..self.len()).map(move |i| (layout.columns[i].name.as_str(), self.value_at(i)))
    }
}

/// Types a column can be read as with `Row::get`.
pub trait FromValue<'a>: Sized {
    const NAME: &'static str;
    fn from_value(v: Value<'a>) -> Option<Self>;
}

macro_rules! from_value {
    ($t:ty, $name:literal, $($pat:pat $(if $guard:expr)? => $e:expr),+) => {
        impl<'a> FromValue<'a> for $t {
            const NAME: &'static str = $name;
            #[allow(unreachable_patterns)]
            fn from_value(v: Value<'a>) -> Option<Self> {
                match v { $($pat $(if $guard)? => $e,)+ _ => None }
            }
        }
    };
}

from_value!(bool, "bool", Value::Bool(b) => Some(b), Value::Int(i) if i == 0 || i == 1 => Some(i == 1));
from_value!(i64, "i64", Value::Int(i) => Some(i), Value::Uint(u) => i64::try_from(u).ok());
from_value!(u64, "u64", Value::Uint(u) => Some(u), Value::Int(i) => u64::try_from(i).ok());
from_value!(f64, "f64", Value::Float(x) => Some(x), Value::Int(i) => Some(i as f64),
    Value::Uint(u) => Some(u as f64), Value::Decimal(d) => d.parse().ok());
from_value!(&'a str, "text", Value::Text(s) | Value::Json(s) | Value::Decimal(s) => Some(s));
from_value!(String, "text", Value::Text(s) | Value::Json(s) | Value::Decimal(s) => Some(s.to_owned()));
from_value!(&'a [u8], "bytes", Value::Bytes(b) => Some(b), Value::Text(s) => Some(s.as_bytes()));
from_value!(Date, "date", Value::Date(d) => Some(d), Value::Timestamp(t) => Some(t.date));
from_value!(Time, "time", Value::Time(t) => Some(t));
from_value!(Timestamp, "timestamp", Value::Timestamp(t) => Some(t));
from_value!(Value<'a>, "value", v => Some(v));

/// An owned row with its own layout, for native unit tests of guest logic.
#[derive(Debug)]
pub struct RowBuf {
    layout: Layout,
    enc: Encoder,
    offsets: Vec<u32>,
}

impl Default for RowBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl RowBuf {
    pub fn new() -> Self {
        Self { layout: Layout::new("test", Vec::new()), enc: Encoder::new(), offsets: vec![0] }
    }

    /// Add a column; its declared kind is the kind of the value given.
    pub fn col(mut self, name: &str, value: impl Into<OwnedValue>) -> Self {
        let value = value.into();
        self.enc.value(&value.as_value());
        self.offsets.push(self.enc.buf.len() as u32);
        self.layout.columns.push(Column { name: name.to_owned(), kind: value.as_value().kind() });
        self
    }

    pub fn row(&self) -> Row<'_> {
        Row::new(&self.layout, &self.enc.buf, &self.offsets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_access_is_null_aware_and_checks_types() {
        let buf = RowBuf::new().col("age", 42).col("name", "Ada").col("nick", None::<String>);
        let row = buf.row();
        assert_eq!(row.get::<i64>("age").unwrap(), Some(42));
        assert_eq!(row.text("name").unwrap(), Some("Ada"));
        assert_eq!(row.text("nick").unwrap(), None);
        assert!(row.is_null("nick").unwrap());
        assert_eq!(row.get::<f64>("age").unwrap(), Some(42.0));
        assert!(matches!(row.get::<i64>("name"), Err(RowError::WrongType { found: Kind::Text, .. })));
        assert_eq!(row.get::<i64>("nope"), Err(RowError::NoSuchColumn("nope".into())));
    }

    #[test]
    fn unsigned_values_beyond_i64_are_not_silently_wrapped() {
        let buf = RowBuf::new().col("n", u64::MAX);
        assert_eq!(buf.row().get::<u64>("n").unwrap(), Some(u64::MAX));
        assert!(buf.row().get::<i64>("n").is_err());
    }
}
