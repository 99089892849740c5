//! Reading PostgreSQL rows on `tokio-postgres`, straight from each
//! `DataRow`'s bytes into a page of encoded rows. Writes, schemas and
//! transactions stay on sqlx; only the read path is here, because it is the
//! one that runs per row: sqlx's row stream cost about 1.5x the CPU per row
//! of `tokio-postgres` on the same pages, and capped a validation at 0.8x
//! `psql` before movex did anything (BENCHMARKS.md, issue 14).
//!
//! Connections come from a `deadpool-postgres` pool made lazily, so a
//! database that is down does not stop a server from starting. Statements
//! are prepared once per connection and parameter types; parameters are
//! typed as sqlx typed them (an integer as `int8`, a date as text the SQL
//! casts), so one SQL text reads the same on both paths.

use super::ValueError;
use super::bind::text;
use super::postgres;
use super::rows::Rows;
use anyhow::{Context, Result};
use bytes::{BufMut, BytesMut};
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use futures::TryStreamExt;
use movex_guest::OwnedValue;
use std::time::Duration;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// The read pool to one PostgreSQL database.
#[derive(Clone)]
pub struct PgReader {
    pool: Pool,
}

impl std::fmt::Debug for PgReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.pool.status();
        f.debug_struct("PgReader").field("size", &s.size).field("max_size", &s.max_size).finish()
    }
}

/// A driver error with its cause: `tokio-postgres` shows only the kind
/// ("db error") unless asked for the source.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

impl PgReader {
    /// A pool for `url` that connects on first use, at most
    /// `max_connections` at once, each connect bounded by `connect_timeout`.
    pub fn lazy(url: &str, max_connections: u32, connect_timeout: Duration) -> Result<PgReader, String> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| describe(&e))?;
        config.connect_timeout(connect_timeout);
        let manager = Manager::from_config(config, tokio_postgres::NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1) as usize)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(connect_timeout))
            .wait_timeout(Some(connect_timeout))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(PgReader { pool })
    }

    /// Read `sql` with `binds` into `out`; `json(column)`: the column's
    /// texts hold JSON.
    pub async fn fetch_rows(&self, sql: &str, binds: &[&OwnedValue], out: &mut Rows, json: &(dyn Fn(usize) -> bool + Sync)) -> Result<()> {
        let client = self.pool.get().await.map_err(|e| anyhow::anyhow!(describe(&e)))?;
        read(&client, sql, binds, out, json).await
    }

    /// Open a transaction on one connection of the pool, for reads whose
    /// locks must be held until [`PgTx::commit`].
    pub async fn begin(&self) -> Result<PgTx> {
        let client = self.pool.get().await.map_err(|e| anyhow::anyhow!(describe(&e)))?;
        client.batch_execute("BEGIN").await.map_err(|e| anyhow::anyhow!(describe(&e)))?;
        Ok(PgTx { client: Some(client) })
    }
}

/// A transaction of reads on one connection. Dropped without
/// [`PgTx::commit`], its connection leaves the pool and closes, which rolls
/// the transaction back and releases its locks.
pub struct PgTx {
    client: Option<Object>,
}

impl PgTx {
    pub async fn fetch_rows(&mut self, sql: &str, binds: &[&OwnedValue], out: &mut Rows, json: &(dyn Fn(usize) -> bool + Sync)) -> Result<()> {
        read(self.client.as_ref().expect("open until commit"), sql, binds, out, json).await
    }

    pub async fn commit(mut self) -> Result<()> {
        let client = self.client.take().expect("open until commit");
        client.batch_execute("COMMIT").await.map_err(|e| anyhow::anyhow!(describe(&e)))?;
        Ok(())
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

async fn read(client: &ClientWrapper, sql: &str, binds: &[&OwnedValue], out: &mut Rows, json: &(dyn Fn(usize) -> bool + Sync)) -> Result<()> {
    let types: Vec<Type> = binds.iter().map(|v| param_type(v)).collect();
    let statement = client.prepare_typed_cached(sql, &types).await.map_err(|e| anyhow::anyhow!(describe(&e))).with_context(|| format!("preparing {sql}"))?;
    let columns = statement.columns();
    let oids: Vec<u32> = columns.iter().map(|c| c.type_().oid()).collect();
    let json: Vec<bool> = (0..columns.len()).map(json).collect();
    let rows = client.query_raw(&statement, binds.iter().map(|v| Param(v))).await.map_err(|e| anyhow::anyhow!(describe(&e)))?;
    futures::pin_mut!(rows);
    let mut scratch = String::new();
    while let Some(row) = rows.try_next().await.map_err(|e| anyhow::anyhow!(describe(&e)))? {
        out.begin_row();
        for (i, &oid) in oids.iter().enumerate() {
            let Raw(raw) = row.try_get(i).map_err(|e| anyhow::anyhow!(describe(&e)))?;
            postgres::push(raw, oid, json[i], &mut scratch, out)
                .map_err(|detail| ValueError::new(columns[i].name(), columns[i].type_().name(), detail))?;
        }
    }
    Ok(())
}

/// A column's bytes as sent (binary format), `None` for NULL.
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// The type a parameter is declared with, as sqlx declares it for the same
/// value: PostgreSQL has no unsigned 64-bit type, so one past `i64::MAX`
/// goes as text; dates, times, decimals and JSON go as text the SQL casts.
fn param_type(v: &OwnedValue) -> Type {
    match v {
        OwnedValue::Null | OwnedValue::Int(_) => Type::INT8,
        OwnedValue::Uint(u) if i64::try_from(*u).is_ok() => Type::INT8,
        OwnedValue::Bool(_) => Type::BOOL,
        OwnedValue::Float(_) => Type::FLOAT8,
        OwnedValue::Bytes(_) => Type::BYTEA,
        _ => Type::TEXT,
    }
}

/// A contract value as a parameter of the type [`param_type`] declared.
#[derive(Debug)]
struct Param<'a>(&'a OwnedValue);

impl ToSql for Param<'_> {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            OwnedValue::Null => return Ok(IsNull::Yes),
            OwnedValue::Bool(b) => out.put_u8(u8::from(*b)),
            OwnedValue::Int(i) => out.put_i64(*i),
            OwnedValue::Uint(u) => match i64::try_from(*u) {
                Ok(i) => out.put_i64(i),
                Err(_) => out.put_slice(u.to_string().as_bytes()),
            },
            OwnedValue::Float(x) => out.put_f64(*x),
            OwnedValue::Bytes(b) => out.put_slice(b),
            other => out.put_slice(text(other).as_bytes()),
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_declared_as_sqlx_declares_them() {
        assert_eq!(param_type(&OwnedValue::Int(-3)), Type::INT8);
        assert_eq!(param_type(&OwnedValue::Uint(u64::MAX)), Type::TEXT);
        assert_eq!(param_type(&OwnedValue::Uint(7)), Type::INT8);
        assert_eq!(param_type(&OwnedValue::Text("x".into())), Type::TEXT);
        let mut out = BytesMut::new();
        Param(&OwnedValue::Uint(u64::MAX)).to_sql(&Type::TEXT, &mut out).unwrap();
        assert_eq!(&out[..], b"18446744073709551615");
    }
}
