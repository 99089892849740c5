//! One client session: its two backend connections (opened lazily, the
//! secondary reconnected when it comes back), and the command loop. Each
//! command goes to the primary, whose response is relayed to the client
//! unchanged, and — unless it is a read outside a transaction — to the
//! secondary, whose response is drained and checked (in [`secondary`]):
//! an error, or a different affected-rows count, is counted and journaled.
//! The answer to a write reaches the client once both sides are done with
//! it; a read in a transaction, or `BEGIN`, does not wait for the
//! secondary. A transaction keeps the pattern it began with; a pattern
//! switch applies to the next transaction or autocommit statement. Strict
//! mode (`[pool] strict`) is in [`strict`].

mod secondary;
mod strict;

use super::backend::{self, Target};
use super::login::{Login, error_packet};
use super::response::{self, Buffered, Prepared, Sink, Summary};
use super::route::{self, Kind};
use super::wire::Wire;
use crate::model::Pattern;
use crate::pool::{Pool, SideName};
use anyhow::Result;
use std::collections::HashMap;
use std::time::Instant;

const COM_QUIT: u8 = 0x01;
const COM_INIT_DB: u8 = 0x02;
const COM_QUERY: u8 = 0x03;
const COM_PING: u8 = 0x0e;
const COM_STMT_PREPARE: u8 = 0x16;
const COM_STMT_EXECUTE: u8 = 0x17;
const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
const COM_STMT_CLOSE: u8 = 0x19;
const COM_STMT_RESET: u8 = 0x1a;
const COM_SET_OPTION: u8 = 0x1b;
const COM_RESET_CONNECTION: u8 = 0x1f;

/// The largest primary answer whose secondary answer may wait unread
/// (well under a socket's buffers).
const LATER_MAX: u64 = 16 * 1024;

/// Why a statement of a transaction the secondary lost is journaled.
const LOST_TX: &str = "the secondary failed, or reconnected, earlier in this transaction (its part was rolled back there)";

/// What a command's response looks like.
#[derive(Clone, Copy)]
enum Reply {
    /// OK, ERR or result sets.
    Results,
    /// One packet.
    One,
    /// A COM_STMT_PREPARE response, its statement id shown to the client as this.
    Prepare(u32),
}

/// What the secondary's answer is checked against.
#[derive(Clone, Copy)]
enum Expect<'a> {
    /// The primary's answer to the same command.
    Like(&'a Summary),
    /// A COM_STMT_PREPARE: only whether it failed.
    Prepared,
}

/// What became of a command on the secondary.
enum Checked {
    /// It ran (a prepare's outcome with it); a difference was journaled.
    Ran(Option<Prepared>),
    /// It did not run, and was journaled.
    Missed,
    /// Strict mode: it failed, with the secondary's error code if it sent
    /// one. Nothing was journaled: the caller refuses the command.
    Failed(Option<u16>, String),
}

enum Relayed {
    Done(Summary),
    Prepared(Prepared),
}

/// One side's connection, opened when first needed.
struct Side {
    target: Target,
    wire: Option<Wire>,
    /// Why the last connect failed, while it is down.
    down: Option<String>,
    /// Counts connections made: a transaction begun on one generation is
    /// lost if the side has reconnected since.
    generation: u64,
    /// A command whose answer is read before the next is sent.
    pending: Option<secondary::Asked>,
}

/// A prepared statement, under the id movex gave the client: its id on
/// each side that has prepared it (a side prepares it when it first needs
/// it: after a pattern switch, or a reconnect), its SQL, and the parameter
/// types last bound (a side may not have seen the execute that bound them).
struct Stmt {
    sql: String,
    params: u16,
    on: [Option<u32>; 2],
    types: Option<Vec<u8>>,
}

impl Side {
    fn new(target: Target) -> Side {
        Side { target, wire: None, down: None, generation: 0, pending: None }
    }
}

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
    sides: [Side; 2],
    /// The pattern of the transaction in progress.
    pinned: Option<Pattern>,
    /// The statements of the transaction in progress, journaled all
    /// together if the secondary fails part-way through it.
    tx_sql: Vec<String>,
    /// The secondary failed in this transaction: the rest of it is
    /// journaled, not sent (it was rolled back there).
    tx_broken: bool,
    /// Each side's connection generation when the transaction began.
    tx_gen: [u64; 2],
    /// Autocommit, as the primary last reported it: off, every write is
    /// in a transaction.
    autocommit: bool,
    /// Session statements so far (SET, USE), replayed on a reconnected side.
    session_sql: Vec<Vec<u8>>,
    stmts: HashMap<u32, Stmt>,
    next_stmt: u32,
}

impl<'p> Session<'p> {
    pub fn new(client: Wire, login: Login, pool: &'p Pool, source: Target, destination: Target) -> Session<'p> {
        Session {
            client,
            login,
            pool,
            sides: [Side::new(source), Side::new(destination)],
            pinned: None,
            tx_sql: Vec::new(),
            tx_broken: false,
            tx_gen: [0; 2],
            autocommit: true,
            session_sql: Vec::new(),
            stmts: HashMap::new(),
            next_stmt: 1,
        }
    }

    fn side(&mut self, name: SideName) -> &mut Side {
        &mut self.sides[ix(name)]
    }

    /// Drop a side's connection (it reconnects, and replays, when next
    /// needed), and any answer still owed on it.
    fn hang_up(&mut self, name: SideName) {
        let side = self.side(name);
        side.wire = None;
        side.pending = None;
    }

    /// A side's connection and the client's, borrowed together.
    fn with_client(&mut self, name: SideName) -> (&mut Wire, &mut Wire) {
        (self.sides[ix(name)].wire.as_mut().expect("connected"), &mut self.client)
    }

    /// The application's name for a database, on `name`'s side: the
    /// source URL's database stands for each side's own URL database (the
    /// two may differ); any other name is the same on both.
    fn db_on(&self, name: SideName, db: &str) -> String {
        let source = &self.sides[ix(SideName::Source)].target.database;
        match (source, &self.sides[ix(name)].target.database) {
            (Some(app), Some(own)) if app == db => own.clone(),
            _ => db.to_owned(),
        }
    }

    /// The side's connection, connecting (and replaying the session's
    /// statements) if needed.
    async fn connect(&mut self, name: SideName) -> Result<()> {
        self.settled(name).await;
        if self.sides[ix(name)].wire.is_some() {
            return Ok(());
        }
        let (caps, collation) = (self.login.capabilities, self.login.collation);
        let db = self.login.database.as_deref().map(|d| self.db_on(name, d));
        let replay = self.session_sql.clone();
        let side = &mut self.sides[ix(name)];
        let mut wire = backend::login(&side.target, caps, collation, db.as_deref()).await?;
        for sql in &replay {
            wire.reset_seq();
            wire.send(&[&[COM_QUERY][..], sql].concat()).await?;
            let s = response::relay(&mut wire, caps, Sink::Drop).await?;
            if let Some((code, msg)) = s.error {
                tracing::warn!(side = name.as_str(), code, msg, "proxy: replaying a session statement on a reconnected side failed");
            }
        }
        side.wire = Some(wire);
        side.down = None;
        side.generation += 1;
        // A new connection has none of the session's prepared statements.
        for st in self.stmts.values_mut() {
            st.on[ix(name)] = None;
        }
        Ok(())
    }

    /// Tell the client the primary is unreachable.
    async fn primary_down(&mut self, name: SideName, e: &anyhow::Error) -> Result<()> {
        let msg = format!("movex cannot reach the {} (the primary in this pattern): {e:#}", name.as_str());
        self.client.send(&error_packet(2013, b"HY000", &msg)).await
    }

    /// A command that writes nothing — a read, `BEGIN` — for which the
    /// client need not wait for the secondary (see `secondary.rs`). The
    /// answer to anything else reaches the client once both sides are done
    /// with it, so a read after a pattern switch finds the write on either
    /// side.
    fn writes_nothing(kind: Kind, sql: &str) -> bool {
        kind == Kind::Read || route::opens_transaction(sql)
    }

    /// Whether the secondary's answer to such a command can wait unread
    /// for the side's next command: only if it is small (the primary's
    /// was). A large one is read at once: unread, it would fill the socket
    /// and leave the server blocked writing it, until `net_write_timeout`
    /// drops the connection if the client thinks for long.
    fn can_wait(writes_nothing: bool, primary: &Summary) -> bool {
        writes_nothing && primary.bytes <= LATER_MAX
    }

    /// The pattern for the next command: the transaction's, or the current one.
    fn pattern(&self) -> Pattern {
        self.pinned.unwrap_or_else(|| self.pool.pattern())
    }

    /// After the primary answered `sql`: the transaction goes on or ends.
    /// A deadlock or lock-wait timeout rolls the primary's transaction
    /// back; the secondary's is rolled back too, or it would commit what
    /// the primary undid.
    async fn after(&mut self, pattern: Pattern, sql: &str, s: &Summary) {
        if let Some(on) = s.autocommit() {
            self.autocommit = on;
        }
        let (_, secondary) = pattern.roles();
        if let (Some(_), Some((code @ (1213 | 1205), _))) = (self.pinned, &s.error) {
            tracing::debug!(code, "proxy: the primary rolled back a transaction; so does the secondary");
            if let Some(sec) = secondary {
                let _ = self.own(sec, "ROLLBACK").await;
            }
            self.pinned = None;
        } else if s.in_transaction() {
            if self.pinned.is_none() {
                self.tx_gen = [self.sides[0].generation, self.sides[1].generation];
            }
            self.pinned = Some(self.pinned.unwrap_or(pattern));
            if s.error.is_none() && route::kind(sql) != Kind::Read {
                self.tx_sql.push(sql.to_owned());
            }
            return;
        } else {
            self.pinned = None;
        }
        self.tx_sql.clear();
        self.tx_broken = false;
    }

    /// Run the session until the client quits or goes away.
    pub async fn run(mut self) -> Result<()> {
        loop {
            self.client.reset_seq();
            let packet = match self.client.read().await {
                Ok(Some(packet)) => packet,
                Ok(None) => return Ok(()),
                Err(e) => {
                    let what = "per command ([proxy.mysql] max_packet_bytes; raise it with the databases' max_allowed_packet)";
                    return super::login::refuse_too_large(&mut self.client, e, what).await;
                }
            };
            let Some(&command) = packet.first() else { continue };
            match command {
                COM_QUIT => return Ok(()),
                COM_QUERY => {
                    let sql = String::from_utf8_lossy(&packet[1..]).into_owned();
                    self.query(&packet, &sql).await?;
                }
                COM_INIT_DB => {
                    let db = String::from_utf8_lossy(&packet[1..]).into_owned();
                    self.use_db(&db).await?;
                }
                COM_PING => self.primary_one(&packet).await?,
                COM_RESET_CONNECTION => {
                    self.session_sql.clear();
                    self.stmts.clear();
                    self.pinned = None;
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
        }
    }

    /// Send `packet` to the primary and relay its response to the client
    /// as `reply` expects; `None` if the primary is unreachable (the client
    /// has been told).
    async fn primary(&mut self, name: SideName, packet: &[u8], reply: Reply) -> Result<Option<Relayed>> {
        if let Err(e) = self.connect(name).await {
            self.primary_down(name, &e).await?;
            return Ok(None);
        }
        let caps = self.login.capabilities;
        let (wire, client) = self.with_client(name);
        wire.reset_seq();
        wire.send(packet).await?;
        let t0 = Instant::now();
        let relayed = match reply {
            Reply::Results => response::relay(wire, caps, Sink::Client(client)).await.map(Relayed::Done),
            Reply::One => response::relay_one(wire, caps, Sink::Client(client)).await.map(Relayed::Done),
            Reply::Prepare(id) => response::relay_prepare(wire, caps, Sink::Client(client), Some(id)).await.map(Relayed::Prepared),
        };
        match relayed {
            Ok(r) => {
                if let (Reply::Results, Relayed::Done(s)) = (reply, &r) {
                    self.pool.metrics().record(name, s.error.is_none(), t0.elapsed());
                }
                Ok(Some(r))
            }
            Err(e) => {
                // The connection is in an unknown state; the session ends.
                self.hang_up(name);
                Err(e.context("relaying the primary's response"))
            }
        }
    }

    /// Send `packet` to the primary and hold its response back.
    async fn held(&mut self, name: SideName, packet: &[u8]) -> Result<(Buffered, Summary)> {
        let caps = self.login.capabilities;
        let t0 = Instant::now();
        let mut held = Buffered::default();
        let wire = self.side(name).wire.as_mut().expect("connected");
        let r: Result<Summary> = async {
            wire.reset_seq();
            wire.send(packet).await?;
            response::relay(wire, caps, Sink::Buffer(&mut held)).await
        }
        .await;
        match r {
            Ok(s) => {
                self.pool.metrics().record(name, s.error.is_none(), t0.elapsed());
                Ok((held, s))
            }
            Err(e) => {
                // The connection is in an unknown state; the session ends.
                self.hang_up(name);
                Err(e.context("reading the primary's response"))
            }
        }
    }

    /// The primary's answer to a COM_QUERY or COM_STMT_EXECUTE: relayed at
    /// once, or with `hold` held back until the secondary has answered, so
    /// a client told "done" knows both sides are done (a read after a
    /// pattern switch finds the write on either side, as with the library
    /// pool). `None` if the primary is unreachable (the client has been told).
    async fn primary_results(&mut self, name: SideName, packet: &[u8], hold: bool) -> Result<Option<(Summary, Option<Buffered>)>> {
        if !hold {
            return Ok(match self.primary(name, packet, Reply::Results).await? {
                Some(Relayed::Done(s)) => Some((s, None)),
                _ => None,
            });
        }
        if let Err(e) = self.connect(name).await {
            self.primary_down(name, &e).await?;
            return Ok(None);
        }
        let (held, s) = self.held(name, packet).await?;
        Ok(Some((s, Some(held))))
    }

    /// A statement of movex's own on a connected side, its response
    /// dropped; the server's error or the connection's failure as text (a
    /// failed connection is dropped: it reconnects when next needed).
    async fn own(&mut self, name: SideName, sql: &str) -> std::result::Result<(), String> {
        self.settled(name).await;
        let caps = self.login.capabilities;
        let Some(wire) = self.side(name).wire.as_mut() else { return Err("not connected".into()) };
        let r: Result<Summary> = async {
            wire.reset_seq();
            wire.send(&[&[COM_QUERY][..], sql.as_bytes()].concat()).await?;
            response::relay(wire, caps, Sink::Drop).await
        }
        .await;
        match r {
            Ok(Summary { error: None, .. }) => Ok(()),
            Ok(Summary { error: Some((code, msg)), .. }) => Err(format!("error {code}: {msg}")),
            Err(e) => {
                self.hang_up(name);
                Err(format!("{e:#}"))
            }
        }
    }

    /// A pinning statement of movex's own; a server's refusal is logged.
    async fn quietly(&mut self, name: SideName, sql: &str) {
        if let Err(e) = self.own(name, sql).await
            && self.side(name).wire.is_some()
        {
            tracing::warn!(side = name.as_str(), error = %e, sql, "proxy: a pinning statement failed");
        }
    }

    /// Pin the clock and random seeds on every connected side of this
    /// pattern before a write that reads them; what to undo after.
    async fn pin(&mut self, pattern: Pattern, sql: &str) -> bool {
        let pins = route::pins(sql);
        if pins == route::Pins::default() {
            return false;
        }
        let (primary, secondary) = pattern.roles();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let mut set = Vec::new();
        if pins.clock {
            set.push(format!("@@timestamp = {}.{:06}", now.as_secs(), now.subsec_micros()));
        }
        if pins.rand {
            let (a, b): (u32, u32) = (rand::random::<u32>() >> 2, rand::random::<u32>() >> 2);
            set.push(format!("@@rand_seed1 = {a}, @@rand_seed2 = {b}"));
        }
        let sql = format!("SET {}", set.join(", "));
        let _ = self.connect(primary).await;
        self.quietly(primary, &sql).await;
        if let Some(sec) = secondary
            && self.connect(sec).await.is_ok()
        {
            self.quietly(sec, &sql).await;
        }
        pins.clock
    }

    /// Give the sides their clocks back after a pinned write.
    async fn unpin(&mut self, pattern: Pattern) {
        let (primary, secondary) = pattern.roles();
        self.quietly(primary, "SET @@timestamp = DEFAULT").await;
        if let Some(sec) = secondary {
            self.quietly(sec, "SET @@timestamp = DEFAULT").await;
        }
    }

    /// A one-packet command on a connected non-primary side; on failure its
    /// connection is dropped (it reconnects, and replays, when next needed).
    async fn follow(&mut self, name: SideName, packet: &[u8], what: &str, secondary: bool) {
        self.settled(name).await;
        let caps = self.login.capabilities;
        let Some(wire) = self.side(name).wire.as_mut() else { return };
        let r: Result<Summary> = async {
            wire.reset_seq();
            wire.send(packet).await?;
            response::relay_one(wire, caps, Sink::Drop).await
        }
        .await;
        if let Err(e) | Ok(Summary { error: Some((_, e)), .. }) = r.map_err(|e| format!("{e:#}")) {
            if secondary {
                tracing::warn!(side = name.as_str(), error = %e, what, "proxy: the secondary did not follow a session command; it reconnects");
            }
            self.hang_up(name);
        }
    }

    async fn query(&mut self, packet: &[u8], sql: &str) -> Result<()> {
        if route::first_keyword(sql) == "USE"
            && let Some(db) = route::used_database(sql)
        {
            return self.use_db(&db).await;
        }
        let pattern = self.pattern();
        let (primary, secondary) = pattern.roles();
        let kind = route::kind(sql);
        if self.strict(pattern, kind) {
            return self.strict_write(pattern, packet, strict::Cmd::Query(packet), sql).await;
        }
        let clock = kind == Kind::Write && secondary.is_some() && self.pin(pattern, sql).await;
        let nothing = Self::writes_nothing(kind, sql);
        let hold = secondary.is_some() && !nothing;
        let Some((s, held)) = self.primary_results(primary, packet, hold).await? else { return Ok(()) };
        let in_tx = self.pinned.is_some() || s.in_transaction();
        if kind == Kind::Session && s.error.is_none() {
            self.session_sql.push(packet[1..].to_vec());
        }
        if let Some(sec) = secondary
            && (kind != Kind::Read || in_tx)
            && s.error.is_none()
        {
            self.secondary_part(pattern, sec, packet, sql, &s, Self::can_wait(nothing, &s)).await;
        }
        if clock {
            self.unpin(pattern).await;
        }
        if let Some(held) = held {
            held.release(&mut self.client).await?;
        }
        self.after(pattern, sql, &s).await;
        Ok(())
    }

    /// A one-packet command for the primary only (PING).
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

    /// `USE db` or `COM_INIT_DB`: each side switches to its own name for it
    /// (see [`Session::db_on`]); a reconnected side starts there.
    async fn use_db(&mut self, db: &str) -> Result<()> {
        let (primary, secondary) = self.pattern().roles();
        let on = |me: &Self, name| [&[COM_INIT_DB][..], me.db_on(name, db).as_bytes()].concat();
        let Some(Relayed::Done(s)) = self.primary(primary, &on(self, primary), Reply::One).await? else { return Ok(()) };
        if s.error.is_some() {
            return Ok(());
        }
        self.login.database = Some(db.to_owned());
        for name in [SideName::Source, SideName::Destination] {
            if name != primary {
                self.follow(name, &on(self, name), "USE", Some(name) == secondary).await;
            }
        }
        Ok(())
    }

    async fn prepare(&mut self, packet: &[u8]) -> Result<()> {
        let pattern = self.pattern();
        let (primary, secondary) = pattern.roles();
        let sql = String::from_utf8_lossy(&packet[1..]).into_owned();
        let client_id = self.next_stmt;
        let Some(Relayed::Prepared(Prepared::Ok { id, params })) = self.primary(primary, packet, Reply::Prepare(client_id)).await? else {
            return Ok(());
        };
        self.next_stmt += 1;
        let mut on = [None, None];
        on[ix(primary)] = Some(id);
        if let Some(sec) = secondary
            && route::kind(&sql) != Kind::Read
            && let Checked::Ran(Some(Prepared::Ok { id, .. })) = self.secondary(pattern, sec, packet, &sql, Expect::Prepared, false).await
        {
            on[ix(sec)] = Some(id);
        }
        self.stmts.insert(client_id, Stmt { sql, params, on, types: None });
        Ok(())
    }

    /// Prepare a statement on a side that lacks it, quietly; its id there.
    async fn prepare_on(&mut self, name: SideName, client_id: u32) -> Option<u32> {
        let sql = self.stmts.get(&client_id)?.sql.clone();
        self.connect(name).await.ok()?;
        let caps = self.login.capabilities;
        let wire = self.side(name).wire.as_mut()?;
        let r: Result<Prepared> = async {
            wire.reset_seq();
            wire.send(&[&[COM_STMT_PREPARE][..], sql.as_bytes()].concat()).await?;
            response::relay_prepare(wire, caps, Sink::Drop, None).await
        }
        .await;
        match r {
            Ok(Prepared::Ok { id, .. }) => {
                self.stmts.get_mut(&client_id)?.on[ix(name)] = Some(id);
                Some(id)
            }
            Ok(Prepared::Err(code, msg)) => {
                tracing::warn!(side = name.as_str(), code, msg, sql, "proxy: a side could not prepare a statement");
                None
            }
            Err(e) => {
                tracing::warn!(side = name.as_str(), error = format!("{e:#}"), "proxy: preparing a statement failed; the side reconnects");
                self.hang_up(name);
                None
            }
        }
    }

    /// The execute packet for a side: its statement id, and the parameter
    /// types always bound. Prepares the statement there first if needed.
    async fn execute_on(&mut self, name: SideName, client_id: u32, packet: &[u8]) -> Option<Vec<u8>> {
        let have = self.stmts.get(&client_id)?.on[ix(name)].filter(|_| self.side(name).wire.is_some());
        let id = match have {
            Some(id) => id,
            None => self.prepare_on(name, client_id).await?,
        };
        let st = self.stmts.get(&client_id)?;
        let mut out = packet.to_vec();
        out[1..5].copy_from_slice(&id.to_le_bytes());
        if st.params > 0 {
            let flag_at = 10 + (st.params as usize).div_ceil(8);
            if out.get(flag_at) == Some(&0) {
                out[flag_at] = 1;
                out.splice(flag_at + 1..flag_at + 1, st.types.clone()?);
            }
        }
        Some(out)
    }

    async fn execute(&mut self, packet: &[u8]) -> Result<()> {
        let pattern = self.pattern();
        let (primary, secondary) = pattern.roles();
        let unknown = |id: u32| error_packet(1243, b"HY000", &format!("Unknown prepared statement handler ({id}) given to movex"));
        if packet.len() < 10 {
            return self.client.send(&error_packet(1835, b"HY000", "malformed COM_STMT_EXECUTE")).await;
        }
        let id = u32::from_le_bytes(packet[1..5].try_into().expect("4 bytes"));
        let Some(st) = self.stmts.get_mut(&id) else { return self.client.send(&unknown(id)).await };
        // Remember the parameter types this execute binds.
        if st.params > 0 {
            let bitmap = (st.params as usize).div_ceil(8);
            if packet.get(10 + bitmap) == Some(&1) {
                st.types = packet.get(11 + bitmap..11 + bitmap + 2 * st.params as usize).map(<[u8]>::to_vec);
            }
        }
        let sql = st.sql.clone();
        if let Err(e) = self.connect(primary).await {
            return self.primary_down(primary, &e).await;
        }
        let Some(on_primary) = self.execute_on(primary, id, packet).await else {
            let msg = format!("movex could not prepare this statement on the {} (the primary now)", primary.as_str());
            return self.client.send(&error_packet(1243, b"HY000", &msg)).await;
        };
        let kind = route::kind(&sql);
        if self.strict(pattern, kind) {
            return self.strict_write(pattern, &on_primary, strict::Cmd::Execute { id, packet }, &sql).await;
        }
        let clock = kind == Kind::Write && secondary.is_some() && self.pin(pattern, &sql).await;
        let nothing = Self::writes_nothing(kind, &sql);
        let hold = secondary.is_some() && !nothing;
        let Some((s, held)) = self.primary_results(primary, &on_primary, hold).await? else { return Ok(()) };
        let in_tx = self.pinned.is_some() || s.in_transaction();
        if let Some(sec) = secondary
            && s.error.is_none()
            && (kind != Kind::Read || in_tx)
        {
            if self.lost_tx(sec).await {
                self.missed(pattern, sec, &sql, LOST_TX).await;
            } else {
                match self.execute_on(sec, id, packet).await {
                    Some(rewritten) => self.secondary_part(pattern, sec, &rewritten, &sql, &s, Self::can_wait(nothing, &s)).await,
                    None => self.missed(pattern, sec, &sql, "the statement could not be prepared on the secondary").await,
                }
            }
        }
        if clock {
            self.unpin(pattern).await;
        }
        if let Some(held) = held {
            held.release(&mut self.client).await?;
        }
        self.after(pattern, &sql, &s).await;
        Ok(())
    }

    /// SEND_LONG_DATA and CLOSE: no reply; to each side that has the
    /// statement, under its id there.
    async fn no_reply(&mut self, packet: &[u8]) -> Result<()> {
        if packet.len() < 5 {
            return Ok(());
        }
        let id = u32::from_le_bytes(packet[1..5].try_into().expect("4 bytes"));
        let ids = self.stmts.get(&id).map(|s| s.on).unwrap_or_default();
        for name in [SideName::Source, SideName::Destination] {
            self.settled(name).await;
            if let (Some(sid), Some(w)) = (ids[ix(name)], self.side(name).wire.as_mut()) {
                let mut p = packet.to_vec();
                p[1..5].copy_from_slice(&sid.to_le_bytes());
                w.reset_seq();
                if w.send(&p).await.is_err() {
                    self.hang_up(name);
                }
            }
        }
        if packet[0] == COM_STMT_CLOSE {
            self.stmts.remove(&id);
        }
        Ok(())
    }

    /// COM_STMT_RESET: the primary answers; the other side follows.
    async fn stmt_reset(&mut self, packet: &[u8]) -> Result<()> {
        let id = u32::from_le_bytes(packet.get(1..5).and_then(|b| b.try_into().ok()).unwrap_or([0; 4]));
        let (primary, _) = self.pattern().roles();
        let ids = self.stmts.get(&id).map(|s| s.on).unwrap_or_default();
        let with = |sid: u32| {
            let mut p = packet.to_vec();
            p[1..5].copy_from_slice(&sid.to_le_bytes());
            p
        };
        match ids[ix(primary)] {
            Some(sid) => drop(self.primary(primary, &with(sid), Reply::One).await?),
            // Not prepared on the primary yet: nothing to reset there.
            None if self.stmts.contains_key(&id) => self.client.send(&super::login::ok_packet(mysql_common::constants::StatusFlags::empty())).await?,
            None => self.client.send(&error_packet(1243, b"HY000", &format!("Unknown prepared statement handler ({id}) given to movex"))).await?,
        }
        for name in [SideName::Source, SideName::Destination] {
            if name != primary
                && let Some(sid) = ids[ix(name)]
            {
                self.follow(name, &with(sid), "COM_STMT_RESET", true).await;
            }
        }
        Ok(())
    }
}
