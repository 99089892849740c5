//! The double-write pool: the application's writes go to the source and
//! the destination by the current pattern.
//!
//! | pattern | primary | secondary |
//! |---|---|---|
//! | `src_only` | source | — |
//! | `src_first` | source | destination |
//! | `dst_first` | destination | source |
//! | `dst_only` | destination | — |
//!
//! A write runs on the primary; on success, on the secondary. Reads go to
//! the primary only. The pattern is switched atomically; a transaction keeps
//! the one it began with. A secondary failure in non-strict mode does not
//! fail the caller: it is counted, logged and journaled in the state store
//! (statements, parameters, error, time). Strict mode fails the caller
//! instead; what it guarantees is in [`transaction`].
//!
//! Retries: a statement that did not run (no connection could be had, or a
//! deadlock / serialization victim) is retried up to `retry_attempts` times,
//! `retry_backoff_ms` x attempt apart. Nothing else is retried: a statement
//! that may have applied is never sent twice.
//!
//! - [`backend`]: one side's connection pool and transactions.
//! - [`gate`]: the pattern and generation writes enter under, and the
//!   fleet's lease without which nothing is written.
//! - [`transaction`]: transactions through the pool, strict and not.
//! - [`journal`]: recording a missed write durably (the state store, or a
//!   local spool while the store cannot take it).
//! - [`metrics`]: counts and latencies per side (Prometheus).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use movex::pool::{Pool, PoolConfig, Statement};
//! use movex::migration::Pattern;
//! let store = movex::store::Store::open("sqlite://movex-state.db").await?;
//! let mut registry = prometheus_client::registry::Registry::default();
//! let pool = Pool::new("mysql://app@db1/shop", "postgres://app@db2/shop", PoolConfig::default(), store, &mut registry)?;
//! pool.set_pattern(Pattern::SrcFirst);
//! pool.execute(&Statement::new("UPDATE users SET name = ? WHERE id = ?").bind("Ada").bind(7i64)).await?;
//! let mut tx = pool.begin().await?;
//! tx.execute(&Statement::new("INSERT INTO orders (id, user_id) VALUES (?, ?)").bind(1i64).bind(7i64)).await?;
//! tx.commit().await?;
//! # Ok(()) }
//! ```

pub mod backend;
pub mod gate;
pub mod journal;
pub mod metrics;
pub mod transaction;

pub use backend::Backend;
pub use gate::{Fenced, Gate, Ticket};
pub use crate::db::{Executed, Statement};
pub use crate::model::SideName;
pub use metrics::{Counts, Metrics};
pub use transaction::Transaction;

use crate::health::Faults;
use crate::model::Pattern;
use journal::Journal;
use crate::store::{JournalKind, Store};
use crate::db::{Db, Row, retry};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `[pool]` in the config.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    /// A secondary failure fails the caller (see [`transaction`]).
    pub strict: bool,
    /// Tries per statement that did not run (1: no retry).
    pub retry_attempts: u32,
    /// Wait before try n+1: this x n milliseconds.
    pub retry_backoff_ms: u64,
    /// How long to wait for a connection to a side.
    pub connect_timeout_ms: u64,
    pub max_connections: u32,
    /// Health check: how long a side has to answer `SELECT 1`.
    pub health_timeout_ms: u64,
    /// The longest a write waits for the state store to take its journal
    /// entry; past it the entry goes to the spool (see [`journal`]).
    pub journal_timeout_ms: u64,
    /// Where journal entries wait while the state store cannot take them.
    /// Default: beside a SQLite state store (`<file>.journal-spool`), else
    /// `movex-journal-<hash of the store's URL>.spool` in the working
    /// directory.
    pub journal_spool: Option<std::path::PathBuf>,
    /// After a switch between `src_first` and `dst_first`, the longest a
    /// new transaction (or a front door's statement) waits for the
    /// previous pattern's writes to end ([`Gate::settle`]); past it, it and
    /// the rest of that pattern's writes go ahead.
    pub settle_ms: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { strict: false, retry_attempts: 3, retry_backoff_ms: 100, connect_timeout_ms: 2000, max_connections: 10, health_timeout_ms: 1000, journal_timeout_ms: 1000, journal_spool: None, settle_ms: 5000 }
    }
}

/// A write that failed, on which side, and the journal entry if one was
/// made; or one refused before it reached either side (`fenced`).
#[derive(Debug, thiserror::Error)]
#[error("{}", self.describe())]
pub struct WriteError {
    pub side: SideName,
    pub message: String,
    /// Whether the statements were journaled durably (store or spool).
    pub journaled: bool,
    /// Refused at the [`Gate`]: written nowhere (the fleet's lease lapsed).
    pub fenced: bool,
}

impl WriteError {
    fn on(side: SideName, what: &str, e: &sqlx::Error) -> WriteError {
        WriteError { side, message: format!("{what}: {e}"), journaled: false, fenced: false }
    }

    /// A write the gate refused, counted in the metrics.
    pub(crate) fn fenced(pool: &Pool, f: Fenced) -> WriteError {
        pool.metrics.fenced();
        WriteError { side: SideName::Source, message: format!("not written: {f}"), journaled: false, fenced: true }
    }

    fn describe(&self) -> String {
        match self.fenced {
            true => self.message.clone(),
            false => format!("{} database: {}", self.side.as_str(), self.message),
        }
    }
}

/// Each side's answer to a ping.
#[derive(Clone, Debug, Serialize)]
pub struct SideHealth {
    pub healthy: bool,
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Health {
    pub healthy: bool,
    pub source: SideHealth,
    pub destination: SideHealth,
}

pub struct Pool {
    source: Backend,
    destination: Backend,
    gate: Gate,
    config: PoolConfig,
    store: Store,
    metrics: Arc<Metrics>,
    journal: Arc<Journal>,
    /// Faults the pool raises (a journal the store cannot take), shared
    /// with whoever reports health.
    faults: Arc<Faults>,
}

impl Pool {
    /// A pool over the two databases; connections are made on first use, so
    /// a side that is down at start does not stop the pool. Starts in
    /// `src_only`; the caller sets the pattern the migration is in.
    pub fn new(source_url: &str, destination_url: &str, config: PoolConfig, store: Store, registry: &mut prometheus_client::registry::Registry) -> anyhow::Result<Pool> {
        let timeout = Duration::from_millis(config.connect_timeout_ms);
        let metrics = Arc::new(Metrics::new(registry));
        let faults = Arc::new(Faults::default());
        let spool = config.journal_spool.clone().unwrap_or_else(|| store.default_spool().to_owned());
        let journal = Journal::new(store.clone(), metrics.clone(), faults.clone(), spool, Duration::from_millis(config.journal_timeout_ms));
        Ok(Pool {
            source: Backend { name: SideName::Source, db: Db::lazy(source_url, "source", config.max_connections, timeout)? },
            destination: Backend {
                name: SideName::Destination,
                db: Db::lazy(destination_url, "destination", config.max_connections, timeout)?,
            },
            gate: Gate::default(),
            config,
            store,
            metrics,
            journal,
            faults,
        })
    }

    pub fn pattern(&self) -> Pattern {
        self.gate.pattern()
    }

    /// Switch the pattern: statements and transactions that start after
    /// this call use it; transactions already open keep theirs. (In a fleet
    /// the fleet's generations switch it: see [`crate::fleet`].)
    pub fn set_pattern(&self, p: Pattern) {
        self.gate.set_pattern(p);
    }

    /// The gate writes pass (pattern, generation, the fleet's lease).
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    pub fn counts(&self) -> Counts {
        self.metrics.counts()
    }

    /// The metrics, shared with the MySQL front door.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The state store, where the journal lives.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The journal of missed writes (entries waiting for the store, the spool).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Faults the pool has raised (see [`crate::health`]).
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// The backends of [`Pattern::roles`]: the primary and the secondary.
    fn roles(&self, p: Pattern) -> (&Backend, Option<&Backend>) {
        let backend = |name| match name {
            SideName::Source => &self.source,
            SideName::Destination => &self.destination,
        };
        let (primary, secondary) = p.roles();
        (backend(primary), secondary.map(backend))
    }

    /// Run one statement by the current pattern. Non-strict: the primary's
    /// result, whatever the secondary did. Strict with a secondary: both run
    /// in a transaction pair committed as [`transaction`] describes.
    pub async fn execute(&self, stmt: &Statement) -> Result<Executed, WriteError> {
        let ticket = self.gate.enter().map_err(|f| WriteError::fenced(self, f))?;
        let pattern = ticket.pattern;
        let (primary, secondary) = self.roles(pattern);
        if self.config.strict && secondary.is_some() {
            let mut tx = Transaction::begin(self, ticket).await?;
            return match tx.execute(stmt).await {
                Ok(out) => tx.commit().await.map(|()| out),
                Err(e) => {
                    tx.rollback().await;
                    Err(e)
                }
            };
        }
        let out = self.attempt(primary, stmt).await.map_err(|e| WriteError::on(primary.name, "execute", &e))?;
        if let Some(s) = secondary
            && let Err(e) = self.attempt(s, stmt).await
        {
            tracing::warn!(side = s.name.as_str(), error = %e, "secondary write failed; journaled");
            self.record_missed(pattern, s.name, JournalKind::SecondaryFailed, std::slice::from_ref(stmt), &e.to_string()).await;
        }
        Ok(out)
    }

    /// Read from the primary of the current pattern; refused, as writes
    /// are, once the fleet's lease has lapsed (the primary may have changed).
    pub async fn fetch(&self, stmt: &Statement) -> anyhow::Result<Vec<Row>> {
        let ticket = self.gate.enter().map_err(|f| WriteError::fenced(self, f))?;
        let (primary, _) = self.roles(ticket.pattern);
        primary.fetch(stmt).await
    }

    /// Wait, at most `settle_ms`, for the previous pattern's writes that
    /// lock rows in the other order to end ([`Gate::settle`]): before a
    /// transaction here, or a front door's statement, takes a new ticket.
    pub async fn settle(&self) -> bool {
        self.gate.settle(Duration::from_millis(self.config.settle_ms)).await
    }

    /// Begin a transaction in the current pattern, once the previous
    /// pattern's transactions have ended ([`Pool::settle`]).
    pub async fn begin(&self) -> Result<Transaction<'_>, WriteError> {
        self.settle().await;
        let ticket = self.gate.enter().map_err(|f| WriteError::fenced(self, f))?;
        Transaction::begin(self, ticket).await
    }

    /// Ping both sides.
    pub async fn health(&self) -> Health {
        let timeout = Duration::from_millis(self.config.health_timeout_ms);
        let (s, d) = tokio::join!(self.source.ping(timeout), self.destination.ping(timeout));
        let side = |r: Result<Duration, String>| match r {
            Ok(t) => SideHealth { healthy: true, latency_ms: Some(t.as_secs_f64() * 1e3), error: None },
            Err(e) => SideHealth { healthy: false, latency_ms: None, error: Some(e) },
        };
        let (source, destination) = (side(s), side(d));
        Health { healthy: source.healthy && destination.healthy, source, destination }
    }

    async fn attempt(&self, b: &Backend, stmt: &Statement) -> Result<Executed, sqlx::Error> {
        let mut n = 0;
        loop {
            n += 1;
            let t0 = Instant::now();
            let r = b.execute(stmt).await;
            self.metrics.record(b.name, r.is_ok(), t0.elapsed());
            match r {
                Err(e) if n < self.config.retry_attempts && retry::is_transient(&e) => {
                    tokio::time::sleep(Duration::from_millis(self.config.retry_backoff_ms * u64::from(n))).await;
                }
                r => return r,
            }
        }
    }

    /// Journal a write `side` missed (counted once durable; see
    /// [`journal`]); whether it is durable.
    pub(crate) async fn record_missed(&self, pattern: Pattern, side: SideName, kind: JournalKind, statements: &[Statement], error: &str) -> bool {
        self.journal.record(pattern.as_str(), side.as_str(), kind, statements, error).await.durable()
    }
}
