//! Validation runs started and stopped on request. One full and one
//! incremental run at most: starting one cancels the previous run of that
//! kind and waits for it to stop (under one lock, so a start and a stop
//! cannot race). After each run the migration's counters are updated —
//! runs, `data_discrepancies`, `last_error`, consecutive clean runs, rows
//! checked — and the policy is consulted.

use super::control::Migration;
use crate::validate::{Board, Report, Request, RunMode};
use anyhow::Result;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(super) struct Slot {
    cancel: CancellationToken,
    task: JoinHandle<()>,
    pub board: Arc<Board>,
    started: std::time::Instant,
}

#[derive(Default)]
pub(super) struct Scheduler {
    full: Mutex<Option<Slot>>,
    incr: Mutex<Option<Slot>>,
    pub auto: Mutex<Option<(CancellationToken, JoinHandle<()>)>>,
}

/// A validation in progress, for `/validations/current`.
#[derive(Clone, Debug, Serialize)]
pub struct Current {
    pub kind: &'static str,
    pub running: bool,
    pub elapsed_ms: u64,
    pub tables: Vec<crate::validate::progress::Snapshot>,
}

/// Cancel a background task and wait for it; whether it was still running.
pub(crate) async fn stop_task(task: Option<(CancellationToken, JoinHandle<()>)>) -> bool {
    match task {
        Some((cancel, task)) => {
            let running = !task.is_finished();
            cancel.cancel();
            let _ = task.await;
            running
        }
        None => false,
    }
}

impl Scheduler {
    fn slot(&self, full: bool) -> &Mutex<Option<Slot>> {
        if full { &self.full } else { &self.incr }
    }
}

impl Migration {
    /// Start a full (or, with `since_ms`, incremental) validation, cancelling
    /// the previous one of that kind first.
    pub async fn start_validation(self: &Arc<Self>, mode: RunMode) -> Result<()> {
        let full = matches!(mode, RunMode::Full);
        let mut slot = self.scheduler.slot(full).lock().await;
        if let Some(old) = slot.take() {
            old.cancel.cancel();
            let _ = old.task.await;
        }
        let cancel = CancellationToken::new();
        let board = Arc::new(Board::default());
        let me = self.clone();
        let task = tokio::spawn({
            let (cancel, board) = (cancel.clone(), board.clone());
            async move {
                let req = Request { tables: vec![], mode, direction: None, restart: false };
                let report = me.validator.run(&req, cancel, &board).await;
                let apply = me.config.policy.auto_promote;
                if let Err(e) = me.after_run(full, report, apply).await {
                    tracing::error!("recording a validation run: {e:#}");
                }
            }
        });
        *slot = Some(Slot { cancel, task, board, started: std::time::Instant::now() });
        Ok(())
    }

    /// Stop the running validation of that kind; whether one was running.
    pub async fn stop_validation(&self, full: bool) -> bool {
        let mut slot = self.scheduler.slot(full).lock().await;
        match slot.take() {
            Some(s) => {
                let running = !s.task.is_finished();
                s.cancel.cancel();
                let _ = s.task.await;
                running
            }
            None => false,
        }
    }

    /// Run a full validation now and wait for it (auto-migrate's step).
    pub async fn validate_now(self: &Arc<Self>, cancel: CancellationToken) -> Result<Report> {
        let board = Arc::new(Board::default());
        let req = Request { tables: vec![], mode: RunMode::Full, direction: None, restart: true };
        let report = self.validator.run(&req, cancel, &board).await;
        let copy = report.as_ref().map(Clone::clone).map_err(|e| anyhow::anyhow!("{e:#}"));
        // Auto-migrate applies the decision itself.
        self.after_run(true, report, false).await?;
        copy
    }

    /// The runs in progress (or just finished).
    pub async fn current(&self) -> Vec<Current> {
        let mut out = Vec::new();
        for (kind, full) in [("full", true), ("incr", false)] {
            if let Some(s) = self.scheduler.slot(full).lock().await.as_ref() {
                let tables = s.board.tables.lock().expect("board").iter().map(|p| p.snapshot()).collect();
                out.push(Current { kind, running: !s.task.is_finished(), elapsed_ms: s.started.elapsed().as_millis() as u64, tables });
            }
        }
        out
    }

    async fn after_run(self: &Arc<Self>, full: bool, report: Result<Report>, apply: bool) -> Result<()> {
        let runs = if full { "full_validation_runs" } else { "incr_validation_runs" };
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
                self.store.bump(&counters).await?;
                self.store.set_meta("last_error", &error).await?;
                let stopped = r.tables.iter().any(|t| t.status == "stopped");
                if !stopped {
                    let clean = found == 0 && error.is_empty();
                    let c = self.store.counters().await?;
                    let next = if clean { c.get("consecutive_clean_runs").copied().unwrap_or(0) + 1 } else { 0 };
                    self.store.set_counter("consecutive_clean_runs", next).await?;
                    if full {
                        self.store.set_meta("last_full_clean", if clean { "true" } else { "false" }).await?;
                    }
                }
            }
            Err(e) => {
                self.store.bump(&[(runs, 1)]).await?;
                self.store.set_meta("last_error", &format!("{e:#}")).await?;
                self.store.set_counter("consecutive_clean_runs", 0).await?;
            }
        }
        let trigger = if full { "after a full validation" } else { "after an incremental validation" };
        self.consult(trigger, apply).await.map(|_| ())
    }

    /// Consult the policy every `interval` until `stop`.
    pub async fn policy_timer(self: Arc<Self>, interval: Duration, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.cancelled() => return,
            }
            if let Err(e) = self.consult("on the timer", self.config.policy.auto_promote).await {
                tracing::warn!("policy: {e:#}");
            }
        }
    }
}
