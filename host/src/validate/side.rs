//! One side of a table: a connection pool (one per driver, never `Any`) and
//! the queries the validator runs against it — a page in key order, a page
//! of rows changed in a time range, and a batch lookup by key — each decoded
//! into the contract's values. Rows hold the selected columns in order, key
//! columns first.

use super::key::Key;
use super::schema::ColumnInfo;
use crate::db::keyset::{Dialect, OrderCol, Scan};
use crate::db::bind::{bind_mysql, bind_postgres, bind_postgres_as_text, bind_sqlite};
use crate::db::{ValueError, mysql, postgres, sqlite};
use anyhow::{Context, Result};
use movex_guest::OwnedValue;
use sqlx::Row as _;
use std::time::Duration;

pub type Row = Vec<OwnedValue>;

/// A pool for one database, by driver.
#[derive(Clone, Debug)]
pub enum Db {
    MySql(sqlx::MySqlPool),
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

/// A URL with its password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Db {
    /// A pool for `url` that connects on first use, so a database that is
    /// down does not stop a server from starting; `what` names it in errors
    /// ("source", ...). A SQLite file must exist: a typo must not validate
    /// an empty new database.
    pub fn lazy(url: &str, what: &str, max_connections: u32, connect_timeout: Duration) -> Result<Db> {
        let dialect = Dialect::of_url(url)
            .with_context(|| format!("[{what}] url {:?}: expected mysql://, postgres:// or sqlite://", redact(url)))?;
        let bad = |e: sqlx::Error| anyhow::anyhow!("[{what}] url {}: {e}", redact(url));
        macro_rules! pool {
            ($options:ty) => {
                <$options>::new().max_connections(max_connections).acquire_timeout(connect_timeout).connect_lazy(url).map_err(bad)?
            };
        }
        Ok(match dialect {
            Dialect::MySql => Db::MySql(pool!(sqlx::mysql::MySqlPoolOptions)),
            Dialect::Postgres => Db::Postgres(pool!(sqlx::postgres::PgPoolOptions)),
            Dialect::Sqlite => Db::Sqlite(pool!(sqlx::sqlite::SqlitePoolOptions)),
        })
    }

    /// Connect to `url` now: fails, saying what to check, if it cannot.
    pub async fn connect(url: &str, what: &str, max_connections: u32) -> Result<Db> {
        let db = Db::lazy(url, what, max_connections, Duration::from_secs(10))?;
        db.ping().await.map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to the {what} database at {}: {e}. Check that it is running and that [{what}] url is right",
                redact(url)
            )
        })?;
        Ok(db)
    }

    /// `SELECT 1`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::MySql(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
            Db::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
            Db::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Db::MySql(_) => Dialect::MySql,
            Db::Postgres(_) => Dialect::Postgres,
            Db::Sqlite(_) => Dialect::Sqlite,
        }
    }
}

/// One table on one side, ready to be scanned.
#[derive(Clone, Debug)]
pub struct Side {
    pub db: Db,
    /// `source` or `destination`, for messages.
    pub what: &'static str,
    pub table: String,
    /// Selected columns: key columns, compared columns, then the update-time
    /// column when it is not compared.
    pub select: Vec<String>,
    info: Vec<ColumnInfo>,
    key: Vec<OrderCol>,
    /// The update-time column then the key.
    by_time: Option<Vec<OrderCol>>,
}

impl Side {
    pub fn new(db: Db, what: &'static str, table: String, info: Vec<ColumnInfo>, key_len: usize, utime: Option<usize>) -> Side {
        let dialect = db.dialect();
        let key: Vec<OrderCol> = info[..key_len].iter().map(|c| c.order_col(dialect)).collect();
        let by_time = utime.map(|u| {
            let mut o = vec![info[u].order_col(dialect)];
            o.extend(key.iter().cloned());
            o
        });
        Side { db, what, table, select: info.iter().map(|c| c.name.clone()).collect(), info, key, by_time }
    }

    pub fn columns(&self) -> &[ColumnInfo] {
        &self.info
    }

    fn scan<'a>(&'a self, order: &'a [OrderCol], limit: u64) -> Scan<'a> {
        Scan { dialect: self.db.dialect(), table: &self.table, columns: &self.select, order, limit }
    }

    /// The next `limit` rows in key order after `after` (from the start when none).
    pub async fn page(&self, after: Option<&Key>, limit: u64) -> Result<Vec<Row>> {
        let p = self.scan(&self.key, limit).page(after.is_some(), false);
        let binds = after.map(|k| p.bind_values(k)).unwrap_or_default();
        self.fetch(&p.sql, &binds).await
    }

    /// The next `limit` rows whose update time is in `[from, until]`, in
    /// (update time, key) order, after the cursor `after` = (time, key...).
    pub async fn changed(&self, from: &OwnedValue, until: &OwnedValue, after: Option<&[OwnedValue]>, limit: u64) -> Result<Vec<Row>> {
        let order = self.by_time.as_deref().context("the table has no `utime` configured")?;
        let p = self.scan(order, limit).page(after.is_some(), true);
        let mut binds = vec![from, until];
        if let Some(a) = after {
            binds.extend(p.bind_values(a));
        }
        self.fetch(&p.sql, &binds).await
    }

    /// The rows with these keys (any order; missing keys have no row).
    pub async fn lookup(&self, keys: &[Key]) -> Result<Vec<Row>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = self.scan(&self.key, 0).lookup(keys.len());
        let binds: Vec<&OwnedValue> = keys.iter().flat_map(|k| k.iter()).collect();
        self.fetch(&sql, &binds).await
    }

    /// Roughly how many rows the table has (statistics, not a count), for
    /// progress and ETA; 0 when unknown.
    pub async fn estimate_rows(&self) -> u64 {
        let r: Result<Option<i64>, sqlx::Error> = match &self.db {
            Db::MySql(p) => {
                let (schema, name) = super::schema::split(&self.table);
                sqlx::query_scalar(
                    "SELECT CAST(TABLE_ROWS AS SIGNED) FROM information_schema.TABLES
                     WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?",
                )
                .bind(schema)
                .bind(name)
                .fetch_optional(p)
                .await
                .map(Option::flatten)
            }
            Db::Postgres(p) => sqlx::query_scalar(
                "SELECT CAST(GREATEST(reltuples, 0) AS bigint) FROM pg_class WHERE oid = CAST(to_regclass($1) AS oid)",
            )
            .bind(Dialect::Postgres.quote(&self.table))
            .fetch_optional(p)
            .await
            .map(Option::flatten),
            Db::Sqlite(p) => sqlx::query_scalar(&format!("SELECT count(*) FROM {}", Dialect::Sqlite.quote(&self.table)))
                .fetch_optional(p)
                .await
                .map(Option::flatten),
        };
        r.ok().flatten().map_or(0, |n| n.max(0) as u64)
    }

    /// Run a write with parameters; the rows it affected. On PostgreSQL the
    /// SQL must cast each parameter to its column's type: values go as text.
    pub async fn execute(&self, sql: &str, binds: &[&OwnedValue]) -> Result<u64> {
        let context = || format!("writing {} on the {} ({sql})", self.table, self.what);
        macro_rules! run {
            ($pool:expr, $bind:ident) => {{
                let mut q = sqlx::query(sql);
                for v in binds {
                    q = $bind(q, v);
                }
                q.execute($pool).await.with_context(context)?.rows_affected()
            }};
        }
        Ok(match &self.db {
            Db::MySql(p) => run!(p, bind_mysql),
            Db::Postgres(p) => run!(p, bind_postgres_as_text),
            Db::Sqlite(p) => run!(p, bind_sqlite),
        })
    }

    async fn fetch(&self, sql: &str, binds: &[&OwnedValue]) -> Result<Vec<Row>> {
        let context = || format!("reading {} on the {} ({sql})", self.table, self.what);
        match &self.db {
            Db::MySql(pool) => {
                let mut q = sqlx::query(sql);
                for v in binds {
                    q = bind_mysql(q, v);
                }
                let rows = q.fetch_all(pool).await.with_context(context)?;
                rows.iter()
                    .map(|r| self.decode(r.len(), |i| mysql::value(r, i, self.info[i].binary)))
                    .collect::<Result<_, _>>()
                    .with_context(context)
            }
            Db::Postgres(pool) => {
                let mut q = sqlx::query(sql);
                for v in binds {
                    q = bind_postgres(q, v);
                }
                let rows = q.fetch_all(pool).await.with_context(context)?;
                rows.iter().map(|r| self.decode(r.len(), |i| postgres::value(r, i))).collect::<Result<_, _>>().with_context(context)
            }
            Db::Sqlite(pool) => {
                let mut q = sqlx::query(sql);
                for v in binds {
                    q = bind_sqlite(q, v);
                }
                let rows = q.fetch_all(pool).await.with_context(context)?;
                rows.iter().map(|r| self.decode(r.len(), |i| sqlite::value(r, i))).collect::<Result<_, _>>().with_context(context)
            }
        }
    }

    fn decode(&self, n: usize, value: impl Fn(usize) -> Result<OwnedValue, ValueError>) -> Result<Row, ValueError> {
        (0..n)
            .map(|i| {
                let v = value(i)?;
                Ok(match v {
                    OwnedValue::Text(s) if self.info[i].json => OwnedValue::Json(s),
                    v => v,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(super::redact("mysql://app:s3cret@db:3306/shop"), "mysql://app:***@db:3306/shop");
        assert_eq!(super::redact("mysql://root@127.0.0.1/test"), "mysql://root@127.0.0.1/test");
        assert_eq!(super::redact("sqlite://a.db"), "sqlite://a.db");
    }
}
