//! Copy: fill the destination with the rows that already exist on the
//! source, chunk by chunk in key order, while the application keeps
//! writing through the double-write pool (`src_first`). Resumable from a
//! checkpoint per table; paced; slowed down when the databases are slow.
//!
//! - [`table`]: one table's plan and its loop of locked chunks.
//! - [`insert`]: the destination's insert of absent rows, per dialect.
//! - [`ddl`]: `--create-tables`: a missing destination table from the
//!   source's columns and key, by a documented type map.
//! - [`throttle`]: rows per second and the pause when chunks are slow.
//! - [`status`]: what each table's copy is doing now.
//! - [`service`]: the copy started, stopped and reported by the control plane.
//!
//! Why a chunk cannot overwrite a newer double-write, and the one window
//! that remains: `docs/design/copy.md`.

pub mod ddl;
pub mod insert;
pub mod service;
pub mod status;
pub mod table;
pub mod throttle;

pub use status::{Board, TableState, TableStatus};
pub use table::TablePlan;

use crate::engine::Engine;
use crate::model::State;
use anyhow::{Context, Result};
use std::sync::Arc;
use table::{Ended, TableCopy};
use tokio_util::sync::CancellationToken;

/// What to copy.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Configured table names; empty: every table.
    pub tables: Vec<String>,
    /// Forget checkpoints and start each table from its first key.
    pub restart: bool,
    /// Nobody writes: allow a copy in `src_only` (or before any move).
    pub offline: bool,
    /// Make a destination table that is missing from the source's columns
    /// and key ([`ddl`]).
    pub create_tables: bool,
}

/// How a copy ended, per table.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub tables: Vec<TableStatus>,
    /// Tables already copied by an earlier run, left alone.
    pub already_done: Vec<String>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.tables.iter().any(|t| t.state != TableState::Done)
    }
}

/// A copy refused as things stand (the migration's state, a table not
/// configured, missing on the destination, or paged by a key it cannot
/// page by), before anything was written: the control plane's 409, with
/// what to do. Any other failure to start is a database or the state
/// store failing.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Copies the engine's configured tables from the source to the
/// destination.
pub struct Copier {
    engine: Arc<Engine>,
}

impl Copier {
    pub fn new(engine: Arc<Engine>) -> Copier {
        Copier { engine }
    }

    /// The tables a request names, checked and planned, without copying
    /// anything (`--dry-run` prints this).
    pub async fn plan(&self, req: &Request) -> Result<Vec<TablePlan>> {
        let cfg = &self.engine.config;
        for name in &req.tables {
            if !cfg.tables.iter().any(|t| &t.name == name) {
                let names = cfg.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ");
                return Err(Refused(format!("table {name:?} is not configured ([[tables]] names: {names})")).into());
            }
        }
        let mut plans = Vec::new();
        for t in cfg.tables.iter().filter(|t| req.tables.is_empty() || req.tables.contains(&t.name)) {
            let plan = TablePlan::new(&self.engine.source, &self.engine.destination, t, req.create_tables).await?;
            table::check_key(&plan)?;
            plans.push(plan);
        }
        Ok(plans)
    }

    /// Refuse a copy the migration's state makes unsafe: only `src_first`
    /// keeps the destination current while the copy runs (every write
    /// reaches the source first, where the copy's locks order it); in
    /// `src_only` (or before any move) writes miss the destination, so only
    /// `--offline` (nobody writes) allows it; once the destination is the
    /// primary a copy from the source would go backwards.
    pub async fn check_state(&self, req: &Request) -> Result<()> {
        let (state, _) = self.engine.store.migration_state().await.context("the state store failed reading the migration's state")?;
        let why = match state {
            State::SrcFirst => return Ok(()),
            State::Initial | State::SrcOnly if req.offline => return Ok(()),
            State::Initial | State::SrcOnly => format!(
                "the migration is in {state}: application writes do not reach the destination, so rows written during the copy would be missing. \
                 Move to src_first first (POST /src_first), or pass --offline if nothing writes to the source"
            ),
            other => format!("the migration is in {other}: the destination is already the primary; a copy from the source would overwrite nothing but could miss deletes. Copy before dst_first"),
        };
        Err(Refused(why).into())
    }

    /// What a copy needs checked before it starts ([`Copier::check_state`],
    /// [`Copier::plan`]): refused here, nothing has been written.
    pub async fn prepare(&self, req: &Request) -> Result<Vec<TablePlan>> {
        self.check_state(req).await?;
        self.plan(req).await
    }

    /// [`Copier::prepare`], then [`Copier::copy`].
    pub async fn run(&self, req: &Request, board: Arc<Board>, cancel: CancellationToken) -> Result<Report> {
        let plans = self.prepare(req).await?;
        self.copy(plans, req, board, cancel).await
    }

    /// Copy the prepared tables, `[copy] tables_at_once` at a time, each
    /// from its checkpoint; stops between chunks when `cancel` fires.
    pub async fn copy(&self, plans: Vec<TablePlan>, req: &Request, board: Arc<Board>, cancel: CancellationToken) -> Result<Report> {
        let store = &self.engine.store;
        let mut todo = Vec::new();
        let mut already_done = Vec::new();
        for mut plan in plans {
            if let Some(ddl) = &plan.create {
                self.engine.destination.execute(ddl, &[], crate::db::Params::Typed).await.with_context(|| format!("table {:?}: creating it on the destination", plan.name))?;
                tracing::info!(table = %plan.name, "created on the destination: {ddl}");
                let t = self.engine.config.tables.iter().find(|t| t.name == plan.name).expect("planned from the config");
                plan = TablePlan::new(&self.engine.source, &self.engine.destination, t, false).await?;
            }
            if req.restart {
                store.copy_forget(&plan.name).await?;
            } else if store.copy_progress(&plan.name).await?.is_some_and(|p| p.state == "done") {
                already_done.push(plan.name.clone());
                continue;
            }
            todo.push(plan);
        }
        let at_once = self.engine.config.copy.tables_at_once.max(1);
        let semaphore = Arc::new(tokio::sync::Semaphore::new(at_once));
        let mut runs = tokio::task::JoinSet::new();
        for plan in todo {
            let (engine, board, cancel, semaphore) = (self.engine.clone(), board.clone(), cancel.clone(), semaphore.clone());
            runs.spawn(async move {
                let _turn = semaphore.acquire_owned().await.expect("never closed");
                let copy = TableCopy {
                    plan: &plan,
                    source: &engine.source,
                    destination: &engine.destination,
                    store: &engine.store,
                    config: &engine.config.copy,
                    board: &board,
                    cancel: &cancel,
                };
                match copy.run().await {
                    Ok(Ended::Done) => {}
                    Ok(Ended::Cancelled) => board.finish(&plan.name, TableState::Cancelled, None),
                    Err(e) => {
                        let msg = format!("{e:#}");
                        tracing::error!(table = %plan.name, "copy failed: {msg}");
                        if board.snapshot().iter().all(|s| s.table != plan.name) {
                            board.start(&plan.name, 0, plan.estimated_rows, None);
                        }
                        board.finish(&plan.name, TableState::Failed, Some(msg.clone()));
                        let _ = engine.store.copy_ended(&plan.name, Some(&msg)).await;
                    }
                }
            });
        }
        while let Some(joined) = runs.join_next().await {
            joined?;
        }
        Ok(Report { tables: board.snapshot(), already_done })
    }
}
