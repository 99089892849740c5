//! A round — a simple Query, or extended messages up to a Sync — on the
//! primary, then on the secondary, and the transaction it leaves.
//!
//! The primary's messages reach the client as they came. A round the
//! secondary takes no part in streams through; one it takes part in is
//! held until the secondary has answered. The secondary is sent its part
//! only if the primary's succeeded. When the primary fails a statement in
//! a transaction, the secondary's transaction is made to fail too (a
//! statement that raises), so both sides are in the same failed state:
//! `ROLLBACK` or `ROLLBACK TO SAVEPOINT` then does the same on both, and
//! a `COMMIT` commits on neither.

use super::generated::{self, Filter, Pass, Run, Unit};
use super::{Session, Tx, ix};
use crate::model::Pattern;
use crate::pool::{SideName, Statement};
use crate::proxy::postgres::route::{self, Kind};
use crate::proxy::postgres::wire::{Frame, Next, Wire, command_tag, query_text, ready_frame};
use anyhow::Result;
use bytes::{Bytes, BytesMut};

/// What makes a side's failed state match a primary that failed a
/// statement in the transaction.
pub(super) const FAIL_TOO: &str = "DO $movex$ BEGIN RAISE EXCEPTION 'movex: the primary failed a statement of this transaction, so it fails here too'; END $movex$";

/// A round's messages for each side, and what is known of them.
pub(super) struct Round {
    pub pattern: Pattern,
    pub to_p: BytesMut,
    pub to_s: BytesMut,
    /// Statements parsed in it (not on the secondary if it failed there).
    pub parsed: Vec<String>,
    /// What the secondary runs, for the journal.
    pub sql: Vec<Statement>,
    /// Writes of a transaction the secondary lost: journaled, not sent.
    pub journal_only: Vec<Statement>,
    /// Per command the primary completes (an Execute; each statement of a
    /// Query): whether the secondary runs it too.
    pub shared: Vec<bool>,
    /// The kinds of what it runs (transaction control, writes).
    pub kinds: Vec<Kind>,
    /// Messages the primary answers with one final message each
    /// (everything but Sync and Flush): a Flush is relayed up to there.
    pub answers: usize,
    /// Of a Flush earlier in the batch: the primary already failed it.
    pub primary_failed: bool,
    /// Generated values: the primary's answer filtered, its rows kept.
    pub filter: Filter,
    /// Where row images go in the secondary's part: (offset in `to_s`,
    /// run in `filter.runs`, extended protocol or a Query).
    pub images: Vec<(usize, usize, bool)>,
}

/// What the primary (or the secondary) answered to a round.
#[derive(Default, Debug)]
pub(super) struct Outcome {
    /// CommandComplete tags (empty for an empty query or a suspended
    /// portal). Kept for answers read or held, not for one relayed as it
    /// came ([`relayed`]): only those are compared.
    pub tags: Vec<String>,
    pub error: Option<(String, String)>,
    pub status: u8,
    /// The answer, held back for the client (when the secondary takes part).
    pub held: Option<BytesMut>,
}

impl Outcome {
    /// What a message of the answer (`raw`: type byte, length, body) tells:
    /// a command's tag, the first error, the final status.
    fn note(&mut self, tag: u8, raw: &[u8]) {
        match tag {
            b'C' => self.tags.push(command_tag(&raw[5..]).to_owned()),
            b'I' | b's' => self.tags.push(String::new()),
            b'E' if self.error.is_none() => self.error = Some(Frame { tag, raw: Bytes::copy_from_slice(raw) }.error()),
            b'Z' => self.status = raw.get(5).copied().unwrap_or(b'I'),
            _ => {}
        }
    }
}

impl Round {
    pub fn new(pattern: Pattern) -> Round {
        Round {
            pattern,
            to_p: BytesMut::new(),
            to_s: BytesMut::new(),
            parsed: Vec::new(),
            sql: Vec::new(),
            journal_only: Vec::new(),
            shared: Vec::new(),
            kinds: Vec::new(),
            answers: 0,
            primary_failed: false,
            filter: Filter::default(),
            images: Vec::new(),
        }
    }

    pub fn to_primary(&mut self, f: &Frame) {
        self.to_p.extend_from_slice(&f.raw);
        if !matches!(f.tag, b'S' | b'H') {
            self.answers += 1;
        }
    }

    pub fn to_secondary(&mut self, f: &Frame) {
        self.to_s.extend_from_slice(&f.raw);
    }

    /// The secondary runs `run`'s row image here instead of the statement.
    pub fn image(&mut self, run: usize, extended: bool) {
        self.images.push((self.to_s.len(), run, extended));
    }

    /// The secondary's part, its row images written in.
    pub fn secondary_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        if self.images.is_empty() {
            return std::borrow::Cow::Borrowed(&self.to_s);
        }
        let mut out = BytesMut::with_capacity(self.to_s.len() + 256);
        let mut at = 0;
        for &(offset, run, extended) in &self.images {
            out.extend_from_slice(&self.to_s[at..offset]);
            at = offset;
            let sql = generated::image_sql(&self.filter.runs[run]);
            if extended {
                // Under movex's own names: the client's unnamed statement
                // and portal stay the client's.
                let parse = pgwire::messages::extendedquery::Parse::new(Some("movex_image".into()), sql, Vec::new());
                let bind = pgwire::messages::extendedquery::Bind::new(Some("movex_image".into()), Some("movex_image".into()), Vec::new(), Vec::new(), Vec::new());
                let exec = pgwire::messages::extendedquery::Execute::new(Some("movex_image".into()), 0);
                let close_p = pgwire::messages::extendedquery::Close::new(b'P', Some("movex_image".into()));
                let close_s = pgwire::messages::extendedquery::Close::new(b'S', Some("movex_image".into()));
                for f in [Frame::of(&parse), Frame::of(&bind), Frame::of(&exec), Frame::of(&close_p), Frame::of(&close_s)] {
                    out.extend_from_slice(&f.raw);
                }
            } else {
                out.extend_from_slice(&Frame::of(&pgwire::messages::simplequery::Query::new(sql)).raw);
            }
        }
        out.extend_from_slice(&self.to_s[at..]);
        std::borrow::Cow::Owned(out.to_vec())
    }

    /// An Execute for the primary, of a portal of `kind` the secondary
    /// runs too if `shared`.
    pub fn to_primary_exec(&mut self, f: &Frame, shared: bool, kind: Kind) {
        self.to_primary(f);
        self.shared.push(shared);
        self.kinds.push(kind);
    }

    pub fn journal_only(&mut self, s: Statement) {
        self.journal_only.push(s);
    }

    /// The Sync, to each side that has a part.
    pub fn end(&mut self, sync: &Frame) {
        self.to_primary(sync);
        if self.has_secondary() {
            self.to_secondary(sync);
        }
    }

    /// Whether the secondary has a part in it.
    pub fn has_secondary(&self) -> bool {
        !self.to_s.is_empty() || !self.images.is_empty()
    }

    /// Whether it begins, ends or is in a transaction's control.
    pub fn controls(&self) -> bool {
        self.kinds.iter().any(|k| matches!(k, Kind::Begin | Kind::Commit | Kind::Rollback | Kind::Savepoint))
    }

    pub fn writes(&self) -> bool {
        self.kinds.iter().any(|k| *k == Kind::Write)
    }
}

/// The row count a command tag reports, if it reports one.
pub(super) fn rows(tag: &str) -> Option<u64> {
    let verb = tag.split(' ').next()?;
    if !matches!(verb, "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "COPY" | "SELECT") {
        return None;
    }
    tag.rsplit(' ').next()?.parse().ok()
}

/// Read a side's answer up to ReadyForQuery: relayed to `client` as it
/// comes, or held. A `CopyInResponse` nobody expected (COPY FROM STDIN
/// through the extended protocol) is answered with CopyFail.
pub(super) async fn answer(
    wire: &mut Wire,
    mut client: Option<&mut Wire>,
    hold: bool,
    until: Option<usize>,
    mut filter: Option<&mut Filter>,
) -> Result<Outcome> {
    let mut o = Outcome { held: hold.then(BytesMut::new), ..Outcome::default() };
    if !hold
        && until.is_none()
        && filter.is_none()
        && let Some(c) = client.as_deref_mut()
        && relayed(wire, c, &mut o).await? == Next::Last
    {
        return Ok(o);
    }
    let mut finals = 0;
    loop {
        let mut f = wire.expect().await?;
        let counted = matches!(f.tag, b'1' | b'2' | b'3' | b'T' | b'n' | b'C' | b'I' | b's');
        if let Some(fl) = filter.as_deref_mut() {
            match fl.on(&f) {
                Pass::Relay => {}
                Pass::Drop => continue,
                Pass::Instead(g) => f = g,
            }
        }
        if f.tag == b'G' {
            let fail = pgwire::messages::copy::CopyFail::new("movex relays COPY FROM STDIN in simple queries only".into());
            wire.send(&Frame::of(&fail).raw).await?;
            continue;
        }
        o.note(f.tag, &f.raw);
        if counted {
            finals += 1;
        }
        match (&mut o.held, client.as_deref_mut()) {
            (Some(h), _) => h.extend_from_slice(&f.raw),
            (None, Some(c)) => {
                c.queue(&f.raw);
                if f.tag == b'Z' || !wire.has_frame() || c.queued() > 64 * 1024 {
                    c.flush().await?;
                }
            }
            (None, None) => {}
        }
        if f.tag == b'Z' {
            return Ok(o);
        }
        if let Some(n) = until
            && (finals >= n || f.tag == b'E')
        {
            if let (None, Some(c)) = (&o.held, client) {
                c.flush().await?;
            }
            return Ok(o);
        }
    }
}

/// The common case of [`answer`]: relayed as it comes, nothing held or
/// filtered, passed on without being split into messages ([`Wire::relay`]).
/// What the outcome needs is read on the way; a CopyInResponse is left for
/// [`answer`] (`Next::Leave`).
async fn relayed(wire: &mut Wire, client: &mut Wire, o: &mut Outcome) -> Result<Next> {
    wire.relay(client, |tag, raw| match tag {
        b'G' => Next::Leave,
        // Command tags are compared only in held answers (`secondary.rs`),
        // never relayed ones: not copied out here, message after message.
        b'C' | b'I' | b's' => Next::More,
        _ => {
            o.note(tag, raw);
            if tag == b'Z' { Next::Last } else { Next::More }
        }
    })
    .await
}

impl Session<'_> {
    /// A simple Query, read where it lies in the client's buffer. One
    /// only the primary has a part in is relayed from there
    /// ([`Session::relay_alone`]); the rest are taken out and routed.
    pub(super) async fn query(&mut self) -> Result<()> {
        if !self.admit().await? {
            self.client.skip();
            return Ok(());
        }
        let pattern = self.pattern();
        if self.defer_begin && self.deferred_begin(pattern).await? {
            return Ok(());
        }
        let (primary, secondary) = pattern.roles();
        let alone = secondary.is_none()
            && self.sides[ix(primary)].conn.is_some()
            && self.client.peek().is_some_and(|(_, raw)| !route::matters_alone(query_text(raw)));
        if alone {
            return self.relay_alone(pattern, primary).await;
        }
        let f = self.client.take().expect("the Query is buffered");
        // Boxed: routing's future is ~4 KiB, and a future is moved into
        // its caller's when it starts: every query relayed alone paid for
        // copying it.
        Box::pin(self.routed(pattern, f)).await
    }

    /// A query routed: read, classified, and run as a [`Round`].
    async fn routed(&mut self, pattern: Pattern, f: Frame) -> Result<()> {
        let (primary, secondary) = pattern.roles();
        let sql = String::from_utf8_lossy(query_text(&f.raw)).into_owned();
        let classes = route::classify(&sql);
        if classes.iter().any(|c| c.copy_in) {
            return self.copy_in(pattern, f, sql).await;
        }
        if !self.connect_or_refuse(primary).await? {
            return Ok(());
        }
        let mut round = Round::new(pattern);
        let kind = route::kind_of(&classes);
        round.kinds = classes.iter().map(|c| c.kind).collect();
        let broken = self.tx.as_ref().is_some_and(|t| t.broken);
        let both = kind.both() && secondary.is_some();
        round.shared = vec![both && !broken; classes.len()];
        let generates = match (&classes[..], both && !broken) {
            ([one], true) => self.gen_for(one, primary).await?,
            _ => None,
        };
        match generates {
            Some(g) => {
                // Generated values: the primary returns the rows, the
                // secondary writes them (`generated.rs`).
                let q = Frame::of(&pgwire::messages::simplequery::Query::new(g.primary_sql(&sql)));
                round.to_primary(&q);
                round.filter.runs.push(Run { generates: g, rows: Vec::new() });
                round.filter.units.push_back(Unit::Exec(0));
                round.image(0, false);
                round.sql.push(Statement::new(sql.clone()));
            }
            None => {
                round.to_primary(&f);
                if both && broken {
                    // The secondary rolled this transaction back: its writes
                    // are journaled; its control statements mean nothing there.
                    if kind == Kind::Write {
                        round.journal_only(Statement::new(sql.clone()));
                    }
                } else if both {
                    round.to_secondary(&f);
                    round.sql.push(Statement::new(sql.clone()));
                }
            }
        }
        let session = kind == Kind::Session;
        let ok = self.run_round(round).await?;
        if session && ok {
            if classes.iter().any(|c| c.kind == Kind::Session && sql.trim_start().to_ascii_uppercase().starts_with("DISCARD")) {
                self.session_sql.clear();
                self.stmts.clear();
                self.portals.clear();
            } else {
                self.session_sql.push(sql);
            }
        }
        Ok(())
    }

    /// The client's buffered Query, which only the primary (connected)
    /// has a part in: written to it from the client's buffer, and its
    /// answer relayed as it came ([`Wire::relay`]), only its final status
    /// read. No [`Round`], no [`Outcome`]: the path every query of a
    /// one-side pattern takes, kept short.
    async fn relay_alone(&mut self, pattern: Pattern, primary: SideName) -> Result<()> {
        // Straight-line, no inner async block to catch errors in: each
        // nested state machine is read back, cold, at every wake-up.
        let conn = self.sides[ix(primary)].conn.as_mut().expect("relay_alone: the primary is connected");
        let client = &mut self.client;
        let (_, query) = client.peek().expect("relay_alone: the Query is buffered");
        let mut r = conn.wire.send(query).await.map(|()| 0);
        if r.is_ok() {
            client.skip();
            let mut status = 0;
            let relayed = conn
                .wire
                .relay(client, |tag, raw| match tag {
                    b'Z' => {
                        status = raw.get(5).copied().unwrap_or(b'I');
                        Next::Last
                    }
                    b'G' => Next::Leave,
                    _ => Next::More,
                })
                .await;
            r = match relayed {
                // A COPY FROM STDIN it could not see: refused by [`answer`].
                Ok(Next::Leave) => answer(&mut conn.wire, Some(client), false, None, None).await.map(|o| o.status),
                Ok(_) => Ok(status),
                Err(e) => Err(e),
            };
        }
        match r {
            Ok(status) => {
                conn.status = status;
                self.after(pattern, status);
                Ok(())
            }
            Err(e) => {
                self.hang_up(primary);
                Err(e.context(format!("the {} (the primary) failed", primary.as_str())))
            }
        }
    }

    /// Run a round (see the module's header). `Ok(true)`: the primary
    /// succeeded.
    pub(super) async fn run_round(&mut self, mut round: Round) -> Result<bool> {
        let (primary, secondary) = round.pattern.roles();
        if !self.connect_or_refuse(primary).await? {
            return Ok(false);
        }
        let secondary = secondary.filter(|_| round.has_secondary());
        if let Some(s) = secondary
            && self.pool.config().strict
            && (round.writes() || round.controls())
        {
            return self.strict_round(round, primary, s).await;
        }
        let was_in_tx = self.tx.is_some();
        let out = self.primary_part(primary, &mut round, secondary.is_some()).await?;
        // A round that begins a transaction: the secondary's part is its start.
        self.begun(round.pattern, out.status);
        if let Some(s) = secondary {
            if out.error.is_none() && !round.primary_failed {
                self.secondary_part(&mut round, s, &out).await;
            } else if out.status == b'E' && was_in_tx {
                // The secondary's transaction fails too (module header).
                if let Err(e) = self.follow_failure(s).await {
                    tracing::debug!(side = s.as_str(), error = %e, "proxy: the secondary could not be failed with the primary");
                }
            } else if round.kinds.len() > 1 && round.controls() {
                // A query string that commits part-way, then fails: what the
                // primary committed before the error, the secondary was not
                // sent. Journaled, so repair re-checks its tables.
                let stmts = std::mem::take(&mut round.sql);
                let why = "the primary failed part of a query string that commits part-way; the secondary was sent none of it";
                self.missed(round.pattern, s, stmts, why, false).await;
            }
        }
        if !round.journal_only.is_empty()
            && let Some(s) = round.pattern.roles().1
        {
            let stmts = std::mem::take(&mut round.journal_only);
            self.journal_stmts(round.pattern, s, &stmts, "the secondary lost this transaction earlier").await;
        }
        self.after(round.pattern, out.status);
        if let Some(held) = &out.held {
            self.client.send(held).await?;
        }
        Ok(out.error.is_none())
    }

    /// A Flush in an extended batch: the primary's part so far relayed,
    /// the rest kept for the Sync.
    pub(super) async fn run_flush(&mut self, mut round: Round) -> Result<()> {
        let (primary, _) = round.pattern.roles();
        if !self.connect_or_refuse(primary).await? {
            return Ok(());
        }
        if round.answers == 0 {
            self.flushed = Some(round);
            return Ok(());
        }
        let o = self.exchange(primary, &round.to_p, true, false, Some(round.answers), Some(&mut round.filter)).await?;
        round.primary_failed |= o.error.is_some();
        round.to_p.clear();
        round.answers = 0;
        self.flushed = Some(round);
        Ok(())
    }

    /// The primary's part: sent, and its answer relayed (or held, when
    /// the secondary takes part).
    pub(super) async fn primary_part(&mut self, primary: SideName, round: &mut Round, hold: bool) -> Result<Outcome> {
        let filter = (!round.filter.is_empty()).then_some(&mut round.filter);
        self.on_primary(primary, &round.to_p, hold, filter).await
    }

    /// Send the primary `bytes`; its answer relayed (or held). The primary
    /// gone mid-round ends the client's session too, as it would directly.
    async fn on_primary(&mut self, primary: SideName, bytes: &[u8], hold: bool, filter: Option<&mut Filter>) -> Result<Outcome> {
        self.exchange(primary, bytes, true, hold, None, filter).await.map_err(|e| e.context(format!("the {} (the primary) failed", primary.as_str())))
    }

    /// Send a side `bytes` and read its whole answer, for movex (not relayed).
    pub(super) async fn ask(&mut self, name: SideName, bytes: &[u8]) -> Result<Outcome> {
        self.exchange(name, bytes, false, false, None, None).await
    }

    /// Send a side `bytes` and read its answer ([`answer`]: relayed to the
    /// client or not, held, up to ReadyForQuery or `until` final messages,
    /// filtered); the status it ends in is kept. A failed connection is
    /// hung up.
    async fn exchange(&mut self, name: SideName, bytes: &[u8], relay: bool, hold: bool, until: Option<usize>, filter: Option<&mut Filter>) -> Result<Outcome> {
        let Some(conn) = self.sides[ix(name)].conn.as_mut() else { anyhow::bail!("the {} is not connected", name.as_str()) };
        let client = relay.then_some(&mut self.client);
        let r = async {
            conn.wire.send(bytes).await?;
            answer(&mut conn.wire, client, hold, until, filter).await
        }
        .await;
        match r {
            Ok(o) => {
                if o.status != 0 {
                    conn.status = o.status;
                }
                Ok(o)
            }
            Err(e) => {
                self.hang_up(name);
                Err(e)
            }
        }
    }

    /// Put the secondary's transaction in the failed state the primary's is in.
    async fn follow_failure(&mut self, s: SideName) -> std::result::Result<(), String> {
        if self.tx.as_ref().is_some_and(|t| t.broken) || self.sides[ix(s)].conn.is_none() {
            return Ok(());
        }
        match self.own(s, FAIL_TOO).await {
            Err(e) if e.starts_with("P0001") => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Err("the raise did not fail".into()),
        }
    }

    /// A transaction the round began, by the primary's status.
    pub(super) fn begun(&mut self, pattern: Pattern, status: u8) {
        if status != b'I' && self.tx.is_none() {
            self.tx = Some(Tx { pattern, sql: Vec::new(), broken: false });
        }
    }

    /// The transaction the round leaves, by the primary's status (which
    /// the client is told).
    pub(super) fn after(&mut self, pattern: Pattern, status: u8) {
        self.status = status;
        self.begun(pattern, status);
        if status == b'I' {
            self.tx = None;
            // A side still holding the transaction's deferred `BEGIN` was
            // sent nothing of it (a transaction that only read there, or
            // whose COMMIT the primary failed): it is let go, not sent
            // ahead of the next transaction's statements.
            for conn in self.sides.iter_mut().filter_map(|l| l.conn.as_mut()) {
                if conn.wire.deferring() {
                    conn.wire.undefer();
                    conn.status = b'I';
                }
            }
        }
    }

    /// Tell the client `status` (a round movex ends itself).
    pub(super) async fn ready(&mut self, status: u8) -> Result<()> {
        self.status = status;
        self.client.send(&ready_frame(status).raw).await
    }
}
