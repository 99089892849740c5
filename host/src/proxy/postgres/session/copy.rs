//! `COPY ... FROM STDIN`: the client's rows streamed to both sides as they
//! come, never buffered whole. The statement goes to the primary, then to
//! the secondary; once both are ready for data the client is told so, and
//! each CopyData goes to both. The primary's answer is held until the
//! secondary has finished; a secondary that fails or goes away part way
//! is sent nothing more, and the COPY is journaled (repair re-checks its
//! table). In strict mode a COPY outside a transaction runs in one movex
//! opens on both sides, committed on the secondary first, so a failure
//! there leaves neither side with the rows.

use super::round::answer;
use super::secondary::differs;
use super::{Session, ix};
use crate::model::Pattern;
use crate::pool::{SideName, Statement};
use crate::proxy::postgres::wire::{Frame, error_frame};
use anyhow::Result;
use std::time::Instant;

impl Session<'_> {
    pub(super) async fn copy_in(&mut self, pattern: Pattern, q: Frame, sql: String) -> Result<()> {
        let (p, s) = pattern.roles();
        if !self.connect_or_refuse(p).await? {
            return Ok(());
        }
        let broken = self.tx.as_ref().is_some_and(|t| t.broken);
        let mut sec = s.filter(|_| !broken);
        // Defaults each side makes its own (serial, now()): COPY has no
        // RETURNING to take the primary's from, so the secondary's rows
        // differ; the COPY is journaled for `movex repair` to settle.
        let class = crate::proxy::postgres::route::classify(&sql).into_iter().find(|c| c.copy_in);
        let table = class.and_then(|c| c.target).map(|t| t.table);
        let generated_defaults = match (&table, sec) {
            (Some(t), Some(_)) => self.table_info(t, p).await?.filter(|i| i.volatile_default).map(|_| {
                format!("{t} has defaults each side makes itself (sequences, now()...): COPY cannot take the primary's; repair re-checks the table")
            }),
            _ => None,
        };
        let strict = self.pool.config().strict && sec.is_some();
        let wrap = strict && self.tx.is_none();
        let mut why: Option<String> = broken.then(|| "the secondary lost this transaction earlier".to_owned());
        if wrap {
            if let Err(e) = self.own(p, "BEGIN").await {
                return self.refuse("08006", &format!("movex: the {} could not begin: {e}", p.as_str())).await;
            }
        }
        // The primary first: its CopyInResponse, or its error.
        let conn = self.sides[ix(p)].conn.as_mut().expect("connected");
        conn.wire.send(&q.raw).await?;
        let first = conn.wire.expect().await?;
        if first.tag != b'G' {
            // Refused (no table...): the rest of its answer, relayed.
            self.client.queue(&first.raw);
            let out = answer(&mut self.sides[ix(p)].conn.as_mut().expect("connected").wire, Some(&mut self.client), false, None, None).await?;
            if wrap {
                let _ = self.own(p, "ROLLBACK").await;
                self.client.send(&crate::proxy::postgres::wire::ready_frame(b'I').raw).await?;
            }
            self.after(pattern, if wrap { b'I' } else { out.status });
            return Ok(());
        }
        if let Some(s) = sec {
            match self.reach(s).await {
                Err(w) => {
                    why = Some(w);
                    sec = None;
                }
                Ok(()) => {
                    if wrap && let Err(e) = self.own(s, "BEGIN").await {
                        why = Some(format!("BEGIN: {e}"));
                        sec = None;
                    } else {
                        let conn = self.sides[ix(s)].conn.as_mut().expect("connected");
                        let ready = async {
                            conn.wire.send(&q.raw).await?;
                            let f = conn.wire.expect().await?;
                            if f.tag == b'G' {
                                return anyhow::Ok(None);
                            }
                            let o = answer(&mut conn.wire, None, false, None, None).await?;
                            Ok(Some(if f.tag == b'E' { f.error() } else { o.error.unwrap_or_default() }))
                        }
                        .await;
                        match ready {
                            Ok(None) => {}
                            Ok(Some((code, msg))) => {
                                why = Some(format!("error {code}: {msg}"));
                                sec = None;
                            }
                            Err(e) => {
                                self.hang_up(s);
                                why = Some(format!("{e:#}"));
                                sec = None;
                            }
                        }
                    }
                }
            }
        }
        if strict && let Some(w) = why.clone() {
            // The secondary cannot take the rows: neither side does.
            let conn = self.sides[ix(p)].conn.as_mut().expect("connected");
            let fail = pgwire::messages::copy::CopyFail::new("movex (strict): the secondary cannot take this COPY".into());
            conn.wire.send(&Frame::of(&fail).raw).await?;
            answer(&mut conn.wire, None, false, None, None).await?;
            self.abandon(p, s.expect("strict has a secondary")).await;
            let msg = format!("movex (strict): the {} cannot take this COPY ({w}); nothing was written", s.map_or("", |x| x.as_str()));
            self.client.queue(&error_frame(false, "58000", &msg).raw);
            let status = if wrap { b'I' } else { b'E' };
            return self.ready(status).await;
        }
        self.client.send(&first.raw).await?;
        let sent = Instant::now();
        // The client's rows, to both.
        loop {
            let f = self.client.expect().await?;
            match f.tag {
                b'd' | b'c' | b'f' => {}
                // Flush and Sync mean nothing during COPY.
                b'H' | b'S' => continue,
                other => {
                    let msg = format!("movex: a '{}' message during COPY FROM STDIN", other as char);
                    let fail = Frame::of(&pgwire::messages::copy::CopyFail::new(msg));
                    self.copy_to(p, sec, &fail, &mut why).await?;
                    break;
                }
            }
            self.copy_to(p, sec, &f, &mut why).await?;
            if why.is_some() {
                sec = None;
            }
            if f.tag != b'd' {
                break;
            }
        }
        let hold = s.is_some();
        let conn = self.sides[ix(p)].conn.as_mut().expect("connected");
        conn.wire.flush().await?;
        let mut out = answer(&mut conn.wire, Some(&mut self.client), hold, None, None).await?;
        self.begun(pattern, out.status);
        if let Some(s) = sec {
            let conn = self.sides[ix(s)].conn.as_mut().expect("connected");
            let r = async {
                conn.wire.flush().await?;
                answer(&mut conn.wire, None, false, None, None).await
            }
            .await;
            match r {
                Ok(o) if out.error.is_none() => why = differs(&out, &[true], &o),
                Ok(_) => {}
                Err(e) => {
                    self.hang_up(s);
                    why = Some(format!("{e:#}"));
                }
            }
        }
        if let (Some(s), None) = (s, &out.error) {
            if strict {
                if let Some(w) = why {
                    self.abandon(p, s).await;
                    let msg = format!("movex (strict): the {} failed this COPY ({w}); nothing was written", s.as_str());
                    self.client.queue(&error_frame(false, "58000", &msg).raw);
                    return self.ready(if wrap { b'I' } else { b'E' }).await;
                }
                if wrap {
                    if let Err((code, msg)) = self.commit_both(pattern, p, s, &[Statement::new(sql.clone())]).await {
                        let code = code.filter(|c| c.len() == 5).unwrap_or_else(|| "58000".into());
                        self.client.queue(&error_frame(false, &code, &msg).raw);
                        self.tx = None;
                        return self.ready(b'I').await;
                    }
                    super::strict::idle(&mut out);
                }
            } else if let Some(w) = why.or(generated_defaults) {
                let in_tx = self.tx.is_some();
                self.missed(pattern, s, vec![Statement::new(sql.clone())], &w, in_tx).await;
            } else {
                self.pool.metrics().record(s, true, sent.elapsed());
                if let Some(tx) = self.tx.as_mut() {
                    tx.sql.push(Statement::new(sql.clone()));
                }
            }
        } else if let (true, Some(_)) = (wrap, &out.error) {
            self.abandon(p, s.expect("strict has a secondary")).await;
            super::strict::idle(&mut out);
        }
        self.after(pattern, out.status);
        if let Some(held) = &out.held {
            self.client.send(held).await?;
        }
        Ok(())
    }

    /// One COPY message to the primary and, while it keeps up, the
    /// secondary (a failure there is noted in `why`).
    async fn copy_to(&mut self, p: SideName, sec: Option<SideName>, f: &Frame, why: &mut Option<String>) -> Result<()> {
        let more = self.client.has_frame();
        let conn = self.sides[ix(p)].conn.as_mut().expect("connected");
        conn.wire.queue(&f.raw);
        if !more || conn.wire.queued() > 256 * 1024 {
            conn.wire.flush().await?;
        }
        if let Some(s) = sec
            && why.is_none()
        {
            let conn = self.sides[ix(s)].conn.as_mut().expect("connected");
            conn.wire.queue(&f.raw);
            if (!more || conn.wire.queued() > 256 * 1024)
                && let Err(e) = conn.wire.flush().await
            {
                *why = Some(format!("the {} connection failed during COPY: {e:#}", s.as_str()));
                self.hang_up(s);
            }
        }
        Ok(())
    }
}
