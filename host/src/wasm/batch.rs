//! Batches of rows in the contract's row encoding, as the host sends them:
//! pairs (source, destination) for comparators, single rows for taggers. Each
//! item keeps its byte range, and its key is known (given, or read back from
//! the item's own key columns), so a failed batch can be re-run item by item
//! to pin the failure on one row.

use crate::db::RowRef;
use crate::db::key::key_json;
use movex_guest::Value;
use movex_guest::codec::Encoder;
use std::ops::Range;

/// Bytes reserved for the item count: a 5-byte (padded) LEB128, patched as
/// items are pushed, so no copy is needed to prepend it.
const HEADER: usize = 5;

#[derive(Debug, Clone)]
pub struct Batch {
    enc: Encoder,
    items: Vec<Range<usize>>,
    keys: Keys,
}

/// Where an item's key comes from.
#[derive(Debug, Clone)]
enum Keys {
    /// Given with each item.
    Given(Vec<String>),
    /// The `len` values after the item's first `skip` values: rows that lead
    /// with their key, so nothing is kept per item.
    Leading { skip: usize, len: usize },
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

impl Batch {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    pub fn with_capacity(bytes: usize) -> Self {
        let mut enc = Encoder::with_capacity(bytes + HEADER);
        enc.buf.extend_from_slice(&padded_leb128(0));
        Batch { enc, items: Vec::new(), keys: Keys::Given(Vec::new()) }
    }

    /// A batch whose items lead with their key: `len` key values after the
    /// item's first `skip` values (pairs whose second row is the base skip
    /// the first row's values). Items go in with [`Batch::push_encoded_pair`].
    pub fn keyed_by_columns(skip: usize, len: usize) -> Self {
        Batch { keys: Keys::Leading { skip, len }, ..Self::new() }
    }

    /// A comparator item from rows already encoded (source then
    /// destination), copied as they are. For batches made with
    /// [`Batch::keyed_by_columns`].
    pub fn push_encoded_pair(&mut self, src: &[u8], dst: &[u8]) {
        debug_assert!(matches!(self.keys, Keys::Leading { .. }), "a batch of given keys needs a key per item");
        let start = self.enc.buf.len();
        self.enc.buf.extend_from_slice(src);
        self.enc.buf.extend_from_slice(dst);
        self.finish_item(None, start);
    }

    /// A comparator item: the source row then the destination row, both in the
    /// binding's column order.
    pub fn push_pair<'s, 'd>(
        &mut self,
        key: impl Into<String>,
        src: impl IntoIterator<Item = Value<'s>>,
        dst: impl IntoIterator<Item = Value<'d>>,
    ) {
        let start = self.enc.buf.len();
        self.enc.row(src);
        self.enc.row(dst);
        self.finish_item(Some(key.into()), start);
    }

    /// A tagger item: one row.
    pub fn push_row<'v>(&mut self, key: impl Into<String>, row: impl IntoIterator<Item = Value<'v>>) {
        let start = self.enc.buf.len();
        self.enc.row(row);
        self.finish_item(Some(key.into()), start);
    }

    fn finish_item(&mut self, key: Option<String>, start: usize) {
        self.items.push(start..self.enc.buf.len());
        if let (Keys::Given(keys), Some(key)) = (&mut self.keys, key) {
            keys.push(key);
        }
        let n = u32::try_from(self.items.len()).expect("batch under 2^32 items");
        self.enc.buf[..HEADER].copy_from_slice(&padded_leb128(n));
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn clear(&mut self) {
        self.enc.buf.truncate(HEADER);
        self.enc.buf[..HEADER].copy_from_slice(&padded_leb128(0));
        self.items.clear();
        if let Keys::Given(keys) = &mut self.keys {
            keys.clear();
        }
    }

    /// The encoded batch, as the guest receives it.
    pub fn bytes(&self) -> &[u8] {
        &self.enc.buf
    }

    /// Item `i`'s bytes (its row or rows).
    pub fn item(&self, i: usize) -> &[u8] {
        &self.enc.buf[self.items[i].clone()]
    }

    /// Item `i`'s key, as findings show it.
    pub fn key(&self, i: usize) -> String {
        match &self.keys {
            Keys::Given(keys) => keys[i].clone(),
            Keys::Leading { skip, len } => {
                let item = self.item(i);
                let skipped = RowRef::from_bytes(item).prefix(*skip).len();
                key_json(&RowRef::from_bytes(&item[skipped..]).key(*len)).to_string()
            }
        }
    }

    /// A batch of just item `i`, to re-run it alone.
    pub fn single(&self, i: usize) -> Vec<u8> {
        let item = self.item(i);
        let mut out = Vec::with_capacity(item.len() + 1);
        out.push(1);
        out.extend_from_slice(item);
        out
    }
}

fn padded_leb128(n: u32) -> [u8; HEADER] {
    let mut b = [0u8; HEADER];
    for (i, byte) in b.iter_mut().enumerate() {
        *byte = ((n >> (7 * i)) & 0x7f) as u8 | if i < HEADER - 1 { 0x80 } else { 0 };
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use movex_guest::codec::Reader;

    #[test]
    fn the_padded_count_decodes_and_items_can_be_cut_out() {
        let mut b = Batch::new();
        for i in 0..200i64 {
            b.push_pair(format!("k{i}"), [Value::Int(i)], [Value::Text("x")]);
        }
        let mut r = Reader::new(b.bytes());
        assert_eq!(r.count().unwrap(), 200);
        assert_eq!(r.value().unwrap(), Value::Int(0));
        let one = b.single(150);
        let mut r = Reader::new(&one);
        assert_eq!(r.count().unwrap(), 1);
        assert_eq!(r.value().unwrap(), Value::Int(150));
        assert_eq!(r.value().unwrap(), Value::Text("x"));
        assert!(r.is_empty());
        assert_eq!(b.key(150), "k150");
        b.clear();
        assert_eq!(Reader::new(b.bytes()).count().unwrap(), 0);
    }

    #[test]
    fn keys_read_back_from_the_items_key_columns() {
        let mut enc = Encoder::new();
        enc.row([Value::Int(7), Value::Text("k"), Value::Null]);
        let src = enc.buf.clone();
        let mut enc = Encoder::new();
        enc.row([Value::Uint(7), Value::Text("k"), Value::Int(1)]);
        let dst = enc.buf.clone();
        let mut by_src = Batch::keyed_by_columns(0, 2);
        by_src.push_encoded_pair(&src, &dst);
        assert_eq!(by_src.key(0), r#"[7,"k"]"#);
        let mut by_dst = Batch::keyed_by_columns(3, 1);
        by_dst.push_encoded_pair(&src, &dst);
        assert_eq!(by_dst.key(0), "7");
        let mut r = Reader::new(by_dst.bytes());
        assert_eq!(r.count().unwrap(), 1);
        assert_eq!(&by_dst.bytes()[r.position()..], [src, dst].concat(), "the rows as encoded, source first");
    }
}
