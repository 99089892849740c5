//! The secondary's part of a round, checked against the primary's, and
//! the journal of what it missed.
//!
//! The secondary's answer is read whole; it is a difference if it failed
//! where the primary did not, or if a command both ran reports another row
//! count. A difference is counted and journaled with the statements the
//! secondary was sent (and their parameters). In a transaction the
//! secondary's part is rolled back and the whole transaction so far is
//! journaled; the rest of it is journaled as it comes, not sent.

use super::round::{Outcome, Round, rows};
use super::{Session, ix};
use crate::model::Pattern;
use crate::pool::{SideName, Statement};
use crate::store::journal::JournalKind;
use std::time::Instant;

/// What the secondary did with its part.
pub(super) enum Checked {
    Ran,
    /// It did not run it, or ran it differently: why.
    Missed(String),
}

/// Compare the commands both sides ran: `shared` says which of the
/// primary's the secondary ran too.
pub(super) fn differs(primary: &Outcome, shared: &[bool], secondary: &Outcome) -> Option<String> {
    if let Some((code, msg)) = &secondary.error {
        return Some(format!("error {code}: {msg}"));
    }
    let mine: Vec<&String> = primary.tags.iter().zip(shared.iter().chain(std::iter::repeat(&true))).filter(|(_, s)| **s).map(|(t, _)| t).collect();
    for (p, s) in mine.iter().zip(&secondary.tags) {
        if let (Some(a), Some(b)) = (rows(p), rows(s))
            && a != b
        {
            return Some(format!("{b} rows ({s}), the primary {a} ({p})"));
        }
    }
    None
}

impl Session<'_> {
    /// Send the secondary its part of the round and check its answer.
    pub(super) async fn secondary_part(&mut self, round: &mut Round, s: SideName, primary: &Outcome) {
        let sent = Instant::now();
        let checked = match self.reach(s).await {
            Err(why) => Checked::Missed(why),
            Ok(()) => {
                let bytes = round.secondary_bytes().into_owned();
                match self.ask(s, &bytes).await {
                    Ok(o) => {
                        match differs(primary, &round.shared, &o) {
                            Some(why) => {
                                if o.error.is_some() {
                                    for n in &round.parsed {
                                        if let Some(st) = self.stmts.get_mut(n) {
                                            st.on[ix(s)] = false;
                                        }
                                    }
                                }
                                Checked::Missed(why)
                            }
                            None => Checked::Ran,
                        }
                    }
                    Err(e) => Checked::Missed(format!("{e:#}")),
                }
            }
        };
        match checked {
            Checked::Ran => {
                self.pool.metrics().record(s, true, sent.elapsed());
                if let Some(tx) = self.tx.as_mut() {
                    tx.sql.extend(round.sql.iter().cloned());
                }
            }
            Checked::Missed(why) => {
                let stmts = std::mem::take(&mut round.sql);
                let in_tx = self.tx.is_some();
                self.missed(round.pattern, s, stmts, &why, in_tx).await;
            }
        }
    }

    /// Connect the secondary; why not, logged once while it stays down.
    pub(super) async fn reach(&mut self, name: SideName) -> std::result::Result<(), String> {
        let Err(e) = self.connect(name).await else { return Ok(()) };
        let why = format!("{e:#}");
        if self.side(name).down.as_deref() != Some(why.as_str()) {
            tracing::warn!(side = name.as_str(), error = %why, "proxy: the secondary is unreachable");
        }
        self.side(name).down = Some(why.clone());
        Err(format!("the {} is unreachable: {why}", name.as_str()))
    }

    /// The secondary missed `stmts`: counted and journaled. In a
    /// transaction its part is rolled back and the transaction so far is
    /// journaled with them; the rest of it is journaled as it comes.
    pub(super) async fn missed(&mut self, pattern: Pattern, s: SideName, stmts: Vec<Statement>, why: &str, in_tx: bool) {
        self.pool.metrics().count(s, false);
        let mut all = stmts;
        if in_tx {
            let earlier = match self.tx.as_mut() {
                Some(tx) if !tx.broken => {
                    tx.broken = true;
                    std::mem::take(&mut tx.sql)
                }
                _ => Vec::new(),
            };
            all = earlier.into_iter().chain(all).collect();
            if self.sides[ix(s)].conn.is_some() {
                let _ = self.own(s, "ROLLBACK").await;
            }
        }
        tracing::warn!(side = s.as_str(), error = why, "proxy: the secondary missed a write; journaled");
        self.journal_stmts(pattern, s, &all, why).await;
    }

    /// Journal statements the `missing` side lacks (counted once durable).
    pub(super) async fn journal_stmts(&self, pattern: Pattern, missing: SideName, stmts: &[Statement], why: &str) {
        if stmts.is_empty() {
            return;
        }
        self.pool.record_missed(pattern, missing, JournalKind::SecondaryFailed, stmts, why).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(tags: &[&str]) -> Outcome {
        Outcome { tags: tags.iter().map(|t| t.to_string()).collect(), status: b'I', ..Outcome::default() }
    }

    #[test]
    fn row_counts_of_shared_commands_are_compared() {
        assert!(differs(&out(&["INSERT 0 1", "UPDATE 2"]), &[], &out(&["INSERT 0 1", "UPDATE 2"])).is_none());
        assert!(differs(&out(&["INSERT 0 1", "UPDATE 2"]), &[], &out(&["INSERT 0 1", "UPDATE 1"])).is_some());
        // A read the secondary was not sent is left out.
        assert!(differs(&out(&["SELECT 5", "UPDATE 2"]), &[false, true], &out(&["UPDATE 2"])).is_none());
        // A row image applied as an INSERT counts the rows an UPDATE did.
        assert!(differs(&out(&["UPDATE 3"]), &[true], &out(&["INSERT 0 3"])).is_none());
        let mut failed = out(&[]);
        failed.error = Some(("23505".into(), "duplicate key".into()));
        assert!(differs(&out(&["INSERT 0 1"]), &[true], &failed).unwrap().contains("23505"));
    }
}
