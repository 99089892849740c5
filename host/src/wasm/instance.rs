//! One live instance of a module: a `Store` with its limits, the bound layouts,
//! and the call wrapper that arms the CPU bound before every call and turns a
//! failure into a `FailureKind`. Reused across batches; dropped after a trap.

use super::bindings::{Plugin, PluginPre, host, types};
use super::error::FailureKind;
use super::limits::{Limits, StoreLimiter};
use std::collections::HashMap;
use wasmtime::{Engine, Store, Trap};

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
    /// Guest handles of layouts already bound in this instance.
    pub(crate) bound: HashMap<BindKey, u32>,
}

/// A failed call: what kind, and the detail for the error message.
pub(crate) struct CallFailure {
    pub kind: FailureKind,
    pub detail: String,
}

impl Instance {
    pub(crate) fn new(engine: &Engine, pre: &PluginPre<StoreState>, limits: &Limits, module: &str) -> Result<Self, CallFailure> {
        let state = StoreState {
            limiter: StoreLimiter { memory_bytes: limits.memory_bytes, refused: None },
            module: module.to_owned(),
            panic: None,
            log_lines: 0,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
        arm(&mut store, limits, limits.deadline_ticks());
        match pre.instantiate(&mut store) {
            Ok(plugin) => Ok(Instance { store, plugin, bound: HashMap::new() }),
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
        self.call_within(limits, limits.deadline_ticks(), f)
    }

    /// `call` with a deadline of `ticks` epoch ticks instead of the default.
    pub(crate) fn call_within<R>(
        &mut self,
        limits: &Limits,
        ticks: u64,
        f: impl FnOnce(&Plugin, &mut Store<StoreState>) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<R, CallFailure> {
        arm(&mut self.store, limits, ticks);
        let state = self.store.data_mut();
        state.panic = None;
        state.limiter.refused = None;
        state.log_lines = 0;
        match f(&self.plugin, &mut self.store) {
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

/// Set the deadline (and fuel) before every call: they count from now.
fn arm(store: &mut Store<StoreState>, limits: &Limits, ticks: u64) {
    store.set_epoch_deadline(ticks);
    if let Some(fuel) = limits.fuel_per_call {
        store.set_fuel(fuel).expect("fuel is enabled in the engine when configured");
    }
}

/// What a failed call was. Trap codes that say exactly what happened come
/// first; then the guest's own panic message; then a refused memory growth
/// (Rust aborts on allocation failure, which shows as `unreachable`). An
/// error that is no trap at all is `otherwise`: the call returned a value the
/// contract does not allow, or the instance could not be made.
fn classify(e: &wasmtime::Error, state: &StoreState, otherwise: FailureKind) -> CallFailure {
    let trap = e.downcast_ref::<Trap>().copied();
    let fail = |kind, detail: String| CallFailure { kind, detail };
    match trap {
        Some(Trap::Interrupt) => return fail(FailureKind::Timeout, "exceeded the per-call time limit".into()),
        Some(Trap::OutOfFuel) => return fail(FailureKind::Timeout, "exceeded the per-call fuel limit".into()),
        Some(Trap::StackOverflow) => return fail(FailureKind::StackOverflow, "exceeded the wasm stack limit".into()),
        _ => {}
    }
    if let Some(msg) = &state.panic {
        return fail(FailureKind::Panic, msg.clone());
    }
    if let Some(bytes) = state.limiter.refused {
        let (asked, cap) = (bytes >> 20, state.limiter.memory_bytes >> 20);
        return fail(FailureKind::MemoryExhausted, format!("asked for {asked} MiB of linear memory; the cap is {cap} MiB"));
    }
    match trap {
        Some(_) => fail(FailureKind::Trap, format!("{e:#}")),
        None => fail(otherwise, format!("{e:#}")),
    }
}
