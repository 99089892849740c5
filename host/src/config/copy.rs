//! `[copy]`: how the copy of existing rows reads and writes: chunk size,
//! speed, tables at once, when it slows down for the databases' sake, and
//! what it does with values the destination cannot hold.

use serde::Deserialize;

/// `[copy]`: chunks, speed and load control of the copy.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Copy {
    /// Rows per chunk: read in one locking read on the source, written in
    /// one transaction on the destination. Larger chunks commit less often
    /// (each commit waits for the destination's log flush: on PostgreSQL
    /// 1M rows took 9.3 s in chunks of 1,000 and 6.1 s in chunks of 5,000);
    /// smaller ones hold their share locks on the source for less time (a
    /// chunk of 5,000 narrow rows: tens of milliseconds). Memory grows with it.
    pub chunk_size: u64,
    /// Rows copied per second per table (0: no limit).
    pub max_rows_per_sec: u64,
    /// Tables copied at once.
    pub tables_at_once: usize,
    /// Slow down while a chunk's read on the source or its write on the
    /// destination takes longer than this (gh-ost's `--max-load`, by
    /// latency); 0: never.
    pub max_latency_ms: u64,
    /// MySQL's zero dates (`0000-00-00`, `2024-00-10`) have no PostgreSQL
    /// equivalent: `refuse` stops the copy naming the table, column and
    /// key; `null` writes NULL instead.
    pub zero_dates: ZeroDates,
    /// Times a chunk's read or write is tried again after an error that
    /// means it did not run (a lock wait timeout, a deadlock, SQLite's busy
    /// file), waiting 100 ms longer each time, up to 2 s; then the table
    /// fails. Safe because a chunk only inserts the rows the destination
    /// lacks, in one transaction.
    pub retry_attempts: u32,
    /// Auto-migrate copies the tables not copied yet once in `src_first`,
    /// before its first validation.
    pub in_auto_migrate: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ZeroDates {
    #[default]
    Refuse,
    Null,
}

impl Default for Copy {
    fn default() -> Copy {
        Copy { chunk_size: 5000, max_rows_per_sec: 0, tables_at_once: 2, max_latency_ms: 0, zero_dates: ZeroDates::Refuse, retry_attempts: 10, in_auto_migrate: true }
    }
}
