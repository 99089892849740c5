//! A page of rows as bytes: every value of every row written once, straight
//! from the driver's buffers, in the contract's row encoding (the bytes a
//! comparator reads), one buffer per page. Nothing is allocated per row or
//! per value: readers compare keys and hand rows to the comparator from
//! these bytes, and only the rare rows that become findings are decoded
//! into owned values ([`RowRef::to_row`]).

use super::key::{Key, cmp_value};
use movex_guest::{OwnedValue, Value};
use movex_guest::codec::{Encoder, Reader};
use std::cmp::Ordering;

/// One row held as values: the selected columns in order, key first. For
/// the few rows that become findings or are written back.
pub type Row = Vec<OwnedValue>;

/// Rows encoded back to back, each with the same columns.
#[derive(Debug, Default, Clone)]
pub struct Rows {
    enc: Encoder,
    /// Where each row starts in `enc.buf`.
    starts: Vec<usize>,
    /// Values written, over all rows.
    values: usize,
}

impl Rows {
    /// Start a row: the values written next belong to it.
    pub fn begin_row(&mut self) {
        self.starts.push(self.enc.buf.len());
    }

    #[inline]
    pub fn push_value(&mut self, v: &Value<'_>) {
        self.enc.value(v);
        self.values += 1;
    }

    /// Owned rows encoded (tests, and readers that write rows back). They
    /// must have the same columns, as the rows of one result do.
    pub fn from_rows<'r>(rows: impl IntoIterator<Item = &'r Row>) -> Rows {
        let mut out = Rows::default();
        for r in rows {
            assert!(out.is_empty() || out.values == out.len() * r.len(), "rows of one page have the same columns");
            out.begin_row();
            for v in r {
                out.push_value(&v.as_value());
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Empty it, keeping its buffers for the next page.
    pub fn clear(&mut self) {
        self.enc.buf.clear();
        self.starts.clear();
        self.values = 0;
    }

    /// The page's size: its encoded bytes.
    pub fn byte_len(&self) -> usize {
        self.enc.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    pub fn row(&self, i: usize) -> RowRef<'_> {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.enc.buf.len());
        // Every row of a result has the same columns.
        let width = self.values / self.starts.len();
        RowRef { bytes: &self.enc.buf[self.starts[i]..end], width }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = RowRef<'_>> + '_ {
        (0..self.len()).map(|i| self.row(i))
    }

    pub fn last(&self) -> Option<RowRef<'_>> {
        self.len().checked_sub(1).map(|i| self.row(i))
    }

    /// Every row decoded into owned values.
    pub fn to_rows(&self) -> Vec<Row> {
        self.iter().map(|r| r.to_row()).collect()
    }
}

/// One encoded row, borrowed from its page.
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    bytes: &'a [u8],
    /// Values in the row (`usize::MAX`: not known).
    width: usize,
}

impl<'a> RowRef<'a> {
    /// A row from bytes some [`Rows`] (or batch) wrote.
    pub fn from_bytes(bytes: &'a [u8]) -> RowRef<'a> {
        RowRef { bytes, width: usize::MAX }
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The values in order. The bytes were written by this process's
    /// encoder, so a value that does not read back is a bug: it panics.
    pub fn values(&self) -> impl Iterator<Item = Value<'a>> + 'a {
        let mut r = Reader::new(self.bytes);
        std::iter::from_fn(move || (!r.is_empty()).then(|| r.value().expect("rows are encoded by this process")))
    }

    /// The bytes of the first `n` values (the compared columns lead).
    pub fn prefix(&self, n: usize) -> &'a [u8] {
        if n >= self.width {
            return self.bytes;
        }
        let mut r = Reader::new(self.bytes);
        for _ in 0..n {
            if r.is_empty() {
                break;
            }
            r.skip().expect("rows are encoded by this process");
        }
        &self.bytes[..r.position()]
    }

    pub fn to_row(&self) -> Row {
        self.values().map(|v| v.to_owned_value()).collect()
    }

    /// The key: the first `key_len` values, owned.
    pub fn key(&self, key_len: usize) -> Key {
        self.values().take(key_len).map(|v| v.to_owned_value()).collect()
    }
}

/// Key order of two encoded rows (key first, `key_len` values), without
/// decoding anything but the key values, borrowed.
pub fn cmp_row_keys(a: RowRef<'_>, b: RowRef<'_>, key_len: usize) -> Ordering {
    for (x, y) in a.values().zip(b.values()).take(key_len) {
        let o = cmp_value(&x, &y);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_as_written_and_keys_order_across_signedness() {
        let rows: Vec<Row> = vec![
            vec![OwnedValue::Int(-3), OwnedValue::Text("a".into()), OwnedValue::Null],
            vec![OwnedValue::Uint(7), OwnedValue::Bytes(vec![0, 255]), OwnedValue::Decimal("1.50".into())],
        ];
        let page = Rows::from_rows(&rows);
        assert_eq!(page.len(), 2);
        assert_eq!(page.to_rows(), rows);
        assert_eq!(page.row(1).key(1), vec![OwnedValue::Uint(7)]);
        assert_eq!(cmp_row_keys(page.row(0), page.row(1), 1), Ordering::Less);
        let same = Rows::from_rows(&[vec![OwnedValue::Int(7), OwnedValue::Null]]);
        assert_eq!(cmp_row_keys(page.row(1), same.row(0), 1), Ordering::Equal, "7 signed is 7 unsigned");
        let two = page.row(1).prefix(2);
        assert_eq!(RowRef::from_bytes(two).to_row(), rows[1][..2]);
        assert_eq!(page.row(0).prefix(9), page.row(0).bytes(), "a prefix longer than the row is the row");
    }
}
