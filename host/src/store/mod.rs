//! The state store: movex's own database (a SQLite file by default). It
//! keeps the validator's runs, checkpoints and findings (the embedded sink
//! and the Kafka outbox are the same table), the migration's state, and the
//! pool's repair journal. One file per kind of record:
//!
//! - [`checkpoints`]: validation runs and where each resumes;
//! - [`findings`]: findings, their counts, and the Kafka outbox;
//! - [`journal`]: the pool's writes that reached one side only;
//! - [`migration`]: the migration's state, transitions and counters;
//! - `meta` (here): small named values, such as the current pattern.
//!
//! A finding is committed here, in the same transaction as the checkpoint
//! that moves past it, before anything else sees it; Kafka delivery marks it
//! delivered afterwards. A crash therefore loses neither a finding nor the
//! place to resume from, and never skips one.

pub mod checkpoints;
pub mod findings;
pub mod journal;
pub mod migration;

pub use checkpoints::{Checkpoint, Mode};
pub use journal::{JournalEntry, JournalKind};
pub use migration::Transition;

use anyhow::{Context, Result, bail};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, table_name TEXT NOT NULL, mode TEXT NOT NULL, direction TEXT NOT NULL,
    status TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, error TEXT);
CREATE TABLE IF NOT EXISTS checkpoints (
    table_name TEXT NOT NULL, mode TEXT NOT NULL, direction TEXT NOT NULL, run_id TEXT NOT NULL,
    cursor TEXT NOT NULL, rows_base INTEGER NOT NULL, rows_target INTEGER NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (table_name, mode, direction));
CREATE TABLE IF NOT EXISTS findings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, run_id TEXT NOT NULL,
    table_name TEXT NOT NULL, type TEXT NOT NULL, tag TEXT, body TEXT NOT NULL,
    detected_at TEXT NOT NULL, delivered_at TEXT);
CREATE INDEX IF NOT EXISTS findings_run ON findings (run_id, type);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, pattern TEXT NOT NULL, side TEXT NOT NULL,
    kind TEXT NOT NULL, statements TEXT NOT NULL, error TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL,
    reason TEXT NOT NULL, by_whom TEXT NOT NULL, forced INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (k TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS findings_outbox ON findings (seq) WHERE delivered_at IS NULL;
";

#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

pub(crate) fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

impl Store {
    /// Open (creating) the state store at `url`.
    pub async fn open(url: &str) -> Result<Store> {
        if !url.starts_with("sqlite:") {
            bail!(
                "[state] url {:?}: the state store is a SQLite file for now (sqlite://movex-state.db); \
                 MySQL and PostgreSQL state stores come with the control plane",
                crate::validate::side::redact(url)
            );
        }
        let opts = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("[state] url {url:?}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .with_context(|| format!("opening the state store {url:?} (is its directory writable?)"))?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await.context("creating the state store's tables")?;
        Ok(Store { pool })
    }

    pub async fn meta(&self, k: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT v FROM meta WHERE k = ?").bind(k).fetch_optional(&self.pool).await?)
    }

    pub async fn set_meta(&self, k: &str, v: &str) -> Result<()> {
        sqlx::query("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v")
            .bind(k)
            .bind(v)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
