//! One PostgreSQL protocol socket (a client's or a backend's): messages
//! framed as they arrive — a type byte, a length, a body — and relayed as
//! the bytes they came in, or parsed with `pgwire` where movex reads them.
//! Reads are limited: a message longer than the limit is refused before it
//! is buffered.

use anyhow::{Result, anyhow, bail};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use pgwire::messages::response::ErrorResponse;
use pgwire::messages::{DecodeContext, Message, ProtocolVersion};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A message longer than the reader's limit (its size as announced).
#[derive(Debug)]
pub struct TooLarge {
    pub size: usize,
    pub limit: usize,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a message of {} bytes, over the limit of {}", self.size, self.limit)
    }
}

impl std::error::Error for TooLarge {}

/// One message as it came: `raw` holds the type byte, the length and the
/// body, ready to be relayed.
#[derive(Clone, Debug)]
pub struct Frame {
    pub tag: u8,
    pub raw: Bytes,
}

impl Frame {
    pub fn body(&self) -> &[u8] {
        &self.raw[5..]
    }

    /// Parse the body with `pgwire`; a malformed body is an error, never a
    /// panic (pgwire reads some fields without checking the length).
    pub fn decode<M: Message>(&self) -> Result<M> {
        let mut body = BytesMut::from(self.body());
        let len = self.raw.len() - 1;
        let tag = self.tag as char;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| M::decode_body(&mut body, len, &context())))
            .map_err(|_| anyhow!("a malformed '{tag}' message"))?
            .map_err(|e| anyhow!("a malformed '{tag}' message: {e}"))
    }

    /// Build a frame from a `pgwire` message.
    pub fn of<M: Message>(m: &M) -> Frame {
        let mut buf = BytesMut::with_capacity(m.message_length() + 1);
        m.encode(&mut buf).expect("movex's own messages are within pgwire's limits");
        Frame { tag: buf[0], raw: buf.freeze() }
    }

    /// An ErrorResponse's SQLSTATE and message.
    pub fn error(&self) -> (String, String) {
        let e: ErrorResponse = self.decode().unwrap_or_default();
        let field = |c: u8| e.fields.iter().find(|f| f.0 == c).map(|f| f.1.clone()).unwrap_or_default();
        (field(b'C'), field(b'M'))
    }
}

/// A Query's SQL text, from its whole message (type byte, length, body):
/// the body without its closing NUL.
pub fn query_text(raw: &[u8]) -> &[u8] {
    let body = raw.get(5..).unwrap_or_default();
    &body[..body.len().saturating_sub(1)]
}

/// The tag in a CommandComplete's body, as `INSERT 0 1` (its text without
/// the final NUL).
pub fn command_tag(body: &[u8]) -> &str {
    std::str::from_utf8(&body[..body.len().saturating_sub(1)]).unwrap_or("")
}

fn context() -> DecodeContext {
    let mut ctx = DecodeContext::new(ProtocolVersion::PROTOCOL3_0);
    ctx.awaiting_frontend_ssl = false;
    ctx.awaiting_frontend_startup = false;
    ctx
}

/// An error response movex itself sends: severity ERROR (or FATAL when the
/// connection is closed after it), a SQLSTATE and a message.
pub fn error_frame(fatal: bool, code: &str, message: &str) -> Frame {
    let severity = if fatal { "FATAL" } else { "ERROR" };
    let fields = vec![(b'S', severity.to_owned()), (b'V', severity.to_owned()), (b'C', code.to_owned()), (b'M', message.to_owned())];
    Frame::of(&ErrorResponse::new(fields))
}

/// ReadyForQuery with the transaction status byte (`I`, `T` or `E`).
pub fn ready_frame(status: u8) -> Frame {
    Frame { tag: b'Z', raw: Bytes::from(vec![b'Z', 0, 0, 0, 5, status]) }
}

/// What [`Wire::relay`] does after showing its caller a message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Next {
    /// Relay it and go on.
    More,
    /// Relay it and stop.
    Last,
    /// Stop before it: it stays buffered, to be read.
    Leave,
}

/// Write all of `raw` to `stream`: at once when the socket takes it, as it
/// nearly always does (no future made and polled for it), else as the
/// socket drains.
async fn write(stream: &mut TcpStream, raw: &[u8]) -> Result<()> {
    let at = match stream.try_write(raw) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => return Err(e.into()),
    };
    if at < raw.len() {
        stream.write_all(&raw[at..]).await?;
    }
    Ok(())
}

/// `sql` as [`Wire::defer`] holds it: Parse, Bind and Execute, unnamed (as
/// a simple Query would have used and dropped them), no Sync.
pub fn deferral(sql: &str) -> Bytes {
    use pgwire::messages::extendedquery::{Bind, Execute, Parse};
    let mut raw = BytesMut::with_capacity(32 + sql.len());
    let parse = Parse::new(None, sql.to_owned(), Vec::new());
    let bind = Bind::new(None, None, Vec::new(), Vec::new(), Vec::new());
    for f in [Frame::of(&parse), Frame::of(&bind), Frame::of(&Execute::new(None, 0))] {
        raw.put_slice(&f.raw);
    }
    raw.freeze()
}

/// Write some of `raw`, polled: how much was written.
fn poll_write(stream: &mut TcpStream, cx: &mut Context<'_>, raw: &[u8]) -> Poll<Result<usize>> {
    match ready!(Pin::new(stream).poll_write(cx, raw)) {
        Ok(0) => Poll::Ready(Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into())),
        Ok(n) => Poll::Ready(Ok(n)),
        Err(e) => Poll::Ready(Err(e.into())),
    }
}

/// A socket's read buffer: most messages fit, larger ones grow it.
const READ_BUF: usize = 16 * 1024;

pub struct Wire {
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: BytesMut,
    /// The longest message read (type byte and length included).
    limit: usize,
    /// Who is at the other end, for messages.
    pub peer: String,
    /// A statement held back as Parse, Bind and Execute, written ahead of
    /// the next thing sent ([`Wire::defer`]).
    deferred: Option<Bytes>,
    /// Answers of a deferred statement sent and not yet read
    /// (ParseComplete, BindComplete, CommandComplete): dropped unread, as
    /// the client was answered already.
    unanswered: u8,
}

impl Wire {
    pub fn new(stream: TcpStream, peer: String) -> Wire {
        let _ = stream.set_nodelay(true);
        Wire {
            stream,
            rbuf: BytesMut::with_capacity(READ_BUF),
            wbuf: BytesMut::with_capacity(16 * 1024),
            limit: 64 * 1024,
            peer,
            deferred: None,
            unanswered: 0,
        }
    }

    /// Hold `raw` ([`deferral`]: a `BEGIN` the client was already told
    /// succeeded) back: written in the same write as whatever is sent
    /// next, a round trip saved; its three answers are dropped as they
    /// are read. With no Sync between them, what follows depends on
    /// it: should the server fail it, the server skips everything after it
    /// up to a Sync, so nothing sent with it runs outside the transaction
    /// the client asked for. That failure fails the read (the client was
    /// told otherwise, so the session cannot go on). What is sent with it
    /// must draw an answer of its own (a Query, or messages up to a Sync
    /// or Flush), as everything sent to a backend does.
    pub fn defer(&mut self, raw: Bytes) {
        debug_assert!(self.deferred.is_none(), "one deferred statement at a time");
        self.deferred = Some(raw);
    }

    /// Whether a statement is held back ([`Wire::defer`]), not yet sent.
    pub fn deferring(&self) -> bool {
        self.deferred.is_some()
    }

    /// Let go of a statement held back and not sent (the transaction it
    /// was to begin ended without this side).
    pub fn undefer(&mut self) {
        self.deferred = None;
    }

    /// Drop the answers of a deferred statement where they lie, at `at` in
    /// the read buffer. `Ok(true)`: a message is at `at` to be read
    /// (a notice or notification the server sent between them, or what
    /// follows them); `Ok(false)`: more must be read. An error among them
    /// is the deferred statement's failure, an error here.
    fn drop_unanswered(&mut self, at: usize) -> Result<bool> {
        while self.unanswered > 0 {
            let Some(n) = self.framed(at)? else { return Ok(false) };
            match self.rbuf[at] {
                b'1' | b'2' | b'C' => {
                    self.cut(at, n);
                    self.unanswered -= 1;
                }
                b'E' => {
                    // Taken out: the server sends nothing more of it, or of
                    // what came with it, until a Sync.
                    let f = Frame { tag: b'E', raw: Bytes::copy_from_slice(&self.rbuf[at..at + n]) };
                    self.cut(at, n);
                    self.unanswered = 0;
                    let (code, msg) = f.error();
                    bail!("{} failed a BEGIN movex had deferred (and answered for): {code} {msg}; nothing sent after it ran", self.peer);
                }
                _ => return Ok(true),
            }
        }
        Ok(true)
    }

    /// Take the `n` bytes at `at` out of the read buffer, what follows
    /// moved up ([`Wire::consume`] at its start).
    fn cut(&mut self, at: usize, n: usize) {
        if at == 0 {
            self.consume(n);
        } else {
            self.rbuf.copy_within(at + n.., at);
            self.rbuf.truncate(self.rbuf.len() - n);
        }
    }

    pub fn limit_reads(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Read more from the socket; false at its end. With nothing left
    /// unread, the read goes to the buffer's start again ([`Wire::consume`]
    /// keeps it there; `reserve` takes back the space otherwise, without
    /// allocating once no frame holds it): a session's reads then keep to
    /// the same few cache lines instead of walking through the whole
    /// buffer, query after query.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool>> {
        if self.rbuf.capacity() - self.rbuf.len() < 4096 || self.rbuf.is_empty() && self.rbuf.capacity() < READ_BUF {
            self.rbuf.reserve(READ_BUF);
        }
        let n = ready!(tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.rbuf))?;
        Poll::Ready(Ok(n > 0))
    }

    async fn fill(&mut self) -> Result<bool> {
        std::future::poll_fn(|cx| self.poll_fill(cx)).await
    }

    /// Whether a whole message is already buffered (no wait to read it).
    pub fn has_frame(&self) -> bool {
        self.peek().is_some()
    }

    /// The whole message at the buffer's start, if there is one: its type
    /// byte and its bytes (type byte, length, body), left in the buffer.
    pub fn peek(&self) -> Option<(u8, &[u8])> {
        if self.rbuf.len() < 5 || self.unanswered > 0 && matches!(self.rbuf[0], b'1' | b'2' | b'C' | b'E') {
            return None;
        }
        let len = (&self.rbuf[1..5]).get_u32() as usize;
        (len >= 4 && self.rbuf.len() > len).then(|| (self.rbuf[0], &self.rbuf[..len + 1]))
    }

    /// The whole message at the buffer's start, taken out of it.
    pub fn take(&mut self) -> Option<Frame> {
        let (_, raw) = self.peek()?;
        let raw = self.rbuf.split_to(raw.len()).freeze();
        Some(Frame { tag: raw[0], raw })
    }

    /// Drop the whole message at the buffer's start (one [`Wire::peek`]
    /// showed, and that was dealt with where it lay).
    pub fn skip(&mut self) {
        if let Some((_, raw)) = self.peek() {
            let n = raw.len();
            self.consume(n);
        }
    }

    /// Drop the first `n` bytes read. All of them: the buffer is emptied
    /// where it is, its start kept, so the next read lands at the start
    /// again with nothing to take back (`advance` would move the start on
    /// and leave [`Wire::fill`] to reclaim the space, query after query).
    fn consume(&mut self, n: usize) {
        if n == self.rbuf.len() {
            self.rbuf.clear();
        } else {
            self.rbuf.advance(n);
        }
    }

    /// The length (type byte included) of the message starting at `at`
    /// in the read buffer, if all of it is there. A malformed header, or
    /// one announcing more than the limit, is an error before the body is
    /// buffered; a message partly there has room reserved for the rest.
    fn framed(&mut self, at: usize) -> Result<Option<usize>> {
        let have = self.rbuf.len() - at;
        if have < 5 {
            return Ok(None);
        }
        let len = (&self.rbuf[at + 1..at + 5]).get_u32() as usize;
        if len < 4 {
            bail!("a malformed message (type '{}', length {len})", self.rbuf[at] as char);
        }
        if len + 1 > self.limit {
            return Err(TooLarge { size: len + 1, limit: self.limit }.into());
        }
        if have <= len {
            self.rbuf.reserve(len + 1 - have);
            return Ok(None);
        }
        Ok(Some(len + 1))
    }

    /// Wait until a whole message is buffered; false if the peer left
    /// between messages. A message longer than the limit is refused before
    /// it is buffered.
    pub async fn ready(&mut self) -> Result<bool> {
        std::future::poll_fn(|cx| self.poll_ready(cx)).await
    }

    /// [`Wire::ready`], polled.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool>> {
        loop {
            if self.drop_unanswered(0)? && self.framed(0)?.is_some() {
                return Poll::Ready(Ok(true));
            }
            if !ready!(self.poll_fill(cx))? {
                return Poll::Ready(if self.rbuf.is_empty() { Ok(false) } else { Err(anyhow!("the connection ended inside a message")) });
            }
        }
    }

    /// A whole message from a peer that is not expected to speak (a
    /// backend while its client is idle), polled; `None` if it left. With
    /// nothing buffered, only the socket's readiness is asked, so a quiet
    /// peer costs no read.
    pub fn poll_spoken(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>>> {
        if self.rbuf.is_empty() {
            ready!(self.stream.poll_read_ready(cx))?;
        }
        self.poll_read(cx)
    }

    /// The untyped first message of a connection (startup, SSL or cancel
    /// request): its length-prefixed bytes; `None` if the peer left.
    pub async fn read_startup(&mut self) -> Result<Option<Bytes>> {
        loop {
            if self.rbuf.len() >= 4 {
                let len = (&self.rbuf[..4]).get_u32() as usize;
                if !(8..=self.limit).contains(&len) {
                    bail!("not a PostgreSQL startup message (its length would be {len} bytes)");
                }
                if self.rbuf.len() >= len {
                    return Ok(Some(self.rbuf.split_to(len).freeze()));
                }
            }
            if !self.fill().await? {
                return if self.rbuf.is_empty() { Ok(None) } else { Err(anyhow!("the connection ended inside the startup message")) };
            }
        }
    }

    /// The next message; `None` if the peer left between messages.
    pub async fn read(&mut self) -> Result<Option<Frame>> {
        std::future::poll_fn(|cx| self.poll_read(cx)).await
    }

    /// [`Wire::read`], polled.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>>> {
        if !ready!(self.poll_ready(cx))? {
            return Poll::Ready(Ok(None));
        }
        Poll::Ready(Ok(self.take()))
    }

    /// Pass this peer's messages on to `to` as they arrive, in the bytes
    /// they came in: framed in place, never copied into messages or into
    /// `to`'s buffer. `seen` is shown each whole message (its type byte,
    /// length and body) and says what [`Next`]; the run ends after a
    /// `Last` or before a `Leave`, which is returned. What is buffered is
    /// written before waiting for more, so a long answer streams. A
    /// message over the limit is refused, as by [`Wire::read`].
    ///
    /// Written as one poll function, not an `async fn` awaiting others:
    /// every answer a session relays wakes it here, and each nested state
    /// machine is one more place in memory read back, cold, per wake-up.
    pub fn relay<'a>(&'a mut self, to: &'a mut Wire, mut seen: impl FnMut(u8, &[u8]) -> Next + 'a) -> impl Future<Output = Result<Next>> + 'a {
        // Of the read buffer: `at` bytes framed and shown to `seen`,
        // `sent` of them written on; `end`, how the run ends once they are.
        let (mut at, mut sent, mut end) = (0, 0, None);
        std::future::poll_fn(move |cx| {
            // What `to` had queued goes first.
            ready!(to.poll_flush(cx))?;
            loop {
                if at == 0 {
                    while self.drop_unanswered(at)?
                        && let Some(n) = self.framed(at)?
                    {
                        match seen(self.rbuf[at], &self.rbuf[at..at + n]) {
                            Next::More => at += n,
                            Next::Last => {
                                at += n;
                                end = Some(Next::Last);
                                break;
                            }
                            Next::Leave => {
                                end = Some(Next::Leave);
                                break;
                            }
                        }
                    }
                }
                while sent < at {
                    sent += ready!(poll_write(&mut to.stream, cx, &self.rbuf[sent..at]))?;
                }
                if at > 0 {
                    self.consume(at);
                    (at, sent) = (0, 0);
                }
                if let Some(next) = end {
                    return Poll::Ready(Ok(next));
                }
                if !ready!(self.poll_fill(cx))? {
                    return Poll::Ready(Err(anyhow!("{} closed the connection", self.peer)));
                }
            }
        })
    }

    /// Write out what is queued, polled.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        while !self.wbuf.is_empty() {
            let n = ready!(poll_write(&mut self.stream, cx, &self.wbuf))?;
            if n == self.wbuf.len() {
                self.wbuf.clear();
            } else {
                self.wbuf.advance(n);
            }
        }
        Poll::Ready(Ok(()))
    }

    /// The next message, which must come.
    pub async fn expect(&mut self) -> Result<Frame> {
        self.read().await?.ok_or_else(|| anyhow!("{} closed the connection", self.peer))
    }

    /// Queue bytes to send (with the next [`Wire::flush`]).
    pub fn queue(&mut self, raw: &[u8]) {
        if let Some(d) = self.deferred.take() {
            self.wbuf.put_slice(&d);
            self.unanswered += 3;
        }
        self.wbuf.put_slice(raw);
    }

    pub fn queued(&self) -> usize {
        self.wbuf.len()
    }

    pub async fn flush(&mut self) -> Result<()> {
        if !self.wbuf.is_empty() {
            write(&mut self.stream, &self.wbuf).await?;
            self.wbuf.clear();
        }
        Ok(())
    }

    pub async fn send(&mut self, raw: &[u8]) -> Result<()> {
        if self.wbuf.is_empty() && self.deferred.is_none() {
            // Nothing queued before it: written from where it is.
            write(&mut self.stream, raw).await?;
            return Ok(());
        }
        self.queue(raw);
        self.flush().await
    }

    /// Send a fatal error and close, without reading what the peer says.
    pub async fn refuse_and_close(mut self, code: &str, message: String) {
        let _ = self.send(&error_frame(true, code, &message).raw).await;
        let _ = self.stream.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// Two connected sockets' wires.
    async fn pair() -> (Wire, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let far = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (near, _) = l.accept().await.unwrap();
        (Wire::new(near, "test".into()), far)
    }

    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    #[tokio::test]
    async fn relay_passes_messages_on_as_they_came_and_stops_where_told() {
        let (mut from, mut backend) = pair().await;
        from.limit_reads(usize::MAX); // as a backend's
        let (mut to, mut client) = pair().await;
        // A row larger than the read buffer, cut at awkward places, then
        // the answer's end, then a message of the next answer.
        let big = vec![b'x'; 100_000];
        let answer = [message(b'T', b"row description"), message(b'D', &big), message(b'C', b"SELECT 1\0"), message(b'Z', b"I")].concat();
        let next = message(b'C', b"next\0");
        let all = [answer.clone(), next.clone()].concat();
        let writer = tokio::spawn(async move {
            for piece in [&all[..3], &all[3..20], &all[20..70_000], &all[70_000..]] {
                backend.write_all(piece).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            backend
        });
        let mut tags = Vec::new();
        let next_after = from
            .relay(&mut to, |tag, raw| {
                tags.push((tag, raw.len()));
                if tag == b'Z' { Next::Last } else { Next::More }
            })
            .await
            .unwrap();
        assert_eq!(next_after, Next::Last);
        assert_eq!(tags, [(b'T', 20), (b'D', 100_005), (b'C', 14), (b'Z', 6)]);
        let mut got = vec![0; answer.len()];
        client.read_exact(&mut got).await.unwrap();
        assert!(got == answer, "the client got other bytes than the backend sent");
        // What follows the last message stays to be read.
        let _backend = writer.await.unwrap();
        let f = from.expect().await.unwrap();
        assert_eq!(&f.raw[..], &next[..]);

        // Leave: stops before the message, which is not relayed.
        let (mut from, mut backend) = pair().await;
        backend.write_all(&[message(b'N', b"notice"), message(b'G', b"copy")].concat()).await.unwrap();
        assert_eq!(from.relay(&mut to, |tag, _| if tag == b'G' { Next::Leave } else { Next::More }).await.unwrap(), Next::Leave);
        assert_eq!(from.expect().await.unwrap().tag, b'G');
        let mut notice = vec![0; 11];
        client.read_exact(&mut notice).await.unwrap();
        assert_eq!(notice, message(b'N', b"notice"));
    }

    #[tokio::test]
    async fn relay_waits_out_a_slow_reader_and_shows_each_message_once() {
        let (mut from, mut backend) = pair().await;
        from.limit_reads(usize::MAX);
        let (mut to, mut client) = pair().await;
        // Far more than the sockets hold: the relay must wait, mid-answer,
        // for the client to read, and go on where it stopped.
        let rows: Vec<Vec<u8>> = (0..2000u32).map(|i| message(b'D', &[(i % 251) as u8; 4000])).collect();
        let answer = [rows.concat(), message(b'C', b"SELECT 2000\0"), message(b'Z', b"I")].concat();
        let sent = answer.clone();
        let writer = tokio::spawn(async move {
            backend.write_all(&sent).await.unwrap();
            backend
        });
        let want = answer.len();
        let reader = tokio::spawn(async move {
            let mut got = Vec::with_capacity(want);
            let mut buf = vec![0; 64 * 1024];
            while got.len() < want {
                let n = client.read(&mut buf).await.unwrap();
                assert!(n > 0, "the relay closed early");
                got.extend_from_slice(&buf[..n]);
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            got
        });
        // Something queued for the client goes ahead of the relayed answer.
        let first = message(b'N', b"queued first");
        to.queue(&first);
        let mut shown = 0;
        let end = from
            .relay(&mut to, |tag, _| {
                shown += 1;
                if tag == b'Z' { Next::Last } else { Next::More }
            })
            .await
            .unwrap();
        assert_eq!(end, Next::Last);
        assert_eq!(shown, 2002, "each message shown once");
        let got = reader.await.unwrap();
        assert!(got == [first, answer].concat(), "the client got other bytes than were sent");
        let _backend = writer.await.unwrap();
    }

    #[tokio::test]
    async fn a_deferred_statement_goes_ahead_of_the_next_and_its_answers_are_dropped() {
        let (mut from, mut backend) = pair().await;
        let (mut to, mut client) = pair().await;
        // As the protocol's documentation spells the three messages: the
        // unnamed statement and portal, no parameters, all rows.
        let begin = [message(b'P', b"\0BEGIN\0\0\0"), message(b'B', b"\0\0\0\0\0\0\0\0"), message(b'E', b"\0\0\0\0\0")].concat();
        let update = message(b'Q', b"UPDATE t SET v = 1\0");
        from.defer(deferral("BEGIN"));
        assert!(from.deferring());
        from.send(&update).await.unwrap();
        assert!(!from.deferring());
        // The deferred statement first, then the one sent, with no Sync
        // between: the server skips the UPDATE should BEGIN fail.
        let mut got = vec![0; begin.len() + update.len()];
        backend.read_exact(&mut got).await.unwrap();
        assert_eq!(got, [begin, update].concat());
        // BEGIN's answers, a notice the server slipped in among them, then
        // the UPDATE's: all but BEGIN's are relayed.
        let notice = message(b'N', b"SNOTICE\0\0");
        let answer = [message(b'C', b"UPDATE 1\0"), message(b'Z', b"T")].concat();
        let sent = [message(b'1', b""), notice.clone(), message(b'2', b""), message(b'C', b"BEGIN\0"), answer.clone()].concat();
        // Cut after the notice: the rest of BEGIN's answers come later.
        let cut = message(b'1', b"").len() + notice.len() + 2;
        backend.write_all(&sent[..cut]).await.unwrap();
        let later = sent[cut..].to_vec();
        let writer = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            backend.write_all(&later).await.unwrap();
            backend
        });
        let mut tags = Vec::new();
        from.relay(&mut to, |tag, _| {
            tags.push(tag);
            if tag == b'Z' { Next::Last } else { Next::More }
        })
        .await
        .unwrap();
        assert_eq!(tags, [b'N', b'C', b'Z']);
        let mut relayed = vec![0; notice.len() + answer.len()];
        client.read_exact(&mut relayed).await.unwrap();
        assert_eq!(relayed, [notice, answer].concat());
        let mut backend = writer.await.unwrap();

        // Held and let go: nothing of it is sent.
        from.defer(deferral("BEGIN"));
        from.undefer();
        let select = message(b'Q', b"SELECT 1\0");
        from.send(&select).await.unwrap();
        let mut got = vec![0; select.len()];
        backend.read_exact(&mut got).await.unwrap();
        assert_eq!(got, select);
        backend.write_all(&[message(b'C', b"SELECT 1\0"), message(b'Z', b"I")].concat()).await.unwrap();
        assert_eq!(from.expect().await.unwrap().tag, b'C');
        assert_eq!(from.expect().await.unwrap().tag, b'Z');

        // The deferred statement failed: reading the next answer fails,
        // naming it (the server sends nothing more: it skips to a Sync).
        from.defer(deferral("BEGIN"));
        from.send(&select).await.unwrap();
        let error = [b"SERROR\0".as_slice(), b"C25001\0", b"Mno\0", b"\0"].concat();
        backend.write_all(&[message(b'1', b""), message(b'2', b""), message(b'E', &error)].concat()).await.unwrap();
        let e = from.expect().await.unwrap_err();
        assert!(format!("{e:#}").contains("failed a BEGIN movex had deferred") && format!("{e:#}").contains("25001"), "{e:#}");
    }

    #[tokio::test]
    async fn relay_refuses_a_message_over_the_limit_before_buffering_it() {
        let (mut from, mut backend) = pair().await;
        let (mut to, _client) = pair().await;
        from.limit_reads(1000);
        // One within the limit (relayed), then a header announcing 4 KiB.
        backend.write_all(&message(b'D', &[0; 10])).await.unwrap();
        backend.write_all(&[b'D', 0, 0, 0x10, 0]).await.unwrap();
        let e = from.relay(&mut to, |_, _| Next::More).await.unwrap_err();
        assert!(e.downcast_ref::<TooLarge>().is_some(), "{e:#}");
    }
}
