//! PostgreSQL values from the binary protocol, decoded by type OID from raw
//! bytes: NUMERIC as PostgreSQL's own text (scale kept, beyond 28 digits,
//! `NaN`/`Infinity` as text), dates and timestamps with BC years and
//! infinities, `timestamptz` in UTC, `jsonb` without its version byte.
//! Types without a contract kind (interval, arrays, ...) are an error that
//! says to select them as text.

use super::ValueError;
use movex_guest::civil::date_from_days;
use movex_guest::{Date, MICROS_PER_DAY_I64, OwnedValue, Time, Timestamp};
use sqlx::postgres::{PgRow, PgValueFormat};
use sqlx::{Column, Row, TypeInfo, ValueRef};

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;

pub fn value(row: &PgRow, i: usize) -> Result<OwnedValue, ValueError> {
    let col = &row.columns()[i];
    let ti = col.type_info();
    let err = |detail: String| ValueError::new(col.name(), ti.name(), detail);
    let raw = row.try_get_raw(i).map_err(|e| err(e.to_string()))?;
    if raw.is_null() {
        return Ok(OwnedValue::Null);
    }
    if raw.format() != PgValueFormat::Binary {
        return Err(err("text-format value: read rows with sqlx::query (binary protocol)".into()));
    }
    let b = raw.as_bytes().map_err(|e| err(e.to_string()))?;
    let fixed = |n: usize| -> Result<&[u8], ValueError> {
        if b.len() == n { Ok(b) } else { Err(err(format!("expected {n} bytes, got {}", b.len()))) }
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|e| err(format!("not UTF-8: {e}")));
    let oid = ti.oid().map(|o| o.0);
    Ok(match oid {
        Some(16) => OwnedValue::Bool(fixed(1)?[0] != 0),
        Some(21) => OwnedValue::Int(i16::from_be_bytes(fixed(2)?.try_into().expect("2")).into()),
        Some(23) => OwnedValue::Int(i32::from_be_bytes(fixed(4)?.try_into().expect("4")).into()),
        Some(20) => OwnedValue::Int(i64::from_be_bytes(fixed(8)?.try_into().expect("8"))),
        Some(700) => OwnedValue::Float(f32::from_be_bytes(fixed(4)?.try_into().expect("4")).into()),
        Some(701) => OwnedValue::Float(f64::from_be_bytes(fixed(8)?.try_into().expect("8"))),
        Some(1700) => OwnedValue::Decimal(numeric_text(b).map_err(err)?),
        Some(25 | 1043 | 1042 | 19 | 18) => OwnedValue::Text(text(b)?),
        Some(17) => OwnedValue::Bytes(b.to_vec()),
        Some(1082) => OwnedValue::Date(date(i32::from_be_bytes(fixed(4)?.try_into().expect("4")))),
        Some(1083) => OwnedValue::Time(Time { micros: i64::from_be_bytes(fixed(8)?.try_into().expect("8")) }),
        Some(1114 | 1184) => OwnedValue::Timestamp(timestamp(i64::from_be_bytes(fixed(8)?.try_into().expect("8")))),
        Some(114) => OwnedValue::Json(text(b)?),
        Some(3802) => match b.split_first() {
            Some((1, json)) => OwnedValue::Json(text(json)?),
            _ => return Err(err("unknown jsonb version".into())),
        },
        Some(2950) => OwnedValue::Text(uuid(fixed(16)?)),
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

fn uuid(b: &[u8]) -> String {
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// NUMERIC's binary form (base-10000 digits) as PostgreSQL prints it: the
/// declared scale kept (`1.50` stays `1.50`), any number of digits.
fn numeric_text(b: &[u8]) -> Result<String, String> {
    if b.len() < 8 {
        return Err("short NUMERIC".into());
    }
    let rd = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let (ndigits, weight, sign, dscale) = (rd(0) as usize, i32::from(rd(2) as i16), rd(4), rd(6) as usize);
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        0x0000 | 0x4000 => {}
        s => return Err(format!("bad NUMERIC sign {s:#06x}")),
    }
    if b.len() != 8 + 2 * ndigits {
        return Err("NUMERIC length mismatch".into());
    }
    let digit = |d: i32| if d >= 0 && (d as usize) < ndigits { rd(8 + 2 * d as usize) } else { 0 };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    let mut d: i32;
    if weight < 0 {
        out.push('0');
        d = weight + 1;
    } else {
        out.push_str(&digit(0).to_string());
        d = 1;
        while d <= weight {
            out.push_str(&format!("{:04}", digit(d)));
            d += 1;
        }
    }
    if dscale > 0 {
        out.push('.');
        let start = out.len();
        while out.len() - start < dscale {
            out.push_str(&format!("{:04}", digit(d)));
            d += 1;
        }
        out.truncate(start + dscale);
    }
    Ok(out)
}
