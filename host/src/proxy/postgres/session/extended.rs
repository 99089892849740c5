//! The extended protocol: Parse, Bind, Describe, Execute and Close
//! gathered up to the client's Sync, then sent as one round. Statements
//! and portals keep the client's names on both sides; movex remembers on
//! which side each exists. A write's statement is prepared on both sides;
//! a read's on the primary only. A side that lacks a statement a round
//! needs — it reconnected, the pattern switched, or the statement was a
//! read the secondary was not sent — has it prepared first
//! ([`Session::prepare_on`]).
//!
//! Describe goes to the primary only: its answer is the client's. Flush
//! sends what the primary has so far and relays its answers; the
//! secondary's part waits for the Sync.

use super::round::Round;
use super::{Session, ix};
use crate::pool::{SideName, Statement};
use crate::proxy::postgres::route::{self, Class, Kind};
use crate::proxy::postgres::wire::Frame;
use anyhow::Result;
use movex_guest::OwnedValue;
use pgwire::messages::extendedquery::{Bind, Close, Execute, Parse};

/// A prepared statement, by the client's name.
pub(in crate::proxy::postgres) struct Stmt {
    /// The client's Parse, as sent (prepared again on a side that lacks it).
    pub parse: Frame,
    pub sql: String,
    pub classes: Vec<Class>,
    pub kind: Kind,
    /// Whether it exists on the source and the destination, by `ix`.
    pub on: [bool; 2],
}

/// A portal (a statement bound to parameters), by the client's name.
pub(in crate::proxy::postgres) struct Portal {
    pub stmt: String,
    pub kind: Kind,
    /// Whether the secondary was sent its Bind.
    pub on_secondary: bool,
    /// The statement with its parameters, for the journal.
    pub journaled: Statement,
    pub bind: Bind,
}

/// A Bind's parameters as journal values: text as text, binary as bytes.
fn params(b: &Bind) -> Vec<OwnedValue> {
    let format = |i: usize| match b.parameter_format_codes.len() {
        0 => 0,
        1 => b.parameter_format_codes[0],
        _ => b.parameter_format_codes.get(i).copied().unwrap_or(0),
    };
    b.parameters
        .iter()
        .enumerate()
        .map(|(i, p)| match p {
            None => OwnedValue::Null,
            Some(v) if format(i) == 0 => OwnedValue::Text(String::from_utf8_lossy(v).into_owned()),
            Some(v) => OwnedValue::Bytes(v.to_vec()),
        })
        .collect()
}

impl Session<'_> {
    /// Flush: the primary's part so far, relayed (the batch then carries
    /// only what the secondary still needs).
    pub(super) async fn flush_batch(&mut self) -> Result<()> {
        let flush = Frame { tag: b'H', raw: bytes::Bytes::from_static(&[b'H', 0, 0, 0, 4]) };
        self.run_batch(flush).await
    }

    /// Sync: the batch is a round.
    pub(super) async fn sync(&mut self, sync: Frame) -> Result<()> {
        self.run_batch(sync).await
    }

    async fn run_batch(&mut self, end: Frame) -> Result<()> {
        if !self.admit().await? {
            self.batch.clear();
            return Ok(());
        }
        let pattern = self.pattern();
        let (primary, secondary) = pattern.roles();
        let batch = std::mem::take(&mut self.batch);
        let mut round = self.flushed.take().unwrap_or_else(|| Round::new(pattern));
        let broken = self.tx.as_ref().is_some_and(|t| t.broken);
        let (mut need_p, mut need_s) = (Vec::new(), Vec::new());
        for f in batch {
            match f.tag {
                b'P' => {
                    let p: Parse = f.decode()?;
                    let name = p.name.clone().unwrap_or_default();
                    let classes = route::classify(&p.query);
                    let kind = route::kind_of(&classes);
                    let mut stmt = Stmt { parse: f.clone(), sql: p.query, classes, kind, on: [false; 2] };
                    stmt.on[ix(primary)] = true;
                    round.to_primary(&f);
                    if let Some(s) = secondary.filter(|_| kind.both()) {
                        stmt.on[ix(s)] = true;
                        round.to_secondary(&f);
                    }
                    round.parsed.push(name.clone());
                    self.stmts.insert(name, stmt);
                }
                b'B' => {
                    let b: Bind = f.decode()?;
                    let portal = b.portal_name.clone().unwrap_or_default();
                    let sname = b.statement_name.clone().unwrap_or_default();
                    let (kind, sql, on) = match self.stmts.get(&sname) {
                        Some(s) => (s.kind, s.sql.clone(), s.on),
                        None => (Kind::Read, String::new(), [false; 2]),
                    };
                    if !on[ix(primary)] && self.stmts.contains_key(&sname) {
                        need_p.push(sname.clone());
                    }
                    round.to_primary(&f);
                    let to_s = secondary.filter(|_| kind.both() && !broken);
                    if let Some(s) = to_s {
                        if !on[ix(s)] && self.stmts.contains_key(&sname) {
                            need_s.push(sname.clone());
                        }
                        round.to_secondary(&f);
                    }
                    let journaled = Statement { sql, params: params(&b).into_iter().map(crate::db::statement::OwnedValueJson).collect() };
                    self.portals.insert(portal, Portal { stmt: sname, kind, on_secondary: to_s.is_some(), journaled, bind: b });
                }
                b'E' => {
                    let e: Execute = f.decode()?;
                    let portal = e.name.unwrap_or_default();
                    round.to_primary_exec(&f, self.portals.get(&portal));
                    match self.portals.get(&portal) {
                        Some(p) if p.on_secondary => {
                            round.to_secondary(&f);
                            round.executes(p, &self.stmts);
                        }
                        Some(p) if p.kind.both() && secondary.is_some() && broken => round.journal_only(p.journaled.clone()),
                        _ => {}
                    }
                }
                b'C' => {
                    let c: Close = f.decode()?;
                    let name = c.name.unwrap_or_default();
                    if c.target_type == b'S' {
                        let on = self.stmts.remove(&name).map_or([true; 2], |s| s.on);
                        round.to_primary(&f);
                        if secondary.is_some_and(|s| on[ix(s)]) {
                            round.to_secondary(&f);
                        }
                    } else {
                        let on_s = self.portals.remove(&name).is_some_and(|p| p.on_secondary);
                        round.to_primary(&f);
                        if on_s && secondary.is_some() {
                            round.to_secondary(&f);
                        }
                    }
                }
                // Describe: the primary's answer is the client's.
                _ => round.to_primary(&f),
            }
        }
        if !need_p.is_empty() {
            self.connect_or_refuse(primary).await?;
            self.prepare_on(primary, &need_p).await?;
        }
        if let Some(s) = secondary
            && !need_s.is_empty()
            && self.connect(s).await.is_ok()
        {
            self.prepare_on(s, &need_s).await?;
        }
        if end.tag == b'H' {
            round.to_primary(&end);
            return self.run_flush(round).await;
        }
        round.end(&end);
        self.run_round(round).await.map(|_| ())
    }

    /// Connect the primary, or tell the client it cannot be reached.
    pub(super) async fn connect_or_refuse(&mut self, name: SideName) -> Result<bool> {
        match self.connect(name).await {
            Ok(()) => Ok(true),
            Err(e) => {
                let msg = format!("movex: the {} (the primary) is unreachable: {e:#}", name.as_str());
                self.refuse("08006", &msg).await?;
                Ok(false)
            }
        }
    }
}
