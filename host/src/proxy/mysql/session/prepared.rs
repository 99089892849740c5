//! Prepared statements. The client sees movex's ids; each side has its
//! own id for the same statement ([`Stmt`]). A write is prepared on the
//! primary and the secondary at once, a read on the primary only; a side
//! that lacks a statement (after a pattern switch, or a reconnect)
//! prepares it when it first needs it. Each execute, close or reset is
//! rewritten for the id on the side it goes to.

use super::primary::{Relayed, Reply};
use super::secondary::{Checked, Expect};
use super::{COM_STMT_CLOSE, COM_STMT_PREPARE, Session, ix, strict};
use crate::pool::SideName;
use crate::proxy::mysql::login::{error_packet, ok_packet};
use crate::proxy::mysql::response::{self, PrepareAnswer, Sink};
use crate::proxy::mysql::route::{self, Kind};
use anyhow::Result;

/// A prepared statement, under the id movex gave the client: its id on
/// each side that has prepared it (a side prepares it when it first needs
/// it: after a pattern switch, or a reconnect), its SQL, and the parameter
/// types last bound (a side may not have seen the execute that bound them).
pub(super) struct Stmt {
    sql: String,
    params: u16,
    on: [Option<u32>; 2],
    types: Option<Vec<u8>>,
}

impl Session<'_> {
    /// COM_STMT_PREPARE: the primary answers, under a new id of movex's.
    pub(super) async fn prepare(&mut self, packet: &[u8]) -> Result<()> {
        let pattern = self.pattern();
        let (primary, secondary) = pattern.roles();
        let sql = String::from_utf8_lossy(&packet[1..]).into_owned();
        let on_dst = match self.on_destination(&sql) {
            Ok(s) => [&[COM_STMT_PREPARE][..], s.as_bytes()].concat(),
            Err(e) => return self.client.send(&error_packet(1105, b"HY000", &e.to_string())).await,
        };
        let packet_on = |name| if name == SideName::Destination { &on_dst[..] } else { packet };
        let client_id = self.next_stmt;
        let Some(Relayed::Prepare(PrepareAnswer::Ok { id, params })) = self.primary(primary, packet_on(primary), Reply::Prepare(client_id)).await? else {
            return Ok(());
        };
        self.next_stmt += 1;
        let mut on = [None, None];
        on[ix(primary)] = Some(id);
        if let Some(sec) = secondary
            && route::kind(&sql) != Kind::Read
            && let Checked::Ran(Some(PrepareAnswer::Ok { id, .. })) = self.secondary(pattern, sec, packet_on(sec), &sql, Expect::PrepareAnswer, false).await
        {
            on[ix(sec)] = Some(id);
        }
        self.stmts.insert(client_id, Stmt { sql, params, on, types: None });
        Ok(())
    }

    /// Prepare a statement on a side that lacks it, quietly; its id there.
    async fn prepare_on(&mut self, name: SideName, client_id: u32) -> Option<u32> {
        let sql = self.stmts.get(&client_id)?.sql.clone();
        let sql = match name {
            SideName::Destination => self.on_destination(&sql).ok()?.into_owned(),
            SideName::Source => sql,
        };
        self.connect(name).await.ok()?;
        let caps = self.login.capabilities;
        let wire = self.side(name).wire.as_mut()?;
        let r: Result<PrepareAnswer> = async {
            wire.reset_seq();
            wire.send(&[&[COM_STMT_PREPARE][..], sql.as_bytes()].concat()).await?;
            response::relay_prepare(wire, caps, Sink::Drop, None).await
        }
        .await;
        match r {
            Ok(PrepareAnswer::Ok { id, .. }) => {
                self.stmts.get_mut(&client_id)?.on[ix(name)] = Some(id);
                Some(id)
            }
            Ok(PrepareAnswer::Err(code, msg)) => {
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
    pub(super) async fn execute_on(&mut self, name: SideName, client_id: u32, packet: &[u8]) -> Option<Vec<u8>> {
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

    /// COM_STMT_EXECUTE: as [`Session::query`], each side's packet under
    /// its own id.
    pub(super) async fn execute(&mut self, packet: &[u8]) -> Result<()> {
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
        let in_tx = self.tx.pattern.is_some() || s.in_transaction();
        if let Some(sec) = secondary
            && s.error.is_none()
            && (kind != Kind::Read || in_tx)
        {
            if !self.kept_from_lost_tx(pattern, sec, &sql).await {
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
    pub(super) async fn no_reply(&mut self, packet: &[u8]) -> Result<()> {
        if packet.len() < 5 {
            return Ok(());
        }
        let id = u32::from_le_bytes(packet[1..5].try_into().expect("4 bytes"));
        let ids = self.stmts.get(&id).map(|s| s.on).unwrap_or_default();
        for name in [SideName::Source, SideName::Destination] {
            self.collect_deferred(name).await;
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
    pub(super) async fn stmt_reset(&mut self, packet: &[u8]) -> Result<()> {
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
            None if self.stmts.contains_key(&id) => self.client.send(&ok_packet(mysql_common::constants::StatusFlags::empty())).await?,
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

    /// A side's new connection has none of the session's prepared statements.
    pub(super) fn forget_prepared(&mut self, name: SideName) {
        for st in self.stmts.values_mut() {
            st.on[ix(name)] = None;
        }
    }
}
