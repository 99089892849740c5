//! One side of a table: its database and the queries the validator runs
//! against it — a page in key order, a page of rows changed in a time range,
//! and a batch lookup by key — each read into a page of encoded rows
//! ([`Rows`]). Rows hold the selected columns in order, key columns first.

use crate::db::key::Key;
use crate::db::keyset::{Dialect, OrderCol, Scan};
use crate::db::schema::ColumnInfo;
use crate::db::{Db, Decode, Params, Rows};
use anyhow::{Context, Result};
use movex_guest::OwnedValue;

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
    pub async fn page(&self, after: Option<&Key>, limit: u64) -> Result<Rows> {
        let mut out = Rows::default();
        self.page_into(after, limit, &mut out).await?;
        Ok(out)
    }

    /// [`Side::page`] into `out`, reusing its buffers.
    pub async fn page_into(&self, after: Option<&Key>, limit: u64, out: &mut Rows) -> Result<()> {
        let p = self.scan(&self.key, limit).page(after.is_some(), false);
        let binds = after.map(|k| p.bind_values(k)).unwrap_or_default();
        self.fetch_into(&p.sql, &binds, out).await
    }

    /// The next `limit` rows whose update time is in `[from, until]`, in
    /// (update time, key) order, after the cursor `after` = (time, key...).
    pub async fn changed(&self, from: &OwnedValue, until: &OwnedValue, after: Option<&[OwnedValue]>, limit: u64) -> Result<Rows> {
        let order = self.by_time.as_deref().context("the table has no `utime` configured")?;
        let p = self.scan(order, limit).page(after.is_some(), true);
        let mut binds = vec![from, until];
        if let Some(a) = after {
            binds.extend(p.bind_values(a));
        }
        self.fetch(&p.sql, &binds).await
    }

    /// The rows with these keys (any order; missing keys have no row).
    pub async fn lookup(&self, keys: &[Key]) -> Result<Rows> {
        if keys.is_empty() {
            return Ok(Rows::default());
        }
        let sql = self.scan(&self.key, 0).lookup(keys.len());
        let binds: Vec<&OwnedValue> = keys.iter().flat_map(|k| k.iter()).collect();
        self.fetch(&sql, &binds).await
    }

    /// Roughly how many rows the table has (statistics, not a count), for
    /// progress and ETA; 0 when unknown.
    pub async fn estimate_rows(&self) -> u64 {
        let dialect = self.db.dialect();
        let (schema, name) = crate::db::schema::split(&self.table);
        let (sql, binds) = match dialect {
            Dialect::MySql => (
                "SELECT CAST(TABLE_ROWS AS SIGNED) FROM information_schema.TABLES
                 WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?"
                    .to_owned(),
                vec![schema.map_or(OwnedValue::Null, |s| OwnedValue::Text(s.into())), OwnedValue::Text(name.into())],
            ),
            Dialect::Postgres => (
                "SELECT CAST(GREATEST(reltuples, 0) AS bigint) FROM pg_class WHERE oid = CAST(to_regclass($1) AS oid)".to_owned(),
                vec![OwnedValue::Text(dialect.quote(&self.table))],
            ),
            Dialect::Sqlite => (format!("SELECT count(*) FROM {}", dialect.quote(&self.table)), vec![]),
        };
        let binds: Vec<&OwnedValue> = binds.iter().collect();
        match self.db.fetch(&sql, &binds, Decode::ByType).await.as_deref() {
            Ok([row]) => match row.first() {
                Some(OwnedValue::Int(n)) => (*n).max(0) as u64,
                Some(OwnedValue::Uint(n)) => *n,
                _ => 0,
            },
            _ => 0,
        }
    }

    /// Run a write with parameters; the rows it affected. On PostgreSQL the
    /// SQL must cast each parameter to its column's type: values go as text.
    pub async fn execute(&self, sql: &str, binds: &[&OwnedValue]) -> Result<u64> {
        let context = || format!("writing {} on the {} ({sql})", self.table, self.what);
        Ok(self.db.execute(sql, binds, Params::Text).await.with_context(context)?.rows_affected)
    }

    async fn fetch(&self, sql: &str, binds: &[&OwnedValue]) -> Result<Rows> {
        let mut out = Rows::default();
        self.fetch_into(sql, binds, &mut out).await?;
        Ok(out)
    }

    /// [`Side::fetch`] into `out`, reusing its buffers.
    async fn fetch_into(&self, sql: &str, binds: &[&OwnedValue], out: &mut Rows) -> Result<()> {
        let context = || format!("reading {} on the {} ({sql})", self.table, self.what);
        self.db.fetch_rows_into(sql, binds, Decode::Columns(&self.info), out).await.with_context(context)
    }
}
