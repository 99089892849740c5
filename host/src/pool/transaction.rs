//! A transaction through the pool. It keeps the pattern it began with, even
//! if the pattern is switched meanwhile, and holds a transaction on the
//! primary and (in `*_first` patterns) on the secondary.
//!
//! Commit order and what each mode guarantees:
//! - **Non-strict**: the primary commits first. If the secondary failed at
//!   any point (begin, a statement, or its commit), the caller still
//!   succeeds and the whole transaction's statements are journaled against
//!   the secondary.
//! - **Strict**: a secondary failure during the transaction fails the
//!   statement. At commit the **secondary commits first**; if that fails the
//!   primary is rolled back and the caller gets the error, so neither side
//!   has the transaction. If the secondary committed and the primary's commit
//!   then fails (or its outcome is unknown: the connection dropped), the
//!   caller gets the error and the statements are journaled as
//!   `primary_commit_failed`: the secondary may hold writes the primary
//!   lacks. That window — between two commits on two databases — is what
//!   strict mode cannot close without two-phase commit.

use super::Pool;
use super::backend::BackendTx;
use crate::db::Executed;
use crate::model::SideName;
use crate::db::Statement;
use super::{Ticket, WriteError};
use crate::model::Pattern;
use crate::store::JournalKind;
use std::time::Instant;

pub struct Transaction<'p> {
    pool: &'p Pool,
    pattern: Pattern,
    /// Counted open in its generation until the transaction ends.
    _ticket: Ticket,
    primary: (SideName, BackendTx),
    secondary: Option<(SideName, BackendTx)>,
    /// Non-strict: why the secondary fell out of this transaction.
    secondary_error: Option<(SideName, String)>,
    statements: Vec<Statement>,
}

impl<'p> Transaction<'p> {
    pub(super) async fn begin(pool: &'p Pool, ticket: Ticket) -> Result<Transaction<'p>, WriteError> {
        let pattern = ticket.pattern;
        let (primary, secondary) = pool.roles(pattern);
        let p = primary.begin().await.map_err(|e| WriteError::on(primary.name, "begin", &e))?;
        let mut tx = Transaction { pool, pattern, _ticket: ticket, primary: (primary.name, p), secondary: None, secondary_error: None, statements: Vec::new() };
        if let Some(s) = secondary {
            match s.begin().await {
                Ok(t) => tx.secondary = Some((s.name, t)),
                Err(e) if pool.config.strict => {
                    let _ = tx.primary.1.rollback().await;
                    return Err(WriteError::on(s.name, "begin", &e));
                }
                Err(e) => tx.secondary_error = Some((s.name, format!("begin: {e}"))),
            }
        }
        Ok(tx)
    }

    /// The pattern this transaction writes by.
    pub fn pattern(&self) -> Pattern {
        self.pattern
    }

    /// Run a statement on both sides. Refused (`fenced`) once the fleet's
    /// lease has lapsed, here as at `begin`: the caller rolls back.
    pub async fn execute(&mut self, stmt: &Statement) -> Result<Executed, WriteError> {
        self.pool.gate.check().map_err(|f| WriteError::fenced(self.pool, f))?;
        self.statements.push(stmt.clone());
        let t0 = Instant::now();
        let r = self.primary.1.execute(stmt).await;
        self.pool.metrics.record(self.primary.0, r.is_ok(), t0.elapsed());
        let out = r.map_err(|e| WriteError::on(self.primary.0, "execute", &e))?;
        if let Some((name, tx)) = &mut self.secondary {
            let t0 = Instant::now();
            let r = tx.execute(stmt).await;
            self.pool.metrics.record(*name, r.is_ok(), t0.elapsed());
            if let Err(e) = r {
                if self.pool.config.strict {
                    return Err(WriteError::on(*name, "execute", &e));
                }
                tracing::warn!(side = name.as_str(), error = %e, "secondary write failed; the transaction goes on without it and is journaled");
                let name = *name;
                if let Some((_, tx)) = self.secondary.take() {
                    let _ = tx.rollback().await;
                }
                self.secondary_error = Some((name, format!("execute: {e}")));
            }
        }
        Ok(out)
    }

    pub async fn commit(self) -> Result<(), WriteError> {
        let Transaction { pool, pattern, _ticket, primary, secondary, secondary_error, statements } = self;
        if pool.config.strict {
            if let Some((name, tx)) = secondary
                && let Err(e) = tx.commit().await
            {
                let _ = primary.1.rollback().await;
                return Err(WriteError::on(name, "commit (the primary was rolled back)", &e));
            }
            if let Err(e) = primary.1.commit().await {
                let msg = format!("commit after the secondary committed: {e}");
                let journaled = pool.record_missed(pattern, primary.0, JournalKind::PrimaryCommitFailed, &statements, &msg).await;
                return Err(WriteError { side: primary.0, message: msg, journaled, fenced: false });
            }
            return Ok(());
        }
        if let Err(e) = primary.1.commit().await {
            if let Some((_, tx)) = secondary {
                let _ = tx.rollback().await;
            }
            return Err(WriteError::on(primary.0, "commit", &e));
        }
        let failed = match (secondary, secondary_error) {
            (_, Some(err)) => Some(err),
            (Some((name, tx)), None) => tx.commit().await.err().map(|e| (name, format!("commit: {e}"))),
            (None, None) => None,
        };
        if let Some((name, err)) = failed {
            pool.record_missed(pattern, name, JournalKind::SecondaryFailed, &statements, &err).await;
        }
        Ok(())
    }

    pub async fn rollback(self) {
        let _ = self.primary.1.rollback().await;
        if let Some((_, tx)) = self.secondary {
            let _ = tx.rollback().await;
        }
    }
}
