//! Per-module counters for /health and /metrics: calls, instances created,
//! failures by kind. Lock-free; read with `snapshot`.

use super::error::FailureKind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct ModuleStats {
    calls: AtomicU64,
    instances: AtomicU64,
    failures: [AtomicU64; FailureKind::ALL.len()],
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    pub calls: u64,
    pub instances_created: u64,
    /// Failed calls by kind (`timeout`, `memory_exhausted`, `panic`, ...).
    pub failures: BTreeMap<String, u64>,
}

impl ModuleStats {
    pub(crate) fn call(&self) {
        self.calls.fetch_add(1, Relaxed);
    }

    pub(crate) fn instance_created(&self) {
        self.instances.fetch_add(1, Relaxed);
    }

    pub(crate) fn failure(&self, kind: FailureKind) {
        self.failures[kind as usize].fetch_add(1, Relaxed);
    }

    pub fn failures_of(&self, kind: FailureKind) -> u64 {
        self.failures[kind as usize].load(Relaxed)
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let failures = FailureKind::ALL
            .iter()
            .zip(&self.failures)
            .map(|(k, n)| (k.name().to_owned(), n.load(Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        StatsSnapshot { calls: self.calls.load(Relaxed), instances_created: self.instances.load(Relaxed), failures }
    }
}
