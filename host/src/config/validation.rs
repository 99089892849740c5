//! `[validation]`: load control for validation runs — page and batch size,
//! rows per second, tables at once, errors tolerated — and whether a
//! difference is read again before it is reported.

use serde::Deserialize;

/// Load control for validation runs.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct Validation {
    /// Rows per page and per comparator call.
    pub batch_size: u64,
    /// Keys per second per table, i.e. rows per side (0: no limit).
    pub max_rows_per_sec: u64,
    /// Tables validated at once.
    pub concurrency: usize,
    /// Comparator errors a run tolerates before it stops.
    pub max_validation_errors: u64,
    /// Re-read each difference by key, on both sides, before reporting it,
    /// so a row the application wrote between the two sides' reads is not
    /// reported (validation under live traffic).
    pub recheck: bool,
}

impl Default for Validation {
    fn default() -> Self {
        Validation { batch_size: 1000, max_rows_per_sec: 0, concurrency: 2, max_validation_errors: 100, recheck: true }
    }
}
