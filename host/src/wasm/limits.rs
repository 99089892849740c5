//! The sandbox's bounds: memory, CPU per call, stack. Configured once per
//! runtime; enforced per store by `StoreLimiter` and per call by the CPU
//! budget (checked at epoch ticks; see `instance.rs`) and fuel, when enabled.

use serde::Deserialize;
use std::time::Duration;

/// Bounds every guest runs under.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Linear memory a module instance may grow to.
    pub memory_bytes: usize,
    /// CPU time one guest call (a whole batch) may use on its thread; a call
    /// over it traps as a timeout. CPU time, not wall-clock: on a busy
    /// machine a call gets less of the CPU per second, and a wall-clock bound
    /// would then stop a module that fits on an idle one (refusing it at
    /// upload, or failing its rows mid-validation) and name the wrong cause
    /// (a memory bomb stopped before it reached the cap).
    #[serde(with = "millis")]
    pub call_timeout: Duration,
    /// How often the epoch ticks: how often a running call's CPU time is
    /// checked against its budget, so the timeout's granularity.
    #[serde(with = "millis")]
    pub epoch_tick: Duration,
    /// Optional fuel (wasm instructions, roughly) per call: deterministic CPU
    /// bound on top of the CPU-time one. Costs ~15-20% speed; off by default.
    pub fuel_per_call: Option<u64>,
    /// Wasm stack a call may use; deeper recursion traps as a stack overflow.
    pub max_stack_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_millis(500),
            epoch_tick: Duration::from_millis(5),
            fuel_per_call: None,
            max_stack_bytes: 512 << 10,
        }
    }
}

impl Limits {
    /// CPU time for one row re-run alone after its batch timed out: a tenth
    /// of the call timeout (one row needs microseconds), so pinning a loop on
    /// its row costs about 1.1x the call timeout in all (`isolate::Part`).
    pub fn item_timeout(&self) -> Duration {
        self.call_timeout / 10
    }

    /// Epoch ticks until `cpu` could be used up (at least one): a thread
    /// cannot use more CPU time than wall time passes, so the budget is not
    /// checked before then.
    pub fn ticks_for(&self, cpu: Duration) -> u64 {
        let tick = self.epoch_tick.as_micros().max(1);
        (cpu.as_micros().div_ceil(tick) as u64).max(1)
    }

    /// Refuse limits that would break the host rather than bound the guest.
    pub fn validate(&self) -> Result<(), String> {
        let ms = Duration::from_millis;
        if self.epoch_tick < ms(1) || self.epoch_tick > ms(1000) {
            return Err(format!("epoch_tick {:?}: use 1 to 1000 ms", self.epoch_tick));
        }
        if self.call_timeout < self.epoch_tick || self.call_timeout > ms(60_000) {
            return Err(format!("call_timeout {:?}: use epoch_tick to 60000 ms", self.call_timeout));
        }
        if !(1 << 20..=4 << 30).contains(&self.memory_bytes) {
            return Err(format!("memory_bytes {}: use 1 MiB to 4 GiB", self.memory_bytes));
        }
        // Guests run on the caller's thread: the wasm stack must fit in a
        // std thread's default 2 MiB with room for the host's own frames.
        if !(64 << 10..=1 << 20).contains(&self.max_stack_bytes) {
            return Err(format!("max_stack_bytes {}: use 64 KiB to 1 MiB", self.max_stack_bytes));
        }
        if self.fuel_per_call == Some(0) {
            return Err("fuel_per_call 0 would stop every call: omit it to turn fuel off".into());
        }
        Ok(())
    }
}

/// Durations in config as integer milliseconds (`call_timeout = 500`).
mod millis {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Per-store memory limiter. Records a refused growth so what usually
/// follows (Rust aborts on allocation failure: a bare `unreachable`; a
/// garbage-collected guest thrashes until its time is up) is reported as
/// memory exhaustion.
#[derive(Debug)]
pub struct StoreLimiter {
    pub memory_bytes: usize,
    /// Bytes a refused `memory.grow` asked for, during the current call.
    pub refused: Option<usize>,
}

impl wasmtime::ResourceLimiter for StoreLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.refused = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_that_would_break_the_host_are_refused() {
        assert!(Limits::default().validate().is_ok());
        let bad = [
            Limits { epoch_tick: Duration::ZERO, ..Limits::default() },
            Limits { call_timeout: Duration::from_micros(10), ..Limits::default() },
            Limits { memory_bytes: 1000, ..Limits::default() },
            Limits { max_stack_bytes: 8 << 20, ..Limits::default() },
            Limits { fuel_per_call: Some(0), ..Limits::default() },
        ];
        for l in bad {
            assert!(l.validate().is_err(), "{l:?}");
        }
        assert_eq!(Limits::default().item_timeout(), Duration::from_millis(50));
    }

    #[test]
    fn config_takes_milliseconds_fills_defaults_and_refuses_unknown_keys() {
        let l: Limits = serde_json::from_str(r#"{"call_timeout": 200, "fuel_per_call": 1000}"#).unwrap();
        assert_eq!(l.call_timeout, Duration::from_millis(200));
        assert_eq!(l.fuel_per_call, Some(1000));
        assert_eq!(l.memory_bytes, Limits::default().memory_bytes);
        let err = serde_json::from_str::<Limits>(r#"{"call_timout": 200}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `call_timout`"), "{err}");
    }

    #[test]
    fn deadline_rounds_up_to_whole_ticks() {
        let l = Limits { call_timeout: Duration::from_millis(12), epoch_tick: Duration::from_millis(5), ..Limits::default() };
        assert_eq!(l.ticks_for(l.call_timeout), 3);
        assert_eq!(l.ticks_for(Duration::from_micros(1)), 1, "never zero: the check comes at the next tick");
        assert_eq!(Limits::default().ticks_for(Limits::default().call_timeout), 100);
    }
}
