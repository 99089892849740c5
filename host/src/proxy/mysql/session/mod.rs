//! One client session: the [`Session`] and its command loop. Each command
//! goes to the primary, whose response is relayed to the client unchanged,
//! and — unless it is a read outside a transaction — to the secondary,
//! whose response is drained and checked: an error, or a different
//! affected-rows count, is counted and journaled. The answer to a write
//! reaches the client once both sides are done with it; a read in a
//! transaction, or `BEGIN`, does not wait for the secondary. A transaction
//! keeps the pattern it began with; a pattern switch applies to the next
//! transaction or autocommit statement.
//!
//! This file holds the session's state and dispatches each command; the
//! rest is by concern, one `impl Session` block each:
//! - [`connect`]: a side's connection, opened when first needed (the
//!   secondary reconnected when it comes back) and brought to the session's
//!   database and session statements; `USE` and other session commands the
//!   other side follows.
//! - [`primary`]: the primary's part of a command: its answer relayed to
//!   the client, or held back until the secondary has answered.
//! - [`secondary`]: the secondary's part, checked against the primary's,
//!   and the journal of what it missed.
//! - [`transaction`]: the transaction in progress, and whether the
//!   secondary lost it.
//! - [`prepared`]: prepared statements, under movex's ids, mapped to each
//!   side's.
//! - [`pin`]: the clock and random seeds pinned on both sides for a write.
//! - [`strict`]: strict mode (`[pool] strict`).
//! - [`kill`]: `KILL` and `COM_PROCESS_KILL`, on both sides.
//! - [`load`]: `LOAD DATA LOCAL INFILE`, the client's file streamed to
//!   both sides.
//!
//! While the client is idle the primary's connection is watched: a server
//! that ends the session (`KILL`, `wait_timeout`, a restart) ends the
//! client's connection at once, after relaying what it said, as it would
//! have directly; connection pools test for exactly that. A client's
//! `COM_QUIT` is passed on, so the servers see a clean close.

mod connect;
mod kill;
mod load;
mod pin;
mod prepared;
mod primary;
mod secondary;
mod strict;
mod transaction;

use super::backend::{Dialed, Target};
use super::login::{Login, error_packet};
use super::sessions::{Registered, Sessions};
use super::route::{self, Kind};
use super::wire::Wire;
use crate::pool::{Pool, SideName, Ticket};
use anyhow::Result;
use connect::Link;
use prepared::Stmt;
use primary::{Relayed, Reply};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use transaction::Tx;

const COM_QUIT: u8 = 0x01;
const COM_INIT_DB: u8 = 0x02;
const COM_QUERY: u8 = 0x03;
const COM_STATISTICS: u8 = 0x09;
const COM_PROCESS_KILL: u8 = 0x0c;
const COM_PING: u8 = 0x0e;
const COM_STMT_PREPARE: u8 = 0x16;
const COM_STMT_EXECUTE: u8 = 0x17;
const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
const COM_STMT_CLOSE: u8 = 0x19;
const COM_STMT_RESET: u8 = 0x1a;
const COM_SET_OPTION: u8 = 0x1b;
const COM_RESET_CONNECTION: u8 = 0x1f;

/// A side's place in [`Session`]'s per-side arrays.
fn ix(name: SideName) -> usize {
    match name {
        SideName::Source => 0,
        SideName::Destination => 1,
    }
}

pub struct Session<'p> {
    client: Wire,
    login: Login,
    pool: &'p Pool,
    /// The source's and the destination's connections, by [`ix`].
    sides: [Link; 2],
    /// The transaction in progress.
    tx: Tx,
    /// Autocommit, as the primary last reported it: off, every write is
    /// in a transaction.
    autocommit: bool,
    /// Session statements so far (SET, USE), replayed on a reconnected side.
    session_sql: Vec<Vec<u8>>,
    /// Prepared statements, by the id movex gave the client.
    stmts: HashMap<u32, Stmt>,
    next_stmt: u32,
    /// The pool's gate pass of the command in progress, kept for the whole
    /// transaction it opens: its pattern, and counted open in its
    /// generation until the transaction ends.
    ticket: Option<Ticket>,
    /// The door's sessions, for KILL.
    sessions: Arc<Sessions>,
    /// This session among them: its user and each side's connection id.
    me: Registered,
}

/// What a session starts with besides its client.
pub struct Start {
    pub source: Target,
    pub destination: Target,
    pub sessions: Arc<Sessions>,
    pub me: Registered,
    /// The primary's connection, dialled before the client was greeted
    /// (with its id), waiting for movex's login.
    pub dialed: Option<(SideName, Dialed)>,
}

impl<'p> Session<'p> {
    pub fn new(client: Wire, login: Login, pool: &'p Pool, start: Start) -> Session<'p> {
        let Start { source, destination, sessions, me, dialed } = start;
        let mut sides = [Link::new(source), Link::new(destination)];
        if let Some((name, d)) = dialed {
            sides[ix(name)].dialed = Some(d);
        }
        Session {
            client,
            login,
            pool,
            sides,
            tx: Tx::default(),
            autocommit: true,
            session_sql: Vec::new(),
            stmts: HashMap::new(),
            next_stmt: 1,
            ticket: None,
            sessions,
            me,
        }
    }

    fn side(&mut self, name: SideName) -> &mut Link {
        &mut self.sides[ix(name)]
    }

    /// Run the session until the client quits or goes away.
    pub async fn run(mut self) -> Result<()> {
        loop {
            self.client.reset_seq();
            let packet = match self.next_command().await {
                Ok(Some(packet)) => packet,
                Ok(None) => {
                    // The client went without COM_QUIT: its primary sees
                    // that (the connection dropped: an aborted client, as
                    // directly); the other side is movex's own session,
                    // closed cleanly, so one abort is counted, not two.
                    let (primary, _) = self.pattern().roles();
                    self.quit_sides(Some(primary)).await;
                    return Ok(());
                }
                Err(e) => {
                    let what = "per command ([proxy.mysql] max_packet_bytes; unset, the source's max_allowed_packet when the door started)";
                    return super::login::refuse_too_large(&mut self.client, e, what).await;
                }
            };
            let Some(&command) = packet.first() else { continue };
            // COM_STMT_SEND_LONG_DATA and COM_STMT_CLOSE get no answer, a
            // refusal included.
            let answered = !matches!(command, COM_STMT_SEND_LONG_DATA | COM_STMT_CLOSE);
            if command != COM_QUIT && !self.admit(answered).await? {
                continue;
            }
            match command {
                COM_QUIT => return Ok(self.quit().await),
                COM_QUERY => {
                    let sql = String::from_utf8_lossy(&packet[1..]).into_owned();
                    self.query(&packet, &sql).await?;
                }
                COM_INIT_DB => {
                    let db = String::from_utf8_lossy(&packet[1..]).into_owned();
                    self.use_db(&db).await?;
                }
                COM_PING | COM_STATISTICS => self.primary_one(&packet).await?,
                COM_PROCESS_KILL => match packet.get(1..5).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes) {
                    Some(id) => self.kill(route::Kill { mode: None, query: false, id }).await?,
                    None => self.client.send(&error_packet(1047, b"08S01", "a COM_PROCESS_KILL without a connection id")).await?,
                },
                COM_RESET_CONNECTION => {
                    // The server rolls back and forgets the session: so does
                    // movex (a transaction the secondary lost is over too).
                    self.session_sql.clear();
                    self.stmts.clear();
                    self.tx.end();
                    self.both_one(&packet, "RESET CONNECTION").await?;
                }
                COM_SET_OPTION => self.both_one(&packet, "SET OPTION").await?,
                COM_STMT_PREPARE => self.prepare(&packet).await?,
                COM_STMT_EXECUTE => self.execute(&packet).await?,
                COM_STMT_SEND_LONG_DATA | COM_STMT_CLOSE => self.no_reply(&packet).await?,
                COM_STMT_RESET => self.stmt_reset(&packet).await?,
                other => {
                    let msg = format!("movex does not relay command 0x{other:02x}");
                    self.client.send(&error_packet(1047, b"08S01", &msg)).await?;
                }
            }
            if self.tx.pattern.is_none() {
                self.ticket = None;
            }
        }
    }

    /// The client's next command (`None`: it went away), the primary
    /// watched meanwhile (see the module's header).
    async fn next_command(&mut self) -> Result<Option<Vec<u8>>> {
        let (primary, _) = self.pattern().roles();
        let side = &mut self.sides[ix(primary)];
        let Some(wire) = side.wire.as_mut().filter(|_| side.pending.is_none()) else { return self.client.read().await };
        wire.reset_seq();
        tokio::select! {
            biased;
            command = self.client.read() => command,
            said = wire.read() => {
                tracing::debug!(side = primary.as_str(), "proxy: the primary ended an idle session; so does movex");
                if let Ok(Some(p)) = said
                    && p.first() == Some(&0xff)
                {
                    let _ = self.client.send(&p).await;
                }
                Ok(None)
            }
        }
    }

    /// COM_QUIT: passed on to each side (once it has answered what it
    /// owes), so the servers see a clean close, not an aborted client.
    async fn quit(&mut self) {
        self.quit_sides(None).await;
    }

    /// COM_QUIT to every side but `except` (dropped as it is).
    async fn quit_sides(&mut self, except: Option<SideName>) {
        for name in [SideName::Source, SideName::Destination] {
            if Some(name) == except {
                self.hang_up(name);
                continue;
            }
            self.collect_deferred(name).await;
            if let Some(wire) = self.side(name).wire.as_mut() {
                wire.reset_seq();
                let _ = wire.send(&[COM_QUIT]).await;
            }
            self.hang_up(name);
        }
    }

    /// Pass the pool's gate before a command: a ticket for it (unless the
    /// transaction in progress holds one). Refused once this instance's
    /// fleet lease has lapsed: the client gets MySQL's read-only error
    /// (1290) saying why, and both sides' connections are dropped, so the
    /// servers roll back what a transaction had done; nothing is written
    /// until the instance has caught up with the fleet. A command that
    /// opens a ticket first waits for the previous pattern's writes to end
    /// ([`Pool::settle`]: `src_first` and `dst_first` lock rows on the
    /// two servers in opposite orders).
    async fn admit(&mut self, answered: bool) -> Result<bool> {
        if self.ticket.is_none() {
            self.pool.settle().await;
        }
        let Err(f) = self.pool.gate().pass(&mut self.ticket) else { return Ok(true) };
        self.pool.metrics().fenced();
        for name in [SideName::Source, SideName::Destination] {
            self.hang_up(name);
        }
        self.tx.end();
        self.ticket = None;
        if answered {
            self.client.send(&error_packet(1290, b"HY000", &format!("movex: not written: {f}"))).await?;
        }
        Ok(false)
    }

    /// COM_QUERY: a `USE` is [`Session::use_db`]; a strict-mode write is
    /// [`Session::strict_write`]; anything else goes to the primary, then
    /// (unless a read outside a transaction) to the secondary.
    async fn query(&mut self, packet: &[u8], sql: &str) -> Result<()> {
        match route::first_keyword(sql).as_str() {
            "USE" => {
                if let Some(db) = route::used_database(sql) {
                    return self.use_db(&db).await;
                }
            }
            "KILL" => {
                return match route::kill(sql) {
                    Some(k) => self.kill(k).await,
                    None => {
                        let msg = "movex's front door carries out KILL [HARD | SOFT] [CONNECTION | QUERY] <connection id> only";
                        self.client.send(&error_packet(1235, b"42000", msg)).await
                    }
                };
            }
            _ => {}
        }
        // Each side's text of it: database names mapped (`names.rs`).
        let on_dst = match self.on_destination(sql) {
            Ok(s) => s,
            Err(e) => return self.client.send(&error_packet(1105, b"HY000", &e.to_string())).await,
        };
        let dst_packet = matches!(on_dst, Cow::Owned(_)).then(|| [&[COM_QUERY][..], on_dst.as_bytes()].concat());
        let packet_on = |name| if name == SideName::Destination { dst_packet.as_deref().unwrap_or(packet) } else { packet };
        let sql_on = |name: Option<SideName>| if name == Some(SideName::Destination) { &*on_dst } else { sql };
        let pattern = self.pattern();
        let (primary, secondary) = pattern.roles();
        // What the secondary would miss is journaled as it would run there.
        let journaled = sql_on(secondary);
        if load::is_local_load(sql) {
            return self.load_local(pattern, packet_on(primary), secondary.map_or(packet, packet_on), journaled).await;
        }
        let kind = route::kind(sql);
        if let Some(sec) = secondary
            && self.strict(pattern, kind)
        {
            return self.strict_write(pattern, packet_on(primary), strict::Cmd::Query(packet_on(sec)), journaled).await;
        }
        let clock = kind == Kind::Write && secondary.is_some() && self.pin(pattern, sql).await;
        let nothing = Self::writes_nothing(kind, sql);
        let hold = secondary.is_some() && !nothing;
        let Some((s, held)) = self.primary_results(primary, packet_on(primary), hold).await? else { return Ok(()) };
        let in_tx = self.tx.pattern.is_some() || s.in_transaction();
        if kind == Kind::Session && s.error.is_none() {
            self.session_sql.push(packet[1..].to_vec());
        }
        if let Some(sec) = secondary
            && (kind != Kind::Read || in_tx)
            && s.error.is_none()
        {
            self.secondary_part(pattern, sec, packet_on(sec), journaled, &s, Self::can_wait(nothing, &s)).await;
        }
        if clock {
            self.unpin(pattern).await;
        }
        if let Some(held) = held {
            held.release(&mut self.client).await?;
        }
        self.after(pattern, journaled, &s).await;
        Ok(())
    }

    /// A one-packet command for the primary only (PING, STATISTICS).
    async fn primary_one(&mut self, packet: &[u8]) -> Result<()> {
        let (primary, _) = self.pattern().roles();
        self.primary(primary, packet, Reply::One).await?;
        Ok(())
    }

    /// A one-packet command for both sides (RESET_CONNECTION, SET_OPTION).
    async fn both_one(&mut self, packet: &[u8], what: &str) -> Result<()> {
        let (primary, secondary) = self.pattern().roles();
        let Some(Relayed::Done(s)) = self.primary(primary, packet, Reply::One).await? else { return Ok(()) };
        for name in [SideName::Source, SideName::Destination] {
            if Some(name) != secondary && name != primary {
                // Not in this pattern: reconnected fresh when needed.
                self.hang_up(name);
            }
        }
        if let Some(sec) = secondary
            && s.error.is_none()
        {
            self.follow(sec, packet, what, true).await;
        }
        Ok(())
    }
}
