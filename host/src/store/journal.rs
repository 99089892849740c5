//! The pool's repair journal: writes that reached one side and not the
//! other. Each entry holds the statements (SQL and parameters), which side
//! missed them, why, and when — enough for repair to replay or re-derive
//! them, so a failed secondary write is never silently lost.

use super::{Store, now, text};
use crate::db::Statement;
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

/// A journal entry before the store has taken it: what the pool records,
/// and what its spool holds while the store cannot take it. `uid` makes
/// recording it again harmless (a spooled entry whose first insert timed
/// out but landed is not stored twice).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewEntry {
    pub uid: String,
    pub at: String,
    pub pattern: String,
    pub side: String,
    pub kind: JournalKind,
    pub statements: Vec<Statement>,
    pub error: String,
}

impl NewEntry {
    pub fn new(pattern: &str, side: &str, kind: JournalKind, statements: &[Statement], error: &str) -> NewEntry {
        NewEntry {
            uid: format!("{:032x}", rand::random::<u128>()),
            at: now(),
            pattern: pattern.into(),
            side: side.into(),
            kind,
            statements: statements.to_vec(),
            error: error.into(),
        }
    }
}

impl Store {
    /// Record a write one side missed, and read it back: its id once it is
    /// durably in the store. Recording the same entry (`uid`) again gives
    /// the same id and stores nothing more. (A plain execute, not
    /// `INSERT ... RETURNING` read with `fetch_one`: on SQLite that
    /// returns the row before the statement's implicit commit, and a commit
    /// that then fails went unseen.)
    pub async fn journal(&self, e: &NewEntry) -> Result<i64> {
        let insert = self.sql(
            "INSERT INTO movex_journal (uid, at, pattern, side, kind, statements, error) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uid) DO NOTHING",
        );
        sqlx::query(&insert)
            .bind(&e.uid)
            .bind(&e.at)
            .bind(&e.pattern)
            .bind(&e.side)
            .bind(e.kind.as_str())
            .bind(serde_json::to_string(&e.statements)?)
            .bind(&e.error)
            .execute(&self.pool)
            .await?;
        let id: Option<i64> =
            sqlx::query_scalar(&self.sql("SELECT id FROM movex_journal WHERE uid = ?")).bind(&e.uid).fetch_optional(&self.pool).await?;
        id.ok_or_else(|| anyhow::anyhow!("the journal entry {} is not in the state store after its insert", e.uid))
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
