//! PostgreSQL values from the binary protocol, decoded by type OID from raw
//! bytes: NUMERIC as PostgreSQL's own text (scale kept, beyond 28 digits,
//! `NaN`/`Infinity` as text), dates and timestamps with BC years and
//! infinities, `timestamptz` in UTC, `jsonb` without its version byte.
//! Types without a contract kind (interval, arrays, ...) are an error that
//! says to select them as text. The bytes come from the reader
//! ([`super::postgres_reader`]); nothing here knows a driver.

use super::rows::Rows;
use movex_guest::civil::date_from_days;
use movex_guest::{Date, MICROS_PER_DAY_I64, Time, Timestamp, Value};

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;

/// One value in binary format (`None` for NULL) of type `oid`, borrowing
/// text and bytes from `raw`; the types PostgreSQL sends in another form
/// than the contract's text (NUMERIC, uuid) are written into `scratch` and
/// borrowed from there. The error says what was wrong with the bytes; the
/// caller names the column.
#[inline(always)]
pub fn value_ref<'a>(raw: Option<&'a [u8]>, oid: u32, scratch: &'a mut String) -> Result<Value<'a>, String> {
    let Some(b) = raw else { return Ok(Value::Null) };
    let fixed = |n: usize| -> Result<&[u8], String> {
        if b.len() == n { Ok(b) } else { Err(format!("expected {n} bytes, got {}", b.len())) }
    };
    let text = |b| std::str::from_utf8(b).map_err(|e| format!("not UTF-8: {e}"));
    Ok(match oid {
        16 => Value::Bool(fixed(1)?[0] != 0),
        21 => Value::Int(i16::from_be_bytes(fixed(2)?.try_into().expect("2")).into()),
        23 => Value::Int(i32::from_be_bytes(fixed(4)?.try_into().expect("4")).into()),
        20 => Value::Int(i64::from_be_bytes(fixed(8)?.try_into().expect("8"))),
        700 => Value::Float(f32::from_be_bytes(fixed(4)?.try_into().expect("4")).into()),
        701 => Value::Float(f64::from_be_bytes(fixed(8)?.try_into().expect("8"))),
        1700 => {
            numeric_text(b, scratch)?;
            Value::Decimal(scratch)
        }
        25 | 1043 | 1042 | 19 | 18 => Value::Text(text(b)?),
        17 => Value::Bytes(b),
        1082 => Value::Date(date(i32::from_be_bytes(fixed(4)?.try_into().expect("4")))),
        1083 => Value::Time(Time { micros: i64::from_be_bytes(fixed(8)?.try_into().expect("8")) }),
        1114 | 1184 => Value::Timestamp(timestamp(i64::from_be_bytes(fixed(8)?.try_into().expect("8")))),
        114 => Value::Json(text(b)?),
        3802 => match b.split_first() {
            Some((1, json)) => Value::Json(text(json)?),
            _ => return Err("unknown jsonb version".into()),
        },
        2950 => {
            uuid(fixed(16)?, scratch);
            Value::Text(scratch)
        }
        _ => return Err("no contract kind for this type: select it as text (`column::text`)".into()),
    })
}

/// One value, decoded as [`value_ref`] does (a text as JSON when `json`),
/// straight into `out`. One function, so each kind's arm writes its tag
/// and payload without a `Value` moved through results and closures (a
/// profile showed those moves stalling on store forwarding, about a fifth
/// of a PostgreSQL validation's CPU).
pub fn push(raw: Option<&[u8]>, oid: u32, json: bool, scratch: &mut String, out: &mut Rows) -> Result<(), String> {
    match value_ref(raw, oid, scratch)? {
        Value::Text(s) if json => out.push_value(&Value::Json(s)),
        v => out.push_value(&v),
    }
    Ok(())
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

/// One base-10000 digit of a NUMERIC in decimal: four digits with `pad`,
/// else without leading zeros.
fn push_base10000(out: &mut String, d: u16, pad: bool) {
    let d = d.min(9999);
    let digits = [d / 1000, d / 100 % 10, d / 10 % 10, d % 10].map(|x| char::from(b'0' + x as u8));
    let first = if pad { 0 } else { digits.iter().position(|&c| c != '0').unwrap_or(3) };
    out.extend(&digits[first..]);
}

/// NUMERIC's binary form (base-10000 digits) as PostgreSQL prints it: the
/// declared scale kept (`1.50` stays `1.50`), any number of digits.
fn numeric_text(b: &[u8], out: &mut String) -> Result<(), String> {
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
        push_base10000(out, digit(0), false);
        d = 1;
        while d <= weight {
            push_base10000(out, digit(d), true);
            d += 1;
        }
    }
    if dscale > 0 {
        out.push('.');
        let start = out.len();
        while out.len() - start < dscale {
            push_base10000(out, digit(d), true);
            d += 1;
        }
        out.truncate(start + dscale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::push_base10000;

    #[test]
    fn base_10000_digits_are_written_as_four_decimals_or_without_leading_zeros() {
        for (d, pad, want) in [(0, false, "0"), (7, false, "7"), (10, false, "10"), (1000, false, "1000"), (5, true, "0005"), (9999, true, "9999"), (0, true, "0000")] {
            let mut out = String::from("x");
            push_base10000(&mut out, d, pad);
            assert_eq!(out, format!("x{want}"), "{d} pad={pad}");
        }
    }
}
