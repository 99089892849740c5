//! `[repair]`: how repair takes findings (the Kafka consumer group), how fast
//! it goes, whether auto-migrate repairs, and when a target row that stays
//! newer than its base is overwritten.

use serde::Deserialize;

/// `[repair]`: how repair takes findings and how fast it goes.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Repair {
    /// Findings repaired per second (0: no limit).
    pub max_rows_per_sec: u64,
    /// Auto-migrate repairs what a validation found, then validates again
    /// (up to `max_rounds` times) before it holds the migration.
    pub auto: bool,
    pub max_rounds: u32,
    /// The Kafka consumer group repair workers share (`--from kafka`).
    pub group: String,
    /// How long the group waits for a silent worker before its partitions
    /// move to the others.
    pub session_timeout_ms: u64,
    /// A one-shot Kafka repair ends after this long without a finding.
    pub idle_ms: u64,
    /// A target row newer than its base is left alone (`skipped_newer`),
    /// unless it stays so: seen newer with the same base row and the same
    /// target update time on `settle_newer_after` repair passes, at least
    /// `settle_newer_after_ms` apart from the first, while the base is the
    /// primary of the current pattern. Then it is overwritten from the
    /// base, guarded by the update time read (`overwrote_newer`). 0: never.
    pub settle_newer_after: u32,
    pub settle_newer_after_ms: u64,
}

impl Default for Repair {
    fn default() -> Repair {
        Repair { max_rows_per_sec: 0, auto: false, max_rounds: 3, group: "movex-repair".into(), session_timeout_ms: 10_000, idle_ms: 5_000, settle_newer_after: 2, settle_newer_after_ms: 10_000 }
    }
}
