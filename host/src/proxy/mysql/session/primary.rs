//! The primary's part of a command: sent first, its answer relayed to the
//! client as it arrives, or held back until the secondary has answered
//! too, so a client told "done" knows both sides are done (a read after a
//! pattern switch then finds the write on either side, as with the library
//! pool). Only a command that writes nothing (a read, `BEGIN`) is relayed
//! at once; whether the secondary's answer to it may wait unread is
//! decided here too.

use super::{Session, ix};
use crate::pool::SideName;
use crate::proxy::mysql::login::error_packet;
use crate::proxy::mysql::response::{self, Buffered, PrepareAnswer, Sink, Summary};
use crate::proxy::mysql::route::{self, Kind};
use crate::proxy::mysql::wire::Wire;
use anyhow::Result;
use std::time::Instant;

/// The largest primary answer whose secondary answer may wait unread
/// (well under a socket's buffers).
const LATER_MAX: u64 = 16 * 1024;

/// What a command's response looks like.
#[derive(Clone, Copy)]
pub(super) enum Reply {
    /// OK, ERR or result sets.
    Results,
    /// One packet.
    One,
    /// A COM_STMT_PREPARE response, its statement id shown to the client as this.
    Prepare(u32),
}

/// The primary's answer, as relayed.
pub(super) enum Relayed {
    Done(Summary),
    Prepare(PrepareAnswer),
}

impl Session<'_> {
    /// Send `packet` to the primary and relay its response to the client
    /// as `reply` expects; `None` if the primary is unreachable (the client
    /// has been told).
    pub(super) async fn primary(&mut self, name: SideName, packet: &[u8], reply: Reply) -> Result<Option<Relayed>> {
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
            Reply::Prepare(id) => response::relay_prepare(wire, caps, Sink::Client(client), Some(id)).await.map(Relayed::Prepare),
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
    pub(super) async fn held(&mut self, name: SideName, packet: &[u8]) -> Result<(Buffered, Summary)> {
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
    pub(super) async fn primary_results(&mut self, name: SideName, packet: &[u8], hold: bool) -> Result<Option<(Summary, Option<Buffered>)>> {
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

    /// Tell the client the primary is unreachable.
    pub(super) async fn primary_down(&mut self, name: SideName, e: &anyhow::Error) -> Result<()> {
        let msg = format!("movex cannot reach the {} (the primary in this pattern): {e:#}", name.as_str());
        self.client.send(&error_packet(2013, b"HY000", &msg)).await
    }

    /// A side's connection and the client's, borrowed together.
    fn with_client(&mut self, name: SideName) -> (&mut Wire, &mut Wire) {
        (self.sides[ix(name)].wire.as_mut().expect("connected"), &mut self.client)
    }

    /// A command that writes nothing — a read, `BEGIN` — for which the
    /// client need not wait for the secondary (see `secondary.rs`). The
    /// answer to anything else reaches the client once both sides are done
    /// with it, so a read after a pattern switch finds the write on either
    /// side.
    pub(super) fn writes_nothing(kind: Kind, sql: &str) -> bool {
        kind == Kind::Read || route::opens_transaction(sql)
    }

    /// Whether the secondary's answer to such a command can wait unread
    /// for the side's next command: only if it is small (the primary's
    /// was). A large one is read at once: unread, it would fill the socket
    /// and leave the server blocked writing it, until `net_write_timeout`
    /// drops the connection if the client thinks for long.
    pub(super) fn can_wait(writes_nothing: bool, primary: &Summary) -> bool {
        writes_nothing && primary.bytes <= LATER_MAX
    }
}
