//! The four double-write patterns (where the application's writes go) and
//! the two databases they name.
//!
//! | pattern | primary | secondary |
//! |---|---|---|
//! | `src_only` | source | — |
//! | `src_first` | source | destination |
//! | `dst_first` | destination | source |
//! | `dst_only` | destination | — |

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which of the two databases: the source (moved from) or the destination
/// (moved to).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SideName {
    Source,
    Destination,
}

impl SideName {
    pub fn as_str(self) -> &'static str {
        match self {
            SideName::Source => "source",
            SideName::Destination => "destination",
        }
    }
}

/// Where writes go: the four double-write patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    SrcOnly,
    SrcFirst,
    DstFirst,
    DstOnly,
}

impl Pattern {
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::SrcOnly => "src_only",
            Pattern::SrcFirst => "src_first",
            Pattern::DstFirst => "dst_first",
            Pattern::DstOnly => "dst_only",
        }
    }

    pub fn parse(s: &str) -> Option<Pattern> {
        [Pattern::SrcOnly, Pattern::SrcFirst, Pattern::DstFirst, Pattern::DstOnly].into_iter().find(|p| p.as_str() == s)
    }

    /// Where writes go first (the primary) and then (the secondary, if any).
    pub fn roles(self) -> (SideName, Option<SideName>) {
        match self {
            Pattern::SrcOnly => (SideName::Source, None),
            Pattern::SrcFirst => (SideName::Source, Some(SideName::Destination)),
            Pattern::DstFirst => (SideName::Destination, Some(SideName::Source)),
            Pattern::DstOnly => (SideName::Destination, None),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
