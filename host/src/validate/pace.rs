//! Load control: at most `max` rows per second per table, averaged over the
//! run, so a validation never reads faster than the operator allowed.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Pace {
    max_per_sec: Option<u64>,
    rows: u64,
}

impl Pace {
    pub fn new(max_per_sec: Option<u64>) -> Pace {
        Pace { max_per_sec: max_per_sec.filter(|&m| m > 0), rows: 0 }
    }

    /// Count `rows` more; how long to wait, `elapsed` into the run, so the
    /// average stays at or under the limit.
    pub fn after(&mut self, rows: u64, elapsed: Duration) -> Duration {
        self.rows += rows;
        let Some(max) = self.max_per_sec else { return Duration::ZERO };
        Duration::from_secs_f64(self.rows as f64 / max as f64).saturating_sub(elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_only_when_ahead_of_the_limit() {
        let mut p = Pace::new(Some(1000));
        assert_eq!(p.after(500, Duration::from_millis(100)), Duration::from_millis(400));
        assert_eq!(p.after(500, Duration::from_millis(1500)), Duration::ZERO);
        let mut free = Pace::new(None);
        assert_eq!(free.after(1_000_000, Duration::ZERO), Duration::ZERO);
        assert_eq!(Pace::new(Some(0)).after(10, Duration::ZERO), Duration::ZERO, "0 means no limit");
    }
}
