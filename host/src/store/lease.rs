//! The serving lease: one `movex serve` per state store. Two would both
//! switch patterns, start validations and consult the policy on the same
//! records, each unaware of the other. The lease is a row in `movex_meta`
//! (holder id, host, pid, last heartbeat), taken with a compare-and-set and
//! renewed on a timer; a holder whose heartbeat is older than the stale
//! time, or whose process is gone from this same host, may be replaced.
//! (Many instances writing together, each applying the pattern, is another
//! matter: the fleet's membership, not this lease.)

use super::{Store, now_ms, text};
use anyhow::Result;
use serde::{Deserialize, Serialize};

const KEY: &str = "serve_lease";

/// Who holds the lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// Epoch milliseconds of the last heartbeat.
    pub heartbeat_ms: i64,
}

impl Lease {
    /// A lease for this process, heartbeat now.
    pub fn mine() -> Lease {
        Lease {
            id: format!("{:016x}", rand::random::<u64>()),
            host: std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default(),
            pid: std::process::id(),
            heartbeat_ms: now_ms(),
        }
    }

    /// Whether this holder may be replaced: its heartbeat is older than
    /// `stale_ms`, or it ran on this host and its process is gone.
    fn lapsed(&self, me: &Lease, stale_ms: i64) -> bool {
        now_ms() - self.heartbeat_ms > stale_ms || (self.host == me.host && !alive(self.pid))
    }
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 checks for the process without sending anything.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

impl Store {
    async fn lease_text(&self) -> Result<Option<String>> {
        let row = sqlx::query(&self.sql("SELECT v FROM movex_meta WHERE k = ?")).bind(KEY).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| text(&r, 0)).transpose()?)
    }

    /// Take the lease for `me` (or renew it, if `me` holds it); the holder
    /// if another process holds it and has not lapsed.
    pub async fn take_lease(&self, me: &Lease, stale_ms: i64) -> Result<Result<(), Lease>> {
        let current = self.lease_text().await?;
        let holder: Option<Lease> = current.as_deref().and_then(|t| serde_json::from_str(t).ok());
        if let Some(h) = &holder
            && h.id != me.id
            && !h.lapsed(me, stale_ms)
        {
            return Ok(Err(h.clone()));
        }
        let mine = serde_json::to_string(&Lease { heartbeat_ms: now_ms(), ..me.clone() })?;
        let (insert, update) =
            (self.sql("INSERT INTO movex_meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING"), self.sql("UPDATE movex_meta SET v = ? WHERE k = ? AND v = ?"));
        let swap = match &current {
            None => sqlx::query(&insert).bind(KEY).bind(&mine),
            Some(old) => sqlx::query(&update).bind(&mine).bind(KEY).bind(old.clone()),
        };
        let swapped = swap.execute(&self.pool).await?.rows_affected() == 1;
        if swapped {
            return Ok(Ok(()));
        }
        // Another process swapped first: it holds the lease now.
        let now: Option<Lease> = self.lease_text().await?.as_deref().and_then(|t| serde_json::from_str(t).ok());
        Ok(Err(now.unwrap_or_else(|| me.clone())))
    }

    /// Give the lease up (a clean shutdown), if `me` holds it.
    pub async fn release_lease(&self, me: &Lease) -> Result<()> {
        if let Some(t) = self.lease_text().await?
            && serde_json::from_str::<Lease>(&t).is_ok_and(|h| h.id == me.id)
        {
            sqlx::query(&self.sql("DELETE FROM movex_meta WHERE k = ? AND v = ?")).bind(KEY).bind(t).execute(&self.pool).await?;
        }
        Ok(())
    }
}
