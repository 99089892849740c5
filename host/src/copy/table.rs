//! One table's copy: its plan (the source's columns, all of them on the
//! destination, key first) and the loop over its chunks.
//!
//! A chunk is read from the source in key order with a locking read (`LOCK
//! IN SHARE MODE` on MySQL/MariaDB, `FOR SHARE` on PostgreSQL, the file's
//! write lock on SQLite), inserted into the destination where absent in one
//! transaction, and only once that transaction has committed is the
//! source's lock released. So no application write can change a row of the
//! chunk on the source between the copy's read and its write: a
//! double-write of such a row waits on the source and reaches the
//! destination after the copy's row, on top of it. `docs/design/copy.md`
//! has the whole argument and the window that remains.

use super::insert::{copy_in, insert_absent, insert_absent_unnest, push_copy_text, rows_per_statement};
use super::status::{Board, TableState};
use super::throttle::Throttle;
use crate::config::{self, ZeroDates};
use crate::db::keyset::{Dialect, OrderCol, Scan};
use crate::db::schema::ColumnInfo;
use crate::db::bind::postgres_text;
use crate::db::connection::{ReadTx, Tx};
use crate::db::{Db, Decode, RowRef, Rows, key, retry};
use crate::store::Store;
use anyhow::{Context, Result, bail};
use movex_guest::{Date, Kind, OwnedValue, Value};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// A table ready to copy.
#[derive(Clone, Debug)]
pub struct TablePlan {
    /// The configured table's name (what the state store keys it by).
    pub name: String,
    pub source_table: String,
    pub destination_table: String,
    /// The source's columns, key first, as selected.
    pub source_cols: Vec<ColumnInfo>,
    /// The same columns on the destination, in the same order.
    pub destination_cols: Vec<ColumnInfo>,
    pub key_len: usize,
    /// Rows the source holds, by its statistics (0: unknown).
    pub estimated_rows: u64,
    /// `--create-tables` and the destination has no such table: the DDL
    /// that makes it (run before the copy; printed by `--dry-run`). Until
    /// then `destination_cols` are the source's.
    pub create: Option<String>,
}

impl TablePlan {
    /// Plan the copy of `t`: every source column must be on the
    /// destination (a copy that dropped one would lose data), and so must
    /// the key.
    pub async fn new(source: &Db, destination: &Db, t: &config::Table, create_tables: bool) -> Result<TablePlan> {
        let src = source.columns(t.source_table()).await.with_context(|| format!("table {:?} on the source", t.name))?;
        let (dst, missing) = match destination.columns(t.destination_table()).await {
            Ok(cols) => (cols, false),
            Err(_) if create_tables => (src.clone(), true),
            Err(_) => {
                return Err(super::Refused(format!(
                    "table {:?}: the destination has no table {:?}; create it first (same columns and key), or pass --create-tables",
                    t.name,
                    t.destination_table()
                ))
                .into());
            }
        };
        let on_dst = |n: &str| dst.iter().find(|c| c.name == n).cloned();
        let mut names: Vec<String> = t.key.clone();
        names.extend(src.iter().map(|c| c.name.clone()).filter(|n| !t.key.contains(n)));
        let mut source_cols = Vec::new();
        let mut destination_cols = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let what = if i < t.key.len() { "key column" } else { "column" };
            let s = src.iter().find(|c| &c.name == n).cloned().with_context(|| format!("table {:?}: {what} {n:?} is not on the source", t.name))?;
            let d = on_dst(n).ok_or_else(|| super::Refused(format!("table {:?}: {what} {n:?} is on the source but not on the destination; add it there first", t.name)))?;
            source_cols.push(s);
            destination_cols.push(d);
        }
        let estimated_rows = estimate_rows(source, t.source_table()).await;
        let create = match missing {
            true => Some(super::ddl::create_table(source.dialect(), destination.dialect(), t.destination_table(), &source_cols, t.key.len()).with_context(|| format!("table {:?}", t.name))?),
            false => None,
        };
        Ok(TablePlan {
            create,
            name: t.name.clone(),
            source_table: t.source_table().to_owned(),
            destination_table: t.destination_table().to_owned(),
            source_cols,
            destination_cols,
            key_len: t.key.len(),
            estimated_rows,
        })
    }

    /// The query for the chunk after `after` (from the first key without),
    /// in the source's own key order, taking share locks on what it reads.
    pub fn chunk_sql(&self, dialect: Dialect, after: bool, limit: u64) -> (String, Vec<usize>) {
        let order: Vec<OrderCol> = self.source_cols[..self.key_len].iter().map(|c| OrderCol { collate: None, ..c.order_col(dialect) }).collect();
        let select: Vec<String> = self.source_cols.iter().map(|c| c.name.clone()).collect();
        let page = Scan { dialect, table: &self.source_table, columns: &select, order: &order, limit }.page(after, false);
        let lock = match dialect {
            Dialect::MySql => " LOCK IN SHARE MODE",
            Dialect::Postgres => " FOR SHARE",
            Dialect::Sqlite => "",
        };
        (format!("{}{lock}", page.sql), page.binds)
    }
}

/// Roughly how many rows `table` has, from the database's statistics.
async fn estimate_rows(db: &Db, table: &str) -> u64 {
    let side = crate::validate::side::Side::new(db.clone(), "source", table.to_owned(), Vec::new(), 0, None);
    side.estimate_rows().await
}

/// Everything one table's copy needs.
pub struct TableCopy<'a> {
    pub plan: &'a TablePlan,
    pub source: &'a Db,
    pub destination: &'a Db,
    pub store: &'a Store,
    pub config: &'a config::Copy,
    pub board: &'a Board,
    pub cancel: &'a CancellationToken,
}

/// How one table's copy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Done,
    Cancelled,
}

impl TableCopy<'_> {
    /// Copy from the checkpoint (or the first key) to the end.
    pub async fn run(&self) -> Result<Ended> {
        let plan = self.plan;
        let (sd, dd) = (self.source.dialect(), self.destination.dialect());
        let resumed = self.store.copy_progress(&plan.name).await?;
        let last: Option<key::Key> = match resumed.as_ref().and_then(|p| p.last_key.as_ref()) {
            Some(j) => Some(key::decode(j).with_context(|| format!("table {:?}: the checkpoint's key {j} cannot be read; rerun with --restart", plan.name))?),
            None => None,
        };
        let mut copied = resumed.as_ref().map_or(0, |p| p.rows_copied);
        self.store.copy_started(&plan.name).await?;
        self.board.start(&plan.name, copied, plan.estimated_rows, last.as_ref().map(|k| key::key_json(k)));
        let per_statement = rows_per_statement(plan.destination_cols.len());
        let mut throttle = Throttle::new(self.config.max_rows_per_sec, self.config.max_latency_ms);
        let limit = self.config.chunk_size;
        // The next chunk is read (and locked) while this one is written: the
        // two databases work at once. Each chunk's locks are still held
        // until its own rows have committed on the destination.
        let mut next = Some(self.read_retrying(sd, last.as_ref(), limit).await?);
        while let Some((lock, rows, read)) = next.take() {
            if self.cancel.is_cancelled() {
                return Ok(Ended::Cancelled);
            }
            if rows.is_empty() {
                lock.commit().await?;
                break;
            }
            let tail = rows.last().expect("not empty").key(plan.key_len);
            let full = rows.len() as u64 == limit;
            let t1 = Instant::now();
            // SQLite locks the whole file: its next chunk waits for this one.
            let read_ahead = full && sd != Dialect::Sqlite;
            let (wrote, ahead) = tokio::join!(self.retrying(|| self.write(&rows, dd, per_statement)), async {
                match read_ahead {
                    true => Some(self.read_retrying(sd, Some(&tail), limit).await),
                    false => None,
                }
            });
            wrote?;
            let wrote = t1.elapsed();
            // Only now may the application change these rows on the source.
            lock.commit().await.with_context(|| format!("table {:?}: releasing the chunk's locks on the source", plan.name))?;
            next = match ahead {
                Some(read) => Some(read?),
                None if full => Some(self.read_retrying(sd, Some(&tail), limit).await?),
                None => None,
            };
            copied += rows.len() as u64;
            self.store.copy_checkpoint(&plan.name, &key::encode(&tail), copied).await?;
            self.board.advance(&plan.name, rows.len() as u64, key::key_json(&tail));
            let wait = throttle.after(rows.len() as u64, read.max(wrote));
            self.board.throttled(&plan.name, throttle.reason());
            if !wait.is_zero() {
                // No lock is held through a pause: a chunk read ahead is
                // let go, and read again once the pause is over.
                let read_again = match next.take() {
                    Some((early, _, _)) => {
                        early.commit().await?;
                        true
                    }
                    None => false,
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.cancel.cancelled() => return Ok(Ended::Cancelled),
                }
                if read_again {
                    next = Some(self.read_retrying(sd, Some(&tail), limit).await?);
                }
            }
        }
        self.store.copy_ended(&plan.name, None).await?;
        self.board.finish(&plan.name, TableState::Done, None);
        Ok(Ended::Done)
    }

    /// [`TableCopy::read`], tried again while it fails without having run.
    async fn read_retrying(&self, dialect: Dialect, after: Option<&key::Key>, limit: u64) -> Result<(ReadTx, Rows, std::time::Duration)> {
        self.retrying(|| self.read(dialect, after, limit)).await
    }

    /// `op` again while it fails with an error that means it did not run (a
    /// lock wait timeout, a deadlock, SQLite's busy file), up to `[copy]
    /// retry_attempts` times, waiting 100 ms longer each time (at most 2 s).
    /// A chunk's write inserts only the rows the destination lacks, in one
    /// transaction, and a failed read keeps no lock: both may run again.
    async fn retrying<T, F: Future<Output = Result<T>>>(&self, mut op: impl FnMut() -> F) -> Result<T> {
        let mut attempt = 0;
        loop {
            match op().await {
                Err(e) if attempt < self.config.retry_attempts && retry::is_transient_chain(&e) => {
                    attempt += 1;
                    tracing::warn!(table = %self.plan.name, attempt, "{e:#}; trying the chunk again");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)).min(std::time::Duration::from_secs(2))).await;
                }
                r => return r,
            }
        }
    }

    /// The chunk after `after` (from the first key without), read under the
    /// share locks of the transaction returned with it; and how long it took.
    async fn read(&self, dialect: Dialect, after: Option<&key::Key>, limit: u64) -> Result<(ReadTx, Rows, std::time::Duration)> {
        let plan = self.plan;
        let (sql, binds) = plan.chunk_sql(dialect, after.is_some(), limit);
        let bind_values: Vec<&OwnedValue> = after.map(|k| binds.iter().map(|&i| &k[i]).collect()).unwrap_or_default();
        let t0 = Instant::now();
        let mut lock = self.source.begin_read().await.with_context(|| format!("table {:?}: opening a transaction on the source", plan.name))?;
        let rows = lock
            .fetch_rows(&sql, &bind_values, Decode::Columns(&plan.source_cols))
            .await
            .with_context(|| format!("table {:?}: reading a chunk from the source", plan.name))?;
        Ok((lock, rows, t0.elapsed()))
    }

    /// Insert the chunk's rows the destination lacks, in one transaction.
    async fn write(&self, rows: &Rows, dialect: Dialect, per_statement: usize) -> Result<()> {
        let what = || format!("table {:?}: writing a chunk to the destination", self.plan.name);
        let mut tx = self.destination.begin().await.with_context(what)?;
        match dialect {
            Dialect::Postgres => self.write_postgres(&mut tx, rows).await,
            _ => self.write_values(&mut tx, rows, dialect, per_statement).await,
        }
        .with_context(what)?;
        tx.commit().await.with_context(what)?;
        Ok(())
    }

    /// PostgreSQL: the chunk by `COPY`, or, when a row of it is already
    /// there, by `INSERT ... UNNEST ... ON CONFLICT DO NOTHING`.
    async fn write_postgres(&self, tx: &mut Tx, rows: &Rows) -> Result<()> {
        let (plan, dialect) = (self.plan, Dialect::Postgres);
        let mut data = Vec::with_capacity(rows.len() * 128);
        for row in rows.iter() {
            for (i, v) in row.values().enumerate() {
                if i > 0 {
                    data.push(b'\t');
                }
                push_copy_text(&mut data, postgres_text(&self.convert(v, i, dialect, row)?).as_deref());
            }
            data.push(b'\n');
        }
        let copy = copy_in(&plan.destination_table, &plan.destination_cols);
        if tx.copy_in_unless_duplicate(&copy, &data).await? {
            return Ok(());
        }
        let mut columns: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(rows.len()); plan.destination_cols.len()];
        for row in rows.iter() {
            for (i, v) in row.values().enumerate() {
                columns[i].push(postgres_text(&self.convert(v, i, dialect, row)?).map(|t| t.into_owned()));
            }
        }
        let sql = insert_absent_unnest(&plan.destination_table, &plan.destination_cols);
        tx.execute_text_arrays(&sql, columns).await?;
        Ok(())
    }

    /// MySQL/MariaDB and SQLite: multi-row inserts of absent rows, as many
    /// rows per statement as the parameter limit allows.
    async fn write_values(&self, tx: &mut Tx, rows: &Rows, dialect: Dialect, per_statement: usize) -> Result<()> {
        let plan = self.plan;
        let width = plan.destination_cols.len();
        let mut values: Vec<Value<'_>> = Vec::with_capacity(per_statement.min(rows.len()) * width);
        let mut statement = String::new();
        let mut statement_rows = 0;
        for (n, row) in rows.iter().enumerate() {
            for (i, v) in row.values().enumerate() {
                values.push(self.convert(v, i, dialect, row)?);
            }
            let in_batch = values.len() / width;
            if in_batch == per_statement || n + 1 == rows.len() {
                if statement_rows != in_batch {
                    statement = insert_absent(dialect, &plan.destination_table, &plan.destination_cols, plan.key_len, in_batch);
                    statement_rows = in_batch;
                }
                tx.execute_values(&statement, &values).await?;
                values.clear();
            }
        }
        Ok(())
    }

    /// A value as the destination can take it: MySQL's zero dates have no
    /// PostgreSQL equivalent (refused, or NULL by `[copy] zero_dates`).
    fn convert<'v>(&self, v: Value<'v>, column: usize, dialect: Dialect, row: RowRef<'_>) -> Result<Value<'v>> {
        let zero_date = |d: Date| !d.is_calendar_day() && d != Date::INFINITY && d != Date::NEG_INFINITY;
        let zero = match v {
            Value::Date(d) => zero_date(d),
            Value::Timestamp(t) => zero_date(t.date),
            _ => false,
        };
        if !zero || dialect != Dialect::Postgres {
            return Ok(v);
        }
        let col = &self.plan.source_cols[column];
        match self.config.zero_dates {
            ZeroDates::Null => Ok(Value::Null),
            ZeroDates::Refuse => bail!(
                "table {:?} column {:?} key {}: {v} is a MySQL zero date, which PostgreSQL cannot hold; \
                 fix it on the source, or set [copy] zero_dates = \"null\" to write NULL",
                self.plan.name,
                col.name,
                key::key_json(&row.key(self.plan.key_len))
            ),
        }
    }
}

/// The kinds a key may have (`key::is_key_kind`): checked before copying so
/// a bad key fails at once, naming the column.
pub fn check_key(plan: &TablePlan) -> Result<()> {
    for c in &plan.source_cols[..plan.key_len] {
        if matches!(c.kind, Kind::Float | Kind::Json) {
            let why = format!("table {:?}: key column {:?} is {:?}; a copy pages by an exact key (integer, decimal, text, bytes, date or time)", plan.name, c.name, c.kind);
            return Err(super::Refused(why).into());
        }
    }
    Ok(())
}
