//! Validation runs and their checkpoints: where each table's run, per mode
//! and direction, resumes after a stop or a crash.

use super::findings::insert_findings;
use super::{Store, now, text};
use crate::model::{Direction, Finding};
use anyhow::{Context, Result};
use serde_json::Value as Json;
use sqlx::Row;

/// Full or incremental: each keeps its own checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Full,
    Incr,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Incr => "incr",
        }
    }
}

/// Where a run resumes: its id and the cursor of the last committed batch.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub run_id: String,
    pub cursor: Json,
    pub rows_base: u64,
    pub rows_target: u64,
}

impl Store {
    pub async fn checkpoint(&self, table: &str, mode: Mode, direction: Direction) -> Result<Option<Checkpoint>> {
        let row = sqlx::query(&self.sql("SELECT run_id, position, rows_base, rows_target FROM movex_checkpoints WHERE table_name = ? AND mode = ? AND direction = ?"))
        .bind(table)
        .bind(mode.as_str())
        .bind(direction.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Checkpoint {
                run_id: text(&r, 0)?,
                cursor: serde_json::from_str(&text(&r, 1)?)?,
                rows_base: r.try_get::<i64, _>(2)? as u64,
                rows_target: r.try_get::<i64, _>(3)? as u64,
            })
        })
        .transpose()
    }

    /// Record a run's start (or its resumption).
    pub async fn start_run(&self, run_id: &str, table: &str, mode: Mode, direction: Direction) -> Result<()> {
        sqlx::query(&self.sql("INSERT INTO movex_runs (id, table_name, mode, direction, status, started_at) VALUES (?, ?, ?, ?, 'running', ?)
             ON CONFLICT (id) DO UPDATE SET status = 'running', finished_at = NULL, error = NULL"))
        .bind(run_id)
        .bind(table)
        .bind(mode.as_str())
        .bind(direction.as_str())
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Commit a batch: its findings and the checkpoint past it, atomically.
    pub async fn commit(&self, table: &str, mode: Mode, direction: Direction, cp: &Checkpoint, findings: &[Finding]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_findings(self, &mut tx, findings).await?;
        sqlx::query(&self.sql("INSERT INTO movex_checkpoints (table_name, mode, direction, run_id, position, rows_base, rows_target, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (table_name, mode, direction) DO UPDATE SET run_id = excluded.run_id,
               position = excluded.position, rows_base = excluded.rows_base, rows_target = excluded.rows_target,
               updated_at = excluded.updated_at"))
        .bind(table)
        .bind(mode.as_str())
        .bind(direction.as_str())
        .bind(&cp.run_id)
        .bind(cp.cursor.to_string())
        .bind(cp.rows_base as i64)
        .bind(cp.rows_target as i64)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await.context("committing findings and checkpoint to the state store")?;
        Ok(())
    }

    /// A run ended (`completed`, `stopped` or `failed`): record how, and
    /// drop its checkpoint when it completed.
    pub async fn finish_run(&self, run_id: &str, table: &str, mode: Mode, direction: Direction, status: &str, error: Option<&str>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql("UPDATE movex_runs SET status = ?, finished_at = ?, error = ? WHERE id = ?"))
            .bind(status)
            .bind(now())
            .bind(error)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        if status == "completed" {
            sqlx::query(&self.sql("DELETE FROM movex_checkpoints WHERE table_name = ? AND mode = ? AND direction = ? AND run_id = ?"))
                .bind(table)
                .bind(mode.as_str())
                .bind(direction.as_str())
                .bind(run_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Drop a checkpoint so the next run starts over.
    pub async fn forget_checkpoint(&self, table: &str, mode: Mode, direction: Direction) -> Result<()> {
        sqlx::query(&self.sql("DELETE FROM movex_checkpoints WHERE table_name = ? AND mode = ? AND direction = ?"))
            .bind(table)
            .bind(mode.as_str())
            .bind(direction.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
