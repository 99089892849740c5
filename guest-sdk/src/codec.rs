//! The row encoding that carries rows across the wasm boundary (version 1; the
//! table of tags is in `wit/plugin.wit`). The host encodes with `Encoder`, the
//! guest reads with `Reader`; both live here so there is one codec, not two.

use crate::value::{Date, Time, Timestamp, Value};
use std::fmt;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const UINT: u8 = 4;
const FLOAT: u8 = 5;
const DECIMAL: u8 = 6;
const TEXT: u8 = 7;
const BYTES: u8 = 8;
const DATE: u8 = 9;
const TIME: u8 = 10;
const TIMESTAMP: u8 = 11;
const JSON: u8 = 12;

/// Malformed encoded data: a host bug or a version mismatch, never user data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub what: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed row encoding at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for DecodeError {}

/// Appends values, rows and batch headers to a byte buffer.
#[derive(Default, Debug, Clone)]
pub struct Encoder {
    pub buf: Vec<u8>,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Self { buf: Vec::with_capacity(n) }
    }

    /// A batch starts with how many pairs (comparator) or rows (tagger) follow.
    pub fn count(&mut self, n: u32) {
        leb128(&mut self.buf, n);
    }

    /// Inlined so a caller that builds a value of a known kind writes its
    /// tag and payload directly, with no enum moved between the two.
    #[inline]
    pub fn value(&mut self, v: &Value<'_>) {
        let b = &mut self.buf;
        match *v {
            Value::Null => b.push(NULL),
            Value::Bool(false) => b.push(FALSE),
            Value::Bool(true) => b.push(TRUE),
            Value::Int(i) => {
                b.push(INT);
                b.extend_from_slice(&i.to_le_bytes());
            }
            Value::Uint(u) => {
                b.push(UINT);
                b.extend_from_slice(&u.to_le_bytes());
            }
            Value::Float(x) => {
                b.push(FLOAT);
                b.extend_from_slice(&x.to_le_bytes());
            }
            Value::Decimal(s) => bytes(b, DECIMAL, s.as_bytes()),
            Value::Text(s) => bytes(b, TEXT, s.as_bytes()),
            Value::Bytes(x) => bytes(b, BYTES, x),
            Value::Json(s) => bytes(b, JSON, s.as_bytes()),
            Value::Date(d) => {
                b.push(DATE);
                date(b, d);
            }
            Value::Time(t) => {
                b.push(TIME);
                b.extend_from_slice(&t.micros.to_le_bytes());
            }
            Value::Timestamp(t) => {
                b.push(TIMESTAMP);
                date(b, t.date);
                b.extend_from_slice(&t.micros_of_day.to_le_bytes());
            }
        }
    }

    /// One row: its values in layout order.
    pub fn row<'v>(&mut self, values: impl IntoIterator<Item = Value<'v>>) {
        for v in values {
            self.value(&v);
        }
    }
}

fn bytes(b: &mut Vec<u8>, tag: u8, x: &[u8]) {
    b.push(tag);
    leb128(b, u32::try_from(x.len()).expect("a value over 4 GiB cannot be encoded"));
    b.extend_from_slice(x);
}

fn date(b: &mut Vec<u8>, d: Date) {
    b.extend_from_slice(&d.year.to_le_bytes());
    b.push(d.month);
    b.push(d.day);
}

fn leb128(b: &mut Vec<u8>, mut n: u32) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            b.push(byte);
            return;
        }
        b.push(byte | 0x80);
    }
}

/// Reads values back from an encoded buffer, front to back.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    #[inline]
    pub fn count(&mut self) -> Result<u32, DecodeError> {
        let mut n: u32 = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.take(1, "truncated length")?[0];
            n |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(self.err("length longer than 5 bytes"))
    }

    /// Skip one value and return where it started: rows are indexed by value
    /// offsets and decoded only when a column is read.
    #[inline]
    pub fn skip(&mut self) -> Result<usize, DecodeError> {
        let start = self.pos;
        let tag = self.take(1, "truncated value")?[0];
        let len = match tag {
            NULL | FALSE | TRUE => 0,
            INT | UINT | FLOAT | TIME => 8,
            DATE => 6,
            TIMESTAMP => 14,
            DECIMAL | TEXT | BYTES | JSON => self.count()? as usize,
            _ => return Err(DecodeError { offset: start, what: "unknown value tag" }),
        };
        self.take(len, "truncated value")?;
        Ok(start)
    }

    pub fn value(&mut self) -> Result<Value<'a>, DecodeError> {
        let start = self.pos;
        let tag = self.take(1, "truncated value")?[0];
        Ok(match tag {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            INT => Value::Int(i64::from_le_bytes(self.array()?)),
            UINT => Value::Uint(u64::from_le_bytes(self.array()?)),
            FLOAT => Value::Float(f64::from_le_bytes(self.array()?)),
            TIME => Value::Time(Time { micros: i64::from_le_bytes(self.array()?) }),
            DATE => Value::Date(self.date()?),
            TIMESTAMP => {
                let date = self.date()?;
                Value::Timestamp(Timestamp { date, micros_of_day: u64::from_le_bytes(self.array()?) })
            }
            DECIMAL => Value::Decimal(self.str()?),
            TEXT => Value::Text(self.str()?),
            JSON => Value::Json(self.str()?),
            BYTES => {
                let n = self.count()? as usize;
                Value::Bytes(self.take(n, "truncated bytes")?)
            }
            _ => return Err(DecodeError { offset: start, what: "unknown value tag" }),
        })
    }

    /// Decode the value that starts at `offset` (as returned by `skip`).
    #[inline]
    pub fn value_at(data: &'a [u8], offset: usize) -> Result<Value<'a>, DecodeError> {
        Reader { data, pos: offset }.value()
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.count()? as usize;
        let at = self.pos;
        let b = self.take(n, "truncated text")?;
        std::str::from_utf8(b).map_err(|_| DecodeError { offset: at, what: "text is not UTF-8" })
    }

    fn date(&mut self) -> Result<Date, DecodeError> {
        let b = self.take(6, "truncated date")?;
        Ok(Date { year: i32::from_le_bytes([b[0], b[1], b[2], b[3]]), month: b[4], day: b[5] })
    }

    fn array(&mut self) -> Result<[u8; 8], DecodeError> {
        let b = self.take(8, "truncated number")?;
        Ok(b.try_into().expect("took 8 bytes"))
    }

    #[inline]
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let b = &self.data[self.pos..end];
                self.pos = end;
                Ok(b)
            }
            None => Err(self.err(what)),
        }
    }

    fn err(&self, what: &'static str) -> DecodeError {
        DecodeError { offset: self.pos, what }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<Value<'static>> {
        let zero = Date { year: 0, month: 0, day: 0 };
        vec![
            Value::Null,
            Value::Bool(false),
            Value::Bool(true),
            Value::Int(i64::MIN),
            Value::Uint(u64::MAX),
            Value::Float(-0.125),
            Value::Decimal("-12345678901234567890.000100"),
            Value::Text("héllo"),
            Value::Bytes(&[0, 255, 7]),
            Value::Date(zero),
            Value::Date(Date { year: -4712, month: 1, day: 1 }),
            Value::Date(Date::INFINITY),
            Value::Date(Date::NEG_INFINITY),
            Value::Time(Time { micros: -838 * 3_600_000_000 }),
            Value::Timestamp(Timestamp { date: zero, micros_of_day: 0 }),
            Value::Json(r#"{"a":[1,2]}"#),
            Value::Text(""),
        ]
    }

    #[test]
    fn every_kind_round_trips_without_loss() {
        let values = every_kind();
        let mut e = Encoder::new();
        e.count(values.len() as u32);
        e.row(values.iter().copied());
        let mut r = Reader::new(&e.buf);
        assert_eq!(r.count().unwrap() as usize, values.len());
        for v in &values {
            assert_eq!(&r.value().unwrap(), v);
        }
        assert!(r.is_empty());
    }

    #[test]
    fn skip_and_value_at_agree_with_value() {
        let values = every_kind();
        let mut e = Encoder::new();
        e.row(values.iter().copied());
        let mut r = Reader::new(&e.buf);
        for v in &values {
            let at = r.skip().unwrap();
            assert_eq!(&Reader::value_at(&e.buf, at).unwrap(), v);
        }
    }

    #[test]
    fn long_lengths_use_several_leb128_bytes() {
        let long = "x".repeat(300);
        let mut e = Encoder::new();
        e.value(&Value::Text(&long));
        assert_eq!(e.buf.len(), 1 + 2 + 300);
        assert_eq!(Reader::new(&e.buf).value().unwrap(), Value::Text(&long));
    }

    #[test]
    fn truncated_and_unknown_input_is_an_error_not_a_panic() {
        let mut e = Encoder::new();
        e.value(&Value::Text("abcdef"));
        for cut in 0..e.buf.len() {
            assert!(Reader::new(&e.buf[..cut]).value().is_err(), "cut at {cut}");
        }
        let err = Reader::new(&[99]).value().unwrap_err();
        assert_eq!(err.what, "unknown value tag");
        assert!(Reader::new(&[TEXT, 2, 0xff, 0xfe]).value().is_err());
    }
}
