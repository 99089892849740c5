//! A side's connection: opened when first needed, logged in to the
//! session's database (each side's own name for it), and brought up to
//! date with the session's statements (SET, USE) replayed in order, so a
//! side that reconnects (the secondary coming back) is in the session the
//! client thinks it is in. Session commands (`USE`, `COM_RESET_CONNECTION`,
//! `COM_SET_OPTION`, `COM_STMT_RESET`) the primary answered are followed by
//! the other side; one it cannot follow drops its connection, to be made
//! again and replayed. Also here: statements of movex's own on a side
//! (`BEGIN`, `COMMIT`, `ROLLBACK`, pinning), their answers dropped.

use super::primary::{Relayed, Reply};
use super::secondary::Asked;
use super::{COM_INIT_DB, COM_QUERY, Session, ix};
use crate::pool::SideName;
use crate::proxy::mysql::backend::{self, Dialed, LoginRefused, Target};
use crate::proxy::mysql::login::{self, error_packet};
use crate::proxy::mysql::names;
use crate::proxy::mysql::response::{self, Sink, Summary};
use crate::proxy::mysql::wire::Wire;
use anyhow::Result;
use std::borrow::Cow;

/// One side's connection, opened when first needed.
pub(super) struct Link {
    pub(super) target: Target,
    pub(super) wire: Option<Wire>,
    /// Why the last connect failed, while it is down.
    pub(super) down: Option<String>,
    /// Counts connections made: a transaction begun on one generation is
    /// lost if the side has reconnected since.
    pub(super) generation: u64,
    /// A command whose answer is read before the next is sent.
    pub(super) pending: Option<Asked>,
    /// The connection dialled before the client was greeted, used by the
    /// first connect.
    pub(super) dialed: Option<Dialed>,
}

impl Link {
    pub(super) fn new(target: Target) -> Link {
        Link { target, wire: None, down: None, generation: 0, pending: None, dialed: None }
    }
}

impl Session<'_> {
    /// The side's connection, connecting (and replaying the session's
    /// statements) if needed.
    pub(super) async fn connect(&mut self, name: SideName) -> Result<()> {
        self.collect_deferred(name).await;
        if self.sides[ix(name)].wire.is_some() {
            return Ok(());
        }
        let (caps, collation) = (self.login.capabilities, self.login.collation);
        let db = self.login.database.as_deref().map(|d| self.db_on(name, d));
        let replay = self.session_sql.clone();
        let side = &mut self.sides[ix(name)];
        let dialed = match side.dialed.take() {
            // Dialled before the greeting; should it have waited too long
            // (the server's connect_timeout), a connection made now does.
            // A login the server refused is refused again: not retried.
            Some(d) => match backend::log_in(d, &side.target, caps, collation, db.as_deref()).await {
                Ok(w) => Some(w),
                Err(e) if e.downcast_ref::<LoginRefused>().is_some() => return Err(e),
                Err(_) => None,
            },
            None => None,
        };
        let (mut wire, thread_id) = match dialed {
            Some(w) => w,
            None => backend::login(&side.target, caps, collation, db.as_deref()).await?,
        };
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
        self.me.entry.set_thread_id(ix(name), thread_id);
        self.forget_prepared(name);
        Ok(())
    }

    /// Log in to the primary, then tell the client it is in: a login the
    /// server refuses (an unknown database, say) reaches the client as
    /// that server's error at login, as it would directly, and a primary
    /// that cannot be reached refuses the login too, so a client (or a
    /// pool's health check) never holds a session that cannot run a
    /// command. `false` if the client was refused (and told why).
    pub async fn open(&mut self) -> Result<bool> {
        let (primary, _) = self.pattern().roles();
        if let Err(e) = self.connect(primary).await {
            tracing::debug!(side = primary.as_str(), error = format!("{e:#}"), "proxy: a client's login refused: the primary's was");
            match e.downcast_ref::<LoginRefused>() {
                Some(r) => {
                    let msg = format!("{} (movex's login to the {} as {:?})", r.msg, r.side, r.user);
                    self.client.send(&error_packet(r.code, &r.state, &msg)).await?;
                }
                None => self.primary_down(primary, &e).await?,
            }
            return Ok(false);
        }
        login::welcome(&mut self.client, &self.login).await?;
        Ok(true)
    }

    /// Drop a side's connection (it reconnects, and replays, when next
    /// needed), and any answer still owed on it.
    pub(super) fn hang_up(&mut self, name: SideName) {
        let side = self.side(name);
        side.wire = None;
        side.pending = None;
        self.me.entry.set_thread_id(ix(name), 0);
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

    /// `sql` as the destination runs it: the application's database
    /// name, where the statement writes it, replaced by the destination's
    /// ([`crate::proxy::mysql::names`]).
    pub(super) fn on_destination<'a>(&self, sql: &'a str) -> Result<Cow<'a, str>, names::Ambiguous> {
        match (&self.sides[ix(SideName::Source)].target.database, &self.sides[ix(SideName::Destination)].target.database) {
            (Some(app), Some(own)) => names::map(sql, app, own),
            _ => Ok(Cow::Borrowed(sql)),
        }
    }

    /// `USE db` or `COM_INIT_DB`: each side switches to its own name for it
    /// (see [`Session::db_on`]); a reconnected side starts there.
    pub(super) async fn use_db(&mut self, db: &str) -> Result<()> {
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

    /// A one-packet command on a connected non-primary side; on failure its
    /// connection is dropped (it reconnects, and replays, when next needed).
    pub(super) async fn follow(&mut self, name: SideName, packet: &[u8], what: &str, secondary: bool) {
        self.collect_deferred(name).await;
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

    /// A statement of movex's own on a connected side, its response
    /// dropped; the server's error or the connection's failure as text (a
    /// failed connection is dropped: it reconnects when next needed).
    pub(super) async fn own(&mut self, name: SideName, sql: &str) -> std::result::Result<(), String> {
        self.own_status(name, sql).await.map(|_| ())
    }

    /// [`Session::own`], with the side's answer (its status flags).
    pub(super) async fn own_status(&mut self, name: SideName, sql: &str) -> std::result::Result<Summary, String> {
        self.collect_deferred(name).await;
        let caps = self.login.capabilities;
        let Some(wire) = self.side(name).wire.as_mut() else { return Err("not connected".into()) };
        let r: Result<Summary> = async {
            wire.reset_seq();
            wire.send(&[&[COM_QUERY][..], sql.as_bytes()].concat()).await?;
            response::relay(wire, caps, Sink::Drop).await
        }
        .await;
        match r {
            Ok(Summary { error: Some((code, msg)), .. }) => Err(format!("error {code}: {msg}")),
            Ok(s) => Ok(s),
            Err(e) => {
                self.hang_up(name);
                Err(format!("{e:#}"))
            }
        }
    }
}
