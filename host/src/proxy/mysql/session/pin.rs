//! Pinning the clock and the random seeds before a write that reads them
//! (`NOW()`, `RAND()`), as statement-based replication does: the same
//! `@@timestamp` and `@@rand_seed1/2` are set on each side of the pattern,
//! so both compute the same values; the clock is given back after the write.

use super::Session;
use crate::model::Pattern;
use crate::pool::SideName;
use crate::proxy::mysql::route;

impl Session<'_> {
    /// A pinning statement of movex's own; a server's refusal is logged.
    async fn quietly(&mut self, name: SideName, sql: &str) {
        if let Err(e) = self.own(name, sql).await
            && self.side(name).wire.is_some()
        {
            tracing::warn!(side = name.as_str(), error = %e, sql, "proxy: a pinning statement failed");
        }
    }

    /// Pin the clock and random seeds on every connected side of this
    /// pattern before a write that reads them; what to undo after.
    pub(super) async fn pin(&mut self, pattern: Pattern, sql: &str) -> bool {
        let pins = route::pins(sql);
        if pins == route::Pins::default() {
            return false;
        }
        let (primary, secondary) = pattern.roles();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let mut set = Vec::new();
        if pins.clock {
            set.push(format!("@@timestamp = {}.{:06}", now.as_secs(), now.subsec_micros()));
        }
        if pins.rand {
            let (a, b): (u32, u32) = (rand::random::<u32>() >> 2, rand::random::<u32>() >> 2);
            set.push(format!("@@rand_seed1 = {a}, @@rand_seed2 = {b}"));
        }
        let sql = format!("SET {}", set.join(", "));
        let _ = self.connect(primary).await;
        self.quietly(primary, &sql).await;
        if let Some(sec) = secondary
            && self.connect(sec).await.is_ok()
        {
            self.quietly(sec, &sql).await;
        }
        pins.clock
    }

    /// Give the sides their clocks back after a pinned write.
    pub(super) async fn unpin(&mut self, pattern: Pattern) {
        let (primary, secondary) = pattern.roles();
        self.quietly(primary, "SET @@timestamp = DEFAULT").await;
        if let Some(sec) = secondary {
            self.quietly(sec, "SET @@timestamp = DEFAULT").await;
        }
    }
}
