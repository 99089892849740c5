//! `LOAD DATA LOCAL INFILE`: the server asks the client for a file (a
//! `0xFB` packet naming it), the client sends it in packets and an empty
//! one, the server answers. movex sends the statement to both sides, asks
//! the client for the file once (the primary's request), and passes each
//! packet of it to both sides as it comes: memory holds one packet, never
//! the file. movex reads no file itself; the client decides what it sends,
//! as it does directly.
//!
//! The rules are those of any write: the primary's answer reaches the
//! client once the secondary has answered too; non-strict, a secondary
//! that fails, or loads a different number of rows, is counted and
//! journaled; strict, the load runs in a transaction on both sides (the
//! client's, or one movex opens), and a secondary failure rolls both back
//! and is the client's error.

use super::Session;
use crate::model::Pattern;
use crate::pool::SideName;
use crate::proxy::mysql::response::{self, Buffered, Sink, Summary};
use crate::proxy::mysql::wire::Wire;
use crate::store::journal::JournalKind;
use anyhow::Result;
use mysql_common::constants::StatusFlags;

/// Whether `sql` is a `LOAD DATA LOCAL` (or `LOAD XML LOCAL`) statement.
pub(super) fn is_local_load(sql: &str) -> bool {
    let upper: String = sql.trim_start().chars().take(64).collect::<String>().to_ascii_uppercase();
    let words: Vec<&str> = upper.split_whitespace().take(4).collect();
    matches!(words.as_slice(), ["LOAD", "DATA" | "XML", rest @ ..] if rest.iter().take(2).any(|w| *w == "LOCAL"))
}

/// How the secondary's part went.
enum Part {
    /// Not sent: no secondary, or its transaction was lost (journaled).
    None,
    /// Taking the file.
    Taking(SideName),
    /// Failed (its error code, if it sent one, and why).
    Failed(SideName, Option<u16>, String),
}

impl Session<'_> {
    /// A `LOAD DATA LOCAL` statement (see the module's header); each
    /// side's packet for it, and its text as the secondary runs it.
    pub(super) async fn load_local(&mut self, pattern: Pattern, on_primary: &[u8], on_secondary: &[u8], sql: &str) -> Result<()> {
        let (primary, secondary) = pattern.roles();
        let strict = secondary.is_some() && self.pool.config().strict;
        let in_tx = self.tx.pattern.is_some() || !self.autocommit;
        let wrap = strict && !in_tx;
        let what = if in_tx { "the transaction was rolled back on both sides" } else { "nothing was written" };
        if let Err(e) = self.connect(primary).await {
            return self.primary_down(primary, &e).await;
        }
        let mut part = Part::None;
        if let Some(sec) = secondary {
            let ready = if strict {
                if self.lost_tx(sec).await {
                    self.abandon(primary, sec).await;
                    return self.refuse(None, &format!("the {} lost this transaction (it failed or reconnected during it); {what}", sec.as_str())).await;
                }
                if let Err(e) = self.connect(sec).await {
                    if in_tx {
                        self.abandon(primary, sec).await;
                    }
                    return self.refuse(None, &format!("the {} is unreachable: {e:#}; {what}", sec.as_str())).await;
                }
                for side in [primary, sec].into_iter().filter(|_| wrap) {
                    if let Err(e) = self.own(side, "BEGIN").await {
                        self.abandon(primary, sec).await;
                        return self.refuse(None, &format!("the {} could not begin a transaction: {e}; nothing was written", side.as_str())).await;
                    }
                }
                true
            } else if self.kept_from_lost_tx(pattern, sec, sql).await {
                // Journaled: the transaction it belongs to is lost there.
                false
            } else if let Err(e) = self.connect(sec).await {
                self.missed(pattern, sec, sql, &format!("{e:#}")).await;
                false
            } else {
                true
            };
            if ready {
                part = Part::Taking(sec);
            }
        }
        let caps = self.login.capabilities;
        let (client, sides) = (&mut self.client, &mut self.sides);
        let [source, destination] = sides;
        let (pw, sw) = match primary {
            SideName::Source => (source.wire.as_mut(), destination.wire.as_mut()),
            SideName::Destination => (destination.wire.as_mut(), source.wire.as_mut()),
        };
        let pw = pw.expect("connected above");
        let mut sw = if matches!(part, Part::Taking(_)) { sw } else { None };
        let streamed = stream(client, pw, sw.as_deref_mut(), &mut part, on_primary, on_secondary, caps).await;
        let (mut held, mut s) = match streamed {
            Ok(Some(answer)) => answer,
            // The primary answered without asking for the file (an error,
            // most often): relayed as it was; nothing ran on either side.
            Ok(None) => {
                if wrap {
                    self.abandon(primary, secondary.expect("wrap: strict")).await;
                }
                return Ok(());
            }
            Err(e) => {
                // A side's connection, or the client's, failed mid-file:
                // its state is unknown. The session ends; the servers roll
                // back what they had of the load.
                self.hang_up(primary);
                if let Some(sec) = secondary {
                    self.hang_up(sec);
                }
                return Err(e.context("relaying a LOAD DATA LOCAL file"));
            }
        };
        // The secondary's answer, checked as any write's: a failure (with
        // its code), or a different count of rows loaded (no code: with
        // LOCAL the server skips rows it cannot take, with a warning).
        let failed = match part {
            Part::None => None,
            Part::Failed(name, code, why) => Some((name, Some(code.unwrap_or(0)), why)),
            Part::Taking(name) => {
                let answer = match sw {
                    Some(w) => response::relay(w, caps, Sink::Drop).await.map_err(|e| format!("{e:#}")),
                    None => Err("not connected".to_owned()),
                };
                match answer {
                    Ok(Summary { error: Some((code, msg)), .. }) => Some((name, Some(code), format!("the {} refused it: error {code}: {msg}", name.as_str()))),
                    Ok(t) if s.error.is_none() && t.affected_rows != s.affected_rows => {
                        self.pool.metrics().count(name, true);
                        Some((name, None, format!("the {} loaded {} rows, the {} {}", name.as_str(), t.affected_rows, primary.as_str(), s.affected_rows)))
                    }
                    Ok(_) => {
                        self.pool.metrics().count(name, true);
                        None
                    }
                    Err(e) => {
                        self.hang_up(name);
                        Some((name, Some(0), format!("the {} connection failed: {e}", name.as_str())))
                    }
                }
            }
        };
        let commit = wrap && s.error.is_none();
        match failed {
            Some((name, Some(code), why)) if strict => {
                self.pool.metrics().count(name, false);
                self.abandon(primary, name).await;
                return self.refuse(Some(code).filter(|&c| c != 0), &format!("{why}; {what}")).await;
            }
            Some((name, _, why)) => self.missed(pattern, name, sql, &why).await,
            None => {}
        }
        if commit {
            let sec = secondary.expect("wrap: strict");
            if let Err(e) = self.own(sec, "COMMIT").await {
                self.abandon(primary, sec).await;
                return self.refuse(None, &format!("the {} could not commit: {e}; nothing was written", sec.as_str())).await;
            }
            if let Err(e) = self.own(primary, "COMMIT").await {
                let why = format!("the {} committed, the {} did not: {e}", sec.as_str(), primary.as_str());
                self.journal(pattern, primary, JournalKind::PrimaryCommitFailed, &[sql.to_owned()], &why).await;
                return self.refuse(None, &format!("{why}; journaled as primary_commit_failed")).await;
            }
            held.clear_status(StatusFlags::SERVER_STATUS_IN_TRANS);
            s.status &= !StatusFlags::SERVER_STATUS_IN_TRANS.bits();
        } else if wrap {
            self.abandon(primary, secondary.expect("wrap: strict")).await;
        }
        held.release(&mut self.client).await?;
        self.after(pattern, sql, &s).await;
        Ok(())
    }
}

/// Send the statement to both sides, ask the client for the file with the
/// primary's request, pass the file on, and read the primary's answer
/// (held back). `None` if the primary answered without asking for the
/// file (relayed to the client at once; the secondary's answer drained).
async fn stream(
    client: &mut Wire,
    pw: &mut Wire,
    mut sw: Option<&mut Wire>,
    part: &mut Part,
    on_primary: &[u8],
    on_secondary: &[u8],
    caps: mysql_common::constants::CapabilityFlags,
) -> Result<Option<(Buffered, Summary)>> {
    pw.reset_seq();
    pw.send(on_primary).await?;
    let first = pw.expect().await?;
    if let (Part::Taking(name), Some(w)) = (&*part, sw.as_deref_mut()) {
        let name = *name;
        let asked = async {
            w.reset_seq();
            w.send(on_secondary).await?;
            w.expect().await
        }
        .await;
        match asked {
            Ok(p) if p.first() == Some(&0xfb) => {}
            Ok(p) => {
                let t = response::relay_from(w, caps, Sink::Drop, Some(p)).await.unwrap_or_default();
                let (code, why) = match t.error {
                    Some((code, msg)) => (Some(code), format!("the {} refused it: error {code}: {msg}", name.as_str())),
                    None => (None, format!("the {} did not ask for the file", name.as_str())),
                };
                *part = Part::Failed(name, code, why);
                sw = None;
            }
            Err(e) => {
                *part = Part::Failed(name, None, format!("the {} connection failed: {e:#}", name.as_str()));
                sw = None;
            }
        }
    }
    if first.first() != Some(&0xfb) {
        response::relay_from(pw, caps, Sink::Client(client), Some(first)).await?;
        if let Some(w) = sw {
            // It asked for the file the primary did not: an empty one.
            w.send(&[]).await?;
            response::relay(w, caps, Sink::Drop).await?;
        }
        *part = Part::None;
        return Ok(None);
    }
    client.send(&first).await?;
    loop {
        let packet = client.read().await?.ok_or_else(|| anyhow::anyhow!("{} closed the connection while sending a LOAD DATA LOCAL file", client.peer()))?;
        pw.send(&packet).await?;
        if let (Some(w), Part::Taking(name)) = (sw.as_deref_mut(), &*part)
            && let Err(e) = w.send(&packet).await
        {
            *part = Part::Failed(*name, None, format!("the {} connection failed: {e:#}", name.as_str()));
            sw = None;
        }
        if packet.is_empty() {
            break;
        }
    }
    let mut held = Buffered::default();
    let s = response::relay(pw, caps, Sink::Buffer(&mut held)).await?;
    Ok(Some((held, s)))
}

#[cfg(test)]
mod tests {
    use super::is_local_load;

    #[test]
    fn local_loads_are_told_from_server_side_ones() {
        assert!(is_local_load("LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE t"));
        assert!(is_local_load("load data low_priority local infile 'x' into table t"));
        assert!(is_local_load("LOAD XML LOCAL INFILE 'x' INTO TABLE t"));
        assert!(!is_local_load("LOAD DATA INFILE '/var/lib/x' INTO TABLE t"), "read by the server: an ordinary write");
        assert!(!is_local_load("SELECT 'LOAD DATA LOCAL'"));
    }
}
