//! One MySQL protocol socket: packets framed by `mysql_common`'s codec
//! (sequence ids, payloads over 16 MiB split and joined), read and written
//! whole. The proxy holds one towards the client and one per backend.

use anyhow::{Context, Result, bail};
use bytes::BytesMut;
use mysql_common::proto::codec::PacketCodec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest packet movex relays (MySQL's own ceiling).
pub const MAX_PACKET: usize = 1 << 30;

/// Whether a command can be pipelined ([`Wire::queue_command`]): one
/// packet, under 16 MiB.
pub fn pipelines(payload: &[u8]) -> bool {
    payload.len() < 0xff_ffff
}

pub struct Wire {
    stream: TcpStream,
    codec: PacketCodec,
    inbox: BytesMut,
    outbox: BytesMut,
    /// Who is at the other end, for errors.
    peer: String,
}

impl Wire {
    pub fn new(stream: TcpStream, peer: impl Into<String>) -> Wire {
        let _ = stream.set_nodelay(true);
        let mut codec = PacketCodec::default();
        codec.max_allowed_packet = MAX_PACKET;
        Wire { stream, codec, inbox: BytesMut::with_capacity(16 * 1024), outbox: BytesMut::with_capacity(16 * 1024), peer: peer.into() }
    }

    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// A new command starts: sequence ids count from 0 again.
    pub fn reset_seq(&mut self) {
        self.codec.reset_seq_id();
    }

    /// The next whole packet; `None` when the peer closed between packets.
    pub async fn read(&mut self) -> Result<Option<Vec<u8>>> {
        let mut packet = Vec::new();
        loop {
            if self.codec.decode(&mut self.inbox, &mut packet).with_context(|| format!("reading from {}", self.peer))? {
                return Ok(Some(packet));
            }
            let n = self.stream.read_buf(&mut self.inbox).await.with_context(|| format!("reading from {}", self.peer))?;
            if n == 0 {
                if self.inbox.is_empty() {
                    return Ok(None);
                }
                bail!("{} closed the connection mid-packet", self.peer);
            }
        }
    }

    /// The next packet, which must come.
    pub async fn expect(&mut self) -> Result<Vec<u8>> {
        self.read().await?.with_context(|| format!("{} closed the connection", self.peer))
    }

    /// Queue a command whose answer is read after the answers of commands
    /// queued before it (pipelined: one write, the server answers in order).
    /// Only for commands under 16 MiB, whose answers start at sequence id 1
    /// (see [`Wire::next_answer`]).
    pub fn queue_command(&mut self, payload: &[u8]) -> Result<()> {
        if !pipelines(payload) {
            bail!("movex pipelines only commands under 16 MiB");
        }
        self.codec.reset_seq_id();
        self.queue(payload)
    }

    /// The next packet read starts the answer to a pipelined command: its
    /// sequence id is 1. (`mysql_common`'s codec has no setter for the
    /// sequence id: it is reset, then one empty packet is numbered into a
    /// scratch buffer.)
    pub fn next_answer(&mut self) {
        self.codec.reset_seq_id();
        let mut scratch = BytesMut::with_capacity(4);
        let _ = self.codec.encode(&mut &[][..], &mut scratch);
    }

    /// Queue a packet; [`Wire::flush`] sends what is queued.
    pub fn queue(&mut self, payload: &[u8]) -> Result<()> {
        let mut src = payload;
        self.codec.encode(&mut src, &mut self.outbox).with_context(|| format!("encoding a packet for {}", self.peer))
    }

    /// Bytes queued and not yet sent.
    pub fn queued(&self) -> usize {
        self.outbox.len()
    }

    pub async fn flush(&mut self) -> Result<()> {
        if !self.outbox.is_empty() {
            self.stream.write_all(&self.outbox).await.with_context(|| format!("writing to {}", self.peer))?;
            self.outbox.clear();
        }
        Ok(())
    }

    /// Queue and flush one packet.
    pub async fn send(&mut self, payload: &[u8]) -> Result<()> {
        self.queue(payload)?;
        self.flush().await
    }
}
