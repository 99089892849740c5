//! One MySQL protocol socket: packets framed by `mysql_common`'s codec
//! (sequence ids, payloads over 16 MiB split and joined), read and written
//! whole. The proxy holds one towards the client and one per backend.
//!
//! What a socket may read in one packet is limited ([`Wire::limit_reads`]):
//! a client's packets are held whole in memory, so one that is too large
//! is refused by the codec at its first chunk header over the limit, and
//! its rest is read and thrown away ([`TooLarge`]), never buffered.

use anyhow::{Context, Result, bail};
use bytes::{Buf, BytesMut};
use mysql_common::proto::codec::error::PacketCodecError;
use mysql_common::proto::codec::{PacketCodec, packet_to_chunks};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest packet movex relays (MySQL's own ceiling).
pub const MAX_PACKET: usize = 1 << 30;

/// The largest chunk of a packet on the wire; a packet ends with a
/// shorter one.
const MAX_CHUNK: usize = 0xff_ffff;

/// What a socket's buffers start with, and the most either keeps between
/// packets.
const BUFFER: usize = 16 * 1024;
const BUFFER_KEPT: usize = 1 << 20;

/// A packet over the socket's read limit. Its rest has been read and
/// thrown away, so the peer, which sends a whole packet before it reads,
/// is waiting for the answer: [`Wire::answer_refused`].
#[derive(Debug, thiserror::Error)]
#[error("{peer} sent a packet over {limit} bytes (refused; its rest was read and discarded)")]
pub struct TooLarge {
    pub peer: String,
    pub limit: usize,
    /// The sequence id of the packet's last chunk.
    last_seq: u8,
}

/// Whether a command can be pipelined ([`Wire::queue_command`]): one
/// packet, under 16 MiB.
pub fn pipelines(payload: &[u8]) -> bool {
    payload.len() < 0xff_ffff
}

pub struct Wire {
    stream: TcpStream,
    codec: PacketCodec,
    /// The packet being read: kept here, not in [`Wire::read`], so a read
    /// that is cancelled (the session watching the primary at the same
    /// time) loses nothing.
    partial: Vec<u8>,
    /// The compressed protocol is on (after a client's login asked for it).
    compressed: bool,
    inbox: BytesMut,
    outbox: BytesMut,
    /// Who is at the other end, for errors.
    peer: String,
    /// The largest packet [`Wire::read`] takes.
    limit: usize,
}

impl Wire {
    pub fn new(stream: TcpStream, peer: impl Into<String>) -> Wire {
        let _ = stream.set_nodelay(true);
        let mut codec = PacketCodec::default();
        codec.max_allowed_packet = MAX_PACKET;
        Wire {
            stream,
            codec,
            partial: Vec::new(),
            compressed: false,
            inbox: BytesMut::with_capacity(BUFFER),
            outbox: BytesMut::with_capacity(BUFFER),
            peer: peer.into(),
            limit: MAX_PACKET,
        }
    }

    /// Read no packet over `limit` bytes: a larger one is a [`TooLarge`]
    /// error from [`Wire::read`]. (Writes are not limited: what a backend
    /// answers is relayed whole.)
    pub fn limit_reads(&mut self, limit: usize) {
        self.limit = limit;
    }

    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Switch to the compressed protocol, as both ends do after the OK
    /// that ends a login with `CLIENT_COMPRESS`.
    pub fn compress(&mut self) {
        self.codec.compress(mysql_common::proto::codec::Compression::default());
        self.compressed = true;
    }

    /// A new command starts: sequence ids count from 0 again.
    pub fn reset_seq(&mut self) {
        self.codec.reset_seq_id();
    }

    /// The next whole packet; `None` when the peer closed between packets.
    /// A packet over the read limit is a [`TooLarge`] error. Cancel-safe:
    /// a packet read in part is finished by the next call.
    pub async fn read(&mut self) -> Result<Option<Vec<u8>>> {
        // A large packet grew the inbox to its size; an idle session (or a
        // thousand of them) should not keep that for the rest of its life.
        if self.inbox.is_empty() && self.partial.is_empty() && self.inbox.capacity() > BUFFER_KEPT {
            self.inbox = BytesMut::with_capacity(BUFFER);
        }
        loop {
            // The codec has one limit for both ways; only reads are limited.
            self.codec.max_allowed_packet = self.limit;
            let decoded = self.codec.decode(&mut self.inbox, &mut self.partial);
            self.codec.max_allowed_packet = MAX_PACKET;
            match decoded {
                Ok(true) => return Ok(Some(std::mem::take(&mut self.partial))),
                Ok(false) => {}
                // Compressed, a packet's chunk headers are inside the
                // compressed frames: it cannot be skipped, only refused by
                // closing the connection.
                Err(PacketCodecError::PacketTooLarge) if self.compressed => {
                    bail!("{} sent a packet over {} bytes (compressed: the connection is closed)", self.peer, self.limit)
                }
                Err(PacketCodecError::PacketTooLarge) => {
                    self.partial = Vec::new();
                    let last_seq = self.skip_packet().await?;
                    return Err(TooLarge { peer: self.peer.clone(), limit: self.limit, last_seq }.into());
                }
                Err(e) => return Err(anyhow::Error::new(e).context(format!("reading from {}", self.peer))),
            }
            let n = self.stream.read_buf(&mut self.inbox).await.with_context(|| format!("reading from {}", self.peer))?;
            if n == 0 {
                if self.inbox.is_empty() && self.partial.is_empty() {
                    return Ok(None);
                }
                bail!("{} closed the connection mid-packet", self.peer);
            }
        }
    }

    /// Read and throw away the packet whose chunk header starts the inbox
    /// (the codec stopped there); the sequence id of its last chunk. The
    /// codec cannot skip (it keeps what it decodes), so the chunk headers
    /// are read here: three bytes of length, one of sequence id.
    async fn skip_packet(&mut self) -> Result<u8> {
        loop {
            while self.inbox.len() < 4 {
                self.fill_mid_packet().await?;
            }
            let len = usize::from(self.inbox[0]) | usize::from(self.inbox[1]) << 8 | usize::from(self.inbox[2]) << 16;
            let seq = self.inbox[3];
            let mut left = 4 + len;
            loop {
                let n = left.min(self.inbox.len());
                self.inbox.advance(n);
                left -= n;
                if left == 0 {
                    break;
                }
                self.fill_mid_packet().await?;
            }
            if len < MAX_CHUNK {
                return Ok(seq);
            }
        }
    }

    async fn fill_mid_packet(&mut self) -> Result<()> {
        let n = self.stream.read_buf(&mut self.inbox).await.with_context(|| format!("reading from {}", self.peer))?;
        if n == 0 {
            bail!("{} closed the connection in the middle of a packet over {} bytes", self.peer, self.limit);
        }
        Ok(())
    }

    /// Answer a packet refused as [`TooLarge`] with `payload` (an ERR),
    /// numbered after the refused packet's last chunk, as the peer expects.
    pub async fn answer_refused(&mut self, refused: &TooLarge, payload: &[u8]) -> Result<()> {
        packet_to_chunks(refused.last_seq.wrapping_add(1), &mut &payload[..], &mut self.outbox);
        self.flush().await
    }

    /// Send `payload` (an ERR) and close: the peer reads it, then the end
    /// of the stream. Bounded: a peer that does not read is not waited for.
    pub async fn refuse_and_close(mut self, payload: Vec<u8>) {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            self.send(&payload).await?;
            self.stream.shutdown().await.map_err(anyhow::Error::from)
        })
        .await;
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
            if self.outbox.capacity() > BUFFER_KEPT {
                self.outbox = BytesMut::with_capacity(BUFFER);
            }
        }
        Ok(())
    }

    /// Queue and flush one packet.
    pub async fn send(&mut self, payload: &[u8]) -> Result<()> {
        self.queue(payload)?;
        self.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A socket pair: movex's end as a [`Wire`] reading at most `limit`, and
    /// the peer's raw end.
    async fn pair(limit: usize) -> (Wire, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let mut wire = Wire::new(listener.accept().await.unwrap().0, "peer");
        wire.limit_reads(limit);
        (wire, peer)
    }

    fn chunk(seq: u8, len: usize) -> Vec<u8> {
        let mut c = vec![len as u8, (len >> 8) as u8, (len >> 16) as u8, seq];
        c.resize(4 + len, b'x');
        c
    }

    #[tokio::test]
    async fn a_packet_over_the_limit_is_skipped_whole_and_answered_after_its_last_chunk() {
        let (mut wire, mut peer) = pair(1024).await;
        // A packet of two chunks (the first of the largest size), then a
        // small one, which reads as usual after the refusal.
        let sending = tokio::spawn(async move {
            peer.write_all(&[chunk(0, MAX_CHUNK), chunk(1, 10), chunk(0, 3)].concat()).await.unwrap();
            peer
        });
        let e = wire.read().await.unwrap_err();
        let big = e.downcast_ref::<TooLarge>().expect("TooLarge");
        assert_eq!((big.limit, big.last_seq), (1024, 1));
        wire.answer_refused(big, b"\xffno").await.unwrap();
        wire.reset_seq();
        assert_eq!(wire.read().await.unwrap(), Some(b"xxx".to_vec()));
        assert!(wire.inbox.capacity() <= BUFFER_KEPT, "the refused packet was not held: {}", wire.inbox.capacity());
        let mut peer = sending.await.unwrap();
        let mut answer = [0u8; 7];
        peer.read_exact(&mut answer).await.unwrap();
        assert_eq!(answer, [3, 0, 0, 2, 0xff, b'n', b'o'], "numbered after the last chunk (1)");
    }

    #[tokio::test]
    async fn a_packet_within_the_limit_reads_and_answers_are_not_limited() {
        let (mut wire, mut peer) = pair(1024).await;
        peer.write_all(&chunk(0, 1024)).await.unwrap();
        assert_eq!(wire.read().await.unwrap().map(|p| p.len()), Some(1024));
        // What movex writes (a backend's answer, relayed) is not limited.
        wire.send(&vec![b'y'; 4096]).await.unwrap();
        let mut answer = vec![0u8; 4 + 4096];
        peer.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer[..4], &[0, 16, 0, 1]);
    }
}
