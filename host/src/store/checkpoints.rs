//! Validation runs and their checkpoints: where each table's run, per mode
//! and direction, resumes after a stop or a crash.

use super::findings::insert_findings;
use super::{Store, now};
use crate::validate::finding::{Direction, Finding};
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
        let row = sqlx::query(
            "SELECT run_id, cursor, rows_base, rows_target FROM checkpoints WHERE table_name = ? AND mode = ? AND direction = ?",
        )
        .bind(table)
        .bind(mode.as_str())
        .bind(direction.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Checkpoint {
                run_id: r.try_get(0)?,
                cursor: serde_json::from_str(r.try_get::<&str, _>(1)?)?,
                rows_base: r.try_get::<i64, _>(2)? as u64,
                rows_target: r.try_get::<i64, _>(3)? as u64,
            })
        })
        .transpose()
    }

    /// Record a run's start (or its resumption).
    pub async fn start_run(&self, run_id: &str, table: &str, mode: Mode, direction: Direction) -> Result<()> {
        sqlx::query(
            "INSERT INTO runs (id, table_name, mode, direction, status, started_at) VALUES (?, ?, ?, ?, 'running', ?)
             ON CONFLICT (id) DO UPDATE SET status = 'running', finished_at = NULL, error = NULL",
        )
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
        let mut tx = self.pool.begin().await?;
        insert_findings(&mut tx, findings).await?;
        sqlx::query(
            "INSERT INTO checkpoints (table_name, mode, direction, run_id, cursor, rows_base, rows_target, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (table_name, mode, direction) DO UPDATE SET run_id = excluded.run_id,
               cursor = excluded.cursor, rows_base = excluded.rows_base, rows_target = excluded.rows_target,
               updated_at = excluded.updated_at",
        )
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
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ?")
            .bind(status)
            .bind(now())
            .bind(error)
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        if status == "completed" {
            sqlx::query("DELETE FROM checkpoints WHERE table_name = ? AND mode = ? AND direction = ? AND run_id = ?")
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
        sqlx::query("DELETE FROM checkpoints WHERE table_name = ? AND mode = ? AND direction = ?")
            .bind(table)
            .bind(mode.as_str())
            .bind(direction.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
