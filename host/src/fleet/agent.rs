//! A member of the fleet: its heartbeat, the generation it applies to its
//! pool's gate, its acknowledgements, and the barrier a move waits at.
//!
//! One round, in this order (the order is the argument, see
//! docs/design/fleet.md): note the monotonic time `t`; write the heartbeat
//! (what this member applies and has acknowledged); read the generation;
//! apply it to the gate; renew the gate's lease to `t` + 90% of
//! `lease_ms`. The store stamps the heartbeat at or after `t` with its own
//! clock and counts the member live for `lease_ms` after it, so the member
//! stops writing before the store stops waiting for it; and every write it
//! admits was admitted under a generation read after its last heartbeat
//! landed, which a move that the barrier saw through had to wait for.

use super::config::FleetConfig;
use crate::health::Faults;
use crate::pool::Gate;
use crate::store::Store;
use crate::store::fleet::{Beat, Instance, Member};
use anyhow::Result;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The part of the lease a member uses: the rest covers clocks that run at
/// slightly different rates and the time between a check and a write.
const LEASE_USED: f64 = 0.9;

/// The PostgreSQL channel a move notifies.
pub const CHANNEL: &str = "movex_generation";

/// This process's membership (see the module documentation).
pub struct Fleet {
    store: Store,
    gate: Gate,
    config: FleetConfig,
    me: Member,
    /// The newest generation acknowledged (no older write still running).
    acked: AtomicI64,
    wake: tokio::sync::Notify,
    stop: CancellationToken,
    faults: Arc<Faults>,
}

/// Why a move is not through the barrier: the live members that have not
/// acknowledged its generation, by name, with what each applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lagging(pub Vec<Instance>);

impl std::fmt::Display for Lagging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .0
            .iter()
            .map(|i| match i.draining {
                0 => format!("{} (applies generation {}, acknowledged {})", i.member.name, i.applied, i.acked),
                n => format!("{} (applies generation {}, {n} writes of older ones still running)", i.member.name, i.applied),
            })
            .collect();
        f.write_str(&names.join(", "))
    }
}

impl Fleet {
    /// Join the fleet of the migration `store` holds, as `role`, for the
    /// pool whose gate is `gate`: register, apply the current generation,
    /// and (on a server store) keep doing so in the background until
    /// [`Fleet::leave`]. Writes are admitted once this returns.
    pub async fn join(store: Store, gate: Gate, config: FleetConfig, role: &str, faults: Arc<Faults>) -> Result<Arc<Fleet>> {
        config.check().map_err(anyhow::Error::msg)?;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
        let pid = std::process::id();
        let me = Member {
            id: format!("{:016x}", rand::random::<u64>()),
            name: config.name.clone().unwrap_or_else(|| format!("{host}:{pid}")),
            host,
            pid,
            role: role.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        let fleet = Arc::new(Fleet { store, gate, config, me, acked: AtomicI64::new(0), wake: Default::default(), stop: CancellationToken::new(), faults });
        if fleet.single() {
            let g = fleet.store.generation().await?;
            fleet.gate.apply(g.number, g.state.pattern());
            return Ok(fleet);
        }
        fleet.round().await?;
        tokio::spawn(fleet.clone().run());
        if fleet.config.listen && fleet.store.dialect_is_postgres() {
            tokio::spawn(fleet.clone().listen());
        }
        Ok(fleet)
    }

    /// A fleet of one process: a SQLite state store.
    pub fn single(&self) -> bool {
        !self.store.shared()
    }

    pub fn member(&self) -> &Member {
        &self.me
    }

    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    /// Run a round now (a move was just recorded here).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Leave the fleet (a clean shutdown): stop the agent and deregister,
    /// so moves stop waiting for this member.
    pub async fn leave(&self) {
        self.stop.cancel();
        if !self.single()
            && let Err(e) = self.store.leave(&self.me.id).await
        {
            tracing::warn!("leaving the fleet: {e:#} (moves wait for this member until its lease lapses)");
        }
    }

    /// One round (see the module documentation); whether another should
    /// follow at once (a generation applied, not yet acknowledged).
    async fn round(&self) -> Result<bool> {
        let t = Instant::now();
        let (applied, draining) = self.gate.draining();
        if draining == 0 {
            self.acked.fetch_max(applied, Ordering::SeqCst);
        }
        let acked = self.acked.load(Ordering::SeqCst);
        let lease_ms = self.config.lease_ms as i64;
        self.store.heartbeat(&self.me, Beat { applied, acked, draining: draining as i64, lease_ms }).await?;
        let g = self.store.generation().await?;
        self.gate.apply(g.number, g.state.pattern());
        let why = format!(
            "this movex instance ({}) has not renewed its fleet lease with the state store for {} ms (store unreachable, or the process was paused); \
             it writes again once it has caught up with the fleet's current pattern. Retry, or write through another instance",
            self.me.name, self.config.lease_ms
        );
        self.gate.renew(t + self.config.lease().mul_f64(LEASE_USED), &why);
        let (now_applied, open) = self.gate.draining();
        Ok(now_applied > acked && open == 0)
    }

    /// Forget members gone longer than `forget_after_ms` (outside the
    /// round: the lease never waits on it, and a failure only waits for
    /// the next try).
    async fn forget_lapsed(&self) {
        match self.store.forget_lapsed(self.config.forget_after_ms as i64).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(forgotten = n, after_ms = self.config.forget_after_ms, "fleet: forgot instances gone without leaving"),
            Err(e) => tracing::debug!("fleet: forgetting lapsed instances: {e:#}"),
        }
    }

    /// The agent: a round every heartbeat, at once when woken or when a
    /// generation waits to be acknowledged and its last old write ends.
    async fn run(self: Arc<Fleet>) {
        let mut forgot: Option<Instant> = None;
        loop {
            let again = match self.round().await {
                Ok(again) => {
                    self.faults.clear("fleet_lease");
                    if forgot.is_none_or(|t| t.elapsed() >= self.config.forget_every()) {
                        forgot = Some(Instant::now());
                        self.forget_lapsed().await;
                    }
                    again
                }
                Err(e) => {
                    let left = self.gate.check().is_ok();
                    self.faults.set(
                        "fleet_lease",
                        format!(
                            "renewing this instance's fleet lease failed: {e:#}; {}",
                            if left { "writes go on until the lease lapses" } else { "writes are refused until it is renewed" }
                        ),
                    );
                    false
                }
            };
            if again {
                continue;
            }
            let waiting = self.gate.generation() > self.acked.load(Ordering::SeqCst);
            tokio::select! {
                _ = tokio::time::sleep(self.config.heartbeat()) => {}
                _ = self.wake.notified() => {}
                _ = self.gate.ticket_returned(), if waiting => {}
                _ = self.stop.cancelled() => return,
            }
        }
    }

    /// PostgreSQL: wake the agent when a move notifies [`CHANNEL`], so
    /// members apply it without waiting for their next heartbeat. Polling
    /// goes on regardless: a lost notification costs one heartbeat.
    async fn listen(self: Arc<Fleet>) {
        loop {
            let mut listener = match self.store.listener(CHANNEL).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::debug!("fleet: LISTEN {CHANNEL}: {e:#}; polling only");
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.lease()) => continue,
                        _ = self.stop.cancelled() => return,
                    }
                }
            };
            loop {
                tokio::select! {
                    n = listener.recv() => match n {
                        Ok(_) => self.wake.notify_one(),
                        Err(_) => break,
                    },
                    _ = self.stop.cancelled() => return,
                }
            }
        }
    }

    /// The live members that have not acknowledged `generation` (this one
    /// included); empty when the fleet is through it.
    pub async fn lagging(&self, generation: i64) -> Result<Lagging> {
        if self.single() {
            return Ok(Lagging(Vec::new()));
        }
        let all = self.store.instances().await?;
        Ok(Lagging(all.into_iter().filter(|i| i.live && i.acked < generation).collect()))
    }

    /// The live members that have acknowledged `generation`, by name
    /// (this process alone in a fleet of one).
    pub async fn acknowledged(&self, generation: i64) -> Result<Vec<String>> {
        if self.single() {
            return Ok(vec![self.me.name.clone()]);
        }
        let all = self.store.instances().await?;
        Ok(all.into_iter().filter(|i| i.live && i.acked >= generation).map(|i| i.member.name).collect())
    }

    /// Wait until every live member has acknowledged `generation`, or
    /// `timeout` has passed: the members that lag then.
    pub async fn barrier(&self, generation: i64, timeout: Duration) -> Result<Lagging> {
        self.wake();
        let deadline = Instant::now() + timeout;
        // One small query per step, for the length of a move: cheap, and
        // with LISTEN/NOTIFY the step is most of what a move waits.
        let step = (self.config.heartbeat() / 10).clamp(Duration::from_millis(2), Duration::from_millis(10));
        loop {
            let lagging = self.lagging(generation).await?;
            if lagging.0.is_empty() || Instant::now() >= deadline {
                return Ok(lagging);
            }
            tokio::time::sleep(step).await;
        }
    }
}
