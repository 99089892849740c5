//! PostgreSQL values from the binary protocol, decoded by type OID from raw
//! bytes: NUMERIC as PostgreSQL's own text (scale kept, beyond 28 digits,
//! `NaN`/`Infinity` as text), dates and timestamps with BC years and
//! infinities, `timestamptz` in UTC, `jsonb` without its version byte.
//! Types without a contract kind (interval, arrays, ...) are an error that
//! says to select them as text.

use super::ValueError;
use movex_guest::civil::date_from_days;
use movex_guest::{Date, MICROS_PER_DAY_I64, OwnedValue, Time, Timestamp, Value};
use sqlx::postgres::{PgRow, PgValueFormat};
use sqlx::{Column, Row, TypeInfo, ValueRef};

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;

pub fn value(row: &PgRow, i: usize) -> Result<OwnedValue, ValueError> {
    value_ref(row, i, &mut String::new()).map(|v| v.to_owned_value())
}

/// Column `i` of `row`, borrowing text and bytes from the row; the types
/// PostgreSQL sends in another form than the contract's text (NUMERIC,
/// uuid) are written into `scratch` and borrowed from there.
pub fn value_ref<'a>(row: &'a PgRow, i: usize, scratch: &'a mut String) -> Result<Value<'a>, ValueError> {
    let err = |detail: String| {
        let col = &row.columns()[i];
        ValueError::new(col.name(), col.type_info().name(), detail)
    };
    let raw = row.try_get_raw(i).map_err(|e| err(e.to_string()))?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    if raw.format() != PgValueFormat::Binary {
        return Err(err("text-format value: read rows with sqlx::query (binary protocol)".into()));
    }
    let oid = raw.type_info().oid().map(|o| o.0);
    let b = raw.as_bytes().map_err(|e| err(e.to_string()))?;
    let fixed = |n: usize| -> Result<&[u8], ValueError> {
        if b.len() == n { Ok(b) } else { Err(err(format!("expected {n} bytes, got {}", b.len()))) }
    };
    let text = |b| std::str::from_utf8(b).map_err(|e| err(format!("not UTF-8: {e}")));
    Ok(match oid {
        Some(16) => Value::Bool(fixed(1)?[0] != 0),
        Some(21) => Value::Int(i16::from_be_bytes(fixed(2)?.try_into().expect("2")).into()),
        Some(23) => Value::Int(i32::from_be_bytes(fixed(4)?.try_into().expect("4")).into()),
        Some(20) => Value::Int(i64::from_be_bytes(fixed(8)?.try_into().expect("8"))),
        Some(700) => Value::Float(f32::from_be_bytes(fixed(4)?.try_into().expect("4")).into()),
        Some(701) => Value::Float(f64::from_be_bytes(fixed(8)?.try_into().expect("8"))),
        Some(1700) => {
            numeric_text(b, scratch).map_err(err)?;
            Value::Decimal(scratch)
        }
        Some(25 | 1043 | 1042 | 19 | 18) => Value::Text(text(b)?),
        Some(17) => Value::Bytes(b),
        Some(1082) => Value::Date(date(i32::from_be_bytes(fixed(4)?.try_into().expect("4")))),
        Some(1083) => Value::Time(Time { micros: i64::from_be_bytes(fixed(8)?.try_into().expect("8")) }),
        Some(1114 | 1184) => Value::Timestamp(timestamp(i64::from_be_bytes(fixed(8)?.try_into().expect("8")))),
        Some(114) => Value::Json(text(b)?),
        Some(3802) => match b.split_first() {
            Some((1, json)) => Value::Json(text(json)?),
            _ => return Err(err("unknown jsonb version".into())),
        },
        Some(2950) => {
            uuid(fixed(16)?, scratch);
            Value::Text(scratch)
        }
        _ => return Err(err("no contract kind for this type: select it as text (`column::text`)".into())),
    })
}

fn date(days: i32) -> Date {
    match days {
        i32::MAX => Date::INFINITY,
        i32::MIN => Date::NEG_INFINITY,
        d => date_from_days(i64::from(d) + PG_EPOCH_DAYS),
    }
}

fn timestamp(micros: i64) -> Timestamp {
    match micros {
        i64::MAX => Timestamp { date: Date::INFINITY, micros_of_day: 0 },
        i64::MIN => Timestamp { date: Date::NEG_INFINITY, micros_of_day: 0 },
        us => Timestamp {
            date: date_from_days(us.div_euclid(MICROS_PER_DAY_I64) + PG_EPOCH_DAYS),
            micros_of_day: us.rem_euclid(MICROS_PER_DAY_I64) as u64,
        },
    }
}

fn uuid(b: &[u8], out: &mut String) {
    use std::fmt::Write;
    out.clear();
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        write!(out, "{x:02x}").expect("writing to a String");
    }
}

/// NUMERIC's binary form (base-10000 digits) as PostgreSQL prints it: the
/// declared scale kept (`1.50` stays `1.50`), any number of digits.
fn numeric_text(b: &[u8], out: &mut String) -> Result<(), String> {
    use std::fmt::Write;
    out.clear();
    if b.len() < 8 {
        return Err("short NUMERIC".into());
    }
    let rd = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let (ndigits, weight, sign, dscale) = (rd(0) as usize, i32::from(rd(2) as i16), rd(4), rd(6) as usize);
    match sign {
        0xC000 => return Ok(out.push_str("NaN")),
        0xD000 => return Ok(out.push_str("Infinity")),
        0xF000 => return Ok(out.push_str("-Infinity")),
        0x0000 | 0x4000 => {}
        s => return Err(format!("bad NUMERIC sign {s:#06x}")),
    }
    if b.len() != 8 + 2 * ndigits {
        return Err("NUMERIC length mismatch".into());
    }
    let digit = |d: i32| if d >= 0 && (d as usize) < ndigits { rd(8 + 2 * d as usize) } else { 0 };
    if sign == 0x4000 {
        out.push('-');
    }
    let mut d: i32;
    if weight < 0 {
        out.push('0');
        d = weight + 1;
    } else {
        write!(out, "{}", digit(0)).expect("writing to a String");
        d = 1;
        while d <= weight {
            write!(out, "{:04}", digit(d)).expect("writing to a String");
            d += 1;
        }
    }
    if dscale > 0 {
        out.push('.');
        let start = out.len();
        while out.len() - start < dscale {
            write!(out, "{:04}", digit(d)).expect("writing to a String");
            d += 1;
        }
        out.truncate(start + dscale);
    }
    Ok(())
}
