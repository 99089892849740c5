//! One side of the double-write pool: a connection pool to the source or
//! the destination, and a transaction on it. Statements run with their
//! parameters bound per driver; reads come back as contract values.

use super::statement::Statement;
use crate::db::bind::{bind_mysql, bind_postgres, bind_sqlite};
use crate::db::keyset::Dialect;
use crate::db::{mysql, postgres, sqlite};
use crate::validate::side::{Db, Row};
use anyhow::Result;
use serde::Serialize;
use sqlx::{Column, Row as _, TypeInfo};
use std::time::{Duration, Instant};

/// Which database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SideName {
    Source,
    Destination,
}

impl SideName {
    pub fn as_str(self) -> &'static str {
        match self {
            SideName::Source => "source",
            SideName::Destination => "destination",
        }
    }
}

/// What a write did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Executed {
    pub rows_affected: u64,
    /// MySQL's last insert id, SQLite's last rowid; none on PostgreSQL.
    pub last_insert_id: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Backend {
    pub name: SideName,
    pub db: Db,
}

macro_rules! run {
    ($conn:expr, $stmt:expr, $bind:ident, $dialect:expr, $id:expr) => {{
        let sql = $stmt.sql_for($dialect);
        let mut q = sqlx::query(&sql);
        for v in $stmt.values() {
            q = $bind(q, v);
        }
        let r = q.execute($conn).await?;
        Executed { rows_affected: r.rows_affected(), last_insert_id: $id(&r) }
    }};
}

fn mysql_id(r: &sqlx::mysql::MySqlQueryResult) -> Option<u64> {
    Some(r.last_insert_id()).filter(|&i| i != 0)
}

fn pg_id(_: &sqlx::postgres::PgQueryResult) -> Option<u64> {
    None
}

fn sqlite_id(r: &sqlx::sqlite::SqliteQueryResult) -> Option<u64> {
    u64::try_from(r.last_insert_rowid()).ok().filter(|&i| i != 0)
}

impl Backend {
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// Run one statement on its own (autocommit).
    pub async fn execute(&self, stmt: &Statement) -> Result<Executed, sqlx::Error> {
        Ok(match &self.db {
            Db::MySql(p) => run!(p, stmt, bind_mysql, Dialect::MySql, mysql_id),
            Db::Postgres(p) => run!(p, stmt, bind_postgres, Dialect::Postgres, pg_id),
            Db::Sqlite(p) => run!(p, stmt, bind_sqlite, Dialect::Sqlite, sqlite_id),
        })
    }

    /// Read rows (the pool reads from the primary only).
    pub async fn fetch(&self, stmt: &Statement) -> Result<Vec<Row>> {
        macro_rules! fetch {
            ($p:expr, $bind:ident, $dialect:expr, $decode:expr) => {{
                let sql = stmt.sql_for($dialect);
                let mut q = sqlx::query(&sql);
                for v in stmt.values() {
                    q = $bind(q, v);
                }
                let rows = q.fetch_all($p).await?;
                rows.iter().map(|r| (0..r.len()).map(|i| $decode(r, i)).collect::<Result<Row, _>>()).collect::<Result<Vec<Row>, _>>()?
            }};
        }
        Ok(match &self.db {
            Db::MySql(p) => fetch!(p, bind_mysql, Dialect::MySql, mysql_value),
            Db::Postgres(p) => fetch!(p, bind_postgres, Dialect::Postgres, postgres::value),
            Db::Sqlite(p) => fetch!(p, bind_sqlite, Dialect::Sqlite, sqlite::value),
        })
    }

    pub async fn begin(&self) -> Result<BackendTx, sqlx::Error> {
        Ok(match &self.db {
            Db::MySql(p) => BackendTx::MySql(p.begin().await?),
            Db::Postgres(p) => BackendTx::Postgres(p.begin().await?),
            Db::Sqlite(p) => BackendTx::Sqlite(p.begin().await?),
        })
    }

    /// `SELECT 1` within `timeout`: the round trip, or why it failed.
    pub async fn ping(&self, timeout: Duration) -> Result<Duration, String> {
        let t0 = Instant::now();
        match tokio::time::timeout(timeout, self.db.ping()).await {
            Ok(Ok(())) => Ok(t0.elapsed()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        }
    }
}

/// A MySQL value read through the pool: without the table's schema at
/// hand, a string column holds bytes when its type says BINARY or BLOB.
fn mysql_value(r: &sqlx::mysql::MySqlRow, i: usize) -> Result<movex_guest::OwnedValue, crate::db::ValueError> {
    let t = r.columns()[i].type_info().name().to_ascii_uppercase();
    mysql::value(r, i, t.contains("BINARY") || t.contains("BLOB"))
}

/// An open transaction on one side.
pub enum BackendTx {
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl BackendTx {
    pub async fn execute(&mut self, stmt: &Statement) -> Result<Executed, sqlx::Error> {
        Ok(match self {
            BackendTx::MySql(t) => run!(&mut **t, stmt, bind_mysql, Dialect::MySql, mysql_id),
            BackendTx::Postgres(t) => run!(&mut **t, stmt, bind_postgres, Dialect::Postgres, pg_id),
            BackendTx::Sqlite(t) => run!(&mut **t, stmt, bind_sqlite, Dialect::Sqlite, sqlite_id),
        })
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            BackendTx::MySql(t) => t.commit().await,
            BackendTx::Postgres(t) => t.commit().await,
            BackendTx::Sqlite(t) => t.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            BackendTx::MySql(t) => t.rollback().await,
            BackendTx::Postgres(t) => t.rollback().await,
            BackendTx::Sqlite(t) => t.rollback().await,
        }
    }
}

/// Whether an error means the statement did not run and may be retried:
/// no connection could be had, or the database chose this statement as a
/// deadlock or serialization victim (rolled back). Anything else (a broken
/// connection mid-statement, a constraint) is not retried: the statement may
/// have applied, or will fail again.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(d) => {
            matches!(d.code().as_deref(), Some("40001" | "40P01")) // PostgreSQL, MySQL SQLSTATE for 1213
                || d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().is_some_and(|m| matches!(m.number(), 1213 | 1205))
        }
        _ => false,
    }
}
