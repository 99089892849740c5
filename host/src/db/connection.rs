//! A connection pool to one database, by driver (never sqlx's `Any`: it
//! cannot decode DECIMAL, DATETIME, unsigned or JSON), and the one place
//! that dispatches on the driver: statements run with their parameters
//! bound per driver, rows read back as contract values.

use super::bind::{bind_mysql, bind_postgres, bind_postgres_as_text, bind_sqlite, bind_value_mysql, bind_value_postgres_as_text, bind_value_sqlite};
use super::keyset::Dialect;
use super::schema::{self, ColumnInfo};
use super::rows::{Row, Rows};
use super::postgres_reader::{PgReader, PgTx};
use super::{mysql, sqlite};
use anyhow::{Context, Result};
use movex_guest::{OwnedValue, Value};
use sqlx::Row as _;
use std::time::Duration;

/// A pool for one database, by driver. PostgreSQL has two: sqlx for writes,
/// schemas and transactions, and [`PgReader`] for reading rows.
#[derive(Clone, Debug)]
pub enum Db {
    MySql(sqlx::MySqlPool),
    Postgres(sqlx::PgPool, PgReader),
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
            Dialect::Postgres => Db::Postgres(
                pool!(sqlx::postgres::PgPoolOptions),
                PgReader::lazy(url, max_connections, connect_timeout).map_err(|e| anyhow::anyhow!("[{what}] url {}: {e}", redact(url)))?,
            ),
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
            Db::Postgres(p, _) => sqlx::query("SELECT 1").execute(p).await.map(drop),
            Db::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Db::MySql(_) => Dialect::MySql,
            Db::Postgres(..) => Dialect::Postgres,
            Db::Sqlite(_) => Dialect::Sqlite,
        }
    }
}

/// How to read each column of a result as a contract value.
#[derive(Clone, Copy, Debug)]
pub enum Decode<'a> {
    /// By the result's own column types: without a table's schema at hand,
    /// a MySQL string column holds bytes when its type says BINARY or BLOB.
    ByType,
    /// By the table's columns, in the order selected: which MySQL strings
    /// hold bytes, which texts hold JSON.
    Columns(&'a [ColumnInfo]),
}

impl Decode<'_> {
    fn binary(&self, r: &sqlx::mysql::MySqlRow, i: usize) -> bool {
        match self {
            Decode::Columns(info) => info[i].binary,
            Decode::ByType => {
                use sqlx::{Column, TypeInfo};
                let t = r.columns()[i].type_info().name().to_ascii_uppercase();
                t.contains("BINARY") || t.contains("BLOB")
            }
        }
    }

    /// Whether column `i`'s texts hold JSON.
    fn json(&self, i: usize) -> bool {
        matches!(self, Decode::Columns(info) if info[i].json)
    }

    fn finish<'v>(&self, i: usize, v: Value<'v>) -> Value<'v> {
        match v {
            Value::Text(s) if self.json(i) => Value::Json(s),
            v => v,
        }
    }
}

/// How parameters reach PostgreSQL: typed, or as text that the SQL casts to
/// each column's type (writes built from another database's values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Params {
    Typed,
    Text,
}

/// What a write did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Executed {
    pub rows_affected: u64,
    /// MySQL's last insert id, SQLite's last rowid; none on PostgreSQL.
    pub last_insert_id: Option<u64>,
}

/// Bind `$binds` to `$sql` with the driver's binder, then `$run` the query
/// on `$on`.
macro_rules! query {
    ($sql:expr, $binds:expr, $bind:expr, |$q:ident| $run:expr) => {{
        let mut $q = sqlx::query($sql);
        for v in $binds {
            $q = $bind($q, v);
        }
        $run
    }};
}

fn mysql_executed(r: sqlx::mysql::MySqlQueryResult) -> Executed {
    Executed { rows_affected: r.rows_affected(), last_insert_id: Some(r.last_insert_id()).filter(|&i| i != 0) }
}

fn postgres_executed(r: sqlx::postgres::PgQueryResult) -> Executed {
    Executed { rows_affected: r.rows_affected(), last_insert_id: None }
}

fn sqlite_executed(r: sqlx::sqlite::SqliteQueryResult) -> Executed {
    Executed { rows_affected: r.rows_affected(), last_insert_id: u64::try_from(r.last_insert_rowid()).ok().filter(|&i| i != 0) }
}


type RowStream<'e, R> = futures::stream::BoxStream<'e, Result<R, sqlx::Error>>;

/// MySQL rows as they stream in, into `out`.
async fn read_mysql(mut stream: RowStream<'_, sqlx::mysql::MySqlRow>, decode: Decode<'_>, out: &mut Rows) -> Result<()> {
    use futures::TryStreamExt;
    // How to read each column, from the first row's types.
    let mut wires: Vec<mysql::Wire> = Vec::new();
    while let Some(r) = stream.try_next().await? {
        if wires.is_empty() {
            wires = (0..r.len()).map(|i| mysql::wire(&r, i, decode.binary(&r, i))).collect();
        }
        out.begin_row();
        for (i, &wire) in wires.iter().enumerate() {
            out.push_value(&decode.finish(i, mysql::value_ref(&r, i, wire)?));
        }
    }
    Ok(())
}

/// SQLite rows as they stream in, into `out`.
async fn read_sqlite(mut stream: RowStream<'_, sqlx::sqlite::SqliteRow>, decode: Decode<'_>, out: &mut Rows) -> Result<()> {
    use futures::TryStreamExt;
    while let Some(r) = stream.try_next().await? {
        out.begin_row();
        for i in 0..r.len() {
            out.push_value(&decode.finish(i, sqlite::value_ref(&r, i)?));
        }
    }
    Ok(())
}

impl Db {
    /// Run a statement with parameters on its own (autocommit).
    pub async fn execute(&self, sql: &str, binds: &[&OwnedValue], params: Params) -> Result<Executed, sqlx::Error> {
        Ok(match self {
            Db::MySql(p) => mysql_executed(query!(sql, binds.iter().copied(), bind_mysql, |q| q.execute(p).await?)),
            Db::Postgres(p, _) if params == Params::Text => postgres_executed(query!(sql, binds.iter().copied(), bind_postgres_as_text, |q| q.execute(p).await?)),
            Db::Postgres(p, _) => postgres_executed(query!(sql, binds.iter().copied(), bind_postgres, |q| q.execute(p).await?)),
            Db::Sqlite(p) => sqlite_executed(query!(sql, binds.iter().copied(), bind_sqlite, |q| q.execute(p).await?)),
        })
    }

    /// Read rows with parameters, each decoded into contract values.
    pub async fn fetch(&self, sql: &str, binds: &[&OwnedValue], decode: Decode<'_>) -> Result<Vec<Row>> {
        Ok(self.fetch_rows(sql, binds, decode).await?.to_rows())
    }

    /// Read rows with parameters into one page of encoded rows, as they
    /// stream in: each value goes from the driver's buffer into the page,
    /// with nothing owned per value or per row. Every reader of table rows
    /// (validation, repair, [`Db::fetch`]) comes through here.
    pub async fn fetch_rows(&self, sql: &str, binds: &[&OwnedValue], decode: Decode<'_>) -> Result<Rows> {
        let mut out = Rows::default();
        self.fetch_rows_into(sql, binds, decode, &mut out).await?;
        Ok(out)
    }

    /// [`Db::fetch_rows`] into `out` (cleared first), reusing its buffers.
    pub async fn fetch_rows_into(&self, sql: &str, binds: &[&OwnedValue], decode: Decode<'_>, out: &mut Rows) -> Result<()> {
        out.clear();
        match self {
            Db::MySql(p) => query!(sql, binds.iter().copied(), bind_mysql, |q| read_mysql(q.fetch(p), decode, out).await?),
            Db::Postgres(_, reader) => reader.fetch_rows(sql, binds, out, &|i| decode.json(i)).await?,
            Db::Sqlite(p) => query!(sql, binds.iter().copied(), bind_sqlite, |q| read_sqlite(q.fetch(p), decode, out).await?),
        }
        Ok(())
    }

    /// Open a transaction whose reads hold their locks (`FOR SHARE`, `LOCK
    /// IN SHARE MODE`) until [`ReadTx::commit`]. On SQLite it takes the
    /// write lock at once (`BEGIN IMMEDIATE`): SQLite locks the whole file.
    pub async fn begin_read(&self) -> Result<ReadTx> {
        Ok(match self {
            Db::MySql(p) => ReadTx::MySql(p.begin().await?),
            Db::Postgres(_, reader) => ReadTx::Postgres(reader.begin().await?),
            Db::Sqlite(p) => ReadTx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// The columns of `table`, in table order. Fails naming the table when
    /// it does not exist.
    pub async fn columns(&self, table: &str) -> Result<Vec<ColumnInfo>> {
        let cols = match self {
            Db::MySql(pool) => schema::mysql(pool, table).await,
            Db::Postgres(pool, _) => schema::postgres(pool, table).await,
            Db::Sqlite(pool) => schema::sqlite(pool, table).await,
        }?;
        if cols.is_empty() {
            anyhow::bail!("table {table:?} not found (check the table's `name`, `source_name` or `destination_name`)");
        }
        Ok(cols)
    }

    /// Open a transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::MySql(p) => Tx::MySql(p.begin().await?),
            Db::Postgres(p, _) => Tx::Postgres(p.begin().await?),
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
        })
    }
}

/// A transaction of locking reads on one database ([`Db::begin_read`]).
pub enum ReadTx {
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
    Postgres(PgTx),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl ReadTx {
    /// As [`Db::fetch_rows`], inside the transaction.
    pub async fn fetch_rows(&mut self, sql: &str, binds: &[&OwnedValue], decode: Decode<'_>) -> Result<Rows> {
        let mut out = Rows::default();
        match self {
            ReadTx::MySql(t) => query!(sql, binds.iter().copied(), bind_mysql, |q| read_mysql(q.fetch(&mut **t), decode, &mut out).await?),
            ReadTx::Postgres(t) => t.fetch_rows(sql, binds, &mut out, &|i| decode.json(i)).await?,
            ReadTx::Sqlite(t) => query!(sql, binds.iter().copied(), bind_sqlite, |q| read_sqlite(q.fetch(&mut **t), decode, &mut out).await?),
        }
        Ok(out)
    }

    /// End the transaction, releasing its locks.
    pub async fn commit(self) -> Result<()> {
        match self {
            ReadTx::MySql(t) => t.commit().await?,
            ReadTx::Postgres(t) => t.commit().await?,
            ReadTx::Sqlite(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// An open transaction on one database.
pub enum Tx {
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl Tx {
    pub async fn execute(&mut self, sql: &str, binds: &[&OwnedValue]) -> Result<Executed, sqlx::Error> {
        Ok(match self {
            Tx::MySql(t) => mysql_executed(query!(sql, binds.iter().copied(), bind_mysql, |q| q.execute(&mut **t).await?)),
            Tx::Postgres(t) => postgres_executed(query!(sql, binds.iter().copied(), bind_postgres, |q| q.execute(&mut **t).await?)),
            Tx::Sqlite(t) => sqlite_executed(query!(sql, binds.iter().copied(), bind_sqlite, |q| q.execute(&mut **t).await?)),
        })
    }

    /// Run `sql` with borrowed `values` (a page's, to copy rows). On
    /// PostgreSQL every value goes as text, for SQL that casts each to its
    /// column's type.
    pub async fn execute_values(&mut self, sql: &str, values: &[Value<'_>]) -> Result<Executed, sqlx::Error> {
        Ok(match self {
            Tx::MySql(t) => mysql_executed(query!(sql, values, bind_value_mysql, |q| q.execute(&mut **t).await?)),
            Tx::Postgres(t) => postgres_executed(query!(sql, values, bind_value_postgres_as_text, |q| q.execute(&mut **t).await?)),
            Tx::Sqlite(t) => sqlite_executed(query!(sql, values, bind_value_sqlite, |q| q.execute(&mut **t).await?)),
        })
    }

    /// PostgreSQL: `COPY ... FROM STDIN` (`sql`) of `data` in text format,
    /// under a savepoint. Whether the rows went in: `false` when one of them
    /// was already there (a unique violation), in which case the savepoint
    /// is rolled back and nothing of `data` is written.
    pub async fn copy_in_unless_duplicate(&mut self, sql: &str, data: &[u8]) -> Result<bool, sqlx::Error> {
        let Tx::Postgres(t) = self else {
            return Err(sqlx::Error::Protocol("COPY is for PostgreSQL".into()));
        };
        sqlx::query("SAVEPOINT movex_copy").execute(&mut **t).await?;
        let copied = async {
            let mut copy = t.copy_in_raw(sql).await?;
            copy.send(data).await?;
            copy.finish().await
        }
        .await;
        match copied {
            Ok(_) => {
                sqlx::query("RELEASE SAVEPOINT movex_copy").execute(&mut **t).await?;
                Ok(true)
            }
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {
                sqlx::query("ROLLBACK TO SAVEPOINT movex_copy").execute(&mut **t).await?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// PostgreSQL: run `sql` with one `text[]` parameter per column (an
    /// `INSERT ... SELECT FROM UNNEST(...)` that casts each array to its
    /// column's type): one short statement for any number of rows.
    pub async fn execute_text_arrays(&mut self, sql: &str, columns: Vec<Vec<Option<String>>>) -> Result<Executed, sqlx::Error> {
        let Tx::Postgres(t) = self else {
            return Err(sqlx::Error::Protocol("text arrays are for PostgreSQL".into()));
        };
        let mut q = sqlx::query(sql);
        for c in columns {
            q = q.bind(c);
        }
        Ok(postgres_executed(q.execute(&mut **t).await?))
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::MySql(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
            Tx::Sqlite(t) => t.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::MySql(t) => t.rollback().await,
            Tx::Postgres(t) => t.rollback().await,
            Tx::Sqlite(t) => t.rollback().await,
        }
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
