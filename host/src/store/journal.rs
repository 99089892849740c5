//! The pool's repair journal: writes that reached one side and not the
//! other. Each entry holds the statements (SQL and parameters), which side
//! missed them, why, and when — enough for repair to replay or re-derive
//! them, so a failed secondary write is never silently lost.

use super::{Store, now, text};
use crate::pool::Statement;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sqlx::Row;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalKind {
    /// The primary committed; the secondary's write (or commit) failed.
    SecondaryFailed,
    /// Strict mode: the secondary committed, then the primary's commit failed
    /// or its outcome is unknown. The secondary may hold writes the primary lacks.
    PrimaryCommitFailed,
}

impl JournalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JournalKind::SecondaryFailed => "secondary_failed",
            JournalKind::PrimaryCommitFailed => "primary_commit_failed",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JournalEntry {
    pub id: i64,
    /// RFC 3339, UTC.
    pub at: String,
    /// The pattern the write ran under.
    pub pattern: String,
    /// The side that does not have the write (`source` or `destination`).
    pub side: String,
    pub kind: JournalKind,
    pub statements: Vec<Statement>,
    pub error: String,
}

impl Store {
    /// Record a write one side missed; its id.
    pub async fn journal(&self, pattern: &str, side: &str, kind: JournalKind, statements: &[Statement], error: &str) -> Result<i64> {
        let sql = self.sql("INSERT INTO movex_journal (at, pattern, side, kind, statements, error) VALUES (?, ?, ?, ?, ?, ?) RETURNING id");
        let q = sqlx::query(&sql)
            .bind(now())
            .bind(pattern)
            .bind(side)
            .bind(kind.as_str())
            .bind(serde_json::to_string(statements)?)
            .bind(error);
        let mut conn = self.pool.acquire().await?;
        let id = self.returned_id(&mut conn, q).await?;
        Ok(id)
    }

    /// Journal entries, oldest first, after `after_id`.
    pub async fn journal_entries(&self, after_id: i64, limit: u32) -> Result<Vec<JournalEntry>> {
        let rows = sqlx::query(&self.sql("SELECT id, at, pattern, side, kind, statements, error FROM movex_journal WHERE id > ? ORDER BY id LIMIT ?"))
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind = text(r, 4)?;
                Ok(JournalEntry {
                    id: r.try_get(0)?,
                    at: text(r, 1)?,
                    pattern: text(r, 2)?,
                    side: text(r, 3)?,
                    kind: serde_json::from_value(serde_json::Value::String(kind))?,
                    statements: serde_json::from_str(&text(r, 5)?)?,
                    error: text(r, 6)?,
                })
            })
            .collect()
    }

    pub async fn journal_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(&self.sql("SELECT count(*) FROM movex_journal")).fetch_one(&self.pool).await?;
        Ok(n as u64)
    }
}
