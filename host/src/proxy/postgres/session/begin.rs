//! A deferred `BEGIN` (`[proxy.postgres] defer_begin`, off by default:
//! docs/design/proxy-postgres.md says what it does not handle yet). A
//! Query that is only a plain `BEGIN` ([`route::plain_begin`]), outside a
//! transaction, is answered by the door (the command tag PostgreSQL gives,
//! then ReadyForQuery `T`) and held on each side the transaction goes to,
//! written there with whatever is sent next ([`Wire::defer`]): each side
//! is spared a round trip per transaction, and the client a wait on two
//! in a two-side pattern.
//!
//! Sent at once instead, as before: in strict mode with two sides (its
//! transactions are opened by movex, `strict.rs`), and when a side is not
//! connected yet or not idle. The transaction takes its pattern and the
//! gate's ticket here, as one whose `BEGIN` was sent does.
//!
//! [`Wire::defer`]: crate::proxy::postgres::wire::Wire::defer

use super::{Session, ix};
use crate::model::Pattern;
use crate::pool::Statement;
use crate::proxy::postgres::route;
use crate::proxy::postgres::wire::{Frame, query_text};
use anyhow::Result;
use bytes::Bytes;
use pgwire::messages::response::CommandComplete;

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
        let raw = Bytes::copy_from_slice(self.client.peek().expect("peeked above").1);
        self.client.skip();
        for name in sides.into_iter().flatten() {
            let conn = self.sides[ix(name)].conn.as_mut().expect("connected: checked above");
            conn.wire.defer(raw.clone());
            conn.status = b'T';
        }
        self.after(pattern, b'T');
        if let Some(s) = secondary {
            // As a BEGIN round's secondary part is counted and kept for the
            // journal (`secondary.rs`); its answer is read with the next one.
            self.pool.metrics().count(s, true);
            if let Some(tx) = self.tx.as_mut() {
                tx.sql.push(Statement::new(String::from_utf8_lossy(query_text(&raw)).into_owned()));
            }
        }
        self.client.queue(&Frame::of(&CommandComplete::new(tag.to_owned())).raw);
        self.ready(b'T').await?;
        Ok(true)
    }
}
