//! Full mode: both tables streamed in key order by keyset pages (never
//! OFFSET, never a query per row) and merged in one pass. Each side has a
//! reader task a couple of pages ahead of the merge, so reading overlaps
//! comparing while memory stays at a few pages per side. The checkpoint is
//! the last merged key: every key at or below it is settled on both sides,
//! so a resumed run starts both scans just after it.

use crate::model::{Finding, FindingType};
use super::judge::Pending;
use crate::db::key::{self, Key};
use super::merge::{self, Next, Step, Stream};
use super::side::Side;
use crate::db::Row;
use crate::store::{Checkpoint, Mode};
use super::table::{Ended, TableRun};
use anyhow::{Context, Result};
use tokio::sync::mpsc;

/// Pages a reader may hold ready ahead of the merge.
const READ_AHEAD: usize = 2;

fn reader(side: Side, after: Option<Key>, limit: u64, key_len: usize) -> mpsc::Receiver<Result<Vec<Row>>> {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        let mut after = after;
        loop {
            let page = side.page(after.as_ref(), limit).await;
            let last = match &page {
                Ok(rows) if rows.is_empty() => return,
                Ok(rows) => Some(rows[rows.len() - 1][..key_len].to_vec()),
                Err(_) => None,
            };
            let short = page.as_ref().map_or(true, |r| (r.len() as u64) < limit);
            if tx.send(page).await.is_err() || short {
                return;
            }
            after = last;
        }
    });
    rx
}

pub async fn run(t: &mut TableRun, resume: Option<Checkpoint>) -> Result<Ended> {
    let (start, mut merged_base, mut merged_target) = match &resume {
        Some(cp) => {
            let k = key::decode(&cp.cursor).context("the checkpoint's key does not read back; run with --restart")?;
            (Some(k), cp.rows_base, cp.rows_target)
        }
        None => (None, 0, 0),
    };
    t.progress.set_resumed(merged_base);
    t.progress.set_estimate(t.base.estimate_rows().await);
    let limit = t.load.batch_size;
    let mut rx_base = reader(t.base.clone(), start.clone(), limit, t.key_len);
    let mut rx_target = reader(t.target.clone(), start.clone(), limit, t.key_len);
    let (mut base, mut target) = (Stream::default(), Stream::default());
    let mut pending = Pending::default();
    let mut last: Option<Key> = start;
    let mut covered = 0u64;
    loop {
        if t.cancel.is_cancelled() {
            if let Some(k) = &last {
                t.commit_batch(std::mem::take(&mut pending), Mode::Full, key::encode(k), (merged_base, merged_target), covered).await?;
            }
            return Ok(Ended::Stopped);
        }
        match merge::next(&mut base, &mut target, t.key_len) {
            Next::Refill { base: is_base } => {
                let (rx, stream) = if is_base { (&mut rx_base, &mut base) } else { (&mut rx_target, &mut target) };
                match rx.recv().await {
                    Some(page) => {
                        let rows = page?;
                        let n = rows.len() as u64;
                        if is_base { t.progress.read(n, 0) } else { t.progress.read(0, n) }
                        stream.rows.extend(rows);
                    }
                    None => stream.exhausted = true,
                }
            }
            Next::Step(step) => {
                covered += 1;
                let k = match step {
                    Step::OnlyBase(row) => {
                        merged_base += 1;
                        let k = t.key_of(&row);
                        pending.found.push((k.clone(), Finding::new(&t.run_id, &t.name, t.direction, FindingType::TargetMissing, &k), row));
                        k
                    }
                    Step::OnlyTarget(row) => {
                        merged_target += 1;
                        let k = t.key_of(&row);
                        pending.found.push((k.clone(), Finding::new(&t.run_id, &t.name, t.direction, FindingType::BaseMissing, &k), row));
                        k
                    }
                    Step::Both { base, target } => {
                        merged_base += 1;
                        merged_target += 1;
                        let k = t.key_of(&base);
                        pending.pairs.push((k.clone(), base, target));
                        k
                    }
                };
                if pending.len() as u64 >= limit {
                    t.commit_batch(std::mem::take(&mut pending), Mode::Full, key::encode(&k), (merged_base, merged_target), covered).await?;
                    covered = 0;
                }
                last = Some(k);
            }
            Next::Done => {
                if let Some(k) = &last {
                    t.commit_batch(std::mem::take(&mut pending), Mode::Full, key::encode(k), (merged_base, merged_target), covered).await?;
                }
                return Ok(Ended::Completed);
            }
        }
    }
}
