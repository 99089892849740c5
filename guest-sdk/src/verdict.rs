//! What a comparator says about one (source, destination) pair.

use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Equal,
    /// The rows differ in `columns`; `reason` is a short human explanation.
    Different { columns: Vec<String>, reason: String },
    /// The comparator could not decide (unexpected type, unparsable JSON...).
    /// The host reports it as a `comparator_error` finding for that row.
    Error(String),
}

impl Verdict {
    pub fn different(columns: Vec<String>, reason: impl Into<String>) -> Self {
        Verdict::Different { columns, reason: reason.into() }
    }

    pub fn is_equal(&self) -> bool {
        matches!(self, Verdict::Equal)
    }

    /// The differing columns (empty unless `Different`).
    pub fn columns(&self) -> &[String] {
        match self {
            Verdict::Different { columns, .. } => columns,
            _ => &[],
        }
    }
}

impl From<Error> for Verdict {
    fn from(e: Error) -> Self {
        Verdict::Error(e.0)
    }
}

impl From<crate::row::RowError> for Verdict {
    fn from(e: crate::row::RowError) -> Self {
        Verdict::Error(e.to_string())
    }
}
