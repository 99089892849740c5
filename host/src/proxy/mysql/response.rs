//! Reading one backend response to one command, packet by packet, and
//! passing each packet on (to the client, for the primary) or dropping it
//! (the secondary): OK, ERR, or result sets — column count, column
//! definitions, EOF unless `CLIENT_DEPRECATE_EOF`, rows, and a terminator —
//! repeated while the server says more results exist. What the proxy needs
//! of it (affected rows, insert id, status, the error) is read on the way
//! with `mysql_common`'s packet parsers; the bytes are not changed, except
//! that strict mode holds a response back ([`Sink::Buffer`]) until both
//! sides have answered, and may clear its in-transaction flag (movex wrapped
//! the statement in a transaction of its own).

use super::wire::Wire;
use anyhow::{Context, Result, bail};
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::{ParseBuf, ReadMysqlExt};
use mysql_common::packets::{CommonOkPacket, ErrPacket, OkPacketDeserializer, OldEofPacket, ResultSetTerminator};
use mysql_common::proto::MyDeserialize;

/// Flush to the client once this much is queued (large result sets stream).
const FLUSH_AT: usize = 64 * 1024;

/// What a response said, summed over its result sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub affected_rows: u64,
    pub last_insert_id: u64,
    /// The last status flags (in a transaction, more results...).
    pub status: u16,
    pub warnings: u16,
    /// The server's error, if the response ended with one.
    pub error: Option<(u16, String)>,
    pub result_sets: u32,
    /// Statements that completed (OK or a whole result set) before any error.
    pub completed: u32,
    /// Whether the response carried status flags (an ERR alone does not).
    pub status_seen: bool,
    /// Its size: the payloads' bytes.
    pub bytes: u64,
}

impl Summary {
    pub fn in_transaction(&self) -> bool {
        StatusFlags::from_bits_truncate(self.status).contains(StatusFlags::SERVER_STATUS_IN_TRANS)
    }

    /// Whether autocommit is on, if the response said.
    pub fn autocommit(&self) -> Option<bool> {
        self.status_seen.then(|| StatusFlags::from_bits_truncate(self.status).contains(StatusFlags::SERVER_STATUS_AUTOCOMMIT))
    }
}

/// A response held back: its packets, and where each status field is.
#[derive(Default)]
pub struct Buffered {
    pub packets: Vec<Vec<u8>>,
    /// (packet, byte offset) of every status-flags field.
    status_at: Vec<(usize, usize)>,
}

impl Buffered {
    /// Clear `flags` in every status field.
    pub fn clear_status(&mut self, flags: StatusFlags) {
        for &(packet, at) in &self.status_at {
            if let Some(field) = self.packets[packet].get_mut(at..at + 2) {
                let bits = u16::from_le_bytes([field[0], field[1]]) & !flags.bits();
                field.copy_from_slice(&bits.to_le_bytes());
            }
        }
    }

    /// Send it all to the client.
    pub async fn release(self, client: &mut Wire) -> Result<()> {
        for p in &self.packets {
            client.queue(p)?;
            if client.queued() >= FLUSH_AT {
                client.flush().await?;
            }
        }
        client.flush().await
    }
}

/// Where a response's packets go.
pub enum Sink<'a> {
    Client(&'a mut Wire),
    Buffer(&'a mut Buffered),
    Drop,
}

impl Sink<'_> {
    async fn pass(&mut self, packet: &[u8]) -> Result<()> {
        match self {
            Sink::Client(w) => {
                w.queue(packet)?;
                if w.queued() >= FLUSH_AT {
                    w.flush().await?;
                }
            }
            Sink::Buffer(b) => b.packets.push(packet.to_vec()),
            Sink::Drop => {}
        }
        Ok(())
    }

    /// The packet just passed has its status flags at byte `at`.
    fn status_at(&mut self, at: usize) {
        if let Sink::Buffer(b) = self {
            let last = b.packets.len() - 1;
            b.status_at.push((last, at));
        }
    }

    async fn done(&mut self) -> Result<()> {
        if let Sink::Client(w) = self {
            w.flush().await?;
        }
        Ok(())
    }
}

fn ok(caps: CapabilityFlags, p: &[u8], s: &mut Summary) -> Result<()> {
    let ok = OkPacketDeserializer::<CommonOkPacket>::deserialize(caps, &mut ParseBuf(p)).context("reading an OK packet")?.into_inner();
    s.affected_rows += ok.affected_rows();
    if let Some(id) = ok.last_insert_id().filter(|&id| id > 0) {
        s.last_insert_id = id;
    }
    s.status = ok.status_flags().bits();
    s.status_seen = true;
    s.warnings = s.warnings.saturating_add(ok.warnings());
    s.completed += 1;
    Ok(())
}

/// Where an OK packet's (or an OK-style terminator's) status flags are:
/// after the header and two length-encoded integers.
fn ok_status_at(p: &[u8]) -> usize {
    let lenenc = |at: usize| match p.get(at) {
        Some(0xfc) => 3,
        Some(0xfd) => 4,
        Some(0xfe) => 9,
        _ => 1,
    };
    let rows = lenenc(1);
    1 + rows + lenenc(1 + rows)
}

pub fn err(caps: CapabilityFlags, p: &[u8]) -> (u16, String) {
    match ErrPacket::deserialize(caps, &mut ParseBuf(p)) {
        Ok(ErrPacket::Error(e)) => (e.error_code(), e.message_str().into_owned()),
        _ => (0, "an error packet movex could not read".into()),
    }
}

/// Whether `p` ends a result set's rows, and its status flags.
fn terminator(caps: CapabilityFlags, p: &[u8]) -> Result<Option<(u16, u16)>> {
    let deprecate_eof = caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF);
    if p.first() != Some(&0xfe) || (if deprecate_eof { p.len() >= 0xff_ffff } else { p.len() >= 9 }) {
        return Ok(None);
    }
    let ok = if deprecate_eof {
        OkPacketDeserializer::<ResultSetTerminator>::deserialize(caps, &mut ParseBuf(p)).context("reading a result set's end")?.into_inner()
    } else {
        OkPacketDeserializer::<OldEofPacket>::deserialize(caps, &mut ParseBuf(p)).context("reading an EOF packet")?.into_inner()
    };
    Ok(Some((ok.status_flags().bits(), ok.warnings())))
}

/// Relay the response to a command that answers with OK, ERR or result
/// sets (`COM_QUERY`, `COM_STMT_EXECUTE`, ...).
pub async fn relay(backend: &mut Wire, caps: CapabilityFlags, sink: Sink<'_>) -> Result<Summary> {
    relay_from(backend, caps, sink, None).await
}

/// [`relay`] a response whose first packet was read already (`read`).
pub async fn relay_from(backend: &mut Wire, caps: CapabilityFlags, mut sink: Sink<'_>, mut read: Option<Vec<u8>>) -> Result<Summary> {
    let mut s = Summary::default();
    loop {
        let first = match read.take() {
            Some(p) => p,
            None => backend.expect().await?,
        };
        sink.pass(&first).await?;
        s.bytes += first.len() as u64;
        let more = match first.first() {
            Some(0x00) => {
                ok(caps, &first, &mut s)?;
                sink.status_at(ok_status_at(&first));
                s.status & StatusFlags::SERVER_MORE_RESULTS_EXISTS.bits() != 0
            }
            Some(0xff) => {
                s.error = Some(err(caps, &first));
                false
            }
            // Only `session/load.rs` sends LOAD DATA LOCAL, and reads this itself.
            Some(0xfb) => bail!("{} asked for a LOCAL INFILE file out of turn", backend.peer()),
            _ => {
                s.result_sets += 1;
                let columns = (&first[..]).read_lenenc_int().context("reading a column count")?;
                for _ in 0..columns {
                    let def = backend.expect().await?;
                    sink.pass(&def).await?;
                    s.bytes += def.len() as u64;
                }
                if !caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF) {
                    let eof = backend.expect().await?;
                    sink.pass(&eof).await?;
                    s.bytes += eof.len() as u64;
                }
                loop {
                    let row = backend.expect().await?;
                    sink.pass(&row).await?;
                    s.bytes += row.len() as u64;
                    if row.first() == Some(&0xff) {
                        s.error = Some(err(caps, &row));
                        break false;
                    }
                    if let Some((status, warnings)) = terminator(caps, &row)? {
                        sink.status_at(if caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF) { ok_status_at(&row) } else { 3 });
                        s.status = status;
                        s.status_seen = true;
                        s.completed += 1;
                        s.warnings = s.warnings.saturating_add(warnings);
                        break status & StatusFlags::SERVER_MORE_RESULTS_EXISTS.bits() != 0;
                    }
                }
            }
        };
        if !more {
            break;
        }
        // The client has each result as soon as it is whole, not when the
        // last statement of a multi-statement query is done.
        sink.done().await?;
    }
    sink.done().await?;
    Ok(s)
}

/// A `COM_STMT_PREPARE` response: the statement id, or the error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrepareAnswer {
    Ok { id: u32, params: u16 },
    Err(u16, String),
}

/// Relay a `COM_STMT_PREPARE` response: OK with the statement id, then
/// parameter and column definitions (each group followed by an EOF unless
/// `CLIENT_DEPRECATE_EOF`), or ERR.
/// With `show_id`, the client is told that statement id instead of the
/// backend's (the proxy maps its ids to each backend's).
pub async fn relay_prepare(backend: &mut Wire, caps: CapabilityFlags, mut sink: Sink<'_>, show_id: Option<u32>) -> Result<PrepareAnswer> {
    let mut first = backend.expect().await?;
    let id = first.get(1..5).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
    if let (Some(shown), Some(0x00), true) = (show_id, first.first().copied(), first.len() >= 12) {
        first[1..5].copy_from_slice(&shown.to_le_bytes());
    }
    sink.pass(&first).await?;
    if first.first() == Some(&0xff) {
        sink.done().await?;
        let (code, msg) = err(caps, &first);
        return Ok(PrepareAnswer::Err(code, msg));
    }
    if first.len() < 12 || first[0] != 0 {
        bail!("{} sent a malformed COM_STMT_PREPARE response", backend.peer());
    }
    let id = id.expect("checked above");
    let columns = u16::from_le_bytes([first[5], first[6]]);
    let params = u16::from_le_bytes([first[7], first[8]]);
    for n in [params, columns] {
        if n == 0 {
            continue;
        }
        for _ in 0..n {
            let def = backend.expect().await?;
            sink.pass(&def).await?;
        }
        if !caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF) {
            let eof = backend.expect().await?;
            sink.pass(&eof).await?;
        }
    }
    sink.done().await?;
    Ok(PrepareAnswer::Ok { id, params })
}

/// Relay a one-packet response (PING, INIT_DB, RESET_CONNECTION,
/// SET_OPTION, STMT_RESET): OK, EOF or ERR.
pub async fn relay_one(backend: &mut Wire, caps: CapabilityFlags, mut sink: Sink<'_>) -> Result<Summary> {
    let p = backend.expect().await?;
    sink.pass(&p).await?;
    sink.done().await?;
    let mut s = Summary::default();
    match p.first() {
        Some(0x00) => ok(caps, &p, &mut s)?,
        Some(0xff) => s.error = Some(err(caps, &p)),
        _ => {}
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clearing a held-back OK packet's in-transaction flag leaves the rest
    /// of it as mysql_common reads it: rows, insert id, other flags.
    #[test]
    fn a_held_back_ok_packet_loses_only_the_in_transaction_flag() {
        let caps = CapabilityFlags::CLIENT_PROTOCOL_41 | CapabilityFlags::CLIENT_TRANSACTIONS;
        let flags = (StatusFlags::SERVER_STATUS_IN_TRANS | StatusFlags::SERVER_STATUS_AUTOCOMMIT).bits().to_le_bytes();
        // Rows affected 1 and 10000 (a 3-byte length-encoded integer); insert id 5 and 2^23 (4 bytes).
        for (rows, id) in [(&[1u8][..], &[5u8][..]), (&[0xfc, 0x10, 0x27][..], &[0xfd, 0, 0, 0x80][..])] {
            let packet = [&[0u8][..], rows, id, &flags, &[2, 0]].concat();
            let mut b = Buffered::default();
            b.packets.push(packet.clone());
            b.status_at.push((0, ok_status_at(&packet)));
            b.clear_status(StatusFlags::SERVER_STATUS_IN_TRANS);
            let (mut before, mut after) = (Summary::default(), Summary::default());
            ok(caps, &packet, &mut before).unwrap();
            ok(caps, &b.packets[0], &mut after).unwrap();
            assert!(before.in_transaction() && !after.in_transaction());
            assert_eq!(after.autocommit(), Some(true));
            assert_eq!((after.affected_rows, after.last_insert_id, after.warnings), (before.affected_rows, before.last_insert_id, before.warnings));
        }
    }
}
