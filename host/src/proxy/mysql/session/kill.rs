//! `KILL [HARD | SOFT] [CONNECTION | QUERY] <id>` and `COM_PROCESS_KILL`:
//! a client cancelling a query (its driver's timeout, a user's Ctrl-C) or
//! ending a connection, by the id the client was given
//! ([`crate::proxy::mysql::sessions`]). The session it names is stopped on both
//! sides, each under that side's own id for it: the other side first
//! (its answer dropped), then the primary, whose answer the client gets.
//! Only the movex user who opened a session may kill it, as a server lets
//! a user kill only their own threads. An id the door does not know is
//! refused, never passed on: on the servers every session is movex's one
//! user, and the id may be another application's.

use super::{Session, ix};
use crate::pool::SideName;
use crate::proxy::mysql::login::{error_packet, ok_packet};
use crate::proxy::mysql::route::Kill;
use crate::proxy::mysql::session::primary::Reply;
use anyhow::Result;
use mysql_common::constants::StatusFlags;

/// MySQL's "Unknown thread id" and "You are not owner of thread".
const ER_NO_SUCH_THREAD: u16 = 1094;
const ER_KILL_DENIED: u16 = 1095;

impl Session<'_> {
    pub(super) async fn kill(&mut self, k: Kill) -> Result<()> {
        let (primary, _) = self.pattern().roles();
        let Some(target) = self.sessions.find(k.id, ix(primary)) else {
            return self.client.send(&error_packet(ER_NO_SUCH_THREAD, b"HY000", &format!("Unknown thread id: {}", k.id))).await;
        };
        if target.user != self.login.user {
            return self.client.send(&error_packet(ER_KILL_DENIED, b"HY000", &format!("You are not owner of thread {}", k.id))).await;
        }
        let other = match primary {
            SideName::Source => SideName::Destination,
            SideName::Destination => SideName::Source,
        };
        let on_other = target.thread_id(ix(other));
        if on_other != 0 && self.connect(other).await.is_ok() {
            if let Err(e) = self.own(other, &k.sql(on_other)).await {
                tracing::debug!(side = other.as_str(), error = %e, "proxy: KILL on the non-primary side");
            }
        }
        match target.thread_id(ix(primary)) {
            // Not connected there: nothing runs to stop.
            0 => {
                let status = if self.autocommit { StatusFlags::SERVER_STATUS_AUTOCOMMIT } else { StatusFlags::empty() };
                self.client.send(&ok_packet(status)).await
            }
            on_primary => {
                let packet = [&[super::COM_QUERY][..], k.sql(on_primary).as_bytes()].concat();
                self.primary(primary, &packet, Reply::Results).await.map(drop)
            }
        }
    }
}
