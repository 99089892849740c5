//! Incremental mode: rows changed since a time T. Each side is scanned in
//! (update time, key) order — a keyset on both, so rows sharing one update
//! time are neither skipped nor read twice — bounded by T and the time the
//! round started. Changed base rows are looked up in the target by key in
//! batches (`key IN (...)`); then changed target rows are looked up in the
//! base, which the Go design never did: a row changed only on the target
//! (a stray write, a failed double-write) is found too. A target row whose
//! base row changed in the same window was already compared in this round's
//! first pass is not compared twice.
//!
//! With an interval of zero the run goes once to the present and stops;
//! otherwise it polls, each round continuing from the cursors of the last.

use crate::model::{Finding, FindingType};
use crate::db::key::{self, cmp_keys, find_row, sort_rows};
use crate::db::Row;
use crate::store::{Checkpoint, Mode};
use super::table::{Ended, TableRun};
use crate::config::TimeUnit;
use movex_guest::civil::date_from_days;
use anyhow::{Context, Result};
use movex_guest::{MICROS_PER_DAY_I64, OwnedValue, Timestamp};
use serde_json::json;
use std::cmp::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An epoch-ms time as the update-time column holds it.
pub fn bound(ms: i64, unit: TimeUnit) -> OwnedValue {
    match unit {
        TimeUnit::Ms => OwnedValue::Int(ms),
        TimeUnit::S => OwnedValue::Int(ms.div_euclid(1000)),
        TimeUnit::Datetime => {
            let us = ms * 1000;
            OwnedValue::Timestamp(Timestamp {
                date: date_from_days(us.div_euclid(MICROS_PER_DAY_I64)),
                micros_of_day: us.rem_euclid(MICROS_PER_DAY_I64) as u64,
            })
        }
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Whether an update time lies in `[from, until]`. SQLite keeps datetimes as
/// text; they compare as text with the bounds' text form.
fn within(v: &OwnedValue, from: &OwnedValue, until: &OwnedValue) -> bool {
    let cmp = |a: &OwnedValue, b: &OwnedValue| match (a, b) {
        (OwnedValue::Text(s), OwnedValue::Timestamp(_)) => s.as_str().cmp(b.as_value().to_string().as_str()),
        _ => cmp_keys(std::slice::from_ref(a), std::slice::from_ref(b)),
    };
    cmp(v, from) != Ordering::Less && cmp(v, until) != Ordering::Greater
}

/// Run from `since_ms`; a checkpoint of an interrupted run from the same
/// time resumes its cursors.
pub async fn run(t: &mut TableRun, since_ms: i64, interval: Duration, resume: Option<Checkpoint>) -> Result<Ended> {
    let (u, unit) = t.utime.context("incremental mode needs the table's `utime = { column, unit }`")?;
    let from = bound(since_ms, unit);
    let limit = t.load.batch_size;
    let (mut cur_base, mut cur_target): (Option<Row>, Option<Row>) = (None, None);
    let (mut rows_base, mut rows_target) = (0u64, 0u64);
    if let Some(cp) = resume.filter(|cp| cp.cursor["since_ms"] == json!(since_ms)) {
        let read = |side: &str| -> Result<Option<Row>> {
            match &cp.cursor[side] {
                serde_json::Value::Null => Ok(None),
                c => key::decode(c).map(Some).context("the checkpoint's cursor does not read back; run with --restart"),
            }
        };
        (cur_base, cur_target) = (read("base")?, read("target")?);
        (rows_base, rows_target) = (cp.rows_base, cp.rows_target);
    }
    let cursor_of = |row: &Row, key_len: usize| -> Row {
        let mut c = vec![row[u].clone()];
        c.extend_from_slice(&row[..key_len]);
        c
    };
    loop {
        let until = bound(now_ms(), unit);
        // Pass 1 of this round covers base rows after this cursor.
        let round_start = cur_base.clone();
        // Pass 1: base rows changed in the window, against the target.
        for pass in [1, 2] {
            loop {
                if t.cancel.is_cancelled() {
                    return Ok(Ended::Stopped);
                }
                let (scanned, other, cursor) = if pass == 1 {
                    (&t.base, &t.target, &cur_base)
                } else {
                    (&t.target, &t.base, &cur_target)
                };
                // Changed rows are few next to a full scan: held as values.
                let page = scanned.changed(&from, &until, cursor.as_deref(), limit).await?.to_rows();
                if page.is_empty() {
                    break;
                }
                let keys: Vec<Row> = page.iter().map(|r| t.key_of(r)).collect();
                let mut others = other.lookup(&keys).await?.to_rows();
                sort_rows(&mut others, t.key_len);
                let n = page.len() as u64;
                if pass == 1 {
                    rows_base += n;
                    t.progress.read(n, others.len() as u64);
                } else {
                    rows_target += n;
                    t.progress.read(others.len() as u64, n);
                }
                let mut pending = t.judge.pending();
                for row in &page {
                    let k = t.key_of(row);
                    let found = find_row(&others, &k, t.key_len);
                    match (pass, found) {
                        (1, Some(target)) => pending.push_row_pair(row, target),
                        (1, None) => {
                            let f = Finding::new(&t.run_id, &t.name, t.direction, FindingType::TargetMissing, &k);
                            pending.found.push((k, f, row.clone()))
                        }
                        (_, None) => {
                            let f = Finding::new(&t.run_id, &t.name, t.direction, FindingType::BaseMissing, &k);
                            pending.found.push((k, f, row.clone()))
                        }
                        // Compared in this round's pass 1 already.
                        (_, Some(base))
                            if within(&base[u], &from, &until)
                                && round_start.as_ref().is_none_or(|s| cmp_keys(&cursor_of(base, t.key_len), s) == Ordering::Greater) => {}
                        (_, Some(base)) => pending.push_row_pair(base, row),
                    }
                }
                let last = cursor_of(&page[page.len() - 1], t.key_len);
                if pass == 1 { cur_base = Some(last) } else { cur_target = Some(last) }
                let cursor = json!({
                    "since_ms": since_ms,
                    "base": cur_base.as_deref().map(key::encode),
                    "target": cur_target.as_deref().map(key::encode),
                });
                t.commit_batch(pending, Mode::Incr, cursor, (rows_base, rows_target), n).await?;
                if n < limit {
                    break;
                }
            }
        }
        // Each round's findings are committed before the next one waits.
        t.flush().await?;
        if interval.is_zero() {
            return Ok(Ended::Completed);
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = t.cancel.cancelled() => return Ok(Ended::Stopped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_take_the_column_unit() {
        assert_eq!(bound(1_700_000_000_123, TimeUnit::Ms), OwnedValue::Int(1_700_000_000_123));
        assert_eq!(bound(1_700_000_000_123, TimeUnit::S), OwnedValue::Int(1_700_000_000));
        assert_eq!(bound(-1, TimeUnit::S), OwnedValue::Int(-1), "floor, not truncation");
        // 2023-11-14 22:13:20.123 UTC
        assert_eq!(bound(1_700_000_000_123, TimeUnit::Datetime).as_value().to_string(), "2023-11-14 22:13:20.123000");
    }

    #[test]
    fn window_membership_works_for_numbers_timestamps_and_sqlite_text() {
        let (from, until) = (bound(1000, TimeUnit::Ms), bound(2000, TimeUnit::Ms));
        assert!(within(&OwnedValue::Int(1000), &from, &until));
        assert!(within(&OwnedValue::Int(2000), &from, &until));
        assert!(!within(&OwnedValue::Int(2001), &from, &until));
        let (from, until) = (bound(0, TimeUnit::Datetime), bound(86_400_000, TimeUnit::Datetime));
        assert!(within(&OwnedValue::Text("1970-01-01 12:00:00".into()), &from, &until));
        assert!(!within(&OwnedValue::Text("1970-01-02 00:00:01".into()), &from, &until));
    }
}
