//! Repair as the control plane runs it: `POST /repair/start` starts one
//! repair (cancelling one already running), `POST /repair/stop` stops it,
//! `GET /repair/status` reports it. A repair takes its findings from the
//! state store (one pass: the journal, then the unsettled findings) or from
//! Kafka as a member of the consumer group (until stopped). Outcomes are
//! counted live, in the status and in `movex_repair_outcomes_total`.

use super::kafka::{self, Until};
use super::worker::{Outcome, Repairer, Summary};
use crate::store::now;
use crate::model::Finding;
use crate::validate::Validator;
use anyhow::{Result, bail};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use crate::task::Slot;

/// Where a repair takes its findings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The state store's unsettled findings, and the pool's journal.
    #[default]
    Store,
    /// The findings topic, as a member of `[repair] group`.
    Kafka,
}

impl std::str::FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Source, String> {
        match s {
            "store" => Ok(Source::Store),
            "kafka" => Ok(Source::Kafka),
            other => Err(format!("{other:?}: expected store or kafka")),
        }
    }
}

/// `POST /repair/start`'s body (every field optional).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Start {
    pub from: Source,
    /// Report the SQL that would run; change nothing.
    pub dry_run: bool,
    /// Only this table's findings (store only).
    pub table: Option<String>,
}

/// `GET /repair/status`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    pub running: bool,
    pub from: Option<Source>,
    pub dry_run: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// This repair's outcomes so far.
    pub outcomes: BTreeMap<String, u64>,
    /// The last finished repair's summary.
    pub last: Option<Summary>,
    pub error: Option<String>,
    /// Every outcome the state store holds, per finding (the latest).
    pub recorded: BTreeMap<String, u64>,
}

type Labels = Vec<(String, String)>;

pub struct Service {
    validator: Arc<Validator>,
    status: Arc<Mutex<Status>>,
    slot: Slot,
    outcomes: Family<Labels, Counter>,
}

impl Service {
    pub fn new(validator: Arc<Validator>, registry: &mut Registry) -> Service {
        let outcomes = Family::<Labels, Counter>::default();
        registry.register("movex_repair_outcomes", "Findings repair settled, by outcome", outcomes.clone());
        // Every outcome shows from the start, at 0.
        for name in Outcome::NAMES {
            let _ = outcomes.get_or_create(&vec![("outcome".into(), name.into())]);
        }
        Service { validator, status: Arc::default(), slot: Slot::default(), outcomes }
    }

    /// A repairer that counts into this service's status and metrics.
    pub fn repairer(&self, dry_run: bool) -> Repairer {
        let (status, family) = (self.status.clone(), self.outcomes.clone());
        let observer = Arc::new(move |_: &Finding, o: &Outcome| {
            family.get_or_create(&vec![("outcome".into(), o.name().into())]).inc();
            *status.lock().expect("repair status").outcomes.entry(o.name().into()).or_default() += 1;
        });
        Repairer::new(self.validator.clone(), dry_run).observe(observer)
    }

    /// Start a repair, cancelling one already running.
    pub async fn start(&self, req: Start) -> Result<()> {
        if req.from == Source::Kafka && self.validator.engine().config.events.kafka.is_none() {
            bail!("repair from Kafka needs an [events.kafka] section (brokers, topic) in the config");
        }
        if let Some(t) = &req.table
            && !self.validator.engine().config.tables.iter().any(|c| &c.name == t)
        {
            bail!("table {t:?} is not configured");
        }
        let mut slot = self.slot.lock().await;
        slot.stop().await;
        {
            let mut s = self.status.lock().expect("repair status");
            let last = s.last.take();
            *s = Status { running: true, from: Some(req.from), dry_run: req.dry_run, started_at: Some(now()), last, ..Status::default() };
        }
        let mut repairer = self.repairer(req.dry_run);
        let status = self.status.clone();
        slot.start((), move |cancel| {
            async move {
                let result = match req.from {
                    Source::Store => repairer.pass(req.table.as_deref(), &cancel).await,
                    Source::Kafka => kafka::consume(&mut repairer, Until::Cancelled, &cancel).await,
                };
                let mut s = status.lock().expect("repair status");
                s.running = false;
                s.finished_at = Some(now());
                match result {
                    Ok(summary) => {
                        tracing::info!(outcomes = ?summary.outcomes, "repair finished");
                        s.last = Some(summary);
                    }
                    Err(e) => {
                        tracing::error!("repair failed: {e:#}");
                        s.error = Some(format!("{e:#}"));
                    }
                }
            }
        });
        Ok(())
    }

    /// Stop the running repair; whether one was running.
    pub async fn stop(&self) -> bool {
        self.slot.stop().await
    }

    /// This repair's outcomes so far (no state-store read).
    pub fn outcomes(&self) -> BTreeMap<String, u64> {
        self.status.lock().expect("repair status").outcomes.clone()
    }

    pub async fn status(&self) -> Result<Status> {
        let mut s = self.status.lock().expect("repair status").clone();
        s.recorded = self.validator.engine().store.repair_counts().await?;
        Ok(s)
    }
}
