//! One client session: the [`Session`] and its message loop. A client's
//! work arrives in rounds — a simple Query, or extended-protocol messages
//! up to a Sync — and each round goes to the primary, whose messages reach
//! the client unchanged, and, if it writes, to the secondary, whose
//! answer is read and checked: an error, or a different row count, is
//! counted and journaled (strict mode refuses the write instead). A round
//! the secondary takes part in is answered once both sides are done; a
//! read streams straight from the primary. A transaction keeps the pattern
//! it began with; a pattern switch applies to the next one.
//!
//! This file holds the session's state and the loop; the rest is by
//! concern, one `impl Session` block each:
//! - [`begin`]: a plain `BEGIN` answered at once and sent with the
//!   transaction's first statement (`defer_begin`).
//! - [`connect`]: a side's connection, opened when first needed, with the
//!   session's settings replayed; statements it lacks prepared on it.
//! - [`extended`]: Parse, Bind, Describe, Execute, Close: statements and
//!   portals, and on which side each exists.
//! - [`round`]: a round on the primary (relayed or held) and on the
//!   secondary (checked), and the transaction it leaves.
//! - [`secondary`]: the secondary's answer checked, and the journal.
//! - [`copy`]: `COPY ... FROM STDIN`, streamed to both sides.
//! - [`generated`]: values each side would make differently (sequences,
//!   now(), random()), taken from the primary for the secondary.
//! - [`strict`]: strict mode (`[pool] strict`).

mod begin;
mod connect;
mod copy;
mod extended;
mod generated;
mod round;
mod secondary;
mod strict;

use super::backend::Target;
use super::cancel::Registered;
use super::wire::{Frame, Wire, error_frame, ready_frame};
use crate::model::Pattern;
use crate::pool::{Pool, SideName, Ticket};
use anyhow::Result;
use connect::Link;
use extended::{Portal, Stmt};
use futures::future::Either;
use std::collections::HashMap;
use std::task::Poll;

/// A side's place in [`Session`]'s per-side arrays.
fn ix(name: SideName) -> usize {
    match name {
        SideName::Source => 0,
        SideName::Destination => 1,
    }
}

/// SQLSTATE protocol_violation.
const PROTOCOL_VIOLATION: &str = "08P01";

/// The transaction in progress (the primary's status `T` or `E`).
pub(super) struct Tx {
    pub pattern: Pattern,
    /// What the secondary was sent in it, journaled whole if it loses it.
    pub sql: Vec<crate::pool::Statement>,
    /// The secondary lost it (non-strict): the rest is journaled, not sent.
    pub broken: bool,
}

pub struct Session<'p> {
    client: Wire,
    pool: &'p Pool,
    /// The source's and the destination's connections, by [`ix`].
    sides: [Link; 2],
    /// The client's startup parameters, given to each backend.
    params: Vec<(String, String)>,
    /// Session statements so far (SET...), replayed on a reconnected side.
    session_sql: Vec<String>,
    /// Prepared statements and portals by name ("" the unnamed ones).
    stmts: HashMap<String, Stmt>,
    portals: HashMap<String, Portal>,
    /// Extended-protocol messages waiting for their Sync.
    batch: Vec<Frame>,
    /// A batch the client flushed: the primary has answered its part so
    /// far; the secondary's waits for the Sync.
    flushed: Option<round::Round>,
    /// The transaction in progress.
    tx: Option<Tx>,
    /// The pool's gate pass, held for the transaction in progress.
    ticket: Option<Ticket>,
    /// The transaction status the client was last told.
    status: u8,
    /// This session's cancel key, and each side's, for cancel requests.
    me: Registered,
    /// The pattern statements were last prepared for (`extended.rs`).
    prepared_in: Option<Pattern>,
    /// The catalog's answers about tables' generated columns.
    catalog: generated::Catalog,
    /// `[proxy.postgres] defer_begin`.
    defer_begin: bool,
}

/// What a session starts with besides its client.
pub struct Start {
    pub source: Target,
    pub destination: Target,
    pub params: Vec<(String, String)>,
    pub me: Registered,
    pub defer_begin: bool,
}

impl<'p> Session<'p> {
    pub fn new(client: Wire, pool: &'p Pool, start: Start) -> Session<'p> {
        Session {
            client,
            pool,
            sides: [Link::new(start.source), Link::new(start.destination)],
            params: start.params,
            session_sql: Vec::new(),
            stmts: HashMap::new(),
            portals: HashMap::new(),
            batch: Vec::new(),
            flushed: None,
            tx: None,
            ticket: None,
            status: b'I',
            me: start.me,
            prepared_in: None,
            catalog: generated::Catalog::default(),
            defer_begin: start.defer_begin,
        }
    }

    fn side(&mut self, name: SideName) -> &mut Link {
        &mut self.sides[ix(name)]
    }

    /// The pattern for the next round: the transaction's, or the gate's now.
    fn pattern(&self) -> Pattern {
        match (&self.tx, &self.ticket) {
            (Some(tx), _) => tx.pattern,
            (None, Some(t)) => t.pattern,
            (None, None) => self.pool.gate().pattern(),
        }
    }

    /// Log in to the primary for the client: its parameters and movex's
    /// cancel key go to the client, then AuthenticationOk is flushed. A
    /// primary that refuses relays its own error. `Ok(false)`: refused.
    pub async fn open(&mut self) -> Result<bool> {
        let (primary, _) = self.pool.gate().pattern().roles();
        match self.connect(primary).await {
            Ok(()) => {}
            Err(e) => {
                let frame = match e.downcast::<super::backend::Refused>() {
                    Ok(r) => r.0,
                    Err(e) => error_frame(true, "08006", &format!("movex cannot reach the {}: {e:#}", primary.as_str())),
                };
                self.client.send(&frame.raw).await?;
                return Ok(false);
            }
        }
        super::login::ok(&mut self.client);
        let link = &self.sides[ix(primary)];
        for p in &link.conn.as_ref().expect("connected").params {
            self.client.queue(&p.raw);
        }
        self.client.queue(&super::backend::key_frame(self.me.pid, self.me.secret).raw);
        self.client.queue(&ready_frame(b'I').raw);
        self.client.flush().await?;
        Ok(true)
    }

    /// Run the session until the client terminates or goes away.
    pub async fn run(mut self) -> Result<()> {
        loop {
            // The client's next message; while it is idle the primary is
            // watched: notifications and notices are passed on, and a
            // server that ends the session ends the client's, after
            // relaying what it said.
            let ready = match std::future::poll_fn(|cx| self.poll_wait(cx)).await {
                Either::Left(ready) => ready,
                Either::Right(Ok(Some(f))) if matches!(f.tag, b'A' | b'N' | b'S') => match self.client.send(&f.raw).await {
                    Ok(()) => continue,
                    Err(e) => Err(e),
                },
                Either::Right(Ok(Some(f))) => {
                    let (primary, _) = self.pattern().roles();
                    tracing::debug!(side = primary.as_str(), "proxy: the primary ended an idle session; so does movex");
                    let _ = self.client.send(&f.raw).await;
                    Ok(false)
                }
                Either::Right(_) => Ok(false),
            };
            match ready {
                Ok(true) => {}
                Ok(false) => {
                    self.terminate().await;
                    return Ok(());
                }
                Err(e) => {
                    if let Some(t) = e.downcast_ref::<super::wire::TooLarge>() {
                        let msg = format!("movex: {t} ([proxy.postgres] max_message_bytes); the connection is closed");
                        let _ = self.client.send(&error_frame(true, "54000", &msg).raw).await;
                    } else {
                        let _ = self.client.send(&error_frame(true, PROTOCOL_VIOLATION, &format!("movex: {e:#}")).raw).await;
                    }
                    self.terminate().await;
                    return Ok(());
                }
            }
            // Dealt with here, not in a function of its own: a message is
            // a wake-up, and each nested state machine is one more place
            // in memory to read back from cold.
            let stepped = if self.client.peek().is_some_and(|(tag, _)| tag == b'Q') {
                // A Query is read where it lies: most are relayed from there.
                self.query().await.map(|()| true)
            } else {
                let f = self.client.take().expect("a whole message is buffered");
                match f.tag {
                    b'X' => Ok(false),
                    b'P' | b'B' | b'D' | b'E' | b'C' => {
                        self.batch.push(f);
                        Ok(true)
                    }
                    b'H' => self.flush_batch().await.map(|()| true),
                    b'S' => self.sync(f).await.map(|()| true),
                    // Outside COPY, the server ignores these too.
                    b'd' | b'c' | b'f' => Ok(true),
                    other => {
                        let msg = format!("movex: a '{}' message is not relayed by movex's front door (the function-call protocol and replication are not)", other as char);
                        self.client.send(&error_frame(true, PROTOCOL_VIOLATION, &msg).raw).await.map(|()| false)
                    }
                }
            };
            match stepped {
                Ok(true) => {}
                Ok(false) => {
                    self.terminate().await;
                    return Ok(());
                }
                Err(e) => {
                    // A side failed mid-round (the primary, or the
                    // secondary in strict mode): the client is told why
                    // before its connection closes, as a server would.
                    let msg = format!("movex: {e:#}; the session is closed");
                    let _ = self.client.send(&error_frame(true, "08006", &msg).raw).await;
                    self.terminate().await;
                    return Err(e);
                }
            }
            // A flushed batch is an implicit transaction still open on the
            // primary: its ticket is kept until the Sync ends it, so the
            // batch ends in the pattern it began in, and a switch's settle
            // waits for it instead of it waiting on a switch's settle.
            if self.tx.is_none() && self.flushed.is_none() {
                self.ticket = None;
            }
        }
    }

    /// Whether the client's next whole message is buffered (`Left`:
    /// `false` if it went away), or, while none is, whether the primary
    /// spoke (`Right`: its message, `None` if it left). Polled by hand,
    /// the client first: a wait per query that builds no futures, and the
    /// primary's socket only asked whether it has anything (its reader is
    /// not run for nothing).
    fn poll_wait(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Either<Result<bool>, Result<Option<Frame>>>> {
        if let Poll::Ready(m) = self.client.poll_ready(cx) {
            return Poll::Ready(Either::Left(m));
        }
        // Mid-batch the client has more to send; the primary waits for it.
        if !self.batch.is_empty() {
            return Poll::Pending;
        }
        let (primary, _) = self.pattern().roles();
        match self.sides[ix(primary)].conn.as_mut() {
            Some(conn) => conn.wire.poll_spoken(cx).map(Either::Right),
            None => Poll::Pending,
        }
    }

    /// Pass the pool's gate before a round: a ticket for it (unless the
    /// transaction holds one). Refused once this instance's fleet lease has
    /// lapsed: the client gets SQLSTATE 25006 (read_only_sql_transaction)
    /// saying why, and both sides' connections are dropped, so the servers
    /// roll back what a transaction had done.
    async fn admit(&mut self) -> Result<bool> {
        if self.ticket.is_none() {
            // The previous pattern's writes that lock the other way first
            // (`Pool::settle`).
            self.pool.settle().await;
        }
        let Err(f) = self.pool.gate().pass(&mut self.ticket) else { return Ok(true) };
        self.pool.metrics().fenced();
        for name in [SideName::Source, SideName::Destination] {
            self.hang_up(name);
        }
        self.tx = None;
        self.ticket = None;
        self.flushed = None;
        self.client.queue(&error_frame(false, "25006", &format!("movex: not written: {f}")).raw);
        self.status = b'I';
        self.client.send(&ready_frame(b'I').raw).await?;
        Ok(false)
    }

    /// The client's Terminate (or its going): passed on to each side, so
    /// the servers see a clean close.
    async fn terminate(&mut self) {
        for name in [SideName::Source, SideName::Destination] {
            if let Some(conn) = self.side(name).conn.as_mut() {
                conn.wire.undefer();
                let _ = conn.wire.send(&[b'X', 0, 0, 0, 4]).await;
            }
            self.hang_up(name);
        }
    }

    /// An error and ReadyForQuery to the client, for a round movex refused.
    async fn refuse(&mut self, code: &str, msg: &str) -> Result<()> {
        self.client.queue(&error_frame(false, code, msg).raw);
        let status = if self.status == b'I' { b'I' } else { b'E' };
        self.status = status;
        self.client.send(&ready_frame(status).raw).await
    }
}
