//! Full mode: both tables streamed in key order by keyset pages (never
//! OFFSET, never a query per row) and merged in one pass. Each side has a
//! reader task a couple of pages ahead of the merge, so reading overlaps
//! comparing while memory stays at a few pages per side. The checkpoint is
//! the last merged key: every key at or below it is settled on both sides,
//! so a resumed run starts both scans just after it.

use crate::model::{Finding, FindingType};
use crate::db::key::{self, Key};
use super::merge::{self, Next, Step, Stream};
use super::side::Side;
use crate::db::{RowRef, Rows};
use crate::store::{Checkpoint, Mode};
use super::table::{Ended, TableRun};
use anyhow::{Context, Result};
use tokio::sync::mpsc;

/// Pages a reader may hold ready ahead of the merge.
const READ_AHEAD: usize = 2;

fn reader(side: Side, after: Option<Key>, limit: u64, key_len: usize) -> mpsc::Receiver<Result<Rows>> {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        let mut after = after;
        loop {
            let page = side.page(after.as_ref(), limit).await;
            let last = match &page {
                Ok(rows) => match rows.last() {
                    Some(row) => Some(row.key(key_len)),
                    None => return,
                },
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

/// The last merged key, kept as the bytes of its values in a buffer that
/// is reused, and decoded only when a checkpoint needs it.
struct LastKey {
    bytes: Vec<u8>,
    key_len: usize,
    set: bool,
}

impl LastKey {
    fn new(start: Option<&Key>, key_len: usize) -> LastKey {
        let mut last = LastKey { bytes: Vec::new(), key_len, set: false };
        if let Some(k) = start {
            last.set(Rows::from_rows([k]).row(0));
        }
        last
    }

    fn set(&mut self, row: RowRef<'_>) {
        self.bytes.clear();
        self.bytes.extend_from_slice(row.prefix(self.key_len));
        self.set = true;
    }

    fn cursor(&self) -> Option<serde_json::Value> {
        self.set.then(|| key::encode(&RowRef::from_bytes(&self.bytes).key(self.key_len)))
    }
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
    let key_len = t.key_len;
    let mut rx_base = reader(t.base.clone(), start.clone(), limit, key_len);
    let mut rx_target = reader(t.target.clone(), start.clone(), limit, key_len);
    let (mut base, mut target) = (Stream::default(), Stream::default());
    let mut pending = t.judge.pending();
    let mut last = LastKey::new(start.as_ref(), key_len);
    let mut covered = 0u64;
    loop {
        if t.cancel.is_cancelled() {
            if let Some(cursor) = last.cursor() {
                t.commit_batch(std::mem::replace(&mut pending, t.judge.pending()), Mode::Full, cursor, (merged_base, merged_target), covered).await?;
            }
            return Ok(Ended::Stopped);
        }
        match merge::next(&base, &target, key_len) {
            Next::Refill { base: is_base } => {
                let (rx, stream) = if is_base { (&mut rx_base, &mut base) } else { (&mut rx_target, &mut target) };
                match rx.recv().await {
                    Some(page) => {
                        let rows = page?;
                        let n = rows.len() as u64;
                        if is_base { t.progress.read(n, 0) } else { t.progress.read(0, n) }
                        stream.push(rows);
                    }
                    None => stream.exhausted = true,
                }
            }
            Next::Step(step) => {
                covered += 1;
                match step {
                    Step::OnlyBase | Step::OnlyTarget => {
                        let (stream, kind, merged) = match step {
                            Step::OnlyBase => (&mut base, FindingType::TargetMissing, &mut merged_base),
                            _ => (&mut target, FindingType::BaseMissing, &mut merged_target),
                        };
                        let head = stream.head().expect("the merge saw a head");
                        let row = head.to_row();
                        let k: Key = row[..key_len].to_vec();
                        pending.found.push((k.clone(), Finding::new(&t.run_id, &t.name, t.direction, kind, &k), row));
                        last.set(head);
                        stream.advance();
                        *merged += 1;
                    }
                    Step::Both => {
                        let (b, tg) = (base.head().expect("a base head"), target.head().expect("a target head"));
                        pending.push_pair(b, tg);
                        last.set(b);
                        base.advance();
                        target.advance();
                        merged_base += 1;
                        merged_target += 1;
                    }
                }
                if pending.len() as u64 >= limit {
                    let cursor = last.cursor().expect("a row was merged");
                    t.commit_batch(std::mem::replace(&mut pending, t.judge.pending()), Mode::Full, cursor, (merged_base, merged_target), covered).await?;
                    covered = 0;
                }
            }
            Next::Done => {
                if let Some(cursor) = last.cursor() {
                    t.commit_batch(std::mem::replace(&mut pending, t.judge.pending()), Mode::Full, cursor, (merged_base, merged_target), covered).await?;
                }
                return Ok(Ended::Completed);
            }
        }
    }
}
