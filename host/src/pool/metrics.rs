//! The pool's metrics, in a Prometheus registry (text format for
//! `/metrics`): writes per side and outcome, write latency per side,
//! journal entries per kind. Counters are also readable directly for
//! `/status`.

use crate::model::SideName;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum SideLabel {
    source,
    destination,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum WriteOutcome {
    success,
    failure,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    pub side: SideLabel,
    pub outcome: WriteOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SideLabels {
    pub side: SideLabel,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Debug)]
pub struct Metrics {
    pub writes: Family<WriteLabels, Counter>,
    pub latency: Family<SideLabels, Histogram>,
    pub journal: Family<KindLabels, Counter>,
    /// Journal entries that neither the store, the spool nor memory took.
    pub journal_lost: Counter,
    /// Writes refused because the fleet's lease had lapsed.
    pub fenced: Counter,
}

fn side(s: SideName) -> SideLabel {
    match s {
        SideName::Source => SideLabel::source,
        SideName::Destination => SideLabel::destination,
    }
}

/// Success and failure counts per side, for `/status`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub source_success: u64,
    pub source_failure: u64,
    pub destination_success: u64,
    pub destination_failure: u64,
    pub journaled: BTreeMap<String, u64>,
}

impl Metrics {
    /// Register the pool's metrics in `registry` (prefix `movex_pool`).
    pub fn new(registry: &mut Registry) -> Metrics {
        let m = Metrics {
            writes: Family::default(),
            // 0.1 ms .. ~3.3 s
            latency: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0001, 2.0, 16))),
            journal: Family::default(),
            journal_lost: Counter::default(),
            fenced: Counter::default(),
        };
        let r = registry.sub_registry_with_prefix("movex_pool");
        r.register("writes", "Statements written, by side and outcome", m.writes.clone());
        r.register("write_seconds", "Write latency by side", m.latency.clone());
        r.register("journal", "Writes journaled (durable in the state store or its spool) because one side missed them, by kind", m.journal.clone());
        r.register("journal_lost", "Missed writes that could not be journaled anywhere (logged whole)", m.journal_lost.clone());
        r.register("fenced", "Writes refused, written nowhere, because this instance's fleet lease had lapsed", m.fenced.clone());
        m
    }

    /// A statement on side `s`, and how long it took.
    pub fn record(&self, s: SideName, ok: bool, took: Duration) {
        self.count(s, ok);
        self.latency.get_or_create(&SideLabels { side: side(s) }).observe(took.as_secs_f64());
    }

    /// A statement on side `s` whose duration is not known (it never ran,
    /// or its answer was read only when the side was next needed).
    pub fn count(&self, s: SideName, ok: bool) {
        let outcome = if ok { WriteOutcome::success } else { WriteOutcome::failure };
        self.writes.get_or_create(&WriteLabels { side: side(s), outcome }).inc();
    }

    pub fn journaled(&self, kind: &str) {
        self.journal.get_or_create(&KindLabels { kind: kind.to_owned() }).inc();
    }

    pub fn journal_lost(&self) {
        self.journal_lost.inc();
    }

    pub fn fenced(&self) {
        self.fenced.inc();
    }

    pub fn counts(&self) -> Counts {
        let get = |s: SideLabel, outcome: WriteOutcome| self.writes.get_or_create(&WriteLabels { side: s, outcome }).get();
        let mut journaled = BTreeMap::new();
        for kind in ["secondary_failed", "primary_commit_failed"] {
            journaled.insert(kind.to_owned(), self.journal.get_or_create(&KindLabels { kind: kind.to_owned() }).get());
        }
        Counts {
            source_success: get(SideLabel::source, WriteOutcome::success),
            source_failure: get(SideLabel::source, WriteOutcome::failure),
            destination_success: get(SideLabel::destination, WriteOutcome::success),
            destination_failure: get(SideLabel::destination, WriteOutcome::failure),
            journaled,
        }
    }
}
