//! Strict mode (`[pool] strict = true`) at the PostgreSQL door: a write
//! the secondary cannot apply is refused to the client with an error, and
//! the primary keeps no half of it — the library pool's guarantees
//! (`pool/transaction.rs`) carried over the wire:
//!
//! - **A write outside a transaction** runs in a transaction movex opens
//!   on both sides, the primary's answer held. If the secondary fails,
//!   both roll back and the client gets the error. Otherwise the secondary
//!   commits first, then the primary, and the held answer is released
//!   (its ReadyForQuery says idle, as the client expects).
//! - **In the client's transaction** each write is held the same way; if
//!   the secondary fails, the transaction fails on both sides (the client
//!   gets the error and the failed-transaction status, as after any
//!   failed statement: its ROLLBACK ends it on both).
//! - **COMMIT** goes to the secondary first. If it cannot commit, the
//!   primary rolls back and the client gets the error: neither side has
//!   the transaction. If the primary's commit then fails, the client gets
//!   its error and the transaction is journaled as
//!   `primary_commit_failed`: the window between two commits that strict
//!   mode cannot close without two-phase commit.
//!
//! The client's error carries the secondary's SQLSTATE, so a
//! serialization failure or deadlock there reads as one and is retried.

use super::round::{FAIL_TOO, Outcome, Round};
use super::secondary::differs;
use super::{Session, ix};
use crate::pool::SideName;
use crate::proxy::postgres::route::Kind;
use crate::proxy::postgres::wire::error_frame;
use crate::store::journal::JournalKind;
use anyhow::Result;
use std::time::Instant;

/// SQLSTATE system_error, for failures the secondary sent no code for.
const NO_CODE: &str = "58000";

impl Session<'_> {
    pub(super) async fn strict_round(&mut self, mut round: Round, p: SideName, s: SideName) -> Result<bool> {
        let in_tx = self.tx.is_some();
        if in_tx && round.kinds.iter().any(|k| *k == Kind::Commit) {
            return self.strict_commit(round, p, s).await;
        }
        if round.kinds.iter().any(|k| *k == Kind::Rollback) {
            let out = self.primary_part(p, &mut round, false).await?;
            if self.sides[ix(s)].conn.is_some() {
                let bytes = round.secondary_bytes().into_owned();
                let _ = self.ask(s, &bytes).await;
            }
            self.after(round.pattern, out.status);
            return Ok(out.error.is_none());
        }
        let wrap = !in_tx && !round.controls();
        let what = if wrap { "nothing was written" } else { "the transaction failed on both sides" };
        if let Err(why) = self.reach(s).await {
            return self.strict_refuse(p, s, wrap, None, &format!("{why}; {what}")).await;
        }
        if wrap {
            for side in [p, s] {
                if let Err(e) = self.own(side, "BEGIN").await {
                    return self.strict_refuse(p, s, wrap, None, &format!("the {} could not begin: {e}; {what}", side.as_str())).await;
                }
            }
        }
        let mut out = self.primary_part(p, &mut round, true).await?;
        if out.error.is_some() {
            if wrap {
                self.abandon(p, s).await;
                idle(&mut out);
            } else if out.status == b'E' {
                let _ = self.own(s, FAIL_TOO).await;
            }
            return self.release(round.pattern, out).await;
        }
        self.begun(round.pattern, out.status);
        let sent = Instant::now();
        let bytes = round.secondary_bytes().into_owned();
        let failed = match self.ask(s, &bytes).await {
            Ok(o) => differs(&out, &round.shared, &o).map(|why| (o.error.map(|e| e.0), why)),
            Err(e) => Some((None, format!("its connection failed: {e:#}"))),
        };
        self.pool.metrics().record(s, failed.is_none(), sent.elapsed());
        if let Some((code, why)) = failed {
            return self.strict_refuse(p, s, wrap, code, &format!("the {} refused it: {why}; {what}", s.as_str())).await;
        }
        if let Some(tx) = self.tx.as_mut() {
            tx.sql.extend(round.sql.iter().cloned());
        }
        if wrap {
            if let Err((code, msg)) = self.commit_both(round.pattern, p, s, &round.sql).await {
                return self.strict_refuse_done(code, &msg, b'I').await;
            }
            idle(&mut out);
        }
        self.release(round.pattern, out).await
    }

    /// COMMIT in strict mode: the secondary first (module header).
    async fn strict_commit(&mut self, mut round: Round, p: SideName, s: SideName) -> Result<bool> {
        let stmts = self.tx.as_ref().map(|t| t.sql.clone()).unwrap_or_default();
        let sec = match self.reach(s).await {
            Err(why) => Err((None, why)),
            Ok(()) => {
                let bytes = round.secondary_bytes().into_owned();
                match self.ask(s, &bytes).await {
                    // COMMIT of a failed transaction answers ROLLBACK.
                    Ok(o) if o.error.is_none() && !o.tags.iter().any(|t| t == "ROLLBACK") => Ok(()),
                    Ok(o) => Err((o.error.as_ref().map(|e| e.0.clone()), o.error.map_or("it rolled back".into(), |e| format!("error {}: {}", e.0, e.1)))),
                    Err(e) => Err((None, format!("its connection failed during COMMIT: {e:#}; it may have committed there"))),
                }
            }
        };
        if let Err((code, why)) = sec {
            let maybe = code.is_none() && why.contains("during COMMIT");
            let _ = self.own(p, "ROLLBACK").await;
            if maybe {
                self.journal_stmts(round.pattern, p, &stmts, &why).await;
            }
            let msg = format!("movex (strict): the {} could not commit: {why}; the transaction was rolled back on the {}", s.as_str(), p.as_str());
            return self.strict_refuse_done(code, &msg, b'I').await;
        }
        let out = self.primary_part(p, &mut round, false).await?;
        if let Some((code, msg)) = &out.error {
            let why = format!("the {} committed, the {}'s COMMIT failed: {code} {msg}", s.as_str(), p.as_str());
            self.pool.record_missed(round.pattern, p, JournalKind::PrimaryCommitFailed, &stmts, &why).await;
        }
        self.after(round.pattern, out.status);
        Ok(out.error.is_none())
    }

    /// Commit movex's own transaction: the secondary first.
    pub(super) async fn commit_both(&mut self, pattern: crate::model::Pattern, p: SideName, s: SideName, stmts: &[crate::pool::Statement]) -> std::result::Result<(), (Option<String>, String)> {
        if let Err(e) = self.own(s, "COMMIT").await {
            let _ = self.own(p, "ROLLBACK").await;
            return Err((e.split(':').next().map(str::to_owned), format!("movex (strict): the {} could not commit: {e}; nothing was written", s.as_str())));
        }
        if let Err(e) = self.own(p, "COMMIT").await {
            let why = format!("the {} committed, the {}'s COMMIT failed: {e}", s.as_str(), p.as_str());
            self.pool.record_missed(pattern, p, JournalKind::PrimaryCommitFailed, stmts, &why).await;
            return Err((None, format!("movex (strict): {why}; journaled for `movex repair`")));
        }
        Ok(())
    }

    /// Roll back both sides (best effort) and forget the transaction.
    pub(super) async fn abandon(&mut self, p: SideName, s: SideName) {
        let _ = self.own(p, "ROLLBACK").await;
        let _ = self.own(s, "ROLLBACK").await;
        self.tx = None;
    }

    /// Refuse a write: movex's own transaction rolled back on both sides
    /// (`wrap`), or the client's made to fail on both.
    async fn strict_refuse(&mut self, p: SideName, s: SideName, wrap: bool, code: Option<String>, why: &str) -> Result<bool> {
        let status = if wrap {
            self.abandon(p, s).await;
            b'I'
        } else {
            let _ = self.own(p, FAIL_TOO).await;
            if self.sides[ix(s)].conn.is_some() {
                let _ = self.own(s, FAIL_TOO).await;
            }
            b'E'
        };
        self.strict_refuse_done(code, &format!("movex (strict): {why}"), status).await
    }

    async fn strict_refuse_done(&mut self, code: Option<String>, msg: &str, status: u8) -> Result<bool> {
        let code = code.filter(|c| c.len() == 5).unwrap_or_else(|| NO_CODE.to_owned());
        self.client.queue(&error_frame(false, &code, msg).raw);
        if status == b'I' {
            self.tx = None;
        }
        self.ready(status).await?;
        Ok(false)
    }

    /// Release a held answer and take its status.
    async fn release(&mut self, pattern: crate::model::Pattern, out: Outcome) -> Result<bool> {
        self.after(pattern, out.status);
        if let Some(h) = &out.held {
            self.client.send(h).await?;
        }
        Ok(out.error.is_none())
    }
}

/// A held answer's ReadyForQuery made to say idle: movex's own
/// transaction around it is over.
pub(super) fn idle(out: &mut Outcome) {
    out.status = b'I';
    if let Some(h) = out.held.as_mut()
        && let Some(last) = h.last_mut()
    {
        *last = b'I';
    }
}
