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

/// What a read page aims at, in encoded bytes. A page is one keyset query:
/// each costs the server a plan, an index descent and a round trip, and
/// the next cannot start before this one's last key is known, so larger
/// pages read faster (on PostgreSQL 2,000-row pages ran at 0.70x of `psql`,
/// 20,000-row ones at 0.81x; BENCHMARKS.md). Bounded in bytes, not rows,
/// so a table of wide rows does not hold a huge page: a side holds about
/// READ_AHEAD + 2 pages at once.
const PAGE_BYTES: usize = 2 << 20;

/// The most rows a read page has, however narrow its rows.
const PAGE_ROWS_MAX: u64 = 20_000;

/// The next page's rows: as many as fill [`PAGE_BYTES`] at this page's
/// bytes per row, within `[batch, PAGE_ROWS_MAX]` (never under the
/// comparator's batch).
fn next_limit(page: &Rows, batch: u64) -> u64 {
    let per_row = (page.byte_len() / page.len().max(1)).max(1);
    ((PAGE_BYTES / per_row) as u64).clamp(batch, PAGE_ROWS_MAX.max(batch))
}

/// Read `side` in key order after `after`, page by page, ahead of the
/// merge. The first page has `batch` rows; later ones are sized by
/// [`next_limit`].
/// The reader's page channel, and where the merge sends pages it is done
/// with, for the reader to fill again: pages are allocated once, not per
/// page read (allocated and freed over and over, 2 MiB buffers made
/// glibc's heap grow with the table; BENCHMARKS.md).
struct Reader {
    pages: mpsc::Receiver<Result<Rows>>,
    spent: mpsc::Sender<Rows>,
}

impl Reader {
    /// Hand the stream's last merged page back, if the reader has room.
    fn recycle(&self, stream: &mut Stream) {
        if let Some(page) = stream.spent.take() {
            let _ = self.spent.try_send(page);
        }
    }
}

fn reader(side: Side, after: Option<Key>, batch: u64, key_len: usize) -> Reader {
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let (spent_tx, mut spent) = mpsc::channel::<Rows>(READ_AHEAD + 2);
    tokio::spawn(async move {
        let mut after = after;
        let mut limit = batch;
        loop {
            let mut out = spent.try_recv().unwrap_or_default();
            let page = side.page_into(after.as_ref(), limit, &mut out).await.map(|()| out);
            let last = match &page {
                Ok(rows) => match rows.last() {
                    Some(row) => Some(row.key(key_len)),
                    None => return,
                },
                Err(_) => None,
            };
            let short = page.as_ref().map_or(true, |r| (r.len() as u64) < limit);
            let next = page.as_ref().map_or(limit, |r| next_limit(r, batch));
            if tx.send(page).await.is_err() || short {
                return;
            }
            after = last;
            limit = next;
        }
    });
    Reader { pages: rx, spent: spent_tx }
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
                rx.recycle(stream);
                match rx.pages.recv().await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use movex_guest::OwnedValue;

    /// A page of `n` rows, each an id and a text of `width` bytes.
    fn page(n: usize, width: usize) -> Rows {
        let rows: Vec<Vec<OwnedValue>> = (0..n).map(|i| vec![OwnedValue::Int(i as i64), OwnedValue::Text("x".repeat(width))]).collect();
        Rows::from_rows(rows.iter())
    }

    #[test]
    fn a_read_page_fills_its_bytes_within_the_batch_and_the_row_cap() {
        // ~110 bytes a row: 2 MiB is ~19,000 rows.
        let narrow = next_limit(&page(100, 100), 1000);
        assert!((15_000..=PAGE_ROWS_MAX).contains(&narrow), "{narrow}");
        // Tiny rows: the row cap.
        assert_eq!(next_limit(&page(100, 1), 1000), PAGE_ROWS_MAX);
        // 100 KiB rows: ~20 rows fill 2 MiB, but never fewer than a batch.
        assert_eq!(next_limit(&page(3, 100 * 1024), 1000), 1000);
        assert_eq!(next_limit(&page(3, 100 * 1024), 10), 20);
        // A batch larger than the cap is read whole.
        assert_eq!(next_limit(&page(100, 1), 50_000), 50_000);
    }
}
