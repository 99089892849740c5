//! Strict mode (`[pool] strict = true`) at the front door: a write the
//! secondary cannot apply is refused to the client with a MySQL error, and
//! the primary keeps no half of it. These are the library pool's
//! guarantees (`pool/transaction.rs`) carried over the wire:
//!
//! - **An autocommit write** runs in a transaction movex opens on both
//!   sides. The primary's response is held back until the secondary has
//!   answered. If the secondary fails, both roll back and the client gets
//!   the error. Otherwise the secondary commits first, then the primary,
//!   and the held response is released without movex's in-transaction flag.
//! - **In the client's transaction** each write is held back the same way.
//!   If the secondary fails, both sides roll the transaction back and the
//!   client gets the error. As after a deadlock, the transaction is gone.
//!   A secondary that reconnected during the transaction lost its part
//!   (the server rolled it back), so the next write fails the same way.
//! - **BEGIN** the secondary cannot follow is rolled back on the primary.
//! - **COMMIT**: the secondary commits first. If it cannot, the primary
//!   rolls back and the client gets the error: neither side has the
//!   transaction (if the secondary's connection failed, it may have
//!   committed: the statements are journaled for `movex repair`, which
//!   re-checks their tables). If the primary's commit then fails, the client gets its
//!   error and the transaction is journaled as `primary_commit_failed`;
//!   that window between two commits is what strict mode cannot close
//!   without two-phase commit.
//! - **DDL** (and other statements that commit implicitly) cannot be
//!   rolled back: a secondary failure is reported to the client and journaled.

use super::primary::{Relayed, Reply};
use super::secondary::{Checked, Expect};
use super::{Session, ix};
use crate::model::Pattern;
use crate::pool::SideName;
use crate::proxy::mysql::login::error_packet;
use crate::proxy::mysql::response::Summary;
use crate::proxy::mysql::route::{self, Kind, TxControl};
use crate::store::journal::JournalKind;
use anyhow::Result;
use mysql_common::constants::StatusFlags;

/// How the secondary's packet is made from the client's.
pub(super) enum Cmd<'a> {
    /// COM_QUERY: the same packet.
    Query(&'a [u8]),
    /// COM_STMT_EXECUTE of the client's statement `id`: rewritten for the
    /// secondary's statement id.
    Execute { id: u32, packet: &'a [u8] },
}

/// MySQL's ER_UNKNOWN_ERROR, for failures the secondary sent no code for.
const UNKNOWN_ERROR: u16 = 1105;

/// Why the client's COMMIT (or movex's, of an autocommit write) failed
/// when the secondary's did: `maybe`, its connection failed after the
/// COMMIT was sent, so it may hold the transaction (journaled); otherwise
/// it refused or never got it, and neither side holds anything.
fn commit_failed(primary: SideName, secondary: SideName, e: &str, maybe: bool) -> String {
    let (primary, secondary) = (primary.as_str(), secondary.as_str());
    if maybe {
        format!(
            "the {secondary}'s connection failed during its COMMIT ({e}): it may have committed there; the transaction was rolled back \
             on the {primary}, and is journaled for `movex repair`, which re-checks its tables and settles the difference"
        )
    } else {
        format!("the {secondary} could not commit: {e}; the transaction was rolled back on the {primary}: nothing was written")
    }
}

impl Session<'_> {
    /// Whether strict mode handles this command.
    pub(super) fn strict(&self, pattern: Pattern, kind: Kind) -> bool {
        self.pool.config().strict && kind == Kind::Write && pattern.roles().1.is_some()
    }

    /// Refuse the command: the client gets `why` under the secondary's
    /// error code (so a deadlock there reads as one, and is retried).
    pub(super) async fn refuse(&mut self, code: Option<u16>, why: &str) -> Result<()> {
        let code = code.unwrap_or(UNKNOWN_ERROR);
        let state = if code == 1213 { b"40001" } else { b"HY000" };
        self.client.send(&error_packet(code, state, &format!("movex (strict): {why}"))).await
    }

    /// Roll back both sides (best effort) and forget the transaction.
    pub(super) async fn abandon(&mut self, primary: SideName, secondary: SideName) {
        let _ = self.own(primary, "ROLLBACK").await;
        let _ = self.own(secondary, "ROLLBACK").await;
        self.tx.end();
    }

    /// A write in strict mode (see the module's header). `on_primary` is
    /// the packet for the primary; `cmd` makes the secondary's.
    pub(super) async fn strict_write(&mut self, pattern: Pattern, on_primary: &[u8], cmd: Cmd<'_>, sql: &str) -> Result<()> {
        let (primary, secondary) = pattern.roles();
        let secondary = secondary.expect("strict() checked there is one");
        let control = route::tx_control(sql);
        let ddl = route::implicit_commit(sql);
        match control {
            Some(TxControl::Commit) if self.tx.pattern.is_some() => return self.strict_commit(pattern, primary, secondary, on_primary, sql).await,
            Some(TxControl::Rollback) => return self.strict_rollback(pattern, primary, secondary, on_primary, sql).await,
            _ => {}
        }
        let in_tx = self.tx.pattern.is_some() || !self.autocommit;
        let wrap = !in_tx && control.is_none() && !ddl;
        let what = if in_tx || control == Some(TxControl::Begin) { "the transaction was rolled back on both sides" } else { "nothing was written" };
        if let Err(e) = self.connect(primary).await {
            return self.primary_down(primary, &e).await;
        }
        if self.lost_tx(secondary).await {
            self.abandon(primary, secondary).await;
            let why = format!("the {} lost this transaction (it failed or reconnected during it); {what}", secondary.as_str());
            return self.refuse(None, &why).await;
        }
        if let Err(e) = self.connect(secondary).await {
            if in_tx {
                self.abandon(primary, secondary).await;
            }
            return self.refuse(None, &format!("the {} is unreachable: {e:#}; {what}", secondary.as_str())).await;
        }
        if wrap {
            for side in [primary, secondary] {
                if let Err(e) = self.own(side, "BEGIN").await {
                    self.abandon(primary, secondary).await;
                    return self.refuse(None, &format!("the {} could not begin a transaction: {e}; nothing was written", side.as_str())).await;
                }
            }
        }
        let clock = self.pin(pattern, sql).await;
        let (mut held, mut s) = self.held(primary, on_primary).await?;
        let outcome = self.strict_secondary(pattern, cmd, sql, &s, wrap).await;
        if clock {
            self.unpin(pattern).await;
        }
        match outcome {
            Err((code, why, _)) if ddl => {
                self.journal(pattern, secondary, JournalKind::SecondaryFailed, &[sql.to_owned()], &why).await;
                self.after(pattern, sql, &s).await;
                let why = format!("{why}; the {} ran it (it cannot be rolled back) and it is journaled for `movex repair`", primary.as_str());
                self.refuse(code, &why).await
            }
            // The secondary may have committed: `why` says so, not `what`.
            Err((code, why, true)) => {
                self.abandon(primary, secondary).await;
                self.refuse(code, &why).await
            }
            Err((code, why, false)) => {
                self.abandon(primary, secondary).await;
                self.refuse(code, &format!("{why}; {what}")).await
            }
            Ok(()) => {
                if wrap {
                    held.clear_status(StatusFlags::SERVER_STATUS_IN_TRANS);
                    s.status &= !StatusFlags::SERVER_STATUS_IN_TRANS.bits();
                }
                held.release(&mut self.client).await?;
                self.after(pattern, sql, &s).await;
                Ok(())
            }
        }
    }

    /// The secondary's half of a strict write, and movex's own commit of a
    /// wrapped one; if it failed, the error code, the reason, and whether
    /// the secondary may have committed it all the same.
    async fn strict_secondary(&mut self, pattern: Pattern, cmd: Cmd<'_>, sql: &str, s: &Summary, wrap: bool) -> std::result::Result<(), (Option<u16>, String, bool)> {
        let (primary, secondary) = pattern.roles();
        let secondary = secondary.expect("strict() checked there is one");
        // The primary refused it outright: nothing ran, nothing to follow.
        if s.error.is_some() && s.completed == 0 {
            if wrap {
                let _ = self.own(primary, "ROLLBACK").await;
                let _ = self.own(secondary, "ROLLBACK").await;
            }
            return Ok(());
        }
        let payload = match cmd {
            Cmd::Query(p) => p.to_vec(),
            Cmd::Execute { id, packet } => match self.execute_on(secondary, id, packet).await {
                Some(p) => p,
                None => return Err((None, format!("the statement could not be prepared on the {}", secondary.as_str()), false)),
            },
        };
        if let Checked::Failed(code, why) = self.secondary(pattern, secondary, &payload, sql, Expect::Like(s), true).await {
            return Err((code, why, false));
        }
        if wrap {
            if let Err(e) = self.own(secondary, "COMMIT").await {
                if self.commit_unknown(pattern, secondary, &[sql.to_owned()], &e).await {
                    return Err((None, commit_failed(primary, secondary, &e, true), true));
                }
                return Err((None, format!("the {} could not commit: {e}", secondary.as_str()), false));
            }
            if let Err(e) = self.own(primary, "COMMIT").await {
                let why = format!("the {} committed, the {} did not: {e}", secondary.as_str(), primary.as_str());
                self.journal(pattern, primary, JournalKind::PrimaryCommitFailed, &[sql.to_owned()], &why).await;
                return Err((None, format!("{why}; journaled as primary_commit_failed"), false));
            }
        }
        Ok(())
    }

    /// The secondary's COMMIT failed with its connection: it may have
    /// committed. The primary is rolled back all the same, and the
    /// statements are journaled so `movex repair` re-checks their tables.
    /// Whether that was so (the commit's outcome is unknown).
    async fn commit_unknown(&mut self, pattern: Pattern, secondary: SideName, sql: &[String], e: &str) -> bool {
        if self.sides[ix(secondary)].wire.is_some() {
            return false;
        }
        let why = format!("the {} may have committed before its connection failed ({e}); the primary rolled back", secondary.as_str());
        self.journal(pattern, secondary, JournalKind::SecondaryFailed, sql, &why).await;
        true
    }

    /// COMMIT of the client's transaction: the secondary first.
    async fn strict_commit(&mut self, pattern: Pattern, primary: SideName, secondary: SideName, on_primary: &[u8], sql: &str) -> Result<()> {
        let lost = self.lost_tx(secondary).await;
        let committed = if lost { Err("it lost this transaction (it failed or reconnected during it)".to_owned()) } else { self.own(secondary, sql).await };
        if let Err(e) = committed {
            let tx = self.tx.sql.clone();
            let maybe = !lost && self.commit_unknown(pattern, secondary, &tx, &e).await;
            self.abandon(primary, secondary).await;
            return self.refuse(None, &commit_failed(primary, secondary, &e, maybe)).await;
        }
        let tx: Vec<String> = self.tx.sql.clone();
        let relayed = self.primary(primary, on_primary, Reply::Results).await;
        let failed = match &relayed {
            Ok(Some(Relayed::Done(s))) => s.error.as_ref().map(|(code, msg)| format!("error {code}: {msg}")),
            Ok(_) => Some("the primary is unreachable".to_owned()),
            Err(e) => Some(format!("{e:#}")),
        };
        if let Some(e) = failed {
            let why = format!("the {} committed, the {} did not: {e}", secondary.as_str(), primary.as_str());
            tracing::error!(side = primary.as_str(), error = %why, "proxy (strict): the primary's commit failed after the secondary's; journaled");
            self.journal(pattern, primary, JournalKind::PrimaryCommitFailed, &tx, &why).await;
        }
        match relayed? {
            Some(Relayed::Done(s)) => self.after(pattern, sql, &s).await,
            _ => self.after(pattern, sql, &Summary::default()).await,
        }
        Ok(())
    }

    /// ROLLBACK: the primary answers; the secondary rolls back too (its
    /// failure loses nothing: it has no transaction then).
    async fn strict_rollback(&mut self, pattern: Pattern, primary: SideName, secondary: SideName, on_primary: &[u8], sql: &str) -> Result<()> {
        let Some(Relayed::Done(s)) = self.primary(primary, on_primary, Reply::Results).await? else { return Ok(()) };
        if self.sides[ix(secondary)].wire.is_some()
            && let Err(e) = self.own(secondary, sql).await
        {
            tracing::debug!(side = secondary.as_str(), error = %e, "proxy (strict): the secondary's ROLLBACK failed; it has no transaction");
        }
        self.after(pattern, sql, &s).await;
        Ok(())
    }
}
