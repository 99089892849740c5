//! What a validation reports: per table ([`TableReport`]: its run, status,
//! findings by type and by tag, rows read, speed) and for the whole run
//! ([`Report`]: the tables' sums, and what Kafka has not yet acknowledged).
//! Serialized as is by `movex validate --json` and the control plane.

use crate::model::{Direction, FindingType};
use crate::store::Mode;
use serde::Serialize;
use std::collections::BTreeMap;

/// Rows read on each side.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RowsRead {
    pub base: u64,
    pub target: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TableReport {
    pub table: String,
    pub run_id: String,
    pub mode: Mode,
    pub direction: Direction,
    /// `completed`, `stopped` or `failed`.
    pub status: String,
    /// The run continued an interrupted one from its checkpoint.
    pub resumed: bool,
    /// Findings of the whole run, including a resumed run's earlier part.
    pub findings: BTreeMap<&'static str, u64>,
    pub findings_by_tag: BTreeMap<String, u64>,
    /// Rows this process read.
    pub rows_read: RowsRead,
    pub rows_per_sec: f64,
    pub duration_ms: u64,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub findings: BTreeMap<&'static str, u64>,
    pub rows_read: RowsRead,
    pub rows_per_sec: f64,
    pub duration_ms: u64,
    /// Findings stored but not yet acknowledged by Kafka (kafka sink only).
    pub undelivered: u64,
    pub tables: Vec<TableReport>,
}

impl Report {
    pub fn total_findings(&self) -> u64 {
        self.findings.values().sum()
    }

    pub fn failed(&self) -> bool {
        self.tables.iter().any(|t| t.error.is_some())
    }
}

/// Every finding type at zero, so a report lists the types it did not see.
pub(super) fn empty_counts() -> BTreeMap<&'static str, u64> {
    FindingType::ALL.iter().map(|t| (t.as_str(), 0)).collect()
}
