//! SQLite values by each value's storage class (INTEGER, REAL, TEXT, BLOB):
//! exactly what is stored. SQLite has no date, decimal or boolean storage;
//! reading them as such is a mapping choice made by the table's config.

use super::ValueError;
use movex_guest::{OwnedValue, Value};
use sqlx::sqlite::SqliteRow;
use sqlx::{Column, Row, TypeInfo, ValueRef};

pub fn value(row: &SqliteRow, i: usize) -> Result<OwnedValue, ValueError> {
    value_ref(row, i).map(|v| v.to_owned_value())
}

/// Column `i` of `row`, borrowing text and bytes from the row.
pub fn value_ref(row: &SqliteRow, i: usize) -> Result<Value<'_>, ValueError> {
    let col = &row.columns()[i];
    let err = |e: sqlx::Error| ValueError::new(col.name(), col.type_info().name(), e.to_string());
    let raw = row.try_get_raw(i).map_err(err)?;
    // Check NULL first: a NULL value reports the declared type instead.
    if raw.is_null() {
        return Ok(Value::Null);
    }
    // Only the getter that matches the storage class: another one converts.
    Ok(match raw.type_info().name() {
        "INTEGER" => Value::Int(row.try_get_unchecked::<i64, _>(i).map_err(err)?),
        "REAL" => Value::Float(row.try_get_unchecked::<f64, _>(i).map_err(err)?),
        "TEXT" => {
            let b = row.try_get_unchecked::<&[u8], _>(i).map_err(err)?;
            match std::str::from_utf8(b) {
                Ok(s) => Value::Text(s),
                // SQLite does not check UTF-8: keep what is stored.
                Err(_) => Value::Bytes(b),
            }
        }
        _ => Value::Bytes(row.try_get_unchecked::<&[u8], _>(i).map_err(err)?),
    })
}
