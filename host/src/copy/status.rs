//! What the copy is doing now, per table, for the progress bar, `GET
//! /copy/status` and the policy's stats: rows copied, rows per second this
//! run, an ETA from the source's row estimate, the last key, and whether it
//! is slowed down and why.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableState {
    Running,
    Done,
    Failed,
    Cancelled,
}

/// One table's copy, as reported.
#[derive(Clone, Debug, Serialize)]
pub struct TableStatus {
    pub table: String,
    pub state: TableState,
    /// In all, across runs that resumed one another.
    pub rows_copied: u64,
    /// The source's own estimate (statistics); 0 when unknown.
    pub estimated_rows: u64,
    pub rows_per_sec: f64,
    pub eta_secs: Option<u64>,
    pub last_key: Option<Json>,
    /// Why the copy is slowed down now, if it is.
    pub throttled: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug)]
struct Entry {
    status: TableStatus,
    started: Instant,
    this_run: u64,
}

/// A metric's labels.
pub type Labels = Vec<(String, String)>;

/// Every table's status, shared by the copy and whoever reports it.
#[derive(Debug, Default)]
pub struct Board {
    tables: Mutex<BTreeMap<String, Entry>>,
    /// `movex_copy_rows_total{table}`, when the control plane counts.
    rows: Option<Family<Labels, Counter>>,
}

impl Board {
    /// A board that also counts the rows copied into `rows`.
    pub fn counting(rows: Family<Labels, Counter>) -> Board {
        Board { rows: Some(rows), ..Board::default() }
    }

    fn with(&self, table: &str, f: impl FnOnce(&mut Entry)) {
        if let Some(e) = self.tables.lock().expect("board lock").get_mut(table) {
            f(e);
            let secs = e.started.elapsed().as_secs_f64();
            let s = &mut e.status;
            s.rows_per_sec = if secs > 0.0 { e.this_run as f64 / secs } else { 0.0 };
            s.eta_secs = (s.state == TableState::Running && s.rows_per_sec > 0.0 && s.estimated_rows > 0)
                .then(|| (s.estimated_rows.saturating_sub(s.rows_copied) as f64 / s.rows_per_sec) as u64);
        }
    }

    pub fn start(&self, table: &str, rows_copied: u64, estimated_rows: u64, last_key: Option<Json>) {
        let status = TableStatus {
            table: table.to_owned(),
            state: TableState::Running,
            rows_copied,
            estimated_rows,
            rows_per_sec: 0.0,
            eta_secs: None,
            last_key,
            throttled: None,
            error: None,
        };
        self.tables.lock().expect("board lock").insert(table.to_owned(), Entry { status, started: Instant::now(), this_run: 0 });
    }

    pub fn advance(&self, table: &str, rows: u64, last_key: Json) {
        if let Some(family) = &self.rows {
            family.get_or_create(&vec![("table".into(), table.into())]).inc_by(rows);
        }
        self.with(table, |e| {
            e.this_run += rows;
            e.status.rows_copied += rows;
            e.status.last_key = Some(last_key);
        });
    }

    pub fn throttled(&self, table: &str, reason: Option<String>) {
        self.with(table, |e| e.status.throttled = reason);
    }

    pub fn finish(&self, table: &str, state: TableState, error: Option<String>) {
        self.with(table, |e| {
            e.status.state = state;
            e.status.error = error;
            e.status.throttled = None;
        });
    }

    /// Every table's status, by name.
    pub fn snapshot(&self) -> Vec<TableStatus> {
        self.tables.lock().expect("board lock").values().map(|e| e.status.clone()).collect()
    }
}
