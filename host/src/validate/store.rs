//! The state store: movex's own database (a SQLite file by default). The
//! validator keeps here its runs, its checkpoints, and every finding — the
//! embedded sink and the Kafka outbox are the same table: a finding is
//! committed here, in the same transaction as the checkpoint that moves
//! past it, before anything else sees it; Kafka delivery marks it delivered
//! afterwards. A crash therefore loses neither a finding nor the place to
//! resume from, and never skips one.

use super::finding::{Direction, Finding, FindingType};
use anyhow::{Context, Result, bail};
use serde_json::Value as Json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Row, SqliteConnection};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, table_name TEXT NOT NULL, mode TEXT NOT NULL, direction TEXT NOT NULL,
    status TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, error TEXT);
CREATE TABLE IF NOT EXISTS checkpoints (
    table_name TEXT NOT NULL, mode TEXT NOT NULL, direction TEXT NOT NULL, run_id TEXT NOT NULL,
    cursor TEXT NOT NULL, rows_base INTEGER NOT NULL, rows_target INTEGER NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (table_name, mode, direction));
CREATE TABLE IF NOT EXISTS findings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, run_id TEXT NOT NULL,
    table_name TEXT NOT NULL, type TEXT NOT NULL, tag TEXT, body TEXT NOT NULL,
    detected_at TEXT NOT NULL, delivered_at TEXT);
CREATE INDEX IF NOT EXISTS findings_run ON findings (run_id, type);
CREATE INDEX IF NOT EXISTS findings_outbox ON findings (seq) WHERE delivered_at IS NULL;
";

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

#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

impl Store {
    /// Open (creating) the state store at `url`.
    pub async fn open(url: &str) -> Result<Store> {
        if !url.starts_with("sqlite:") {
            bail!(
                "[state] url {:?}: the state store is a SQLite file for now (sqlite://movex-state.db); \
                 MySQL and PostgreSQL state stores come with the control plane",
                super::side::redact(url)
            );
        }
        let opts = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("[state] url {url:?}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .with_context(|| format!("opening the state store {url:?} (is its directory writable?)"))?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await.context("creating the state store's tables")?;
        Ok(Store { pool })
    }

    pub async fn meta(&self, k: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT v FROM meta WHERE k = ?").bind(k).fetch_optional(&self.pool).await?)
    }

    pub async fn set_meta(&self, k: &str, v: &str) -> Result<()> {
        sqlx::query("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v")
            .bind(k)
            .bind(v)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

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

    /// Store findings without moving a checkpoint.
    pub async fn insert(&self, findings: &[Finding]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_findings(&mut tx, findings).await?;
        tx.commit().await?;
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

    /// Counts of a run's findings by type.
    pub async fn counts(&self, run_id: &str) -> Result<BTreeMap<FindingType, u64>> {
        let rows = sqlx::query("SELECT type, count(*) FROM findings WHERE run_id = ? GROUP BY type")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        let mut out = BTreeMap::new();
        for r in rows {
            if let Some(t) = FindingType::parse(r.try_get(0)?) {
                out.insert(t, r.try_get::<i64, _>(1)? as u64);
            }
        }
        Ok(out)
    }

    /// Counts of a run's findings by tag (untagged ones under "").
    pub async fn counts_by_tag(&self, run_id: &str) -> Result<BTreeMap<String, u64>> {
        let rows = sqlx::query("SELECT COALESCE(tag, ''), count(*) FROM findings WHERE run_id = ? GROUP BY 1")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get::<i64, _>(1)? as u64))).collect()
    }

    /// Every finding of a run, in the order found.
    pub async fn findings(&self, run_id: &str) -> Result<Vec<Finding>> {
        let rows = sqlx::query("SELECT body FROM findings WHERE run_id = ? ORDER BY seq").bind(run_id).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(serde_json::from_str(r.try_get::<&str, _>(0)?)?)).collect()
    }

    /// The outbox: up to `limit` findings not yet delivered, oldest first.
    pub async fn undelivered(&self, limit: u32) -> Result<Vec<(i64, Finding)>> {
        let rows = sqlx::query("SELECT seq, body FROM findings WHERE delivered_at IS NULL ORDER BY seq LIMIT ?")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, serde_json::from_str(r.try_get::<&str, _>(1)?)?))).collect()
    }

    pub async fn undelivered_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM findings WHERE delivered_at IS NULL").fetch_one(&self.pool).await?;
        Ok(n as u64)
    }

    pub async fn mark_delivered(&self, seqs: &[i64]) -> Result<()> {
        let at = now();
        let mut tx = self.pool.begin().await?;
        for chunk in seqs.chunks(500) {
            let params = vec!["?"; chunk.len()].join(", ");
            let sql = format!("UPDATE findings SET delivered_at = ? WHERE seq IN ({params})");
            let mut q = sqlx::query(&sql).bind(&at);
            for s in chunk {
                q = q.bind(s);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_findings(tx: &mut SqliteConnection, findings: &[Finding]) -> Result<()> {
    for f in findings {
        // A finding already stored (a redelivered batch) is kept once.
        sqlx::query(
            "INSERT INTO findings (id, run_id, table_name, type, tag, body, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&f.id)
        .bind(&f.run_id)
        .bind(&f.table)
        .bind(f.kind.as_str())
        .bind(&f.tag)
        .bind(serde_json::to_string(f)?)
        .bind(&f.detected_at)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
