//! `[source]`, `[destination]` and `[state]`: where the migration's two
//! databases are, and where movex keeps its own state store, each by URL
//! (`mysql://`, `postgres://` or `sqlite://`; the config's check refuses any
//! other). The environment may override each URL (`MOVEX_SOURCE_URL`,
//! `MOVEX_DESTINATION_URL`, `MOVEX_STATE_URL`).

use serde::Deserialize;

/// `[source]` or `[destination]`: one of the migration's two databases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `mysql://`, `postgres://` or `sqlite://`.
    pub url: String,
}

/// `[state]`: the state store, where movex keeps its state, checkpoints and
/// embedded findings (not the migration's state, `model::State`, which is
/// one of the things kept there). A SQLite file by default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateStore {
    pub url: String,
}

impl Default for StateStore {
    fn default() -> Self {
        StateStore { url: "sqlite://movex-state.db".into() }
    }
}
