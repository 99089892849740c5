//! The transaction in progress, as the primary reports it (its status
//! flags after each command). A transaction keeps the pattern it began
//! with: a pattern switch applies to the next transaction or autocommit
//! statement. Its statements are kept, so that if the secondary fails
//! part-way through, the whole transaction is journaled (in
//! `secondary.rs`), and each side's connection generation when it began,
//! so a side that has reconnected since is known to have lost its part
//! (the server rolled it back).

use super::{Session, ix};
use crate::model::Pattern;
use crate::pool::SideName;
use crate::proxy::mysql::response::Summary;
use crate::proxy::mysql::route::{self, Kind};

/// Why a statement of a transaction the secondary lost is journaled.
pub(super) const LOST_TX: &str = "the secondary failed, or reconnected, earlier in this transaction (its part was rolled back there)";

/// The transaction in progress, if any.
#[derive(Default)]
pub(super) struct Tx {
    /// Its pattern; `None` outside a transaction.
    pub(super) pattern: Option<Pattern>,
    /// Its statements so far, journaled all together if the secondary
    /// fails part-way through it.
    pub(super) sql: Vec<String>,
    /// The secondary failed in it: the rest of it is journaled, not sent
    /// (it was rolled back there).
    pub(super) broken: bool,
    /// Each side's connection generation when it began, by [`ix`].
    pub(super) generation: [u64; 2],
}

impl Tx {
    /// The transaction is over: committed, rolled back, or abandoned.
    pub(super) fn end(&mut self) {
        self.pattern = None;
        self.sql.clear();
        self.broken = false;
    }
}

impl Session<'_> {
    /// The pattern for the next command: the transaction's, or the current one.
    pub(super) fn pattern(&self) -> Pattern {
        self.tx.pattern.or(self.ticket.as_ref().map(|t| t.pattern)).unwrap_or_else(|| self.pool.pattern())
    }

    /// After the primary answered `sql`: the transaction goes on or ends.
    /// An error inside a transaction is an ERR packet, which carries no
    /// status flags: whether the transaction survived it depends on the
    /// error and the server's settings (a deadlock rolls it back; a
    /// lock-wait timeout only the statement, unless
    /// `innodb_rollback_on_timeout`; DDL that fails has committed it
    /// first). So the primary is asked (`DO 0`'s OK carries the flags),
    /// and where its transaction is over the secondary's ends the same
    /// way: rolled back after a deadlock or a lock-wait timeout, or when
    /// the primary cannot say (its connection's end rolled it back);
    /// committed otherwise. Left open, it would commit what the primary
    /// undid, or keep what the primary committed uncommitted.
    pub(super) async fn after(&mut self, pattern: Pattern, sql: &str, s: &Summary) {
        if let Some(on) = s.autocommit() {
            self.autocommit = on;
        }
        let (primary, secondary) = pattern.roles();
        if let (Some(_), Some((code, _))) = (self.tx.pattern, &s.error) {
            let still = if *code == 1213 { Some(false) } else { self.primary_in_transaction(primary).await };
            if still == Some(true) {
                return;
            }
            let end = if still.is_none() || matches!(code, 1213 | 1205) { "ROLLBACK" } else { "COMMIT" };
            tracing::debug!(code, end, "proxy: the primary's transaction ended with an error; the secondary's ends the same way");
            if let Some(sec) = secondary {
                let _ = self.own(sec, end).await;
            }
        } else if s.in_transaction() {
            if self.tx.pattern.is_none() {
                self.tx.generation = [self.sides[0].generation, self.sides[1].generation];
            }
            self.tx.pattern = Some(self.tx.pattern.unwrap_or(pattern));
            if s.error.is_none() && route::kind(sql) != Kind::Read {
                self.tx.sql.push(sql.to_owned());
            }
            return;
        }
        self.tx.end();
    }

    /// Whether the primary is in a transaction; `None` if it cannot say.
    async fn primary_in_transaction(&mut self, primary: SideName) -> Option<bool> {
        self.own_status(primary, "DO 0").await.ok().map(|s| s.in_transaction())
    }

    /// Whether the transaction in progress lost its secondary: the side
    /// failed earlier in it, or has reconnected since it began (the server
    /// rolled its part back). An answer still owed is read first: it may
    /// be what tells (a connection that died under a deferred read; asked
    /// later, a reconnect would run the next statement outside the
    /// transaction).
    pub(super) async fn lost_tx(&mut self, name: SideName) -> bool {
        self.collect_deferred(name).await;
        self.tx.pattern.is_some() && (self.tx.broken || self.sides[ix(name)].wire.is_none() || self.sides[ix(name)].generation != self.tx.generation[ix(name)])
    }

    /// Whether `sql` is kept from the secondary because the transaction
    /// in progress lost it there ([`Session::lost_tx`]): a write is
    /// journaled; a read, or a savepoint, means nothing there and is
    /// dropped. A statement that ends the transaction (COMMIT, ROLLBACK,
    /// BEGIN, or DDL's implicit commit) ends the lost one too, and is sent:
    /// it runs outside any transaction on the secondary, and what follows
    /// it goes there again.
    pub(super) async fn kept_from_lost_tx(&mut self, pattern: Pattern, name: SideName, sql: &str) -> bool {
        if !self.lost_tx(name).await {
            return false;
        }
        if route::ends_transaction(sql) {
            self.tx.end();
            return false;
        }
        if route::kind(sql) != Kind::Read && route::tx_control(sql).is_none() {
            self.missed(pattern, name, sql, LOST_TX).await;
        }
        true
    }
}
