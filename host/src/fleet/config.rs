//! `[fleet]`: how often members renew their heartbeat, how long a lease
//! lasts, how long a move waits for acknowledgements, and what it does then.

use serde::Deserialize;
use std::time::Duration;

/// `[fleet]`. The defaults suit production and a local test alike: a
/// member frozen or cut off from the store stops writing within 10 s, and a
/// move waits up to 30 s, long enough for such a member's lease to lapse,
/// so a move completes without it rather than timing out.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct FleetConfig {
    /// This member's name in `GET /instances` (default: host:pid).
    pub name: Option<String>,
    /// How often a member renews its heartbeat and reads the generation
    /// (on PostgreSQL a move also wakes it at once).
    pub heartbeat_ms: u64,
    /// How long a member may write after its last heartbeat reached the
    /// store. At least three heartbeats, so one slow round does not fence.
    pub lease_ms: u64,
    /// How long a move waits for every live member to acknowledge it.
    /// Longer than the lease, so a member that stopped answering drops out
    /// of the barrier before the move gives up.
    pub move_timeout_ms: u64,
    /// A move not acknowledged in time is moved back (itself a move every
    /// member applies); otherwise it stays recorded, pending, and `GET
    /// /status` names the members that lag.
    pub rollback_on_timeout: bool,
    /// On a PostgreSQL store, wake members at once by `LISTEN/NOTIFY` when
    /// a move commits (polling goes on regardless); false: polling only.
    pub listen: bool,
    /// An instance that went without leaving (killed, its host lost) is
    /// shown `live: false` in `GET /instances` until its last heartbeat is
    /// this old; then the members forget it. Longer than the lease.
    pub forget_after_ms: u64,
}

impl Default for FleetConfig {
    fn default() -> FleetConfig {
        FleetConfig {
            name: None,
            heartbeat_ms: 1000,
            lease_ms: 10_000,
            move_timeout_ms: 30_000,
            rollback_on_timeout: false,
            listen: true,
            forget_after_ms: 24 * 3600 * 1000,
        }
    }
}

impl FleetConfig {
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }

    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    pub fn move_timeout(&self) -> Duration {
        Duration::from_millis(self.move_timeout_ms)
    }

    /// How often a member forgets instances gone longer than
    /// `forget_after_ms`: a minute, or sooner for a shorter setting.
    pub fn forget_every(&self) -> Duration {
        Duration::from_millis(self.forget_after_ms.min(60_000))
    }

    /// Settings that would break the guarantee, refused with what to set.
    pub fn check(&self) -> Result<(), String> {
        if self.heartbeat_ms < 10 {
            return Err(format!("[fleet] heartbeat_ms = {}: at least 10", self.heartbeat_ms));
        }
        if self.lease_ms < 3 * self.heartbeat_ms {
            return Err(format!("[fleet] lease_ms = {} must be at least 3 x heartbeat_ms ({}): one slow heartbeat must not stop writes", self.lease_ms, self.heartbeat_ms));
        }
        if self.move_timeout_ms <= self.lease_ms + self.heartbeat_ms {
            return Err(format!(
                "[fleet] move_timeout_ms = {} must be longer than lease_ms + heartbeat_ms ({}): a member that stopped answering must drop out before the move gives up",
                self.move_timeout_ms,
                self.lease_ms + self.heartbeat_ms
            ));
        }
        if self.forget_after_ms <= self.lease_ms {
            return Err(format!(
                "[fleet] forget_after_ms = {} must be longer than lease_ms ({}): a live member is never forgotten",
                self.forget_after_ms, self.lease_ms
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_hold_and_bad_timings_are_refused() {
        assert_eq!(FleetConfig::default().check(), Ok(()));
        let short = FleetConfig { lease_ms: 2000, ..FleetConfig::default() };
        assert!(short.check().unwrap_err().contains("3 x heartbeat_ms"));
        let hasty = FleetConfig { move_timeout_ms: 5000, ..FleetConfig::default() };
        assert!(hasty.check().unwrap_err().contains("drop out before the move gives up"));
        let forgetful = FleetConfig { forget_after_ms: 10_000, ..FleetConfig::default() };
        assert!(forgetful.check().unwrap_err().contains("a live member is never forgotten"));
    }
}
