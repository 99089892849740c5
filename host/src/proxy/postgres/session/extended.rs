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

use super::generated::{Gen, Run, Unit};
use super::round::Round;
use super::{Session, ix};
use crate::pool::{SideName, Statement};
use crate::proxy::postgres::route::{self, Kind};
use crate::proxy::postgres::wire::Frame;
use anyhow::Result;
use movex_guest::OwnedValue;
use pgwire::messages::extendedquery::{Bind, Close, Describe, Execute, Parse};
use std::sync::Arc;

/// A prepared statement, by the client's name.
pub(in crate::proxy::postgres) struct Stmt {
    /// The client's Parse, as sent (prepared again on a side that lacks it).
    pub parse: Frame,
    /// Generated values taken from the primary: there it is prepared with
    /// `RETURNING *` added (`generated.rs`).
    pub generates: Option<Arc<Gen>>,
    pub sql: String,
    pub kind: Kind,
    /// Whether it exists on the source and the destination, by `ix`.
    pub on: [bool; 2],
}

/// A portal (a statement bound to parameters), by the client's name.
pub(in crate::proxy::postgres) struct Portal {
    pub kind: Kind,
    pub generates: Option<Arc<Gen>>,
    /// Whether the secondary was sent its Bind.
    pub on_secondary: bool,
    /// The statement with its parameters, for the journal.
    pub journaled: Statement,
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
        if !self.connect_or_refuse(primary).await? {
            return Ok(());
        }
        if self.prepared_in != Some(pattern) {
            // Each side prepares statements in its role's form: after a
            // switch, each is prepared again where a round needs it.
            for s in self.stmts.values_mut() {
                s.on = [false; 2];
            }
            self.prepared_in = Some(pattern);
        }
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
                    let generates = match (&classes[..], kind.both() && secondary.is_some()) {
                        ([one], true) => self.gen_for(one, primary).await?,
                        _ => None,
                    };
                    let mut stmt = Stmt { parse: f.clone(), generates: generates.clone(), sql: p.query.clone(), kind, on: [false; 2] };
                    stmt.on[ix(primary)] = true;
                    round.to_primary(&Self::parse_for(&stmt, true));
                    round.filter.units.push_back(Unit::Keep);
                    if let Some(s) = secondary.filter(|_| kind.both()) {
                        stmt.on[ix(s)] = true;
                        round.to_secondary(&f);
                    }
                    round.parsed.push(name.clone());
                    self.stmts.insert(name, stmt);
                }
                b'B' => {
                    let mut b: Bind = f.decode()?;
                    let portal = b.portal_name.clone().unwrap_or_default();
                    let sname = b.statement_name.clone().unwrap_or_default();
                    let (kind, sql, on, generates) = match self.stmts.get(&sname) {
                        Some(s) => (s.kind, s.sql.clone(), s.on, s.generates.clone()),
                        None => (Kind::Read, String::new(), [false; 2], None),
                    };
                    if !on[ix(primary)] && self.stmts.contains_key(&sname) {
                        need_p.push(sname.clone());
                    }
                    match &generates {
                        // The rows movex asked for come as text (the client asked for none).
                        Some(g) if !g.client_returning && !b.result_column_format_codes.is_empty() => {
                            b.result_column_format_codes.clear();
                            round.to_primary(&Frame::of(&b));
                        }
                        _ => round.to_primary(&f),
                    }
                    round.filter.units.push_back(Unit::Keep);
                    let to_s = secondary.filter(|_| kind.both() && !broken);
                    if let Some(s) = to_s {
                        if !on[ix(s)] && self.stmts.contains_key(&sname) {
                            need_s.push(sname.clone());
                        }
                        round.to_secondary(&f);
                    }
                    let journaled = Statement { sql, params: params(&b).into_iter().map(crate::db::statement::OwnedValueJson).collect() };
                    self.portals.insert(portal, Portal { kind, generates, on_secondary: to_s.is_some(), journaled });
                }
                b'E' => {
                    let e: Execute = f.decode()?;
                    let portal = e.name.unwrap_or_default();
                    let (shared, kind) = self.portals.get(&portal).map_or((false, Kind::Read), |p| (p.on_secondary, p.kind));
                    round.to_primary_exec(&f, shared, kind);
                    let Some(p) = self.portals.get(&portal) else {
                        round.filter.units.push_back(Unit::Keep);
                        continue;
                    };
                    match &p.generates {
                        // The primary returns rows the client did not ask
                        // for: taken out, and written on the secondary.
                        Some(g) => {
                            round.filter.runs.push(Run { generates: g.clone(), rows: Vec::new() });
                            let run = round.filter.runs.len() - 1;
                            round.filter.units.push_back(Unit::Exec(run));
                            if p.on_secondary {
                                round.image(run, true);
                            }
                        }
                        _ => {
                            round.filter.units.push_back(Unit::Keep);
                            if p.on_secondary {
                                round.to_secondary(&f);
                            }
                        }
                    }
                    if p.on_secondary {
                        round.sql.push(p.journaled.clone());
                    } else if p.kind.both() && secondary.is_some() && broken {
                        round.journal_only(p.journaled.clone());
                    }
                }
                b'C' => {
                    let c: Close = f.decode()?;
                    let name = c.name.unwrap_or_default();
                    round.to_primary(&f);
                    round.filter.units.push_back(Unit::Keep);
                    let on_s = if c.target_type == b'S' {
                        self.stmts.remove(&name).is_none_or(|s| secondary.is_some_and(|x| s.on[ix(x)]))
                    } else {
                        self.portals.remove(&name).is_some_and(|p| p.on_secondary)
                    };
                    if on_s && secondary.is_some() {
                        round.to_secondary(&f);
                    }
                }
                b'D' => {
                    // The primary's answer is the client's.
                    let d: Describe = f.decode()?;
                    let name = d.name.unwrap_or_default();
                    let generates = if d.target_type == b'S' { self.stmts.get(&name).and_then(|s| s.generates.clone()) } else { self.portals.get(&name).and_then(|p| p.generates.clone()) };
                    if d.target_type == b'S' && self.stmts.get(&name).is_some_and(|s| !s.on[ix(primary)]) {
                        need_p.push(name);
                    }
                    round.to_primary(&f);
                    round.filter.units.push_back(generates.map_or(Unit::Keep, Unit::Describe));
                }
                _ => round.to_primary(&f),
            }
        }
        if !need_p.is_empty() {
            self.prepare_on(primary, &need_p).await?;
        }
        if let Some(s) = secondary
            && !need_s.is_empty()
            && self.connect(s).await.is_ok()
            && let Err(e) = self.prepare_on(s, &need_s).await
        {
            // Its part of the round then fails there, and is journaled
            // (or, strict, refused): the client's session goes on.
            tracing::debug!(side = s.as_str(), error = %e, "proxy: the secondary failed preparing statements; hung up");
            self.hang_up(s);
        }
        if end.tag == b'H' {
            round.to_primary(&end);
            return self.run_flush(round).await;
        }
        round.end(&end);
        self.run_round(round).await.map(|_| ())
    }

    /// The Parse a side is sent for `stmt`: on the primary, with the
    /// rows of generated values asked for.
    pub(super) fn parse_for(stmt: &Stmt, primary: bool) -> Frame {
        match (&stmt.generates, primary) {
            (Some(g), true) => match stmt.parse.decode::<Parse>() {
                Ok(p) => Frame::of(&Parse::new(p.name, g.primary_sql(&p.query), p.type_oids)),
                Err(_) => stmt.parse.clone(),
            },
            _ => stmt.parse.clone(),
        }
    }

    /// Connect the primary, or tell the client it cannot be reached.
    pub(super) async fn connect_or_refuse(&mut self, name: SideName) -> Result<bool> {
        if self.sides[ix(name)].conn.is_some() {
            return Ok(true);
        }
        // Lost inside a transaction: the server rolled it back. Connecting
        // again would run the rest of it in autocommit.
        if self.status != b'I' || self.tx.is_some() {
            anyhow::bail!("the {} (the primary) was lost inside a transaction, which it rolled back", name.as_str());
        }
        // Boxed: a login's future is large, and this one is awaited before
        // every round (module `round`, on `routed`).
        match Box::pin(self.connect(name)).await {
            Ok(()) => Ok(true),
            Err(e) => {
                let msg = format!("movex: the {} (the primary) is unreachable: {e:#}", name.as_str());
                self.refuse("08006", &msg).await?;
                Ok(false)
            }
        }
    }
}
