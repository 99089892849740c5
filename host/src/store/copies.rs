//! The copy's progress per table: where it resumes (the last key of the
//! last batch the destination committed), how many rows it wrote, and how
//! it ended. Written after each batch commits on the destination, so a copy
//! killed between the two re-copies at most one batch, which inserts
//! nothing twice (the copy only inserts rows the destination lacks).

use super::{Store, now, text};
use anyhow::Result;
use serde_json::Value as Json;
use sqlx::Row;

/// Where a table's copy stands.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CopyProgress {
    pub table: String,
    /// `running` (or interrupted, when no copy runs), `done` or `failed`.
    pub state: String,
    /// The last copied key, as [`crate::db::key::encode`] writes it.
    pub last_key: Option<Json>,
    pub rows_copied: u64,
    pub started_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
}

const COLUMNS: &str = "table_name, state, last_key, rows_copied, started_at, updated_at, finished_at, error";

fn progress(r: &sqlx::any::AnyRow) -> Result<CopyProgress> {
    let opt = |i: usize| -> Result<Option<String>> { Ok(if r.try_get_raw(i).map(|v| sqlx::ValueRef::is_null(&v))? { None } else { Some(text(r, i)?) }) };
    Ok(CopyProgress {
        table: text(r, 0)?,
        state: text(r, 1)?,
        last_key: opt(2)?.map(|k| serde_json::from_str(&k)).transpose()?,
        rows_copied: r.try_get::<i64, _>(3)? as u64,
        started_at: text(r, 4)?,
        updated_at: text(r, 5)?,
        finished_at: opt(6)?,
        error: opt(7)?,
    })
}

impl Store {
    /// The copy of `table`, if one was ever started.
    pub async fn copy_progress(&self, table: &str) -> Result<Option<CopyProgress>> {
        let row = sqlx::query(&self.sql(&format!("SELECT {COLUMNS} FROM movex_copies WHERE table_name = ?"))).bind(table).fetch_optional(&self.pool).await?;
        row.as_ref().map(progress).transpose()
    }

    /// Every table's copy, by name.
    pub async fn copies(&self) -> Result<Vec<CopyProgress>> {
        let rows = sqlx::query(&self.sql(&format!("SELECT {COLUMNS} FROM movex_copies ORDER BY table_name"))).fetch_all(&self.pool).await?;
        rows.iter().map(progress).collect()
    }

    /// Start (or resume) the copy of `table`: `running`, its key and count
    /// kept when it resumes.
    pub async fn copy_started(&self, table: &str) -> Result<()> {
        let at = now();
        sqlx::query(&self.sql(&format!(
            "INSERT INTO movex_copies ({COLUMNS}) VALUES (?, 'running', NULL, 0, ?, ?, NULL, NULL)
             ON CONFLICT (table_name) DO UPDATE SET state = 'running', updated_at = excluded.updated_at, finished_at = NULL, error = NULL"
        )))
        .bind(table)
        .bind(&at)
        .bind(&at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A batch is committed on the destination: resume after `last_key`.
    pub async fn copy_checkpoint(&self, table: &str, last_key: &Json, rows_copied: u64) -> Result<()> {
        let done = sqlx::query(&self.sql("UPDATE movex_copies SET last_key = ?, rows_copied = ?, updated_at = ? WHERE table_name = ?"))
            .bind(last_key.to_string())
            .bind(rows_copied as i64)
            .bind(now())
            .bind(table)
            .execute(&self.pool)
            .await?;
        anyhow::ensure!(done.rows_affected() == 1, "the copy of {table:?} has no progress row in the state store (restarted elsewhere?)");
        Ok(())
    }

    /// The copy of `table` ended: `done`, or `failed` with `error`.
    pub async fn copy_ended(&self, table: &str, error: Option<&str>) -> Result<()> {
        let at = now();
        sqlx::query(&self.sql("UPDATE movex_copies SET state = ?, error = ?, updated_at = ?, finished_at = ? WHERE table_name = ?"))
            .bind(if error.is_some() { "failed" } else { "done" })
            .bind(error)
            .bind(&at)
            .bind(&at)
            .bind(table)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forget the copy of `table`: the next one starts from the first key.
    pub async fn copy_forget(&self, table: &str) -> Result<()> {
        sqlx::query(&self.sql("DELETE FROM movex_copies WHERE table_name = ?")).bind(table).execute(&self.pool).await?;
        Ok(())
    }
}
