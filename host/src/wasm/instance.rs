//! One live instance of a module: a `Store` with its limits, the bound layouts,
//! and the call wrapper that arms the CPU bound before every call and turns a
//! failure into a `FailureKind`. Reused across batches; dropped after a trap.
//!
//! The CPU bound is the calling thread's CPU time, checked when the epoch
//! deadline comes: the deadline is set to the earliest tick the budget could
//! be used up (a thread uses no more CPU than wall time passes), and if the
//! thread had less of the CPU than that, the deadline moves on by what is
//! left. So on a busy machine a call still gets its whole budget, and what
//! stops a guest does not depend on the load: a loop times out, a memory
//! bomb reaches the cap.

use super::wit::{Plugin, PluginPre, host, types};
use super::error::FailureKind;
use super::limits::{Limits, StoreLimiter};
use std::collections::HashMap;
use super::ticker::Ticker;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

/// Most log lines one call may write; the rest are dropped.
const MAX_LOG_LINES: u32 = 100;
/// Longest log line kept, in bytes.
const MAX_LOG_BYTES: usize = 1024;

/// What the host keeps per store.
pub struct StoreState {
    limiter: StoreLimiter,
    module: String,
    /// The panic message the SDK reported during the current call.
    panic: Option<String>,
    log_lines: u32,
    /// The current call's CPU budget.
    cpu: CpuBudget,
}

/// CPU time a call may use, and the thread's CPU clock when it started.
#[derive(Clone, Copy)]
struct CpuBudget {
    started: Duration,
    timeout: Duration,
}

impl host::Host for StoreState {
    fn log(&mut self, level: host::Level, mut message: String) {
        if let Some(p) = message.strip_prefix("panicked: ") {
            self.panic = Some(truncate(p.to_owned()));
        }
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES {
            return;
        }
        message = truncate(message);
        let module = &self.module;
        match level {
            host::Level::Debug => tracing::debug!(target: "movex::guest", %module, "{message}"),
            host::Level::Info => tracing::info!(target: "movex::guest", %module, "{message}"),
            host::Level::Warn => tracing::warn!(target: "movex::guest", %module, "{message}"),
            host::Level::Error => tracing::error!(target: "movex::guest", %module, "{message}"),
        }
    }
}

impl types::Host for StoreState {}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_LOG_BYTES {
        let mut end = MAX_LOG_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// Bindings are keyed by (capability slot, host binding id).
pub(crate) type BindKey = (u8, u64);

pub struct Instance {
    store: Store<StoreState>,
    plugin: Plugin,
    /// Ticks the epoch while a call runs (the CPU bound's clock).
    ticker: Arc<Ticker>,
    /// Guest handles of layouts already bound in this instance.
    pub(crate) bound: HashMap<BindKey, u32>,
}

/// A failed call: what kind, and the detail for the error message.
pub(crate) struct CallFailure {
    pub kind: FailureKind,
    pub detail: String,
}

impl Instance {
    pub(crate) fn new(engine: &Engine, ticker: &Arc<Ticker>, pre: &PluginPre<StoreState>, limits: &Limits, module: &str) -> Result<Self, CallFailure> {
        let state = StoreState {
            limiter: StoreLimiter { memory_bytes: limits.memory_bytes, refused: None },
            module: module.to_owned(),
            panic: None,
            log_lines: 0,
            cpu: CpuBudget { started: Duration::ZERO, timeout: limits.call_timeout },
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
        // Runs on the guest's thread, inside the call, when the deadline
        // comes: out of budget it stops the guest (`Trap::Interrupt`, as an
        // epoch deadline without a callback would), else it waits for the
        // earliest tick the rest could be used up by.
        let ticks = limits.clone();
        store.epoch_deadline_callback(move |store| {
            let budget = store.data().cpu;
            let used = thread_cpu().saturating_sub(budget.started);
            Ok(match budget.timeout.checked_sub(used) {
                Some(left) if !left.is_zero() => UpdateDeadline::Continue(ticks.ticks_for(left)),
                _ => UpdateDeadline::Interrupt,
            })
        });
        arm(&mut store, limits, limits.call_timeout);
        // Instantiating runs guest code too (its start function).
        let ticking = ticker.running();
        let made = pre.instantiate(&mut store);
        drop(ticking);
        match made {
            Ok(plugin) => Ok(Instance { store, plugin, ticker: ticker.clone(), bound: HashMap::new() }),
            Err(e) => Err(classify(&e, store.data(), FailureKind::Unavailable)),
        }
    }

    /// Call into the guest with the CPU bound armed. The closure returns the
    /// guest's own `result<_, string>` inside wasmtime's.
    pub(crate) fn call<R>(
        &mut self,
        limits: &Limits,
        f: impl FnOnce(&Plugin, &mut Store<StoreState>) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<R, CallFailure> {
        self.call_within(limits, limits.call_timeout, f)
    }

    /// `call` with a CPU budget of `timeout` instead of the configured one.
    pub(crate) fn call_within<R>(
        &mut self,
        limits: &Limits,
        timeout: Duration,
        f: impl FnOnce(&Plugin, &mut Store<StoreState>) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<R, CallFailure> {
        arm(&mut self.store, limits, timeout);
        let state = self.store.data_mut();
        state.panic = None;
        state.limiter.refused = None;
        state.log_lines = 0;
        let ticking = self.ticker.running();
        let done = f(&self.plugin, &mut self.store);
        drop(ticking);
        match done {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(msg)) => Err(CallFailure { kind: FailureKind::Refused, detail: msg }),
            Err(e) => Err(classify(&e, self.store.data(), FailureKind::InvalidResult)),
        }
    }

    /// Layouts bound in this instance (each holds guest memory).
    pub(crate) fn bindings(&self) -> usize {
        self.bound.len()
    }
}

impl Instance {
    /// The guest handle for a binding, binding it first in this instance.
    pub(crate) fn handle(
        &mut self,
        limits: &Limits,
        key: BindKey,
        bind: impl FnOnce(&Plugin, &mut Store<StoreState>) -> wasmtime::Result<Result<u32, String>>,
    ) -> Result<u32, CallFailure> {
        if let Some(h) = self.bound.get(&key) {
            return Ok(*h);
        }
        let h = self.call(limits, bind).map_err(|mut f| {
            if f.kind == FailureKind::Refused {
                f.kind = FailureKind::BindingRefused;
            }
            f
        })?;
        self.bound.insert(key, h);
        Ok(h)
    }
}

/// Set the CPU budget (and fuel) before every call: they count from now.
fn arm(store: &mut Store<StoreState>, limits: &Limits, timeout: Duration) {
    store.data_mut().cpu = CpuBudget { started: thread_cpu(), timeout };
    store.set_epoch_deadline(limits.ticks_for(timeout));
    if let Some(fuel) = limits.fuel_per_call {
        store.set_fuel(fuel).expect("fuel is enabled in the engine when configured");
    }
}

/// CPU time the calling thread has used, user and system (the page faults
/// of a growing memory are system time). Guests run on the caller's thread
/// and the deadline callback inside the call, so this is the guest's time.
fn thread_cpu() -> Duration {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: fills in one timespec this function owns.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        }
    }
    // No thread clock: wall-clock time, the bound as it was before.
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// What a failed call was. A trap code that says exactly what happened comes
/// first (stack overflow). Then a refused memory growth, whatever trap came
/// after it: Rust aborts on allocation failure (a bare `unreachable`); a
/// guest that catches the failure may panic over it or spin until its time
/// is up (a garbage collector that cannot grow); memory is the cause either
/// way. Then the guest's own panic message, then the CPU bounds. An error
/// that is no trap at all is `otherwise`: the call returned a value the
/// contract does not allow, or the instance could not be made.
fn classify(e: &wasmtime::Error, state: &StoreState, otherwise: FailureKind) -> CallFailure {
    let trap = e.downcast_ref::<Trap>().copied();
    let fail = |kind, detail: String| CallFailure { kind, detail };
    if trap == Some(Trap::StackOverflow) {
        return fail(FailureKind::StackOverflow, "exceeded the wasm stack limit".into());
    }
    if let Some(bytes) = state.limiter.refused {
        let (asked, cap) = (bytes >> 20, state.limiter.memory_bytes >> 20);
        let then = match (&state.panic, trap) {
            (Some(msg), _) => format!(" (then panicked: {msg})"),
            (None, Some(Trap::Interrupt | Trap::OutOfFuel)) => " (then ran until its CPU limit)".into(),
            _ => String::new(),
        };
        return fail(FailureKind::MemoryExhausted, format!("asked for {asked} MiB of linear memory; the cap is {cap} MiB{then}"));
    }
    if let Some(msg) = &state.panic {
        return fail(FailureKind::Panic, msg.clone());
    }
    match trap {
        Some(Trap::Interrupt) => fail(FailureKind::Timeout, "exceeded the per-call CPU time limit".into()),
        Some(Trap::OutOfFuel) => fail(FailureKind::Timeout, "exceeded the per-call fuel limit".into()),
        Some(_) => fail(FailureKind::Trap, format!("{e:#}")),
        None => fail(otherwise, format!("{e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(refused: Option<usize>, panic: Option<&str>) -> StoreState {
        StoreState {
            limiter: StoreLimiter { memory_bytes: 64 << 20, refused },
            module: "m".into(),
            panic: panic.map(str::to_owned),
            log_lines: 0,
            cpu: CpuBudget { started: Duration::ZERO, timeout: Duration::from_millis(500) },
        }
    }

    fn kind(trap: Trap, state: &StoreState) -> (FailureKind, String) {
        let f = classify(&wasmtime::Error::new(trap), state, FailureKind::InvalidResult);
        (f.kind, f.detail)
    }

    /// A refused growth names the cause whatever stopped the guest after it:
    /// one that spins or panics once it cannot grow is out of memory.
    #[test]
    fn a_refused_growth_wins_over_the_trap_that_follows_it() {
        let refused = state(Some(80 << 20), None);
        for trap in [Trap::UnreachableCodeReached, Trap::Interrupt, Trap::OutOfFuel] {
            let (k, detail) = kind(trap, &refused);
            assert_eq!(k, FailureKind::MemoryExhausted, "{trap:?}");
            assert!(detail.starts_with("asked for 80 MiB of linear memory; the cap is 64 MiB"), "{detail}");
        }
        assert!(kind(Trap::Interrupt, &refused).1.ends_with("(then ran until its CPU limit)"));
        let (k, detail) = kind(Trap::UnreachableCodeReached, &state(Some(80 << 20), Some("alloc failed")));
        assert_eq!((k, detail.ends_with("(then panicked: alloc failed)")), (FailureKind::MemoryExhausted, true), "{detail}");
        assert_eq!(kind(Trap::StackOverflow, &refused).0, FailureKind::StackOverflow, "the trap code is exact");
    }

    #[test]
    fn without_a_refused_growth_the_trap_or_panic_names_the_cause() {
        let clean = state(None, None);
        assert_eq!(kind(Trap::Interrupt, &clean).0, FailureKind::Timeout);
        assert_eq!(kind(Trap::OutOfFuel, &clean).0, FailureKind::Timeout);
        assert_eq!(kind(Trap::UnreachableCodeReached, &clean).0, FailureKind::Trap);
        assert_eq!(kind(Trap::UnreachableCodeReached, &state(None, Some("boom"))), (FailureKind::Panic, "boom".into()));
        let not_a_trap = classify(&wasmtime::Error::msg("bad result"), &clean, FailureKind::InvalidResult);
        assert_eq!(not_a_trap.kind, FailureKind::InvalidResult);
    }

    /// The CPU clock is the thread's: it does not move while the thread
    /// sleeps, which is what keeps a busy machine from eating the budget.
    #[cfg(unix)]
    #[test]
    fn the_thread_cpu_clock_does_not_count_time_off_the_cpu() {
        let before = thread_cpu();
        std::thread::sleep(Duration::from_millis(200));
        assert!(thread_cpu() - before < Duration::from_millis(100), "{:?}", thread_cpu() - before);
    }
}
