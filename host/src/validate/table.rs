//! One table's validation run: both sides, the judge, the state store, the
//! load limits and the live progress. Both modes hand their batches to
//! [`TableRun::commit_batch`], which compares and tags, then commits the findings
//! with the checkpoint past them in one transaction, then paces.

use crate::model::{Direction, Finding, FindingType};
use crate::db::key::{Key, find_row, sort_rows};
use super::judge::{Judge, Pending};
use super::pace::Pace;
use super::progress::Progress;
use super::side::Side;
use crate::db::Row;
use crate::store::{Checkpoint, Mode, Store};
use crate::config::TimeUnit;
use anyhow::{Context, Result, bail};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Load limits for one table.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// Rows per page and per comparator call.
    pub batch_size: u64,
    pub max_rows_per_sec: Option<u64>,
    /// The run stops once it has had more comparator errors than this.
    pub max_validation_errors: u64,
    /// Re-read each difference by key before reporting it.
    pub recheck: bool,
}

/// How a run ended, when it did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ended {
    Completed,
    /// Stopped on request; the checkpoint is kept to resume from.
    Stopped,
}

pub struct TableRun {
    /// The table's configured name (what findings carry).
    pub name: String,
    pub base: Side,
    pub target: Side,
    pub direction: Direction,
    pub key_len: usize,
    /// Position of the update-time column in each row, and its unit.
    pub utime: Option<(usize, TimeUnit)>,
    pub judge: Arc<Judge>,
    pub store: Store,
    pub progress: Arc<Progress>,
    pub load: Load,
    pub cancel: CancellationToken,
    pub run_id: String,
    errors: u64,
    pace: Pace,
    /// Settled but not yet committed: findings, differences waiting to be
    /// read again, and the checkpoint they go with.
    ready: Vec<(Key, Finding)>,
    suspects: Vec<(Key, Finding)>,
    held: Option<(Mode, serde_json::Value, (u64, u64))>,
    suspects_since: Option<std::time::Instant>,
}

/// Differences read again together, in one lookup per side; and how long
/// they may wait (the checkpoint waits with them).
const RECHECK_BATCH: usize = 1000;
const RECHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl TableRun {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        base: Side,
        target: Side,
        direction: Direction,
        key_len: usize,
        utime: Option<(usize, TimeUnit)>,
        judge: Arc<Judge>,
        store: Store,
        progress: Arc<Progress>,
        load: Load,
        cancel: CancellationToken,
    ) -> TableRun {
        let run_id = judge.run_id.clone();
        TableRun {
            name,
            base,
            target,
            direction,
            key_len,
            utime,
            judge,
            store,
            progress,
            pace: Pace::new(load.max_rows_per_sec),
            load,
            cancel,
            run_id,
            errors: 0,
            ready: Vec::new(),
            suspects: Vec::new(),
            held: None,
            suspects_since: None,
        }
    }

    pub fn key_of(&self, row: &Row) -> Vec<movex_guest::OwnedValue> {
        row[..self.key_len].to_vec()
    }

    /// Compare and tag a batch; commit its findings with `cursor` (see
    /// [`TableRun::flush`]); then pace by the `rows_read` it covered.
    pub async fn commit_batch(&mut self, pending: Pending, mode: Mode, cursor: serde_json::Value, rows: (u64, u64), rows_read: u64) -> Result<()> {
        let findings = self.judge(pending).await?;
        let (errors, differences): (Vec<_>, Vec<_>) = findings.into_iter().partition(|(_, f)| f.kind == FindingType::ComparatorError);
        self.errors += errors.len() as u64;
        self.ready.extend(errors);
        if self.load.recheck {
            self.suspects.extend(differences);
        } else {
            self.ready.extend(differences);
        }
        self.held = Some((mode, cursor, rows));
        let since = *self.suspects_since.get_or_insert_with(std::time::Instant::now);
        let over = self.errors > self.load.max_validation_errors;
        if self.suspects.is_empty() || self.suspects.len() >= RECHECK_BATCH || since.elapsed() >= RECHECK_EVERY || over {
            self.flush().await?;
        }
        if over {
            bail!(
                "table {:?}: {} comparator errors, more than max_validation_errors ({}); the run stops. \
                 See the comparator_error findings for the reasons; fix the module or raise the limit, \
                 and run again to resume from the checkpoint",
                self.name,
                self.errors,
                self.load.max_validation_errors
            );
        }
        let wait = self.pace.after(rows_read, self.progress.elapsed());
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.cancel.cancelled() => {}
            }
        }
        Ok(())
    }

    /// Commit what is judged: differences are first read again by key, up
    /// to [`RECHECK_BATCH`] at a time (one lookup per side for all of them),
    /// and the checkpoint only moves when they are committed with it. Called
    /// by `commit_batch` and at the end of a run or a polling round.
    pub async fn flush(&mut self) -> Result<()> {
        let Some((mode, cursor, rows)) = self.held.take() else { return Ok(()) };
        self.suspects_since = None;
        let mut findings = std::mem::take(&mut self.ready);
        if !self.suspects.is_empty() {
            let suspects = std::mem::take(&mut self.suspects);
            findings.extend(self.recheck(suspects).await?);
        }
        let findings: Vec<Finding> = findings.into_iter().map(|(_, f)| f).collect();
        let cp = Checkpoint { run_id: self.run_id.clone(), cursor, rows_base: rows.0, rows_target: rows.1 };
        self.store.commit(&self.name, mode, self.direction, &cp, &findings).await?;
        self.progress.found(&findings);
        Ok(())
    }
}

impl TableRun {
    async fn judge(&self, pending: Pending) -> Result<Vec<(Key, Finding)>> {
        let judge = self.judge.clone();
        tokio::task::spawn_blocking(move || judge.rule(pending)).await.context("comparator task")?
    }

    /// Read every difference again, by key on both sides, and judge it
    /// again: a row the application wrote between the two sides' reads is
    /// equal by now and is not reported. Comparator errors are kept as they
    /// are. These reads are not counted as rows read.
    async fn recheck(&self, found: Vec<(Key, Finding)>) -> Result<Vec<(Key, Finding)>> {
        let (mut keep, suspects): (Vec<_>, Vec<_>) = found.into_iter().partition(|(_, f)| f.kind == FindingType::ComparatorError);
        let keys: Vec<Key> = suspects.into_iter().map(|(k, _)| k).collect();
        let (base, target) = tokio::try_join!(self.base.lookup(&keys), self.target.lookup(&keys))?;
        let (mut base, mut target) = (base.to_rows(), target.to_rows());
        sort_rows(&mut base, self.key_len);
        sort_rows(&mut target, self.key_len);
        let find = |rows: &[Row], k: &Key| find_row(rows, k, self.key_len).cloned();
        let mut pending = self.judge.pending();
        for k in keys {
            match (find(&base, &k), find(&target, &k)) {
                (Some(b), Some(t)) => pending.push_row_pair(&b, &t),
                (Some(b), None) => {
                    let f = Finding::new(&self.run_id, &self.name, self.direction, FindingType::TargetMissing, &k);
                    pending.found.push((k, f, b))
                }
                (None, Some(t)) => {
                    let f = Finding::new(&self.run_id, &self.name, self.direction, FindingType::BaseMissing, &k);
                    pending.found.push((k, f, t))
                }
                (None, None) => {}
            }
        }
        keep.extend(self.judge(pending).await?);
        Ok(keep)
    }
}

