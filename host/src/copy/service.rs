//! The copy as the control plane runs it: `POST /copy/start` starts one
//! (stopping one already running), `POST /copy/stop` stops it between
//! chunks, `GET /copy/status` reports every table: this run's live progress,
//! and for the others what the state store recorded. Rows copied are counted
//! in `movex_copy_rows_total{table}`.

use super::status::Labels;
use super::{Board, Copier, Report, Request, TableStatus};
use crate::engine::Engine;
use crate::store::{CopyProgress, now};
use crate::task::Slot;
use anyhow::Result;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// `POST /copy/start`'s body (every field optional).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Start {
    /// Configured table names; empty: every table.
    pub tables: Vec<String>,
    pub restart: bool,
    /// Nothing writes to the source: allow a copy before `src_first`.
    pub offline: bool,
    /// Make missing destination tables from the source's columns and key.
    pub create_tables: bool,
}

/// `GET /copy/status`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    pub running: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The tables of the run in progress (or the last one), live.
    pub tables: Vec<TableStatus>,
    /// What the state store recorded for every table ever copied.
    pub recorded: Vec<CopyProgress>,
    pub error: Option<String>,
}

pub struct Service {
    engine: Arc<Engine>,
    status: Arc<Mutex<Status>>,
    board: Arc<Mutex<Arc<Board>>>,
    slot: Slot,
    rows: Family<Labels, Counter>,
}

impl Service {
    pub fn new(engine: Arc<Engine>, registry: &mut Registry) -> Service {
        let rows = Family::<Labels, Counter>::default();
        registry.register("movex_copy_rows", "Rows the copy read from the source and wrote where absent, by table", rows.clone());
        Service { engine, status: Arc::default(), board: Arc::default(), slot: Slot::default(), rows }
    }

    /// Start a copy, stopping one already running. Refused at once (not in
    /// the background) when the state or the tables make it unsafe.
    pub async fn start(&self, req: Start) -> Result<()> {
        let request = Request { tables: req.tables, restart: req.restart, offline: req.offline, create_tables: req.create_tables };
        let copier = Copier::new(self.engine.clone());
        let mut slot = self.slot.lock().await;
        slot.stop().await;
        let plans = copier.prepare(&request).await?;
        let board = Arc::new(Board::counting(self.rows.clone()));
        *self.board.lock().expect("copy board") = board.clone();
        *self.status.lock().expect("copy status") = Status { running: true, started_at: Some(now()), ..Status::default() };
        let status = self.status.clone();
        slot.start((), move |cancel| async move {
            let result = copier.copy(plans, &request, board, cancel).await;
            let mut s = status.lock().expect("copy status");
            s.running = false;
            s.finished_at = Some(now());
            match result {
                Ok(Report { tables, .. }) => s.tables = tables,
                Err(e) => {
                    tracing::error!("copy failed: {e:#}");
                    s.error = Some(format!("{e:#}"));
                }
            }
        });
        Ok(())
    }

    /// Stop the running copy between chunks; whether one was running.
    pub async fn stop(&self) -> bool {
        self.slot.stop().await
    }

    /// Whether a copy is running now.
    pub fn running(&self) -> bool {
        self.status.lock().expect("copy status").running
    }

    pub async fn status(&self) -> Result<Status> {
        let mut s = self.status.lock().expect("copy status").clone();
        if s.running {
            s.tables = self.board.lock().expect("copy board").snapshot();
        }
        s.recorded = self.engine.store.copies().await?;
        Ok(s)
    }
}
