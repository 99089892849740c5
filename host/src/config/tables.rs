//! `[[tables]]`: each table to validate and repair — its name on each side,
//! its key, the update-time column incremental runs read, the columns
//! compared, the comparator and tagger modules, and what repair and the
//! findings may do with its rows.

use serde::Deserialize;

/// One `[[tables]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The table's name on both sides, unless one side overrides it.
    pub name: String,
    pub source_name: Option<String>,
    pub destination_name: Option<String>,
    /// Key columns, in order: one or several, integer or string.
    pub key: Vec<String>,
    /// Update-time column, for incremental validation.
    pub utime: Option<UpdateTime>,
    /// Columns to compare; by default every column both sides have.
    pub columns: Option<Vec<String>>,
    /// Comparator module name.
    pub comparator: String,
    /// Tagger module name.
    pub tagger: Option<String>,
    /// Overrides `[validation] max_rows_per_sec` for this table.
    pub max_rows_per_sec: Option<u64>,
    /// Repair never deletes target rows of this table (it reports them).
    #[serde(default)]
    pub forbid_deletes: bool,
    /// The table holds personal data: its findings keep the key, the
    /// differing columns' names, the tag and the kind of difference, but no
    /// values (in the state store, on Kafka, in logs and over HTTP); the
    /// comparator's own reason text is dropped too, as a module may quote
    /// values in it. The key stays: repair needs it to settle a finding.
    #[serde(default)]
    pub redact_values: bool,
}

impl Table {
    pub fn source_table(&self) -> &str {
        self.source_name.as_deref().unwrap_or(&self.name)
    }

    pub fn destination_table(&self) -> &str {
        self.destination_name.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UpdateTime {
    pub column: String,
    pub unit: TimeUnit,
}

#[derive(Debug, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Epoch milliseconds.
    Ms,
    /// Epoch seconds.
    S,
    /// A DATETIME/TIMESTAMP column.
    Datetime,
}
