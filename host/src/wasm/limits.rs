//! The sandbox's bounds: memory, CPU per call, stack. Configured once per
//! runtime; enforced per store by `StoreLimiter` and per call by the epoch
//! deadline (and fuel, when enabled).

use serde::Deserialize;
use std::time::Duration;

/// Bounds every guest runs under.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Linear memory a module instance may grow to.
    pub memory_bytes: usize,
    /// Wall-clock budget for one guest call (a whole batch), enforced by epoch
    /// interruption; a call over it traps as a timeout.
    #[serde(with = "millis")]
    pub call_timeout: Duration,
    /// How often the epoch ticks: the timeout's granularity.
    #[serde(with = "millis")]
    pub epoch_tick: Duration,
    /// Optional fuel (wasm instructions, roughly) per call: deterministic CPU
    /// bound on top of the wall-clock one. Costs ~15-20% speed; off by default.
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
    /// Epoch ticks until a call's deadline (at least one).
    pub fn deadline_ticks(&self) -> u64 {
        let tick = self.epoch_tick.as_micros().max(1);
        (self.call_timeout.as_micros().div_ceil(tick) as u64).max(1)
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

/// Per-store memory limiter. Records a refused growth so the trap that
/// usually follows (Rust aborts on allocation failure) is reported as memory
/// exhaustion rather than a bare `unreachable`.
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
        assert_eq!(l.deadline_ticks(), 3);
        assert_eq!(Limits::default().deadline_ticks(), 100);
    }
}
