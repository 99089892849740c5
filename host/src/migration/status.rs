//! What `/status`, `/stats` and `/metrics` show of the running migration:
//! the Go tool's field names first (`current_state`, `migration_stats`,
//! `pool_health`, `pool_metrics`, `uptime`), then what movex adds.

use super::AutoStatus;
use super::control::Migration;
use crate::model::State;
use crate::pool::{Counts, Health};
use crate::store::fleet::Instance;
use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;

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
    pub auto_migrate: Option<AutoStatus>,
    /// Journal entries not in the state store yet (waiting in the spool or
    /// memory; see `pool::journal`). Moves forward wait for 0.
    pub journal_waiting: u64,
    /// Journal entries in the state store (writes one side missed),
    /// settled by repair or not.
    pub journal_stored: u64,
    /// How long the migration has been in its state, by this process's
    /// clock (null before the first move).
    pub state_ms: Option<u64>,
    /// The state machine seen from where the migration is: every state in
    /// order, for the operator's page to draw and offer moves from.
    pub machine: Vec<MachineState>,
    /// Faults in force, as `/health` shows them.
    pub faults: BTreeMap<String, crate::health::Fault>,
    /// The fleet: every instance, the generation each applies, and the
    /// ones a move waits for (`GET /instances`).
    pub fleet: FleetStatus,
}

/// One state of `/status`'s `machine`.
#[derive(Clone, Debug, Serialize)]
pub struct MachineState {
    pub state: &'static str,
    /// The write pattern the pool uses in it.
    pub pattern: &'static str,
    /// The route that moves there (null for `initial`: none does).
    pub route: Option<String>,
    /// From the current state: `current` (it is), `step` (one step forward
    /// or back: allowed as is), `force` (allowed only with `force`) or
    /// `none` (no route moves there).
    #[serde(rename = "move")]
    pub move_kind: &'static str,
}

/// Every state, seen from `current`.
pub fn machine(current: State) -> Vec<MachineState> {
    State::ALL
        .into_iter()
        .map(|s| {
            let route = (s != State::Initial).then(|| format!("/{s}"));
            let move_kind = if s == current {
                "current"
            } else if route.is_none() {
                "none"
            } else if current.may_go(s).is_ok() {
                "step"
            } else {
                "force"
            };
            MachineState { state: s.as_str(), pattern: s.pattern().as_str(), route, move_kind }
        })
        .collect()
}

/// Milliseconds from an RFC 3339 time to now; None if it does not parse
/// (or is in the future: another instance's clock ahead of this one's).
fn ms_since(rfc3339: &str) -> Option<u64> {
    let at = humantime::parse_rfc3339_weak(rfc3339).ok()?;
    std::time::SystemTime::now().duration_since(at).ok().map(|d| d.as_millis() as u64)
}

/// `GET /instances`, and `/status`'s `fleet`.
#[derive(Clone, Debug, Serialize)]
pub struct FleetStatus {
    /// A SQLite state store: the fleet is this one process.
    pub single: bool,
    /// The migration's generation (one per move) and its state.
    pub generation: i64,
    pub state: String,
    /// This process's id among `instances`.
    pub me: String,
    /// Live first. `acked` below `generation` on a live one: the move
    /// waits for it (`pending`).
    pub instances: Vec<Instance>,
    /// The live instances that have not acknowledged `generation` yet.
    pub pending: Vec<String>,
    /// What the fleet is, in words.
    pub note: String,
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
    pub async fn status(&self) -> Result<Status> {
        let (state, since) = self.engine.store.migration_state().await?;
        let c = self.engine.store.counters().await?;
        let n = |k: &str| c.get(k).copied().unwrap_or(0);
        let last_decision = self.engine.store.meta("last_decision").await?.and_then(|s| serde_json::from_str(&s).ok());
        let databases = self.pool.health().await;
        let mut pool_health = BTreeMap::new();
        for (key, side) in [("src", &databases.source), ("dst", &databases.destination)] {
            if let Some(e) = &side.error {
                pool_health.insert(key.to_owned(), e.clone());
            }
        }
        let counts = self.pool.counts();
        let state_ms = since.as_deref().and_then(ms_since);
        Ok(Status {
            current_state: state.as_str().into(),
            current_pattern: self.pool.pattern().as_str().into(),
            migration_stats: MigrationStats {
                start_time: self.start_time.clone(),
                current_state: state.as_str().into(),
                full_validation_runs: n("full_validation_runs"),
                incr_validation_runs: n("incr_validation_runs"),
                data_discrepancies: n("data_discrepancies"),
                last_error: self.engine.store.meta("last_error").await?.unwrap_or_default(),
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
            journal_stored: self.engine.store.journal_count().await?,
            state_ms,
            machine: machine(state),
            faults: self.faults.list(),
            fleet: self.fleet_status().await?,
        })
    }

    /// The fleet as the store sees it (see [`FleetStatus`]).
    pub async fn fleet_status(&self) -> Result<FleetStatus> {
        let g = self.engine.store.generation().await?;
        let me = self.fleet.member();
        let (instances, note) = match self.fleet.single() {
            true => {
                let gate = self.pool.gate();
                let this = Instance {
                    member: me.clone(),
                    applied: gate.generation(),
                    acked: gate.generation(),
                    draining: 0,
                    heartbeat_age_ms: 0,
                    lease_ms: 0,
                    live: true,
                };
                (vec![this], "a SQLite state store is one process's: the fleet is this instance alone; share a MariaDB/MySQL or PostgreSQL state store to run several".to_owned())
            }
            false => (
                self.engine.store.instances().await?,
                format!("instances sharing this state store; a lease lasts {} ms after a heartbeat", self.fleet.config().lease_ms),
            ),
        };
        let pending = instances.iter().filter(|i| i.live && i.acked < g.number).map(|i| i.member.name.clone()).collect();
        Ok(FleetStatus { single: self.fleet.single(), generation: g.number, state: g.state.as_str().into(), me: me.id.clone(), instances, pending, note })
    }

    /// Prometheus text: the pool's metrics and the migration's gauges.
    pub async fn metrics_text(&self) -> Result<String> {
        let mut out = String::new();
        {
            let registry = self.registry.lock().expect("registry");
            prometheus_client::encoding::text::encode_registry(&mut out, &registry)?;
        }
        let (state, _) = self.engine.store.migration_state().await?;
        out.push_str("# HELP movex_migration_state The migration's state (1 for the current one).\n# TYPE movex_migration_state gauge\n");
        for s in State::ALL {
            out.push_str(&format!("movex_migration_state{{state=\"{}\"}} {}\n", s.as_str(), u8::from(s == state)));
        }
        for (k, v) in self.engine.store.counters().await? {
            out.push_str(&format!("# TYPE movex_{k} counter\nmovex_{k}_total {v}\n"));
        }
        out.push_str("# EOF\n");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_machine_offers_steps_and_forced_moves_from_the_current_state() {
        use crate::model::State;
        let from = |s: State| super::machine(s).iter().map(|m| format!("{}:{}", m.state, m.move_kind)).collect::<Vec<_>>().join(" ");
        assert_eq!(from(State::SrcFirst), "initial:none src_only:step src_first:current dst_first:step dst_only:force completed:force");
        assert_eq!(from(State::Initial), "initial:current src_only:step src_first:force dst_first:force dst_only:force completed:force");
        assert_eq!(from(State::Completed), "initial:none src_only:force src_first:force dst_first:force dst_only:force completed:current");
        let m = super::machine(State::Initial);
        assert_eq!((m[0].route.as_deref(), m[5].route.as_deref(), m[5].pattern), (None, Some("/completed"), "dst_only"));
    }

    #[test]
    fn uptime_reads_like_go() {
        assert_eq!(super::go_duration(9015), "2h30m15s");
        assert_eq!(super::go_duration(240), "4m0s");
        assert_eq!(super::go_duration(12), "12s");
    }
}
