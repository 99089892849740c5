//! The running migration: the state store, the double-write pool, the
//! validator and its modules, brought up from one config. It moves the
//! state machine (persisting first, then switching the pool's pattern, so a
//! crash in between comes back in the new pattern), and reports status in
//! the Go tool's field names.

use super::scheduler::Scheduler;
use super::state::State;
use crate::config::Config;
use crate::pool::{Counts, Health, Pool};
use crate::store::{Store, Transition};
use crate::validate::Validator;
use anyhow::{Result, bail};
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct Migration {
    pub config: Arc<Config>,
    pub store: Store,
    pub pool: Pool,
    pub validator: Arc<Validator>,
    /// Repair started and stopped by the control plane (and auto-migrate).
    pub repair: crate::repair::service::Service,
    /// Faults in force (a stopped front door, ...): `/health` is 503 while
    /// any is set.
    pub faults: Arc<crate::health::Faults>,
    pub(super) scheduler: Scheduler,
    /// Prometheus registry (the pool's metrics and movex's own).
    pub registry: Mutex<Registry>,
    started: Instant,
    start_time: String,
    /// Serializes state changes.
    moving: tokio::sync::Mutex<()>,
}

/// `/status` data, with the Go tool's field names (and a few more).
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub current_state: String,
    pub current_pattern: String,
    pub migration_stats: MigrationStats,
    /// As in the Go tool: empty when both databases answer, otherwise `src`
    /// and/or `dst` with the error.
    pub pool_health: BTreeMap<String, String>,
    pub pool_metrics: PoolMetrics,
    /// Go's duration form, e.g. `2h30m15s`.
    pub uptime: String,
    pub uptime_ms: u64,
    /// Both databases' ping, in detail.
    pub databases: Health,
    pub auto_migrate: Option<super::AutoStatus>,
    /// Journal entries not in the state store yet (waiting in the spool or
    /// memory; see `pool::journal`). Moves forward wait for 0.
    pub journal_waiting: u64,
    /// Faults in force, as `/health` shows them.
    pub faults: BTreeMap<String, crate::health::Fault>,
}

/// The Go tool's `pool_metrics`, plus the counts per side.
#[derive(Clone, Debug, Serialize)]
pub struct PoolMetrics {
    #[serde(rename = "DoubleWriteSuccess")]
    pub double_write_success: u64,
    #[serde(rename = "DoubleWriteFailure")]
    pub double_write_failure: u64,
    /// Latency histograms are in `/metrics`; kept for the field's sake.
    #[serde(rename = "QueryDuration")]
    pub query_duration: Vec<f64>,
    pub by_side: Counts,
}

/// Go's `time.Duration` text: `2h30m15s`, `4m0s`, `12s`.
pub fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// `migration_stats` (and `/stats`), with the Go tool's field names first.
#[derive(Clone, Debug, Serialize)]
pub struct MigrationStats {
    pub start_time: String,
    pub current_state: String,
    pub full_validation_runs: u64,
    pub incr_validation_runs: u64,
    pub data_discrepancies: u64,
    /// Empty when there was none, as in the Go tool.
    pub last_error: String,
    pub consecutive_clean_runs: u64,
    pub rows_checked: u64,
    pub state_since: Option<String>,
    /// The policy's last decision, if it was consulted.
    pub last_decision: Option<serde_json::Value>,
}

impl Migration {
    /// Bring the migration up. Databases are connected on first use: a
    /// database that is down does not stop the server, `/health` says so.
    pub async fn open(config: Config) -> Result<Arc<Migration>> {
        let config = Arc::new(config);
        let store = Store::open(&config.state.url).await?;
        let validator = Arc::new(Validator::open_with(config.clone(), store.clone(), false).await?);
        let mut registry = Registry::default();
        let repair = crate::repair::service::Service::new(validator.clone(), &mut registry);
        let pool = Pool::new(&config.source.url, &config.destination.url, config.pool.clone(), store.clone(), &mut registry)?;
        let (state, _) = store.migration_state().await?;
        pool.set_pattern(state.pattern());
        tracing::info!(state = state.as_str(), pattern = state.pattern().as_str(), "migration state restored");
        let faults = pool.faults().clone();
        Ok(Arc::new(Migration {
            config,
            store,
            pool,
            validator,
            repair,
            faults,
            scheduler: Scheduler::default(),
            registry: Mutex::new(registry),
            started: Instant::now(),
            start_time: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            moving: tokio::sync::Mutex::new(()),
        }))
    }

    pub async fn state(&self) -> Result<State> {
        Ok(self.store.migration_state().await?.0)
    }

    /// Move to `to`: one step forward or back unless `force`. Recorded with
    /// `reason` and `by` (a route, a policy, a command).
    pub async fn move_to(&self, to: State, force: bool, reason: &str, by: &str) -> Result<Transition> {
        let _guard = self.moving.lock().await;
        let (from, _) = self.store.migration_state().await?;
        if from == to {
            bail!(super::state::MoveRefused(format!("the migration is already in {to}")));
        }
        if !force && let Err(e) = from.may_go(to) {
            bail!(super::state::MoveRefused(e));
        }
        // A write one side missed that is not in the store yet is invisible
        // to validation and repair: moving forward now would leave it behind.
        let waiting = self.pool.journal().waiting();
        if waiting > 0 && from.is_forward(to) {
            bail!(super::state::MoveRefused(format!(
                "{from} -> {to} refused: {waiting} journal entries are not in the state store yet (they wait in {}); \
                 moves forward wait until the store takes them (GET /health names the cause). Moving back is allowed",
                self.pool.journal().spool_path().display()
            )));
        }
        let t = self.store.record_transition(from, to, reason, by, force).await?;
        self.pool.set_pattern(to.pattern());
        // Validations count per state: the new one has had none yet.
        self.store.set_meta("last_full_clean", "false").await?;
        self.store.set_counter("consecutive_clean_runs", 0).await?;
        tracing::info!(from = from.as_str(), to = to.as_str(), reason, by, force, "migration moved");
        Ok(t)
    }

    pub async fn status(&self) -> Result<Status> {
        let (state, since) = self.store.migration_state().await?;
        let c = self.store.counters().await?;
        let n = |k: &str| c.get(k).copied().unwrap_or(0);
        let last_decision = self.store.meta("last_decision").await?.and_then(|s| serde_json::from_str(&s).ok());
        let databases = self.pool.health().await;
        let mut pool_health = BTreeMap::new();
        for (key, side) in [("src", &databases.source), ("dst", &databases.destination)] {
            if let Some(e) = &side.error {
                pool_health.insert(key.to_owned(), e.clone());
            }
        }
        let counts = self.pool.counts();
        Ok(Status {
            current_state: state.as_str().into(),
            current_pattern: self.pool.pattern().as_str().into(),
            migration_stats: MigrationStats {
                start_time: self.start_time.clone(),
                current_state: state.as_str().into(),
                full_validation_runs: n("full_validation_runs"),
                incr_validation_runs: n("incr_validation_runs"),
                data_discrepancies: n("data_discrepancies"),
                last_error: self.store.meta("last_error").await?.unwrap_or_default(),
                consecutive_clean_runs: n("consecutive_clean_runs"),
                rows_checked: n("rows_checked"),
                state_since: since,
                last_decision,
            },
            pool_health,
            pool_metrics: PoolMetrics {
                double_write_success: counts.source_success + counts.destination_success,
                double_write_failure: counts.source_failure + counts.destination_failure,
                query_duration: Vec::new(),
                by_side: counts,
            },
            uptime: go_duration(self.started.elapsed().as_secs()),
            uptime_ms: self.started.elapsed().as_millis() as u64,
            databases,
            auto_migrate: self.auto_status().await?,
            journal_waiting: self.pool.journal().waiting(),
            faults: self.faults.list(),
        })
    }

    /// Prometheus text: the pool's metrics and the migration's gauges.
    pub async fn metrics_text(&self) -> Result<String> {
        let mut out = String::new();
        {
            let registry = self.registry.lock().expect("registry");
            prometheus_client::encoding::text::encode_registry(&mut out, &registry)?;
        }
        let (state, _) = self.store.migration_state().await?;
        out.push_str("# HELP movex_migration_state The migration's state (1 for the current one).\n# TYPE movex_migration_state gauge\n");
        for s in State::ALL {
            out.push_str(&format!("movex_migration_state{{state=\"{}\"}} {}\n", s.as_str(), u8::from(s == state)));
        }
        for (k, v) in self.store.counters().await? {
            out.push_str(&format!("# TYPE movex_{k} counter\nmovex_{k}_total {v}\n"));
        }
        out.push_str("# EOF\n");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn uptime_reads_like_go() {
        assert_eq!(super::go_duration(9015), "2h30m15s");
        assert_eq!(super::go_duration(240), "4m0s");
        assert_eq!(super::go_duration(12), "12s");
    }
}
