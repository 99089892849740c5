//! The fleet's records: every movex process and library pool that writes
//! for this migration is a row of `movex_instances` (who it is, the
//! generation it applies, the one it has acknowledged, its last heartbeat
//! and its lease), and the migration's generation is a number in
//! `movex_meta`, bumped with every move ([`Store::record_transition`]).
//!
//! Heartbeats are stamped with the database's clock, never the instance's:
//! whether a lease has lapsed is decided by one clock, the store's, so
//! instances on hosts whose clocks disagree still agree on who is live.
//! (What the timing argument assumes of clocks is in docs/design/fleet.md.)

use super::{Store, text};
use crate::db::keyset::Dialect;
use crate::model::State;
use anyhow::{Result, bail};
use serde::Serialize;
use sqlx::Row;

/// What an instance says of itself when it registers.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    /// `[fleet] name`, or host:pid.
    pub name: String,
    pub host: String,
    pub pid: u32,
    /// `serve` (with its doors), `pool` (a library pool), ...
    pub role: String,
    /// movex's version.
    pub version: String,
}

/// What a heartbeat reports besides "alive".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Beat {
    /// The generation whose pattern new writes use.
    pub applied: i64,
    /// The newest generation with no write of an older one still running.
    pub acked: i64,
    /// Transactions still open in a generation older than `applied`.
    pub draining: i64,
    /// How long after this heartbeat the instance stops writing unless it
    /// renews.
    pub lease_ms: i64,
}

/// One instance as the store sees it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Instance {
    #[serde(flatten)]
    pub member: Member,
    pub applied: i64,
    pub acked: i64,
    pub draining: i64,
    /// Milliseconds since its last heartbeat, by the store's clock.
    pub heartbeat_age_ms: i64,
    pub lease_ms: i64,
    /// Its lease has not lapsed: it may be writing, and a move waits for it.
    pub live: bool,
}

/// The migration's generation and the state it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generation {
    pub number: i64,
    pub state: State,
}

impl Store {
    /// Epoch milliseconds by the store's clock, as SQL.
    fn now_ms_sql(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
            Dialect::MySql => "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        }
    }

    /// Whether several processes can share this store as one fleet (a
    /// server); a SQLite file is one process's.
    pub fn shared(&self) -> bool {
        self.dialect != Dialect::Sqlite
    }

    pub fn dialect_is_postgres(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    /// A PostgreSQL connection of its own listening on `channel`.
    pub async fn listener(&self, channel: &str) -> Result<sqlx::postgres::PgListener> {
        let mut l = sqlx::postgres::PgListener::connect(&self.url).await?;
        l.listen(channel).await?;
        Ok(l)
    }

    /// The current generation: 0 before the first move. The number and the
    /// state are read by one statement, so they belong together: read one
    /// by one, a move committed between the reads paired the new number
    /// with the old state, and a member acknowledged a generation while
    /// writing in the pattern before it (found by tests/fleet.rs).
    pub async fn generation(&self) -> Result<Generation> {
        let rows = sqlx::query(&self.sql("SELECT k, v FROM movex_meta WHERE k IN ('state', 'generation')")).fetch_all(&self.pool).await?;
        let (mut number, mut state) = (0, State::Initial);
        for r in &rows {
            let (k, v) = (text(r, 0)?, text(r, 1)?);
            match k.as_str() {
                "generation" => match v.parse() {
                    Ok(n) => number = n,
                    Err(_) => bail!("the state store holds a generation that is not a number: {v:?}"),
                },
                _ => match State::parse(&v) {
                    Some(s) => state = s,
                    None => bail!("the state store holds an unknown migration state {v:?}"),
                },
            }
        }
        Ok(Generation { number, state })
    }

    /// Register `me` or renew its heartbeat, stamped with the store's clock.
    pub async fn heartbeat(&self, me: &Member, beat: Beat) -> Result<()> {
        let now = self.now_ms_sql();
        let sql = self.sql(&format!(
            "INSERT INTO movex_instances (id, name, host, pid, role, version, applied, acked, draining, started_ms, heartbeat_ms, lease_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {now}, {now}, ?)
             ON CONFLICT (id) DO UPDATE SET applied = excluded.applied, acked = excluded.acked, draining = excluded.draining,
             heartbeat_ms = excluded.heartbeat_ms, lease_ms = excluded.lease_ms"
        ));
        sqlx::query(&sql)
            .bind(&me.id)
            .bind(&me.name)
            .bind(&me.host)
            .bind(i64::from(me.pid))
            .bind(&me.role)
            .bind(&me.version)
            .bind(beat.applied)
            .bind(beat.acked)
            .bind(beat.draining)
            .bind(beat.lease_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// `me` leaves the fleet (a clean shutdown): moves stop waiting for it.
    pub async fn leave(&self, id: &str) -> Result<()> {
        sqlx::query(&self.sql("DELETE FROM movex_instances WHERE id = ?")).bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// Forget the instances whose last heartbeat is older than `ms` by the
    /// store's clock (gone without leaving); how many.
    pub async fn forget_lapsed(&self, ms: i64) -> Result<u64> {
        let now = self.now_ms_sql();
        let sql = self.sql(&format!("DELETE FROM movex_instances WHERE {now} - heartbeat_ms > ?"));
        Ok(sqlx::query(&sql).bind(ms).execute(&self.pool).await?.rows_affected())
    }

    /// Every registered instance, live first, then by name.
    pub async fn instances(&self) -> Result<Vec<Instance>> {
        let now = self.now_ms_sql();
        let sql = format!(
            "SELECT id, name, host, pid, role, version, applied, acked, draining, {now} - heartbeat_ms, lease_ms FROM movex_instances ORDER BY name, id"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        let mut all = rows
            .iter()
            .map(|r| {
                let age: i64 = r.try_get(9)?;
                let lease_ms: i64 = r.try_get(10)?;
                Ok(Instance {
                    member: Member {
                        id: text(r, 0)?,
                        name: text(r, 1)?,
                        host: text(r, 2)?,
                        pid: r.try_get::<i64, _>(3)? as u32,
                        role: text(r, 4)?,
                        version: text(r, 5)?,
                    },
                    applied: r.try_get(6)?,
                    acked: r.try_get(7)?,
                    draining: r.try_get(8)?,
                    heartbeat_age_ms: age,
                    lease_ms,
                    live: age < lease_ms,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        all.sort_by_key(|i| !i.live);
        Ok(all)
    }
}
