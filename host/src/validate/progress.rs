//! Live progress of a table's validation, shared with whoever watches it
//! (the CLI's progress bar, later `/validations/current`): rows read per
//! side, rows/s, findings by type and tag, and for full runs progress and
//! ETA against the base table's size estimate.

use crate::model::{Finding, FindingType};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

#[derive(Debug)]
pub struct Progress {
    pub table: String,
    started: Instant,
    /// Rows read this run (a resumed run counts from where it resumed).
    rows_base: AtomicU64,
    rows_target: AtomicU64,
    /// Rows covered before this process resumed the run.
    resumed_base: AtomicU64,
    /// The base table's estimated size (0: unknown).
    estimate: AtomicU64,
    findings: Mutex<(BTreeMap<FindingType, u64>, BTreeMap<String, u64>)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    pub table: String,
    pub rows_base: u64,
    pub rows_target: u64,
    pub rows_per_sec: f64,
    /// Rows of the base covered, counting what a resumed run had done.
    pub done: u64,
    pub estimate: u64,
    pub percent: Option<f64>,
    pub eta_secs: Option<f64>,
    pub elapsed_ms: u64,
    pub findings: BTreeMap<FindingType, u64>,
    pub findings_by_tag: BTreeMap<String, u64>,
}

impl Progress {
    pub fn new(table: &str) -> Progress {
        Progress {
            table: table.to_owned(),
            started: Instant::now(),
            rows_base: AtomicU64::new(0),
            rows_target: AtomicU64::new(0),
            resumed_base: AtomicU64::new(0),
            estimate: AtomicU64::new(0),
            findings: Mutex::new(Default::default()),
        }
    }

    pub fn set_estimate(&self, rows: u64) {
        self.estimate.store(rows, Relaxed);
    }

    pub fn set_resumed(&self, base_rows: u64) {
        self.resumed_base.store(base_rows, Relaxed);
    }

    pub fn read(&self, base: u64, target: u64) {
        self.rows_base.fetch_add(base, Relaxed);
        self.rows_target.fetch_add(target, Relaxed);
    }

    pub fn found(&self, findings: &[Finding]) {
        let mut f = self.findings.lock().expect("progress lock");
        for x in findings {
            *f.0.entry(x.kind).or_default() += 1;
            *f.1.entry(x.tag.clone().unwrap_or_default()).or_default() += 1;
        }
    }

    pub fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    pub fn snapshot(&self) -> Snapshot {
        let (rows_base, rows_target) = (self.rows_base.load(Relaxed), self.rows_target.load(Relaxed));
        let elapsed = self.started.elapsed().as_secs_f64();
        let rows_per_sec = if elapsed > 0.0 { (rows_base + rows_target) as f64 / elapsed } else { 0.0 };
        let done = self.resumed_base.load(Relaxed) + rows_base;
        let estimate = self.estimate.load(Relaxed);
        let percent = (estimate > 0).then(|| (done as f64 / estimate as f64 * 100.0).min(100.0));
        let base_rate = if elapsed > 0.0 { rows_base as f64 / elapsed } else { 0.0 };
        let eta_secs = (estimate > 0 && base_rate > 0.0).then(|| estimate.saturating_sub(done) as f64 / base_rate);
        let f = self.findings.lock().expect("progress lock");
        Snapshot {
            table: self.table.clone(),
            rows_base,
            rows_target,
            rows_per_sec,
            done,
            estimate,
            percent,
            eta_secs,
            elapsed_ms: self.started.elapsed().as_millis() as u64,
            findings: f.0.clone(),
            findings_by_tag: f.1.clone(),
        }
    }
}
