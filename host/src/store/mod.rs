//! The state store: movex's own database — a SQLite file by default, or a
//! MySQL/MariaDB or PostgreSQL database (tables prefixed `movex_`). It
//! keeps the validator's runs, checkpoints and findings (the embedded sink
//! and the Kafka outbox are the same table), the migration's state, and the
//! pool's repair journal. One file per kind of record:
//!
//! - [`checkpoints`]: validation runs and where each resumes;
//! - [`copies`]: the copy's progress per table, where it resumes;
//! - [`findings`]: findings, their counts, and the Kafka outbox;
//! - [`fleet`]: the instances writing for this migration, their heartbeats
//!   and the generation each applies;
//! - [`journal`]: the pool's writes that reached one side only;
//! - [`lease`]: one `movex serve` per state store;
//! - [`migration`]: the migration's state, transitions and counters;
//! - [`repairs`]: what repair did with each finding;
//! - `meta` (here): small named values, such as the current pattern.
//!
//! The store's values are plain (text, integers), so it uses sqlx's `Any`
//! driver with one SQL text per query: [`Store::sql`] numbers placeholders
//! for PostgreSQL and spells upserts MySQL's way. (The tables being
//! migrated are read with per-driver pools instead: `Any` cannot decode
//! their DECIMAL, DATETIME, unsigned or JSON values.)
//!
//! A finding is committed here, in the same transaction as the checkpoint
//! that moves past it, before anything else sees it; Kafka delivery marks it
//! delivered afterwards. A crash therefore loses neither a finding nor the
//! place to resume from, and never skips one.

pub mod checkpoints;
pub mod copies;
pub mod findings;
pub mod fleet;
pub mod journal;
pub mod lease;
pub mod migration;
pub mod repairs;

pub use checkpoints::{Checkpoint, Mode};
pub use copies::CopyProgress;
pub use journal::{JournalEntry, JournalKind};
pub use migration::Transition;

use crate::db::keyset::Dialect;
use anyhow::{Context, Result};
use sqlx::any::{AnyArguments, AnyPoolOptions};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Row};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Columns added since a table was first created: (table, column, type).
/// Added at open when missing, so a store written by an older movex keeps
/// working.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[("movex_journal", "uid", "VARCHAR(64)"), ("movex_transitions", "generation", "BIGINT"), ("movex_transitions", "acked_by", "TEXT")];

/// The schema this build writes. A store whose `schema_version` is higher
/// was written by a newer movex: refused rather than half understood.
const SCHEMA_VERSION: i64 = 2;

/// The tables, per dialect: `{auto}` is an auto-increment primary key,
/// `{key}` a short indexed text, `{text}` a long text.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS movex_meta (k {key} PRIMARY KEY, v {text} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS movex_runs (
        id {key} PRIMARY KEY, table_name {key} NOT NULL, mode {key} NOT NULL, direction {key} NOT NULL,
        status {key} NOT NULL, started_at {key} NOT NULL, finished_at {key}, error {text})",
    "CREATE TABLE IF NOT EXISTS movex_checkpoints (
        table_name {key} NOT NULL, mode VARCHAR(8) NOT NULL, direction VARCHAR(8) NOT NULL, run_id {key} NOT NULL,
        position {text} NOT NULL, rows_base BIGINT NOT NULL, rows_target BIGINT NOT NULL, updated_at {key} NOT NULL,
        PRIMARY KEY (table_name, mode, direction))",
    "CREATE TABLE IF NOT EXISTS movex_findings (
        seq {auto}, id VARCHAR(64) NOT NULL UNIQUE, run_id {key} NOT NULL,
        table_name {key} NOT NULL, type VARCHAR(24) NOT NULL, tag {key}, body {text} NOT NULL,
        detected_at {key} NOT NULL, delivered_at {key})",
    "CREATE INDEX {if_not_exists} movex_findings_run ON movex_findings (run_id, type)",
    "CREATE INDEX {if_not_exists} movex_findings_outbox ON movex_findings (delivered_at, seq)",
    "CREATE TABLE IF NOT EXISTS movex_journal (
        id {auto}, at {key} NOT NULL, pattern {key} NOT NULL, side {key} NOT NULL,
        kind {key} NOT NULL, statements {text} NOT NULL, error {text} NOT NULL, uid VARCHAR(64))",
    "CREATE UNIQUE INDEX {if_not_exists} movex_journal_uid ON movex_journal (uid)",
    "CREATE TABLE IF NOT EXISTS movex_transitions (
        id {auto}, at {key} NOT NULL, from_state {key} NOT NULL, to_state {key} NOT NULL,
        reason {text} NOT NULL, by_whom {key} NOT NULL, forced BIGINT NOT NULL, generation BIGINT, acked_by {text})",
    "CREATE TABLE IF NOT EXISTS movex_copies (
        table_name {key} PRIMARY KEY, state VARCHAR(16) NOT NULL, last_key {text}, rows_copied BIGINT NOT NULL,
        started_at {key} NOT NULL, updated_at {key} NOT NULL, finished_at {key}, error {text})",
    "CREATE TABLE IF NOT EXISTS movex_counters (k {key} PRIMARY KEY, n BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS movex_newer (
        id VARCHAR(64) PRIMARY KEY, table_name {key} NOT NULL, row_key {text} NOT NULL, base_hash VARCHAR(64) NOT NULL,
        target_utime {text} NOT NULL, first_seen_ms BIGINT NOT NULL, sightings BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS movex_instances (
        id VARCHAR(64) PRIMARY KEY, name {key} NOT NULL, host {key} NOT NULL, pid BIGINT NOT NULL, role {key} NOT NULL,
        version {key} NOT NULL, applied BIGINT NOT NULL, acked BIGINT NOT NULL, draining BIGINT NOT NULL,
        started_ms BIGINT NOT NULL, heartbeat_ms BIGINT NOT NULL, lease_ms BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS movex_repairs (
        finding_id VARCHAR(64) PRIMARY KEY, at {key} NOT NULL, outcome VARCHAR(24) NOT NULL, detail {text} NOT NULL)",
];

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// Where it is, for a connection of its own (PostgreSQL's `LISTEN`).
    url: Arc<str>,
    /// Where the pool's journal spools entries this store cannot take, by
    /// default: beside a SQLite file; for a server, `movex-journal-<hash of
    /// its URL>.spool` in the working directory.
    spool: Option<PathBuf>,
}

/// A text column: MySQL reports TEXT columns to the `Any` driver as BLOB,
/// so bytes are read as UTF-8 when a string is not offered.
pub(crate) fn text(row: &sqlx::any::AnyRow, i: usize) -> Result<String, sqlx::Error> {
    match row.try_get::<String, _>(i) {
        Ok(s) => Ok(s),
        Err(e) => {
            let bytes = row.try_get::<Vec<u8>, _>(i).map_err(|_| e)?;
            String::from_utf8(bytes).map_err(|e| sqlx::Error::Decode(Box::new(e)))
        }
    }
}

/// Epoch milliseconds now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub(crate) fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// SQLite opens a file it may not write (write-protected, immutable, on a
/// read-only mount) read-only without a word, and the connection stays
/// read-only after the file is writable again: a pool that kept it would
/// refuse writes until a restart. A new connection tries a write (the
/// header's `user_version` set to what it is); one that cannot is marked
/// `query_only` and counted in `marked`, still serves reads while the
/// fault lasts, and is dropped ([`keep_connection`]) as soon as the file
/// can be written again.
async fn mark_if_read_only(conn: &mut AnyConnection, marked: &AtomicUsize) -> Result<(), sqlx::Error> {
    let version: i64 = sqlx::query("PRAGMA user_version").fetch_one(&mut *conn).await?.try_get(0)?;
    match conn.execute(format!("PRAGMA user_version = {version}").as_str()).await {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("readonly") => {
            conn.execute("PRAGMA query_only = 1").await?;
            marked.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// A SQLite store's file (none for a server or an in-memory database).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?.split('?').next()?;
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// Whether a pooled connection may be used: not if it was opened read-only
/// ([`mark_if_read_only`]) and the file `path` can be written now. While no
/// connection is marked (the usual case) this asks nothing.
async fn keep_connection(conn: &mut AnyConnection, path: &Path, marked: &AtomicUsize) -> Result<bool, sqlx::Error> {
    if marked.load(Ordering::SeqCst) == 0 {
        return Ok(true);
    }
    let query_only: i64 = sqlx::query("PRAGMA query_only").fetch_one(&mut *conn).await?.try_get(0)?;
    if query_only == 0 || std::fs::OpenOptions::new().append(true).open(path).is_err() {
        return Ok(true);
    }
    marked.fetch_sub(1, Ordering::SeqCst);
    Ok(false)
}

impl Store {
    /// Open the state store at `url`, creating its tables (and, for
    /// SQLite, the file).
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let shown = crate::db::redact(url);
        let dialect = Dialect::of_url(url)
            .with_context(|| format!("[state] url {shown:?}: expected sqlite://, mysql:// or postgres://"))?;
        let url = match dialect {
            Dialect::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            Dialect::MySql => url.replacen("mariadb://", "mysql://", 1),
            _ => url.to_owned(),
        };
        let sqlite = dialect == Dialect::Sqlite;
        let marked = Arc::new(AtomicUsize::new(0));
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect({
                let marked = marked.clone();
                move |conn, _| {
                    let marked = marked.clone();
                    Box::pin(async move {
                        if sqlite {
                            conn.execute("PRAGMA busy_timeout = 30000").await?;
                            mark_if_read_only(conn, &marked).await?;
                        }
                        Ok(())
                    })
                }
            })
            .before_acquire({
                let file = sqlite_file(&url);
                move |conn, _| {
                    let (file, marked) = (file.clone(), marked.clone());
                    Box::pin(async move {
                        match file {
                            Some(path) => keep_connection(conn, &path, &marked).await,
                            None => Ok(true),
                        }
                    })
                }
            })
            .connect(&url)
            .await
            .with_context(|| format!("opening the state store {shown} (is it reachable, and for SQLite is its directory writable?)"))?;
        if sqlite {
            pool.execute("PRAGMA journal_mode = WAL").await?;
        }
        let spool = match dialect {
            Dialect::Sqlite => sqlite_file(&url).map(|p| PathBuf::from(format!("{}.journal-spool", p.display()))),
            // One spool per store: processes pointed at different stores
            // from one directory must not drain each other's entries.
            _ => {
                use sha2::Digest;
                let digest = hex::encode(&sha2::Sha256::digest(url.as_bytes())[..6]);
                Some(PathBuf::from(format!("movex-journal-{digest}.spool")))
            }
        };
        let store = Store { pool, dialect, url: url.as_str().into(), spool };
        store.create_schema().await.context("creating the state store's tables")?;
        Ok(store)
    }

    /// Create or upgrade the tables, once at a time: instances starting
    /// together on a fresh server store would race in `CREATE TABLE IF NOT
    /// EXISTS` (PostgreSQL fails one of them on its catalog's unique
    /// index), so the work runs under a lock the database holds for this
    /// connection (PostgreSQL's advisory lock, MySQL's `GET_LOCK`; SQLite
    /// locks the file), and records the schema's version.
    async fn create_schema(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        let (lock, unlock) = match self.dialect {
            Dialect::Postgres => ("SELECT pg_advisory_lock(7106726580)", "SELECT pg_advisory_unlock(7106726580)"),
            Dialect::MySql => ("SELECT GET_LOCK('movex_schema', 60)", "SELECT RELEASE_LOCK('movex_schema')"),
            Dialect::Sqlite => ("BEGIN IMMEDIATE", "COMMIT"),
        };
        conn.execute(lock).await.context("taking the schema lock")?;
        let created = self.create_schema_locked(&mut conn).await;
        let released = conn.execute(unlock).await;
        created?;
        released.context("releasing the schema lock")?;
        Ok(())
    }

    async fn create_schema_locked(&self, conn: &mut AnyConnection) -> Result<()> {
        if conn.execute("SELECT 1 FROM movex_meta WHERE 1 = 0").await.is_ok()
            && let Some(v) = self.meta_in(conn, "schema_version").await?
            && v.parse::<i64>().is_ok_and(|v| v > SCHEMA_VERSION)
        {
            anyhow::bail!("the state store's schema is version {v}, written by a newer movex than this one (version {SCHEMA_VERSION}): run that movex, or upgrade this one");
        }
        for (table, column, ty) in ADDED_COLUMNS {
            let exists = conn.execute(format!("SELECT {column} FROM {table} WHERE 1 = 0").as_str()).await.is_ok();
            if !exists && conn.execute(format!("SELECT 1 FROM {table} WHERE 1 = 0").as_str()).await.is_ok() {
                conn.execute(format!("ALTER TABLE {table} ADD COLUMN {column} {ty}").as_str()).await.with_context(|| format!("adding {table}.{column} to the state store"))?;
            }
        }
        for ddl in SCHEMA {
            let ddl = self.ddl(ddl);
            match conn.execute(ddl.as_str()).await {
                Ok(_) => {}
                // MySQL has no CREATE INDEX IF NOT EXISTS: an existing index is fine.
                Err(sqlx::Error::Database(e)) if self.dialect == Dialect::MySql && e.message().contains("Duplicate key name") => {}
                Err(e) => return Err(e.into()),
            }
        }
        sqlx::query(&self.sql("INSERT INTO movex_meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v"))
            .bind("schema_version")
            .bind(SCHEMA_VERSION.to_string())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    fn ddl(&self, ddl: &str) -> String {
        let (auto, key, text, ine) = match self.dialect {
            Dialect::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT", "TEXT", "IF NOT EXISTS"),
            Dialect::Postgres => ("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "TEXT", "TEXT", "IF NOT EXISTS"),
            Dialect::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "VARCHAR(191)", "MEDIUMTEXT", ""),
        };
        ddl.replace("{auto}", auto).replace("{key}", key).replace("{text}", text).replace("{if_not_exists}", ine)
    }

    /// A transaction that will write. On SQLite it takes the write lock at
    /// `BEGIN` (`BEGIN IMMEDIATE`), so one that reads before it writes
    /// waits its turn (`busy_timeout`) rather than failing with "database is
    /// locked" when another connection wrote since its read; the other
    /// databases lock by row as they go.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            _ => self.pool.begin().await,
        }
    }

    /// One SQL text for every dialect: `?` placeholders become `$1, $2...`
    /// on PostgreSQL; on MySQL `ON CONFLICT (...) DO UPDATE SET c = excluded.c`
    /// becomes `ON DUPLICATE KEY UPDATE c = VALUES(c)`, `DO NOTHING` a no-op
    /// update, and a trailing `RETURNING id` is dropped ([`Store::returned_id`]
    /// reads `LAST_INSERT_ID()` instead).
    pub(crate) fn sql(&self, sql: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => sql.to_owned(),
            Dialect::Postgres => crate::db::statement::numbered(sql),
            Dialect::MySql => {
                let sql = sql.trim_end().trim_end_matches(" RETURNING id").to_owned();
                let Some(at) = sql.find("ON CONFLICT (") else { return sql };
                let (head, tail) = sql.split_at(at);
                let close = tail.find(')').expect("ON CONFLICT (columns)");
                let columns = &tail["ON CONFLICT (".len()..close];
                let action = tail[close + 1..].trim();
                if action == "DO NOTHING" {
                    let first = columns.split(',').next().unwrap_or("").trim();
                    return format!("{head}ON DUPLICATE KEY UPDATE {first} = {first}");
                }
                let set = action.trim_start_matches("DO UPDATE SET").trim();
                let mut out = set.to_owned();
                while let Some(i) = out.find("excluded.") {
                    let rest = &out[i + "excluded.".len()..];
                    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
                    out = format!("{}VALUES({}){}", &out[..i], &rest[..end], &rest[end..]);
                }
                format!("{head}ON DUPLICATE KEY UPDATE {out}")
            }
        }
    }

    /// Run an INSERT written with `RETURNING id` (see [`Store::sql`]) and
    /// give the new row's id.
    pub(crate) async fn returned_id<'q>(&self, conn: &mut AnyConnection, q: Query<'q, Any, AnyArguments<'q>>) -> Result<i64> {
        if self.dialect == Dialect::MySql {
            q.execute(&mut *conn).await?;
            Ok(sqlx::query_scalar("SELECT CAST(LAST_INSERT_ID() AS SIGNED)").fetch_one(&mut *conn).await?)
        } else {
            Ok(q.fetch_one(&mut *conn).await?.try_get(0)?)
        }
    }

    /// The default journal spool for this store (see [`Store`]'s `spool`).
    pub fn default_spool(&self) -> &Path {
        self.spool.as_deref().unwrap_or(Path::new("movex-journal.spool"))
    }

    /// A meta value read on `conn` (inside a transaction, say).
    pub(crate) async fn meta_in(&self, conn: &mut AnyConnection, k: &str) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query(&self.sql("SELECT v FROM movex_meta WHERE k = ?")).bind(k).fetch_optional(&mut *conn).await?;
        row.map(|r| text(&r, 0)).transpose()
    }

    pub async fn meta(&self, k: &str) -> Result<Option<String>> {
        let row = sqlx::query(&self.sql("SELECT v FROM movex_meta WHERE k = ?")).bind(k).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| text(&r, 0)).transpose()?)
    }

    pub async fn set_meta(&self, k: &str, v: &str) -> Result<()> {
        sqlx::query(&self.sql("INSERT INTO movex_meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v"))
            .bind(k)
            .bind(v)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn one_sql_text_reads_right_in_every_dialect() {
        let sqlite = |d| super::Store { pool: sqlx::AnyPool::connect_lazy("sqlite::memory:").unwrap(), dialect: d, url: "sqlite::memory:".into(), spool: None };
        sqlx::any::install_default_drivers();
        let up = "INSERT INTO t (k, n) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = t.n + excluded.n, at = excluded.at";
        let my = sqlite(crate::db::keyset::Dialect::MySql);
        assert_eq!(my.sql(up), "INSERT INTO t (k, n) VALUES (?, ?) ON DUPLICATE KEY UPDATE n = t.n + VALUES(n), at = VALUES(at)");
        assert_eq!(my.sql("INSERT INTO t (id) VALUES (?) ON CONFLICT (id) DO NOTHING"), "INSERT INTO t (id) VALUES (?) ON DUPLICATE KEY UPDATE id = id");
        assert_eq!(my.sql("INSERT INTO t (a) VALUES (?) RETURNING id"), "INSERT INTO t (a) VALUES (?)");
        let pg = sqlite(crate::db::keyset::Dialect::Postgres);
        assert_eq!(pg.sql("SELECT v FROM t WHERE a = ? AND b = ?"), "SELECT v FROM t WHERE a = $1 AND b = $2");
    }
}
