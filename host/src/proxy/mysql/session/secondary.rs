//! The secondary's part of a command, and the journal of what it missed.
//!
//! A command goes to the secondary once the primary has answered it, and
//! the secondary's answer is checked against the primary's: an error, or a
//! different affected-rows count, is counted and journaled
//! ([`Session::secondary`]). For an INSERT the primary's auto-increment id
//! goes first as `SET INSERT_ID`, pipelined with the statement (one write,
//! one wait).
//!
//! A command that writes nothing — a read in a transaction, `BEGIN` — and
//! whose answer is small is sent to the secondary without the client
//! waiting for that answer ([`Session::later`]); it is read and checked
//! the same way before the side is sent anything else
//! ([`Session::collect_deferred`]). So the primary runs the client's next command
//! while the secondary is still on this one, and the secondary still sees
//! every command, in order.

use super::{Session, ix};
use crate::model::Pattern;
use crate::pool::{SideName, Statement};
use crate::proxy::mysql::response::{self, PrepareAnswer, Sink, Summary};
use crate::proxy::mysql::route::{self, Kind};
use crate::proxy::mysql::wire::{self, Wire};
use crate::store::journal::JournalKind;
use anyhow::Result;
use mysql_common::constants::CapabilityFlags;
use std::time::Instant;

/// What the secondary's answer is checked against.
#[derive(Clone, Copy)]
pub(super) enum Expect<'a> {
    /// The primary's answer to the same command.
    Like(&'a Summary),
    /// A COM_STMT_PREPARE: only whether it failed.
    PrepareAnswer,
}

/// What became of a command on the secondary.
pub(super) enum Checked {
    /// It ran (a prepare's outcome with it); a difference was journaled.
    Ran(Option<PrepareAnswer>),
    /// It did not run, and was journaled.
    Missed,
    /// Strict mode: it failed, with the secondary's error code if it sent
    /// one. Nothing was journaled: the caller refuses the command.
    Failed(Option<u16>, String),
}

/// A command sent to the secondary: what its answer is checked with (one
/// whose answer has not been read yet waits in `Link::pending`).
pub(super) struct Asked {
    pattern: Pattern,
    name: SideName,
    sql: String,
    /// The primary's answer to the same command (a prepare: none).
    primary: Summary,
    prepare: bool,
    /// Strict mode: a failure is returned, not journaled.
    strict: bool,
    /// A session statement (SET, USE): a failure is no data to repair.
    session: bool,
    sent: Instant,
    /// Whether the answer was awaited, so `sent.elapsed()` is its latency
    /// (a deferred answer is read only when the side is next needed).
    awaited: bool,
}

/// Send a command to the secondary; with `insert_id`, `SET INSERT_ID`
/// first in the same write. Whether that statement's answer comes first.
async fn send(wire: &mut Wire, caps: CapabilityFlags, payload: &[u8], insert_id: Option<u64>) -> Result<bool> {
    let Some(id) = insert_id else {
        wire.reset_seq();
        wire.send(payload).await?;
        return Ok(false);
    };
    let set = format!("\x03SET INSERT_ID = {id}");
    if wire::pipelines(payload) {
        wire.queue_command(set.as_bytes())?;
        wire.queue_command(payload)?;
        wire.flush().await?;
        return Ok(true);
    }
    // A command over 16 MiB is not pipelined: one round trip each.
    wire.reset_seq();
    wire.send(set.as_bytes()).await?;
    response::relay(wire, caps, Sink::Drop).await?;
    wire.reset_seq();
    wire.send(payload).await?;
    Ok(false)
}

/// Read the secondary's answer to what [`send`] sent.
async fn answer(wire: &mut Wire, caps: CapabilityFlags, set_first: bool, prepare: bool) -> Result<(Option<PrepareAnswer>, Summary)> {
    if set_first {
        // A refused SET INSERT_ID shows as a different row or a failed
        // insert, checked below.
        wire.next_answer();
        response::relay(wire, caps, Sink::Drop).await?;
        wire.next_answer();
    }
    if !prepare {
        return Ok((None, response::relay(wire, caps, Sink::Drop).await?));
    }
    let p = response::relay_prepare(wire, caps, Sink::Drop, None).await?;
    let s = match &p {
        PrepareAnswer::Err(code, msg) => Summary { error: Some((*code, msg.clone())), ..Summary::default() },
        PrepareAnswer::Ok { .. } => Summary::default(),
    };
    Ok((Some(p), s))
}

impl Session<'_> {
    /// Send `payload` to the secondary and check its answer against the
    /// primary's. `sql` names the statement in the journal. A failure is
    /// journaled, or in strict mode (`strict`) returned for the caller to
    /// refuse the statement with; a different affected-rows count is
    /// journaled either way (the library pool cannot see it at all).
    pub(super) async fn secondary(&mut self, pattern: Pattern, name: SideName, payload: &[u8], sql: &str, expect: Expect<'_>, strict: bool) -> Checked {
        let (primary, prepare) = match expect {
            Expect::Like(s) => (s.clone(), false),
            Expect::PrepareAnswer => (Summary::default(), true),
        };
        let session = route::kind(sql) == Kind::Session;
        let mut asked = Asked { pattern, name, sql: sql.to_owned(), primary, prepare, strict, session, sent: Instant::now(), awaited: true };
        if let Err(why) = self.reach(name).await {
            return self.unreachable(&asked, why).await;
        }
        asked.sent = Instant::now();
        let caps = self.login.capabilities;
        let insert_id = (asked.primary.last_insert_id > 0 && route::inserts(sql)).then_some(asked.primary.last_insert_id);
        let wire = self.side(name).wire.as_mut().expect("connected");
        let result = async {
            let set_first = send(wire, caps, payload, insert_id).await?;
            answer(wire, caps, set_first, prepare).await
        }
        .await;
        self.check(asked, result).await
    }

    /// Send `payload` to the secondary for a command that writes nothing
    /// (see the module's header); its answer is checked when
    /// [`Session::collect_deferred`] reads it.
    pub(super) async fn later(&mut self, pattern: Pattern, name: SideName, payload: &[u8], sql: &str, primary: &Summary) {
        // Only reads and BEGIN are deferred: never a session statement.
        let asked = Asked { pattern, name, sql: sql.to_owned(), primary: primary.clone(), prepare: false, strict: false, session: false, sent: Instant::now(), awaited: false };
        if let Err(why) = self.reach(name).await {
            self.unreachable(&asked, why).await;
            return;
        }
        let caps = self.login.capabilities;
        let wire = self.side(name).wire.as_mut().expect("connected");
        match send(wire, caps, payload, None).await {
            Ok(_) => self.side(name).pending = Some(asked),
            Err(e) => drop(self.check(asked, Err(e)).await),
        }
    }

    /// Read and check the side's deferred answer, if it has one: before
    /// the side is sent anything else.
    pub(super) async fn collect_deferred(&mut self, name: SideName) {
        if self.sides[ix(name)].pending.is_some() {
            // Boxed: checking may journal, which may roll the side back.
            Box::pin(self.read_deferred(name)).await;
        }
    }

    async fn read_deferred(&mut self, name: SideName) {
        let Some(asked) = self.side(name).pending.take() else { return };
        let caps = self.login.capabilities;
        let Some(wire) = self.side(name).wire.as_mut() else { return };
        let result = answer(wire, caps, false, false).await;
        self.check(asked, result).await;
    }

    /// Connect the secondary; why not, logged once while it stays down.
    async fn reach(&mut self, name: SideName) -> std::result::Result<(), String> {
        let Err(e) = self.connect(name).await else { return Ok(()) };
        let why = format!("{e:#}");
        if self.side(name).down.as_deref() != Some(why.as_str()) {
            tracing::warn!(side = name.as_str(), error = %why, "proxy: the secondary is unreachable");
        }
        self.side(name).down = Some(why.clone());
        Err(why)
    }

    /// The secondary could not be reached for `asked`.
    async fn unreachable(&mut self, asked: &Asked, why: String) -> Checked {
        if asked.strict {
            return Checked::Failed(None, format!("the {} is unreachable: {why}", asked.name.as_str()));
        }
        if !asked.session {
            self.missed(asked.pattern, asked.name, &asked.sql, &why).await;
        }
        Checked::Missed
    }

    /// Check the secondary's answer to `asked` (see [`Session::secondary`]).
    async fn check(&mut self, asked: Asked, result: Result<(Option<PrepareAnswer>, Summary)>) -> Checked {
        let Asked { pattern, name, ref sql, ref primary, prepare, strict, session, sent, awaited } = asked;
        match result {
            Ok((p, s)) => {
                if let (Some((code, msg)), None, true) = (&s.error, &primary.error, strict) {
                    self.pool.metrics().record(name, false, sent.elapsed());
                    return Checked::Failed(Some(*code), format!("the {} refused it: error {code}: {msg}", name.as_str()));
                }
                let problem = match (&s.error, &primary.error) {
                    (Some((code, msg)), None) => Some(format!("error {code}: {msg}")),
                    (None, None) if !prepare && s.affected_rows != primary.affected_rows => {
                        Some(format!("{} rows affected, the primary {}", s.affected_rows, primary.affected_rows))
                    }
                    _ => None,
                };
                match problem {
                    // A session statement the secondary refused is no data
                    // to repair: logged; the side reconnects and replays.
                    Some(why) if session => {
                        tracing::warn!(side = name.as_str(), error = %why, sql, "proxy: the secondary refused a session statement; it reconnects");
                        self.hang_up(name);
                    }
                    Some(why) => self.missed(pattern, name, sql, &why).await,
                    None if awaited => self.pool.metrics().record(name, true, sent.elapsed()),
                    None => self.pool.metrics().count(name, true),
                }
                Checked::Ran(p)
            }
            Err(e) => {
                // The connection is in an unknown state: drop it, reconnect next time.
                self.hang_up(name);
                if strict {
                    self.pool.metrics().record(name, false, sent.elapsed());
                    return Checked::Failed(None, format!("the {} connection failed: {e:#}", name.as_str()));
                }
                if !session {
                    self.missed(pattern, name, sql, &format!("{e:#}")).await;
                }
                Checked::Missed
            }
        }
    }

    /// The secondary missed `sql`: count it and journal it. In a
    /// transaction, the secondary's part of it is rolled back and the
    /// whole transaction so far is journaled; the rest of it is journaled
    /// as it comes.
    pub(super) async fn missed(&mut self, pattern: Pattern, name: SideName, sql: &str, error: &str) {
        self.pool.metrics().count(name, false);
        let mut stmts = vec![sql.to_owned()];
        // (Strict mode refuses failed writes instead; what reaches here is
        // a differing row count, journaled alone with the transaction kept.)
        if self.tx.pattern.is_some() && !self.tx.broken && !self.pool.config().strict {
            self.tx.broken = true;
            stmts = self.tx.sql.iter().cloned().chain(stmts).collect();
            // Best effort: a dead connection has rolled it back already.
            let _ = self.own(name, "ROLLBACK").await;
        }
        self.journal(pattern, name, JournalKind::SecondaryFailed, &stmts, error).await;
        tracing::warn!(side = name.as_str(), error, sql, "proxy: the secondary missed a write; journaled");
    }

    /// The secondary's part of a command: journaled if the transaction in
    /// progress lost the secondary, else sent — without the client
    /// waiting if `later` (see the module's header).
    pub(super) async fn secondary_part(&mut self, pattern: Pattern, name: SideName, payload: &[u8], sql: &str, primary: &Summary, later: bool) {
        if self.kept_from_lost_tx(pattern, name, sql).await {
            return;
        }
        if later {
            self.later(pattern, name, payload, sql, primary).await;
        } else {
            self.secondary(pattern, name, payload, sql, Expect::Like(primary), false).await;
        }
    }

    /// Journal statements the `missing` side lacks (counted once durable).
    pub(super) async fn journal(&self, pattern: Pattern, missing: SideName, kind: JournalKind, sql: &[String], why: &str) {
        let stmts: Vec<Statement> = sql.iter().map(|s| Statement::new(s.as_str())).collect();
        self.pool.record_missed(pattern, missing, kind, &stmts, why).await;
    }
}
