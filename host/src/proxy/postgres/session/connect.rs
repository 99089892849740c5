//! A side's connection: opened when first needed with the client's
//! startup parameters, then brought to the session's state — its session
//! statements (`SET`...) replayed, its cancel key registered. A side that
//! reconnects has lost its prepared statements; each is prepared on it
//! again before a round needs it ([`Session::prepare_on`]).

use super::{Session, ix};
use crate::pool::SideName;
use crate::proxy::postgres::backend::{self, Backend, Target};
use crate::proxy::postgres::wire::Frame;
use anyhow::{Result, anyhow};
use bytes::BytesMut;
use pgwire::messages::Message;
use pgwire::messages::extendedquery::Close;

pub(super) struct Link {
    pub target: Target,
    pub conn: Option<Backend>,
    /// Why the side is down, while it is (logged once).
    pub down: Option<String>,
}

impl Link {
    pub fn new(target: Target) -> Link {
        Link { target, conn: None, down: None }
    }
}

/// The answer to a statement movex sent on its own.
pub(super) struct Own {
    pub error: Option<(String, String)>,
    pub status: u8,
    /// Its rows, their values as text.
    pub rows: Vec<Vec<Option<Vec<u8>>>>,
}

impl Session<'_> {
    /// Connect the side if it is not (replaying the session statements).
    pub(super) async fn connect(&mut self, name: SideName) -> Result<()> {
        if self.sides[ix(name)].conn.is_some() {
            return Ok(());
        }
        let target = self.sides[ix(name)].target.clone();
        let timeout = std::time::Duration::from_millis(self.pool.config().connect_timeout_ms.max(1));
        let conn = tokio::time::timeout(timeout, backend::connect(&target, &self.params))
            .await
            .map_err(|_| anyhow!("connecting to the {} timed out ({} ms, [pool] connect_timeout_ms)", target.label, timeout.as_millis()))??;
        self.me.set(name, Some((target, conn.key.clone())));
        let link = self.side(name);
        link.conn = Some(conn);
        if link.down.take().is_some() {
            tracing::info!(side = name.as_str(), "proxy: the side is reachable again");
        }
        for s in self.stmts.values_mut() {
            s.on[ix(name)] = false;
        }
        for sql in self.session_sql.clone() {
            if let Err(e) = self.own(name, &sql).await {
                self.hang_up(name);
                return Err(anyhow!("replaying the session's `{sql}` on the {}: {e}", name.as_str()));
            }
        }
        Ok(())
    }

    /// Drop the side's connection (reconnected when next needed).
    pub(super) fn hang_up(&mut self, name: SideName) {
        self.side(name).conn = None;
        self.me.set(name, None);
    }

    /// Run `sql` on the side for movex (a simple Query), its answer read
    /// and dropped. A failed connection is hung up.
    pub(super) async fn own(&mut self, name: SideName, sql: &str) -> std::result::Result<Own, String> {
        let Some(conn) = self.side(name).conn.as_mut() else { return Err("not connected".into()) };
        let mut q = BytesMut::new();
        pgwire::messages::simplequery::Query::new(sql.to_owned()).encode(&mut q).map_err(|e| e.to_string())?;
        let r = async {
            conn.wire.send(&q).await?;
            drain(&mut conn.wire).await
        }
        .await;
        match r {
            Ok(o) => {
                conn.status = o.status;
                match &o.error {
                    Some((code, msg)) => Err(format!("{code}: {msg}")),
                    None => Ok(o),
                }
            }
            Err(e) => {
                self.hang_up(name);
                Err(format!("{e:#}"))
            }
        }
    }

    /// Prepare on the side the statements `names` that it lacks (it
    /// reconnected, or they were reads it was not sent): one round trip,
    /// before the round that needs them. A side that cannot is left to
    /// answer the round itself ("prepared statement does not exist").
    pub(super) async fn prepare_on(&mut self, name: SideName, names: &[String]) -> Result<()> {
        let i = ix(name);
        let missing: Vec<String> = names.iter().filter(|n| self.stmts.get(*n).is_some_and(|s| !s.on[i])).cloned().collect();
        if missing.is_empty() {
            return Ok(());
        }
        let is_primary = self.pattern().roles().0 == name;
        let Some(conn) = self.sides[i].conn.as_mut() else { return Ok(()) };
        let mut out = BytesMut::new();
        for n in &missing {
            // Close first: a named statement may exist there already.
            Close::new(b'S', (!n.is_empty()).then(|| n.clone())).encode(&mut out)?;
            out.extend_from_slice(&Session::parse_for(&self.stmts[n], is_primary).raw);
        }
        out.extend_from_slice(&[b'S', 0, 0, 0, 4]);
        conn.wire.send(&out).await?;
        let o = drain(&mut conn.wire).await?;
        if o.error.is_none() {
            for n in &missing {
                if let Some(s) = self.stmts.get_mut(n) {
                    s.on[i] = true;
                }
            }
        }
        Ok(())
    }
}

/// Read a side's answer up to ReadyForQuery, keeping its rows, its first
/// error and its status.
pub(super) async fn drain(wire: &mut crate::proxy::postgres::wire::Wire) -> Result<Own> {
    let (mut error, mut rows) = (None, Vec::new());
    loop {
        let f: Frame = wire.expect().await?;
        match f.tag {
            b'D' => rows.push(super::generated::values(&f)),
            b'E' if error.is_none() => error = Some(f.error()),
            b'Z' => return Ok(Own { error, status: f.body().first().copied().unwrap_or(b'I'), rows }),
            _ => {}
        }
    }
}
