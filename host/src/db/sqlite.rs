//! SQLite values by each value's storage class (INTEGER, REAL, TEXT, BLOB):
//! exactly what is stored. SQLite has no date, decimal or boolean storage;
//! reading them as such is a mapping choice made by the table's config.

use super::ValueError;
use movex_guest::OwnedValue;
use sqlx::sqlite::SqliteRow;
use sqlx::{Column, Row, TypeInfo, ValueRef};

pub fn value(row: &SqliteRow, i: usize) -> Result<OwnedValue, ValueError> {
    let col = &row.columns()[i];
    let err = |e: sqlx::Error| ValueError::new(col.name(), col.type_info().name(), e.to_string());
    let class = {
        let raw = row.try_get_raw(i).map_err(err)?;
        // Check NULL first: a NULL value reports the declared type instead.
        if raw.is_null() { "NULL".to_owned() } else { raw.type_info().name().to_owned() }
    };
    // Only the getter that matches the storage class: another one converts.
    Ok(match class.as_str() {
        "NULL" => OwnedValue::Null,
        "INTEGER" => OwnedValue::Int(row.try_get_unchecked::<i64, _>(i).map_err(err)?),
        "REAL" => OwnedValue::Float(row.try_get_unchecked::<f64, _>(i).map_err(err)?),
        "TEXT" => {
            let b = row.try_get_unchecked::<&[u8], _>(i).map_err(err)?;
            match std::str::from_utf8(b) {
                Ok(s) => OwnedValue::Text(s.to_owned()),
                // SQLite does not check UTF-8: keep what is stored.
                Err(_) => OwnedValue::Bytes(b.to_vec()),
            }
        }
        _ => OwnedValue::Bytes(row.try_get_unchecked::<Vec<u8>, _>(i).map_err(err)?),
    })
}
