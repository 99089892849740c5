//! Validation runs started and stopped on request. One full and one
//! incremental run at most: starting one cancels the previous run of that
//! kind and waits for it to stop (under one lock, so a start and a stop
//! cannot race). After each run the migration's counters are updated —
//! runs, `data_discrepancies`, `last_error`, consecutive clean runs, rows
//! checked — and the policy is consulted.
//!
//! Only whole evidence promotes: a clean full run counts (`last_full_clean`,
//! consecutive clean runs) only if it read every configured table from its
//! first row in this run — none resumed from a checkpoint, stopped or
//! failed — and the migration did not move while it ran. Differences count
//! from any run. `last_full_validation` records what the last full run
//! covered and why it did or did not count.

use super::control::Migration;
use crate::store::Mode;
use crate::model::MoveRefused;
use crate::validate::{Board, Report, Request, RunMode};
use anyhow::Result;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A validation in progress, for `/validations/current`.
#[derive(Clone, Debug, Serialize)]
pub struct Current {
    pub kind: &'static str,
    pub running: bool,
    pub elapsed_ms: u64,
    pub tables: Vec<crate::validate::progress::Snapshot>,
}

/// What a start did, per table: where each resumes (`null`: from the
/// beginning).
#[derive(Clone, Debug, Serialize)]
pub struct Started {
    /// `full` or `incr` (the Go tool's field).
    pub started: &'static str,
    /// `resume` (tables with a checkpoint continue from it) or `restart`.
    pub mode: &'static str,
    pub tables: Vec<StartedTable>,
    /// Whether a clean result can count toward promotion: only a full run
    /// that reads every table from its first row does.
    pub counts_toward_promotion: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct StartedTable {
    pub table: String,
    /// The checkpoint it resumes after, if any.
    pub resumes_after: Option<serde_json::Value>,
}

/// The state a run started in, and the transition that made it: a run
/// counts for that state only if nothing moved while it ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Generation {
    pub state: crate::model::State,
    pub transition: i64,
}

impl Migration {
    pub(crate) async fn generation(&self) -> Result<Generation> {
        let (state, _) = self.engine.store.migration_state().await?;
        let transition = self.engine.store.history(1).await?.first().map_or(0, |t| t.id);
        Ok(Generation { state, transition })
    }

    /// Start a full (or incremental) validation, cancelling the previous
    /// one of that kind first. `restart` ignores checkpoints; without it a
    /// table with one resumes there (and the run then cannot count toward
    /// promotion: it did not read the rows before the checkpoint).
    pub async fn start_validation(self: &Arc<Self>, mode: RunMode, restart: bool) -> Result<Started> {
        let apply = self.engine.config.policy.auto_promote;
        Ok(self.launch(mode, restart, apply).await?.0)
    }

    async fn launch(self: &Arc<Self>, mode: RunMode, restart: bool, apply: bool) -> Result<(Started, tokio::sync::oneshot::Receiver<Result<Report>>)> {
        let full = matches!(mode, RunMode::Full);
        if let Some(why) = self.unsettled().await? {
            return Err(MoveRefused(format!("no validation starts now: {why}")).into());
        }
        let mut slot = self.tasks.validation(mode.mode()).lock().await;
        slot.stop().await;
        let generation = self.generation().await?;
        let started = self.what_starts(mode, restart).await?;
        let board = Arc::new(Board::default());
        let me = self.clone();
        let (done, report_rx) = tokio::sync::oneshot::channel();
        slot.start(board.clone(), move |cancel| {
            async move {
                let req = Request { tables: vec![], mode, direction: None, restart };
                let report = me.validator.run(&req, cancel, &board).await;
                let copy = report.as_ref().map(Clone::clone).map_err(|e| anyhow::anyhow!("{e:#}"));
                if let Err(e) = me.after_run(full, report, apply, generation).await {
                    tracing::error!("recording a validation run: {e:#}");
                }
                let _ = done.send(copy);
            }
        });
        Ok((started, report_rx))
    }

    async fn what_starts(&self, mode: RunMode, restart: bool) -> Result<Started> {
        let full = matches!(mode, RunMode::Full);
        let direction = self.validator.current_direction().await?;
        let mut tables = Vec::new();
        for t in &self.engine.config.tables {
            let resumes_after = match restart {
                true => None,
                false => self.validator.resume_point(&t.name, mode, direction).await?.map(|cp| cp.cursor),
            };
            tables.push(StartedTable { table: t.name.clone(), resumes_after });
        }
        let counts_toward_promotion = full && tables.iter().all(|t| t.resumes_after.is_none());
        Ok(Started { started: if full { "full" } else { "incr" }, mode: if restart { "restart" } else { "resume" }, tables, counts_toward_promotion })
    }

    /// Stop the running validation of that kind; whether one was running.
    pub async fn stop_validation(&self, mode: Mode) -> bool {
        self.tasks.validation(mode).stop().await
    }

    /// Run a full validation from the first row now and wait for it
    /// (auto-migrate's step). It is the current full validation while it
    /// runs (`/validations/current`); `cancel` stops it.
    pub async fn validate_now(self: &Arc<Self>, cancel: CancellationToken) -> Result<Report> {
        // Auto-migrate applies the decision itself.
        let (_, mut done) = self.launch(RunMode::Full, true, false).await?;
        tokio::select! {
            r = &mut done => return r.map_err(|_| anyhow::anyhow!("the validation was replaced by another before it finished"))?,
            _ = cancel.cancelled() => {}
        }
        self.stop_validation(Mode::Full).await;
        done.await.map_err(|_| anyhow::anyhow!("the validation was replaced by another before it finished"))?
    }

    /// The runs in progress (or just finished).
    pub async fn current(&self) -> Vec<Current> {
        let mut out = Vec::new();
        for mode in [Mode::Full, Mode::Incr] {
            if let Some(t) = self.tasks.validation(mode).lock().await.get() {
                let tables = t.data.tables.lock().expect("board").iter().map(|p| p.snapshot()).collect();
                out.push(Current { kind: mode.as_str(), running: t.is_running(), elapsed_ms: t.elapsed().as_millis() as u64, tables });
            }
        }
        out
    }

    /// Count a finished run. A clean full run counts toward promotion only
    /// if it is whole evidence: every configured table read from its first
    /// row to its last in this run (none resumed, stopped or failed), and
    /// the migration still in the state, and generation, it started in.
    /// What it covered is recorded as `last_full_validation`.
    async fn after_run(self: &Arc<Self>, full: bool, report: Result<Report>, apply: bool, started_in: Generation) -> Result<()> {
        let runs = if full { "full_validation_runs" } else { "incr_validation_runs" };
        let now_in = self.generation().await?;
        match report {
            Ok(r) => {
                let found = r.total_findings();
                let error = r.tables.iter().filter_map(|t| t.error.clone()).collect::<Vec<_>>().join("; ");
                let mut counters = vec![(runs.to_owned(), 1), ("data_discrepancies".to_owned(), found), ("rows_checked".to_owned(), r.rows_read.base)];
                for (kind, n) in &r.findings {
                    counters.push((format!("discrepancies_{kind}"), *n));
                }
                counters.push(("validation_errors".to_owned(), r.tables.iter().filter(|t| t.error.is_some()).count() as u64));
                let counters: Vec<(&str, u64)> = counters.iter().map(|(k, n)| (k.as_str(), *n)).collect();
                self.engine.store.bump(&counters).await?;
                self.engine.store.set_meta("last_error", &error).await?;
                let why_not = self.incomplete(&r, started_in, now_in);
                let clean = found == 0 && error.is_empty();
                if started_in != now_in {
                    // The counters belong to the new state, reset by the move.
                    tracing::warn!(from = started_in.state.as_str(), to = now_in.state.as_str(), "a validation finished after the migration moved; it counts for neither state");
                } else if why_not.is_none() || !clean {
                    // Differences count even from a partial run; a clean
                    // result only from a whole one.
                    let c = self.engine.store.counters().await?;
                    let next = if clean { c.get("consecutive_clean_runs").copied().unwrap_or(0) + 1 } else { 0 };
                    self.engine.store.set_counter("consecutive_clean_runs", next).await?;
                    if full {
                        self.engine.store.set_meta("last_full_clean", if clean { "true" } else { "false" }).await?;
                    }
                }
                if full {
                    let record = serde_json::json!({
                        "state": started_in.state.as_str(),
                        "finished_in": now_in.state.as_str(),
                        "finished_at": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
                        "clean": clean,
                        "counts_toward_promotion": why_not.is_none() && clean,
                        "why_not": why_not,
                        "tables": r.tables.iter().map(|t| serde_json::json!({
                            "table": t.table, "run_id": t.run_id, "status": t.status, "resumed": t.resumed, "rows_read": t.rows_read,
                        })).collect::<Vec<_>>(),
                    });
                    self.engine.store.set_meta("last_full_validation", &record.to_string()).await?;
                }
            }
            Err(e) => {
                self.engine.store.bump(&[(runs, 1)]).await?;
                self.engine.store.set_meta("last_error", &format!("{e:#}")).await?;
                if started_in == now_in {
                    self.engine.store.set_counter("consecutive_clean_runs", 0).await?;
                }
            }
        }
        let trigger = if full { "after a full validation" } else { "after an incremental validation" };
        self.consult(trigger, apply).await.map(|_| ())
    }

    /// Why a run is not whole evidence for the state it started in, if so.
    fn incomplete(&self, r: &Report, started_in: Generation, now_in: Generation) -> Option<String> {
        if started_in != now_in {
            return Some(format!("the migration moved from {} to {} while it ran", started_in.state, now_in.state));
        }
        if let Some(t) = r.tables.iter().find(|t| t.status != "completed") {
            return Some(format!("table {} {}", t.table, t.status));
        }
        if let Some(t) = r.tables.iter().find(|t| t.resumed) {
            return Some(format!("table {} resumed from a checkpoint: the rows before it were read in an earlier run", t.table));
        }
        let missing: Vec<&str> =
            self.engine.config.tables.iter().map(|t| t.name.as_str()).filter(|n| !r.tables.iter().any(|t| t.table == *n)).collect();
        if !missing.is_empty() {
            return Some(format!("tables not validated: {}", missing.join(", ")));
        }
        None
    }

    /// Consult the policy every `interval` until `stop`.
    pub async fn policy_timer(self: Arc<Self>, interval: Duration, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.cancelled() => return,
            }
            if let Err(e) = self.consult("on the timer", self.engine.config.policy.auto_promote).await {
                tracing::warn!("policy: {e:#}");
            }
        }
    }
}
