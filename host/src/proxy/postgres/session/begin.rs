//! A deferred `BEGIN` (`[proxy.postgres] defer_begin`, on by default;
//! docs/design/proxy-postgres.md). A Query that is only a plain `BEGIN`
//! ([`route::plain_begin`]), outside a transaction, is answered by the
//! door (the command tag PostgreSQL gives, then ReadyForQuery `T`) and
//! held on each side the transaction goes to, written there ahead of
//! whatever is sent next, as Parse, Bind and Execute with no Sync between
//! ([`Wire::defer`]): what follows runs only if the `BEGIN` did, and each
//! side is spared a round trip per transaction, the client a wait on two
//! in a two-side pattern. A side the transaction ends without lets its
//! `BEGIN` go unsent ([`Session::after`]).
//!
//! Sent at once instead: in strict mode with two sides (its transactions
//! are opened by movex, `strict.rs`), and when a side is not connected
//! yet or not idle. The transaction takes its pattern and the gate's
//! ticket here, as one whose `BEGIN` was sent does.
//!
//! [`Wire::defer`]: crate::proxy::postgres::wire::Wire::defer

use super::{Session, ix};
use crate::model::Pattern;
use crate::pool::Statement;
use crate::proxy::postgres::route;
use crate::proxy::postgres::wire::{Frame, deferral, query_text};
use anyhow::Result;
use pgwire::messages::response::CommandComplete;
use std::sync::LazyLock;

/// What each side is sent for a deferred `BEGIN`, made once.
static BEGIN: LazyLock<bytes::Bytes> = LazyLock::new(|| deferral("BEGIN"));

impl Session<'_> {
    /// The client's buffered Query, if it is a plain `BEGIN` every side of
    /// `pattern` can take deferred: held on them and answered. `Ok(true)`:
    /// done (the Query is consumed).
    pub(super) async fn deferred_begin(&mut self, pattern: Pattern) -> Result<bool> {
        let Some(tag) = self.client.peek().and_then(|(_, raw)| route::plain_begin(query_text(raw))) else { return Ok(false) };
        if self.status != b'I' || self.tx.is_some() || !self.batch.is_empty() || self.flushed.is_some() {
            return Ok(false);
        }
        let (primary, secondary) = pattern.roles();
        if secondary.is_some() && self.pool.config().strict {
            return Ok(false);
        }
        let sides = [Some(primary), secondary];
        let idle = sides.iter().flatten().all(|&n| self.sides[ix(n)].conn.as_ref().is_some_and(|c| c.status == b'I' && !c.wire.deferring()));
        if !idle {
            return Ok(false);
        }
        self.client.skip();
        for name in sides.into_iter().flatten() {
            let conn = self.sides[ix(name)].conn.as_mut().expect("connected: checked above");
            // Sent as `BEGIN` whichever way the client spelt it (the
            // command tag it is answered with is its own spelling's).
            conn.wire.defer(BEGIN.clone());
            conn.status = b'T';
        }
        self.after(pattern, b'T');
        if let Some(s) = secondary {
            // As a BEGIN round's secondary part is counted and kept for the
            // journal (`secondary.rs`); its answer is read with the next one.
            self.pool.metrics().count(s, true);
            if let Some(tx) = self.tx.as_mut() {
                tx.sql.push(Statement::new("BEGIN".to_owned()));
            }
        }
        self.client.queue(&Frame::of(&CommandComplete::new(tag.to_owned())).raw);
        self.ready(b'T').await?;
        Ok(true)
    }
}
