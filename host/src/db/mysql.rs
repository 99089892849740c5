//! MySQL/MariaDB values from the binary protocol (what `sqlx::query` uses),
//! decoded from raw bytes: integers by width and the UNSIGNED flag, DECIMAL
//! as its exact text, DATE/DATETIME/TIMESTAMP field by field (zero dates
//! `0000-00-00` and `2024-00-10` kept), TIME signed over +-838 hours.
//!
//! MySQL reports the BINARY flag for `*_bin` collations as well as for
//! binary strings, so whether a string column holds bytes or text comes from
//! `information_schema` ([`binary_columns`]), not from the row metadata.

use super::ValueError;
use movex_guest::{Date, OwnedValue, Time, Timestamp, Value};
use sqlx::mysql::{MySql, MySqlRow, MySqlValueRef};
use sqlx::{Column, Decode, Row, Type, TypeInfo};
use std::collections::HashSet;

/// The columns of `schema.table` that hold bytes, not text.
pub async fn binary_columns<'e>(
    conn: impl sqlx::Executor<'e, Database = MySql>,
    schema: &str,
    table: &str,
) -> Result<HashSet<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(conn)
    .await?;
    let mut out = HashSet::new();
    for row in rows {
        // information_schema uses *_bin collations: read the bytes as text.
        let name: String = row.try_get_unchecked(0)?;
        let data_type: String = row.try_get_unchecked(1)?;
        if matches!(data_type.to_ascii_lowercase().as_str(), "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob") {
            out.insert(name);
        }
    }
    Ok(out)
}

/// How a column of a result is read: worked out once per result from its
/// type ([`wire`]), so the per-value path is a match on a small enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    Int { unsigned: bool },
    Float,
    Double,
    Decimal,
    Date,
    DateTime,
    Time,
    Bit,
    Json,
    Bytes,
    Text,
    Null,
}

/// How to read column `i` of rows shaped like `row`; `binary` says whether
/// a string column holds bytes.
pub fn wire(row: &MySqlRow, i: usize, binary: bool) -> Wire {
    let ti = row.columns()[i].type_info();
    let unsigned = <u64 as Type<MySql>>::compatible(ti);
    match ti.name().strip_suffix(" UNSIGNED").unwrap_or(ti.name()) {
        // "BOOLEAN" is any TINYINT(1): it holds -128..127, so it stays an integer.
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => Wire::Int { unsigned },
        "FLOAT" => Wire::Float,
        "DOUBLE" => Wire::Double,
        "DECIMAL" => Wire::Decimal,
        "DATE" => Wire::Date,
        "DATETIME" | "TIMESTAMP" => Wire::DateTime,
        "TIME" => Wire::Time,
        "BIT" => Wire::Bit,
        "JSON" => Wire::Json,
        "GEOMETRY" => Wire::Bytes,
        "NULL" => Wire::Null,
        _ if binary => Wire::Bytes,
        _ => Wire::Text,
    }
}

/// Column `i` of `row`; `binary` says whether a string column holds bytes.
pub fn value(row: &MySqlRow, i: usize, binary: bool) -> Result<OwnedValue, ValueError> {
    value_ref(row, i, wire(row, i, binary)).map(|v| v.to_owned_value())
}

/// Column `i` of `row` read as `wire` says, borrowing text and bytes from
/// the row.
pub fn value_ref(row: &MySqlRow, i: usize, wire: Wire) -> Result<Value<'_>, ValueError> {
    let err = |detail: String| {
        let col = &row.columns()[i];
        ValueError::new(col.name(), col.type_info().name(), detail)
    };
    let raw = row.try_get_raw(i).map_err(|e| err(e.to_string()))?;
    // `is_null()` is also true for zero dates: only a missing value is NULL.
    let Some(b) = raw_bytes(raw) else { return Ok(Value::Null) };
    let text = |b| std::str::from_utf8(b).map_err(|e| err(format!("not UTF-8: {e}")));
    Ok(match wire {
        Wire::Int { unsigned } => integer(b, unsigned).map_err(err)?,
        Wire::Float => Value::Float(f64::from(f32::from_le_bytes(b.try_into().map_err(|_| err(width(b)))?))),
        Wire::Double => Value::Float(f64::from_le_bytes(b.try_into().map_err(|_| err(width(b)))?)),
        Wire::Decimal => Value::Decimal(text(b)?),
        Wire::Date => Value::Date(datetime(b).map_err(err)?.date),
        Wire::DateTime => Value::Timestamp(datetime(b).map_err(err)?),
        Wire::Time => Value::Time(time(b).map_err(err)?),
        Wire::Bit => Value::Uint(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))),
        Wire::Json => Value::Json(text(b)?),
        Wire::Bytes => Value::Bytes(b),
        Wire::Text => Value::Text(text(b)?),
        Wire::Null => Value::Null,
    })
}

fn raw_bytes(v: MySqlValueRef<'_>) -> Option<&[u8]> {
    // Decoding as bytes works for every type and fails only on a real NULL.
    <&[u8] as Decode<'_, MySql>>::decode(v).ok()
}

fn width(b: &[u8]) -> String {
    format!("unexpected width {}", b.len())
}

fn integer(b: &[u8], unsigned: bool) -> Result<Value<'static>, String> {
    if b.is_empty() || b.len() > 8 {
        return Err(width(b));
    }
    let mut buf = [0u8; 8];
    buf[..b.len()].copy_from_slice(b);
    let u = u64::from_le_bytes(buf);
    if unsigned {
        return Ok(Value::Uint(u));
    }
    let shift = 64 - 8 * b.len() as u32; // sign-extend narrower integers
    Ok(Value::Int(((u << shift) as i64) >> shift))
}

/// DATE/DATETIME/TIMESTAMP: a length byte (0, 4, 7 or 11) then the fields.
fn datetime(b: &[u8]) -> Result<Timestamp, String> {
    let (&len, p) = b.split_first().ok_or("empty date")?;
    if p.len() != len as usize || !matches!(len, 0 | 4 | 7 | 11) {
        return Err(format!("bad date length {len}"));
    }
    if len == 0 {
        return Ok(Timestamp { date: Date { year: 0, month: 0, day: 0 }, micros_of_day: 0 });
    }
    let date = Date { year: i32::from(u16::from_le_bytes([p[0], p[1]])), month: p[2], day: p[3] };
    let (h, m, s) = if len >= 7 { (u64::from(p[4]), u64::from(p[5]), u64::from(p[6])) } else { (0, 0, 0) };
    let us = if len == 11 { u64::from(u32::from_le_bytes([p[7], p[8], p[9], p[10]])) } else { 0 };
    Ok(Timestamp { date, micros_of_day: (h * 3600 + m * 60 + s) * 1_000_000 + us })
}

/// TIME: a length byte (0, 8 or 12), sign, days, hours, minutes, seconds, µs.
fn time(b: &[u8]) -> Result<Time, String> {
    let (&len, p) = b.split_first().ok_or("empty time")?;
    match (len, p.len()) {
        (0, 0) => Ok(Time { micros: 0 }),
        (8, 8) | (12, 12) => {
            let days = i64::from(u32::from_le_bytes([p[1], p[2], p[3], p[4]]));
            let (h, m, s) = (i64::from(p[5]), i64::from(p[6]), i64::from(p[7]));
            let us = if len == 12 { i64::from(u32::from_le_bytes([p[8], p[9], p[10], p[11]])) } else { 0 };
            let t = ((days * 24 + h) * 3600 + m * 60 + s) * 1_000_000 + us;
            Ok(Time { micros: if p[0] == 1 { -t } else { t } })
        }
        _ => Err(format!("bad time length {len}")),
    }
}
