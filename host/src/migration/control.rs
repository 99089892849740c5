//! The running migration: the state store, the double-write pool, the
//! validator and its modules, brought up from one config. It moves the
//! state machine (persisting first, then switching the pool's pattern, so a
//! crash in between comes back in the new pattern), and reports status in
//! the Go tool's field names.

use crate::store::Mode;
use crate::task::Slot;
use crate::validate::Board;
use crate::model::State;
use crate::model::state::{MoveError, MoveRefused};
use crate::config::Config;
use crate::engine::Engine;
use crate::pool::Pool;
use crate::store::{Store, Transition};
use crate::validate::Validator;
use crate::fleet::Fleet;
use anyhow::{Context, Result};
use prometheus_client::registry::Registry;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct Migration {
    /// The config, the state store, the modules and the reading pools.
    pub engine: Arc<Engine>,
    pub pool: Pool,
    pub validator: Arc<Validator>,
    /// Repair started and stopped by the control plane (and auto-migrate).
    pub repair: crate::repair::service::Service,
    /// The copy of existing rows, started and stopped by the control plane.
    pub copy: crate::copy::service::Service,
    /// Faults in force (a stopped front door, ...): `/health` is 503 while
    /// any is set.
    pub faults: Arc<crate::health::Faults>,
    /// The background work: one full and one incremental validation, and
    /// auto-migrate, at most (see [`crate::task`]).
    pub(super) tasks: Tasks,
    /// Prometheus registry (the pool's metrics and movex's own).
    pub registry: Mutex<Registry>,
    pub(super) started: Instant,
    pub(super) start_time: String,
    /// This process's membership of the fleet (the pool's gate follows
    /// the fleet's generations).
    pub fleet: Arc<Fleet>,
    /// Serializes state changes.
    moving: tokio::sync::Mutex<()>,
}

/// The migration's slots for background work.
#[derive(Default)]
pub(super) struct Tasks {
    pub full: Slot<Arc<Board>>,
    pub incr: Slot<Arc<Board>>,
    pub auto: Slot,
}

impl Tasks {
    pub fn validation(&self, mode: Mode) -> &Slot<Arc<Board>> {
        match mode {
            Mode::Full => &self.full,
            Mode::Incr => &self.incr,
        }
    }
}

impl Migration {
    /// Bring the migration up. Databases are connected on first use: a
    /// database that is down does not stop the server, `/health` says so.
    pub async fn open(config: Config) -> Result<Arc<Migration>> {
        let config = Arc::new(config);
        let store = Store::open(&config.state.url).await?;
        let engine = Engine::open_with(config.clone(), store.clone(), false).await?;
        let validator = Arc::new(Validator::new(engine.clone()));
        let mut registry = Registry::default();
        let repair = crate::repair::service::Service::new(validator.clone(), &mut registry);
        let copy = crate::copy::service::Service::new(engine.clone(), &mut registry);
        let pool = Pool::new(&config.source.url, &config.destination.url, config.pool.clone(), store.clone(), &mut registry)?;
        let faults = pool.faults().clone();
        let fleet = Fleet::join(store.clone(), pool.gate().clone(), config.fleet.clone(), "serve", faults.clone()).await.context("joining the fleet")?;
        let state = store.migration_state().await?.0;
        tracing::info!(state = state.as_str(), pattern = pool.pattern().as_str(), generation = pool.gate().generation(), "migration state restored");
        Ok(Arc::new(Migration {
            engine,
            pool,
            validator,
            repair,
            copy,
            faults,
            tasks: Tasks::default(),
            registry: Mutex::new(registry),
            started: Instant::now(),
            start_time: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            fleet,
            moving: tokio::sync::Mutex::new(()),
        }))
    }

    pub async fn state(&self) -> Result<State> {
        Ok(self.engine.store.migration_state().await?.0)
    }

    /// Move to `to`: one step forward or back unless `force`. Recorded with
    /// `reason` and `by` (a route, a policy, a command). Refused, or the
    /// state store failed: [`MoveError`] tells which; either way the
    /// migration stays where it was, unless the store failed at the commit
    /// ([`MoveError::Unconfirmed`]).
    pub async fn move_to(&self, to: State, force: bool, reason: &str, by: &str) -> Result<Transition, MoveError> {
        let _guard = self.moving.lock().await;
        let failed = |cause| MoveError::Store { to, cause };
        let (from, _) = self.engine.store.migration_state().await.map_err(failed)?;
        if from == to {
            return Err(MoveRefused(format!("the migration is already in {to}")).into());
        }
        if !force && let Err(e) = from.may_go(to) {
            return Err(MoveRefused(e).into());
        }
        // A write one side missed that is not in the store yet is invisible
        // to validation and repair: moving forward now would leave it behind.
        let waiting = self.pool.journal().waiting();
        if waiting > 0 && from.is_forward(to) {
            return Err(MoveRefused(format!(
                "{from} -> {to} refused: {waiting} journal entries are not in the state store yet (they wait in {}); \
                 moves forward wait until the store takes them (GET /health names the cause). Moving back is allowed",
                self.pool.journal().spool_path().display()
            ))
            .into());
        }
        // Every live instance must have applied the current generation
        // before the next: the move to dst_only, above all, must not leave
        // one still writing the source first.
        if from.is_forward(to)
            && let Some(why) = self.unsettled().await.map_err(failed)?
        {
            return Err(MoveRefused(format!("{from} -> {to} refused: {why}, or for their leases to lapse. Moving back is allowed")).into());
        }
        // Validations count per state: the new one has had none yet. Reset
        // before the move is recorded, so a store failing here leaves the
        // migration where it was (at worst wanting one more validation),
        // never in the new state with the old one's clean runs counted.
        let reset_clean_runs = async || -> Result<()> {
            self.engine.store.set_meta("last_full_clean", "false").await?;
            self.engine.store.set_counter("consecutive_clean_runs", 0).await
        };
        reset_clean_runs().await.map_err(failed)?;
        let t = self.engine.store.record_transition(from, to, reason, by, force).await?;
        self.pool.gate().apply(t.generation, to.pattern());
        tracing::info!(from = from.as_str(), to = to.as_str(), reason, by, force, generation = t.generation, "migration moved");
        // And again once moved: a validation of the old state that finished
        // in between counted its clean run, which is not the new state's.
        // The move is done either way, so a failure here is not the move's.
        if let Err(e) = reset_clean_runs().await {
            tracing::warn!(to = to.as_str(), "moved, but resetting the clean runs again failed (a validation of {from} that finished during the move may count for {to}): {e:#}");
        }
        self.through_barrier(t, from, by).await
    }

    /// Wait until every live instance has acknowledged the move `t` (from
    /// `from`), up to `[fleet] move_timeout_ms`. Not in time: pending, or
    /// moved back when `rollback_on_timeout` says so.
    async fn through_barrier(&self, t: Transition, from: State, by: &str) -> Result<Transition, MoveError> {
        let to = State::parse(&t.to).expect("a state this process recorded");
        let failed = |cause| MoveError::Store { to, cause };
        let fleet = &self.fleet;
        let lagging = fleet.barrier(t.generation, fleet.config().move_timeout()).await.map_err(failed)?;
        if lagging.0.is_empty() {
            return Ok(self.record_acknowledged(t).await);
        }
        let names = lagging.to_string();
        tracing::warn!(to = to.as_str(), generation = t.generation, lagging = %names, "a move is not acknowledged by every instance in time");
        if !fleet.config().rollback_on_timeout {
            return Err(MoveError::Pending { to, generation: t.generation, lagging: names });
        }
        let why = format!("rolled back: {names} did not acknowledge {to} within {} ms", fleet.config().move_timeout_ms);
        let back = self.engine.store.record_transition(to, from, &why, by, true).await?;
        self.pool.gate().apply(back.generation, from.pattern());
        let still = fleet.barrier(back.generation, fleet.config().move_timeout()).await.map_err(failed)?;
        let after = match still.0.is_empty() {
            true => String::new(),
            false => format!(" (the move back is pending too: {still})"),
        };
        Err(MoveRefused(format!("the move to {to} was not acknowledged in time by {names}, and was moved back to {from}{after}")).into())
    }

    /// Record who acknowledged the move `t` (the history shows it; a move
    /// without the record is pending). The move is done either way: a
    /// store failing here costs the record, not the move.
    async fn record_acknowledged(&self, mut t: Transition) -> Transition {
        let names = match self.fleet.acknowledged(t.generation).await {
            Ok(names) => names,
            Err(e) => {
                tracing::warn!("reading who acknowledged generation {}: {e:#}", t.generation);
                return t;
            }
        };
        match self.engine.store.acknowledged(t.id, &names).await {
            Ok(()) => t.acknowledged_by = Some(names),
            Err(e) => tracing::warn!("recording who acknowledged generation {}: {e:#}", t.generation),
        }
        t
    }

    /// Why nothing may start or promote now: the current generation is not
    /// acknowledged by every live instance (`None`: it is, and a move left
    /// pending is recorded as acknowledged now).
    pub async fn unsettled(&self) -> Result<Option<String>> {
        let current = self.engine.store.generation().await?;
        let lagging = self.fleet.lagging(current.number).await?;
        if lagging.0.is_empty() {
            if let Some(t) = self.engine.store.history(1).await?.pop()
                && t.generation == current.number
                && t.acknowledged_by.is_none()
            {
                self.record_acknowledged(t).await;
            }
            return Ok(None);
        }
        Ok(Some(format!(
            "{} (generation {}) is not acknowledged by every live movex instance yet: {lagging}; wait for them (GET /instances)",
            current.state, current.number
        )))
    }

    /// Wait until the current generation is acknowledged by every live
    /// instance, or `cancel`: whether it is.
    pub async fn settle(&self, cancel: &tokio_util::sync::CancellationToken) -> Result<bool> {
        loop {
            let Some(why) = self.unsettled().await? else { return Ok(true) };
            tracing::info!("waiting for the fleet: {why}");
            tokio::select! {
                _ = tokio::time::sleep(self.fleet.config().heartbeat()) => {}
                _ = cancel.cancelled() => return Ok(false),
            }
        }
    }
}
