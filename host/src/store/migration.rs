//! The migration's own records: its current state (and the pattern it
//! implies, which the validator reads), every transition with its reason
//! and author, and its running statistics. The state is written in the same
//! transaction as the transition that produced it, and read back at start:
//! movex comes back in the pattern it left — coming back in the wrong one
//! would lose writes.

use super::{Store, now, text};
use crate::model::State;
use crate::model::state::{MoveError, MoveRefused};
use anyhow::{Result, bail};
use serde::Serialize;
use sqlx::Row;
use std::collections::BTreeMap;

/// One move of the migration.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Transition {
    pub id: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    /// The route, policy or command that asked for it.
    pub by: String,
    pub forced: bool,
    /// The generation this move made: every instance of the fleet applies
    /// it and acknowledges (see [`super::fleet`]). 0 for moves recorded
    /// before generations were.
    pub generation: i64,
    /// The instances that had acknowledged it when every live one had;
    /// `None` while it is pending (or for moves recorded before the fleet).
    pub acknowledged_by: Option<Vec<String>>,
}

impl Store {
    /// The current state and since when (RFC 3339); `initial` when none was recorded.
    pub async fn migration_state(&self) -> Result<(State, Option<String>)> {
        let state = self.meta("state").await?;
        let since = self.meta("state_since").await?;
        Ok(match state {
            None => (State::Initial, since),
            Some(s) => match State::parse(&s) {
                Some(st) => (st, since),
                None => bail!("the state store holds an unknown migration state {s:?}"),
            },
        })
    }

    /// Record `from -> to` atomically. Refused if the state is no longer
    /// `from` (another request moved it first); a store failure before the
    /// commit leaves nothing written ([`MoveError::Store`]), one at the
    /// commit may or may not have ([`MoveError::Unconfirmed`]).
    pub async fn record_transition(&self, from: State, to: State, reason: &str, by: &str, forced: bool) -> Result<Transition, MoveError> {
        let failed = |cause: sqlx::Error| MoveError::Store { to, cause: cause.into() };
        let mut tx = self.begin_write().await.map_err(failed)?;
        let current = self.meta_in(&mut *tx, "state").await.map_err(failed)?;
        let current = current.as_deref().unwrap_or("initial");
        if current != from.as_str() {
            return Err(MoveRefused(format!("the migration is in {current}, not {from} (moved meanwhile); retry from {current}")).into());
        }
        let at = now();
        let generation = self.meta_in(&mut *tx, "generation").await.map_err(failed)?.and_then(|g| g.parse::<i64>().ok()).unwrap_or(0) + 1;
        let number = generation.to_string();
        for (k, v) in [("state", to.as_str()), ("pattern", to.pattern().as_str()), ("state_since", at.as_str()), ("generation", number.as_str())] {
            sqlx::query(&self.sql("INSERT INTO movex_meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v"))
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        let sql = self.sql("INSERT INTO movex_transitions (at, from_state, to_state, reason, by_whom, forced, generation) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id");
        let q = sqlx::query(&sql).bind(&at).bind(from.as_str()).bind(to.as_str()).bind(reason).bind(by).bind(i64::from(forced)).bind(generation);
        let id = self.returned_id(&mut tx, q).await.map_err(|cause| MoveError::Store { to, cause })?;
        if self.dialect == crate::db::keyset::Dialect::Postgres {
            // Delivered at commit: every member's agent applies it at once.
            sqlx::query("SELECT pg_notify('movex_generation', $1)").bind(&number).execute(&mut *tx).await.map_err(failed)?;
        }
        tx.commit().await.map_err(|e| MoveError::Unconfirmed { to, cause: e.into() })?;
        Ok(Transition { id, at, from: from.as_str().into(), to: to.as_str().into(), reason: reason.into(), by: by.into(), forced, generation, acknowledged_by: None })
    }

    /// Record who had acknowledged the move `id` once every live instance
    /// had (the first record stands).
    pub async fn acknowledged(&self, id: i64, names: &[String]) -> Result<()> {
        sqlx::query(&self.sql("UPDATE movex_transitions SET acked_by = ? WHERE id = ? AND acked_by IS NULL"))
            .bind(serde_json::to_string(names)?)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Transitions, newest first.
    pub async fn history(&self, limit: u32) -> Result<Vec<Transition>> {
        let rows = sqlx::query(&self.sql("SELECT id, at, from_state, to_state, reason, by_whom, forced, COALESCE(generation, 0), acked_by FROM movex_transitions ORDER BY id DESC LIMIT ?"))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Transition {
                    id: r.try_get(0)?,
                    at: text(r, 1)?,
                    from: text(r, 2)?,
                    to: text(r, 3)?,
                    reason: text(r, 4)?,
                    by: text(r, 5)?,
                    forced: r.try_get::<i64, _>(6)? != 0,
                    generation: r.try_get(7)?,
                    acknowledged_by: match r.try_get::<Option<String>, _>(8).or_else(|_| r.try_get::<Option<Vec<u8>>, _>(8).map(|b| b.map(|b| String::from_utf8_lossy(&b).into_owned())))? {
                        Some(names) => serde_json::from_str(&names).ok(),
                        None => None,
                    },
                })
            })
            .collect()
    }

    /// Add to named counters (runs, discrepancies, ...).
    pub async fn bump(&self, counters: &[(&str, u64)]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (k, n) in counters {
            sqlx::query(&self.sql("INSERT INTO movex_counters (k, n) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = movex_counters.n + excluded.n"))
                .bind(k)
                .bind(*n as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Set a counter to a value (e.g. consecutive clean runs back to 0).
    pub async fn set_counter(&self, k: &str, n: u64) -> Result<()> {
        sqlx::query(&self.sql("INSERT INTO movex_counters (k, n) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = excluded.n"))
            .bind(k)
            .bind(n as i64)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn counters(&self) -> Result<BTreeMap<String, u64>> {
        let rows = sqlx::query(&self.sql("SELECT k, n FROM movex_counters")).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((text(r, 0)?, r.try_get::<i64, _>(1)? as u64))).collect()
    }
}
