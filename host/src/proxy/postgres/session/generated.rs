//! Values each side would make differently — sequences and identity
//! columns, `now()`, `random()`, `gen_random_uuid()` — taken from the
//! primary for the secondary.
//!
//! An INSERT or UPDATE that calls such a function, or an INSERT into a
//! table with such a default (`serial`, `GENERATED ... AS IDENTITY`,
//! `DEFAULT now()`), runs on the primary with `RETURNING *` added (after
//! the client's own RETURNING list, if it has one). The rows it returns are
//! the row images: the columns movex added are taken out of what the
//! client gets (its RowDescription and DataRows), and the secondary is
//! sent the rows themselves, as literals:
//!
//! - INSERT: `INSERT INTO t (every column) OVERRIDING SYSTEM VALUE VALUES ...`;
//! - UPDATE, and INSERT ... ON CONFLICT: the same, `ON CONFLICT (primary
//!   key) DO UPDATE SET` every column (tables without a primary key are
//!   sent the client's statement: not covered);
//! - a sequence behind a column is advanced on the secondary past the
//!   values written (`setval`, never backwards), so the destination
//!   generates new values once it is the primary.
//!
//! COPY FROM STDIN into a table with such defaults has no RETURNING: the
//! secondary makes its own values, and the COPY is journaled so `movex
//! repair` re-checks the table and settles it from the primary.
//!
//! Not covered, sent as written: several statements in one Query string,
//! `INSERT ... SELECT` of volatile values from another table's default,
//! a client asking binary results of such a statement with its own
//! RETURNING, DELETE ... RETURNING (nothing to generate), and a sequence
//! advanced by `SELECT nextval()` alone (a write: sent to both sides, where
//! each advances its own).

use super::{Session, ix};
use crate::pool::SideName;
use crate::proxy::postgres::route::{Class, Verb};
use crate::proxy::postgres::wire::Frame;
use anyhow::Result;
use bytes::{Buf, BufMut, BytesMut};
use pgwire::messages::data::RowDescription;
use std::collections::HashMap;
use std::sync::Arc;

/// What the catalog says of a table.
#[derive(Debug)]
pub(super) struct Table {
    /// Its columns in order, with whether each is generated (STORED:
    /// never written) and the sequence behind it, if any.
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    /// A default each side would make differently.
    pub volatile_default: bool,
}

#[derive(Debug)]
pub(super) struct Column {
    pub name: String,
    pub generated: bool,
    /// An identity column (never updated by an upsert: `ALWAYS` ones cannot be).
    pub identity: bool,
    pub sequence: Option<String>,
}

/// A statement whose generated values are taken from the primary.
#[derive(Debug)]
pub(super) struct Gen {
    /// The table as written in the statement.
    pub table: String,
    pub info: Arc<Table>,
    pub verb: Verb,
    pub on_conflict: bool,
    pub client_returning: bool,
}

impl Gen {
    /// The statement as the primary runs it: `RETURNING *` added.
    pub fn primary_sql(&self, sql: &str) -> String {
        let s = sql.trim_end().trim_end_matches(';').trim_end();
        if self.client_returning { format!("{s}, *") } else { format!("{s} RETURNING *") }
    }
}

/// What the session has read of tables (by the name as written).
#[derive(Default)]
pub(super) struct Catalog {
    tables: HashMap<String, Option<Arc<Table>>>,
}

/// How a primary's answer is filtered, per message it answers.
#[derive(Debug)]
pub(super) enum Unit {
    Keep,
    /// A Describe of a rewritten statement or portal.
    Describe(Arc<Gen>),
    /// An Execute (or a Query) of one: its rows kept in `Filter::runs[i]`.
    Exec(usize),
}

/// The rows a rewritten statement returned on the primary.
#[derive(Debug)]
pub(super) struct Run {
    pub generates: Arc<Gen>,
    pub rows: Vec<Vec<Option<Vec<u8>>>>,
}

/// The primary's answer filtered: movex's columns taken out, the rows kept.
#[derive(Default, Debug)]
pub(super) struct Filter {
    pub units: std::collections::VecDeque<Unit>,
    pub runs: Vec<Run>,
    failed: bool,
}

/// What becomes of one of the primary's messages.
pub(super) enum Pass {
    Relay,
    Drop,
    Instead(Frame),
}

/// A DataRow's values.
pub(super) fn values(f: &Frame) -> Vec<Option<Vec<u8>>> {
    let mut b = f.body();
    if b.len() < 2 {
        return Vec::new();
    }
    let n = b.get_i16().max(0) as usize;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        if b.len() < 4 {
            break;
        }
        let len = b.get_i32();
        if len < 0 {
            out.push(None);
        } else {
            let len = (len as usize).min(b.len());
            out.push(Some(b[..len].to_vec()));
            b.advance(len);
        }
    }
    out
}

fn data_row(vals: &[Option<Vec<u8>>]) -> Frame {
    let mut body = BytesMut::new();
    body.put_i16(vals.len() as i16);
    for v in vals {
        match v {
            None => body.put_i32(-1),
            Some(v) => {
                body.put_i32(v.len() as i32);
                body.put_slice(v);
            }
        }
    }
    let mut raw = BytesMut::with_capacity(body.len() + 5);
    raw.put_u8(b'D');
    raw.put_u32(body.len() as u32 + 4);
    raw.put_slice(&body);
    Frame { tag: b'D', raw: raw.freeze() }
}

/// The client's columns of a RowDescription (movex's taken out); `None`
/// when the client asked for none (its statement has no RETURNING).
fn client_columns(f: &Frame, g: &Gen) -> Option<Frame> {
    let mut rd: RowDescription = f.decode().ok()?;
    let n = rd.fields.len().saturating_sub(g.info.columns.len());
    if n == 0 || !g.client_returning {
        return None;
    }
    rd.fields.truncate(n);
    Some(Frame::of(&rd))
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.units.iter().all(|u| matches!(u, Unit::Keep))
    }

    /// One of the primary's messages, in order.
    pub fn on(&mut self, f: &Frame) -> Pass {
        if self.failed || matches!(f.tag, b'N' | b'S' | b'A' | b'Z') {
            return Pass::Relay;
        }
        if f.tag == b'E' {
            self.failed = true;
            return Pass::Relay;
        }
        let final_ = matches!(f.tag, b'1' | b'2' | b'3' | b'T' | b'n' | b'C' | b'I' | b's');
        let pass = match self.units.front() {
            Some(Unit::Describe(g)) if f.tag == b'T' => match client_columns(f, g) {
                Some(t) => Pass::Instead(t),
                None => Pass::Instead(Frame { tag: b'n', raw: bytes::Bytes::from_static(&[b'n', 0, 0, 0, 4]) }),
            },
            Some(Unit::Exec(i)) => {
                let run = &mut self.runs[*i];
                match f.tag {
                    b'T' => {
                        match client_columns(f, &run.generates) {
                            Some(t) => Pass::Instead(t),
                            None => Pass::Drop,
                        }
                    }
                    b'D' => {
                        let vals = values(f);
                        let n = vals.len().saturating_sub(run.generates.info.columns.len());
                        let client = (run.generates.client_returning && n > 0).then(|| data_row(&vals[..n]));
                        run.rows.push(vals);
                        client.map_or(Pass::Drop, Pass::Instead)
                    }
                    _ => Pass::Relay,
                }
            }
            _ => Pass::Relay,
        };
        // A Describe's 'T' or 'n' ends it; an Execute ends at its tag
        // (its RowDescription, in a Query, does not).
        let ends = match self.units.front() {
            Some(Unit::Exec(_)) => matches!(f.tag, b'C' | b'I' | b's'),
            _ => final_,
        };
        if ends {
            self.units.pop_front();
        }
        pass
    }
}

/// `v` as an SQL literal (a string the column's type reads).
fn literal(v: &Option<Vec<u8>>) -> String {
    match v {
        None => "NULL".into(),
        Some(b) => format!("'{}'", String::from_utf8_lossy(b).replace('\'', "''")),
    }
}

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The secondary's statement for a run: its rows written as they are on
/// the primary (module header).
pub(super) fn image_sql(run: &Run) -> String {
    let g = &run.generates;
    if run.rows.is_empty() {
        return "SELECT 0 WHERE false".into();
    }
    // The table's columns are the last of those returned.
    let skip = run.rows[0].len().saturating_sub(g.info.columns.len());
    let cols: Vec<(usize, &Column)> = g.info.columns.iter().enumerate().filter(|(_, c)| !c.generated).map(|(i, c)| (skip + i, c)).collect();
    let names: Vec<String> = cols.iter().map(|(_, c)| ident(&c.name)).collect();
    let rows: Vec<String> = run.rows.iter().map(|r| format!("({})", cols.iter().map(|(i, _)| literal(r.get(*i).unwrap_or(&None))).collect::<Vec<_>>().join(", "))).collect();
    let mut sql = format!("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES {}", g.table, names.join(", "), rows.join(", "));
    if g.verb == Verb::Update || g.on_conflict {
        let pk: Vec<String> = g.info.primary_key.iter().map(|c| ident(c)).collect();
        let set: Vec<String> = cols.iter().filter(|(_, c)| !c.identity).map(|(_, c)| ident(&c.name)).filter(|n| !pk.contains(n)).map(|n| format!("{n} = EXCLUDED.{n}")).collect();
        let action = if set.is_empty() { "NOTHING".into() } else { format!("UPDATE SET {}", set.join(", ")) };
        sql.push_str(&format!(" ON CONFLICT ({}) DO {action}", pk.join(", ")));
    }
    let seqs: Vec<(usize, &str)> = cols.iter().filter_map(|(i, c)| c.sequence.as_deref().map(|s| (*i, s))).collect();
    if seqs.is_empty() {
        return sql;
    }
    // Advance each sequence past the values written, never backwards; the
    // statement still reports the rows written (SELECT n).
    let keys: Vec<String> = cols.iter().filter(|(_, c)| c.sequence.is_some()).map(|(_, c)| ident(&c.name)).collect();
    let mut s = format!("WITH movex_rows AS ({sql} RETURNING {})", keys.join(", "));
    for (k, (_, seq)) in seqs.iter().enumerate() {
        // pg_get_serial_sequence's name is quoted as SQL needs it.
        let lit = literal(&Some(seq.as_bytes().to_vec()));
        s.push_str(&format!(
            ", movex_seq{k} AS (SELECT setval({lit}::regclass, v) FROM (SELECT max({}::bigint) AS v FROM movex_rows) m WHERE v >= (SELECT last_value FROM {seq}))",
            keys[k]
        ));
    }
    let joins: Vec<String> = (0..seqs.len()).map(|k| format!("(SELECT count(*) FROM movex_seq{k}) s{k}")).collect();
    s.push_str(&format!(" SELECT 1 FROM movex_rows, {}", joins.join(", ")));
    s
}

/// The catalog query for `table` (as written). `to_regclass`: a name that
/// is no table (the client's statement fails on its own) gives no rows,
/// not an error.
fn table_sql(table: &str) -> String {
    let lit = literal(&Some(table.as_bytes().to_vec()));
    format!(
        "SELECT a.attname, a.attgenerated <> '', pg_get_serial_sequence({lit}, a.attname), \
         (a.attidentity <> '' OR (d.adbin IS NOT NULL AND pg_get_expr(d.adbin, d.adrelid) ~* \
         '(nextval|now|random|uuid|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday)\\s*\\(|current_(timestamp|date|time)|localtime')), \
         coalesce(a.attnum = ANY(i.indkey), false), a.attidentity <> '' \
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary \
         WHERE a.attrelid = to_regclass({lit}) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
    )
}

/// A row of movex's own query, its values as text.
type Row = Vec<Option<Vec<u8>>>;

/// movex's savepoint around its catalog query inside a client's
/// transaction: an error there (a permission, a timeout) is undone, not
/// left to fail the client's transaction.
const CATALOG_SAVEPOINT: &str = "movex_catalog";

impl Session<'_> {
    /// Whether `class` (of one statement) takes its generated values from
    /// the primary, and how. Reads the catalog of its table on the primary
    /// the first time. An error: the primary's connection failed (it is
    /// hung up, and the session must end: a transaction may be lost).
    pub(super) async fn gen_for(&mut self, class: &Class, primary: SideName) -> Result<Option<Arc<Gen>>> {
        let Some(t) = class.target.as_ref() else { return Ok(None) };
        let Some(info) = self.table_info(&t.table, primary).await? else { return Ok(None) };
        let generates = class.volatile || (t.verb == Verb::Insert && info.volatile_default);
        let keyed = t.verb == Verb::Insert && !t.on_conflict || !info.primary_key.is_empty();
        Ok((generates && keyed).then(|| Arc::new(Gen { table: t.table.clone(), info, verb: t.verb, on_conflict: t.on_conflict, client_returning: t.returning })))
    }

    /// What the primary's catalog says of `table` (`None`: not a table, or
    /// not asked). Asked once per session and table. Inside the client's
    /// transaction the query runs in a savepoint of movex's, released
    /// after it, so an error in it leaves the transaction as it was. Not
    /// asked in a failed transaction (it would fail too), nor while a
    /// flushed batch is open on the primary (a Query there would end the
    /// batch's implicit transaction, or be discarded after its error).
    pub(super) async fn table_info(&mut self, table: &str, primary: SideName) -> Result<Option<Arc<Table>>> {
        if let Some(t) = self.catalog.tables.get(table) {
            return Ok(t.clone());
        }
        if self.status == b'E' || self.flushed.is_some() || self.sides[ix(primary)].conn.is_none() {
            return Ok(None);
        }
        let in_tx = self.status == b'T';
        let sql = match in_tx {
            true => format!("SAVEPOINT {CATALOG_SAVEPOINT}; {}; RELEASE SAVEPOINT {CATALOG_SAVEPOINT}", table_sql(table)),
            false => table_sql(table),
        };
        let rows = match self.rows_of(primary, &sql).await? {
            Ok(rows) => rows,
            Err(e) => {
                tracing::debug!(table, error = %e, "proxy: the catalog query failed; the statement is sent as written");
                if in_tx {
                    let undo = format!("ROLLBACK TO SAVEPOINT {CATALOG_SAVEPOINT}; RELEASE SAVEPOINT {CATALOG_SAVEPOINT}");
                    if let Err(e) = self.own(primary, &undo).await {
                        anyhow::ensure!(self.sides[ix(primary)].conn.is_some(), "the {} (the primary) failed: {e}", primary.as_str());
                        tracing::warn!(error = %e, "proxy: movex's catalog savepoint could not be rolled back");
                    }
                }
                return Ok(None);
            }
        };
        let text = |v: &Option<Vec<u8>>| v.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
        let columns: Vec<Column> = rows.iter().map(|r| Column { name: text(&r[0]).unwrap_or_default(), generated: text(&r[1]).as_deref() == Some("t"), identity: text(&r[5]).as_deref() == Some("t"), sequence: text(&r[2]) }).collect();
        let info = (!columns.is_empty()).then(|| {
            Arc::new(Table {
                volatile_default: rows.iter().any(|r| text(&r[3]).as_deref() == Some("t")),
                primary_key: rows.iter().filter(|r| text(&r[4]).as_deref() == Some("t")).map(|r| text(&r[0]).unwrap_or_default()).collect(),
                columns,
            })
        });
        self.catalog.tables.insert(table.to_owned(), info.clone());
        Ok(info)
    }

    /// Run a query of movex's own on a side ([`Session::own`]): its rows,
    /// as text, or the server's error. An error out: the connection
    /// failed (hung up).
    async fn rows_of(&mut self, name: SideName, sql: &str) -> Result<std::result::Result<Vec<Row>, String>> {
        let r = self.own(name, sql).await;
        anyhow::ensure!(self.sides[ix(name)].conn.is_some(), "the {} failed: {}", name.as_str(), r.err().unwrap_or_default());
        Ok(r.map(|o| o.rows))
    }
}
