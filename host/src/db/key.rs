//! Row keys: one value per key column. Keys are ordered the way both
//! databases are asked to order them (integers by value, strings and bytes
//! byte-wise, dates and timestamps by calendar), so a merge of the two sides
//! in key order is correct. A key is shown in findings as JSON (a scalar for
//! a one-column key, an array otherwise) and kept in checkpoints in a tagged
//! form that reads back exactly.

use movex_guest::{Date, OwnedValue, Timestamp, Value};
use serde_json::{Value as Json, json};
use std::cmp::Ordering;

pub type Key = Vec<OwnedValue>;

/// Key order across sides: an integer key may be signed on one side and
/// unsigned on the other; text and bytes compare as bytes.
pub fn cmp_keys(a: &[OwnedValue], b: &[OwnedValue]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = cmp_value(&x.as_value(), &y.as_value());
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// One key column's order, on borrowed values (see [`cmp_keys`]).
pub fn cmp_value(a: &Value<'_>, b: &Value<'_>) -> Ordering {
    use Value as V;
    match (*a, *b) {
        (V::Int(x), V::Int(y)) => x.cmp(&y),
        (V::Int(_) | V::Uint(_), V::Int(_) | V::Uint(_)) => int(a).cmp(&int(b)),
        (V::Text(_) | V::Bytes(_), V::Text(_) | V::Bytes(_)) => bytes(a).cmp(bytes(b)),
        (V::Date(x), V::Date(y)) => x.cmp(&y),
        (V::Timestamp(x), V::Timestamp(y)) => x.cmp(&y),
        (V::Null, V::Null) => Ordering::Equal,
        // Databases sort NULL first in ascending order on MySQL and SQLite;
        // key columns are NOT NULL in practice.
        (V::Null, _) => Ordering::Less,
        (_, V::Null) => Ordering::Greater,
        // Kinds that cannot meet in one key column: order by kind, stably.
        _ => rank(a).cmp(&rank(b)),
    }
}

fn int(v: &Value<'_>) -> i128 {
    match *v {
        Value::Int(i) => i128::from(i),
        Value::Uint(u) => i128::from(u),
        _ => 0,
    }
}

fn bytes<'a>(v: &Value<'a>) -> &'a [u8] {
    match *v {
        Value::Text(s) => s.as_bytes(),
        Value::Bytes(b) => b,
        _ => &[],
    }
}

fn rank(v: &Value<'_>) -> u8 {
    use Value as V;
    match v {
        V::Null => 0,
        V::Bool(_) => 1,
        V::Int(_) | V::Uint(_) => 2,
        V::Float(_) => 3,
        V::Decimal(_) => 4,
        V::Text(_) | V::Bytes(_) => 5,
        V::Date(_) => 6,
        V::Time(_) => 7,
        V::Timestamp(_) => 8,
        V::Json(_) => 9,
    }
}

/// Sort rows (key first, `key_len` columns) by key, for [`find_row`].
pub fn sort_rows(rows: &mut [Vec<OwnedValue>], key_len: usize) {
    rows.sort_by(|a, b| cmp_keys(&a[..key_len], &b[..key_len]));
}

/// The row with `key` among rows sorted by [`sort_rows`].
pub fn find_row<'r>(rows: &'r [Vec<OwnedValue>], key: &[OwnedValue], key_len: usize) -> Option<&'r Vec<OwnedValue>> {
    rows.binary_search_by(|r| cmp_keys(&r[..key_len], key)).ok().map(|i| &rows[i])
}

/// Whether values of this kind can be a key movex pages by.
pub fn is_key_kind(v: &OwnedValue) -> bool {
    matches!(v, OwnedValue::Int(_) | OwnedValue::Uint(_) | OwnedValue::Text(_) | OwnedValue::Bytes(_)
        | OwnedValue::Date(_) | OwnedValue::Timestamp(_))
}

/// A value as findings show it: numbers as numbers (DECIMAL as its exact
/// text), text as a string, bytes as `{"hex": ...}`, dates and times in ISO
/// form, JSON columns as the JSON they hold when it parses.
pub fn value_json(v: &OwnedValue) -> Json {
    use OwnedValue as V;
    match v {
        V::Null => Json::Null,
        V::Bool(b) => json!(b),
        V::Int(i) => json!(i),
        V::Uint(u) => json!(u),
        V::Float(x) => serde_json::Number::from_f64(*x).map_or_else(|| json!(x.to_string()), Json::Number),
        V::Decimal(d) => json!(d),
        V::Text(s) => json!(s),
        V::Bytes(b) => json!({ "hex": hex::encode(b) }),
        V::Date(_) | V::Time(_) | V::Timestamp(_) => json!(v.as_value().to_string()),
        V::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| json!(s)),
    }
}

/// A key as findings show it.
pub fn key_json(key: &[OwnedValue]) -> Json {
    match key {
        [one] => value_json(one),
        many => Json::Array(many.iter().map(value_json).collect()),
    }
}

/// A key back from a finding's JSON (what [`key_json`] wrote): numbers as
/// integers, strings as text (dates and timestamps too: queries cast them),
/// `{"hex": ...}` as bytes. `None` for a shape keys do not have.
pub fn key_from_json(j: &Json, key_len: usize) -> Option<Key> {
    let one = |v: &Json| -> Option<OwnedValue> {
        Some(match v {
            Json::Number(n) => match n.as_i64() {
                Some(i) => OwnedValue::Int(i),
                None => OwnedValue::Uint(n.as_u64()?),
            },
            Json::String(s) => OwnedValue::Text(s.clone()),
            Json::Object(o) => OwnedValue::Bytes(hex::decode(o.get("hex")?.as_str()?).ok()?),
            _ => return None,
        })
    };
    match (j, key_len) {
        (Json::Array(items), n) if n > 1 && items.len() == n => items.iter().map(one).collect(),
        (v, 1) => Some(vec![one(v)?]),
        _ => None,
    }
}

/// A key in the tagged form checkpoints keep: reads back to the same values.
pub fn encode(key: &[OwnedValue]) -> Json {
    use OwnedValue as V;
    Json::Array(
        key.iter()
            .map(|v| match v {
                V::Null => json!(["null"]),
                V::Bool(b) => json!(["bool", b]),
                V::Int(i) => json!(["int", i]),
                V::Uint(u) => json!(["uint", u]),
                V::Float(x) => json!(["float", x.to_bits()]),
                V::Decimal(s) => json!(["decimal", s]),
                V::Text(s) => json!(["text", s]),
                V::Bytes(b) => json!(["bytes", hex::encode(b)]),
                V::Date(d) => json!(["date", d.year, d.month, d.day]),
                V::Time(t) => json!(["time", t.micros]),
                V::Timestamp(t) => json!(["timestamp", t.date.year, t.date.month, t.date.day, t.micros_of_day]),
                V::Json(s) => json!(["json", s]),
            })
            .collect(),
    )
}

/// The inverse of [`encode`].
pub fn decode(j: &Json) -> Option<Key> {
    use OwnedValue as V;
    j.as_array()?
        .iter()
        .map(|t| {
            let t = t.as_array()?;
            let s = |i: usize| t.get(i).and_then(Json::as_str).map(str::to_owned);
            let i = |i: usize| t.get(i).and_then(Json::as_i64);
            let date = || Some(Date { year: i(1)? as i32, month: i(2)? as u8, day: i(3)? as u8 });
            Some(match t.first()?.as_str()? {
                "null" => V::Null,
                "bool" => V::Bool(t.get(1)?.as_bool()?),
                "int" => V::Int(i(1)?),
                "uint" => V::Uint(t.get(1)?.as_u64()?),
                "float" => V::Float(f64::from_bits(t.get(1)?.as_u64()?)),
                "decimal" => V::Decimal(s(1)?),
                "text" => V::Text(s(1)?),
                "bytes" => V::Bytes(hex::decode(s(1)?).ok()?),
                "date" => V::Date(date()?),
                "time" => V::Time(movex_guest::Time { micros: i(1)? }),
                "timestamp" => V::Timestamp(Timestamp { date: date()?, micros_of_day: t.get(4)?.as_u64()? }),
                "json" => V::Json(s(1)?),
                _ => return None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use OwnedValue as V;

    #[test]
    fn keys_order_across_signedness_and_bytewise_for_text() {
        assert_eq!(cmp_keys(&[V::Int(-1)], &[V::Uint(0)]), Ordering::Less);
        assert_eq!(cmp_keys(&[V::Uint(u64::MAX)], &[V::Int(i64::MAX)]), Ordering::Greater);
        assert_eq!(cmp_keys(&[V::Int(5)], &[V::Uint(5)]), Ordering::Equal);
        // Byte-wise: 'B' (0x42) < 'a' (0x61), unlike a locale order.
        assert_eq!(cmp_keys(&[V::Text("B".into())], &[V::Text("a".into())]), Ordering::Less);
        assert_eq!(cmp_keys(&[V::Text("ab".into())], &[V::Bytes(b"ab".to_vec())]), Ordering::Equal);
        assert_eq!(cmp_keys(&[V::Int(1), V::Text("b".into())], &[V::Int(1), V::Text("a".into())]), Ordering::Greater);
    }

    #[test]
    fn checkpoint_keys_read_back_exactly() {
        let key = vec![
            V::Int(i64::MIN),
            V::Uint(u64::MAX),
            V::Text("naïve \"quoted\"".into()),
            V::Bytes(vec![0, 255]),
            V::Date(Date { year: 0, month: 0, day: 0 }),
            V::Timestamp(Timestamp { date: Date { year: -44, month: 3, day: 15 }, micros_of_day: 86_399_999_999 }),
            V::Float(-0.0),
            V::Decimal("-0.10".into()),
        ];
        let back = decode(&encode(&key)).unwrap();
        assert_eq!(format!("{back:?}"), format!("{key:?}"));
        assert!(decode(&json!([["nope", 1]])).is_none());
    }

    #[test]
    fn finding_keys_read_back_as_keys() {
        for key in [vec![V::Int(-3)], vec![V::Uint(u64::MAX)], vec![V::Text("a".into()), V::Int(0)], vec![V::Bytes(vec![0, 255])]] {
            assert_eq!(format!("{:?}", key_from_json(&key_json(&key), key.len()).unwrap()), format!("{key:?}"));
        }
        assert!(key_from_json(&json!([1, 2]), 1).is_none(), "a composite where one column was expected");
    }

    #[test]
    fn findings_show_keys_as_plain_json() {
        assert_eq!(key_json(&[V::Int(-3)]), json!(-3));
        assert_eq!(key_json(&[V::Text("a".into()), V::Uint(u64::MAX)]), json!(["a", u64::MAX]));
        assert_eq!(value_json(&V::Bytes(vec![1, 2])), json!({"hex": "0102"}));
        assert_eq!(value_json(&V::Json("{\"a\": 1}".into())), json!({"a": 1}));
        assert_eq!(value_json(&V::Decimal("1.50".into())), json!("1.50"));
    }
}
