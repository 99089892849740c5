//! Load control of one table's copy: at most `max_rows_per_sec` on average
//! ([`Pace`], as validation paces), and a pause that doubles (50 ms up to
//! 5 s) while a chunk's read on the source or write on the destination
//! takes longer than `max_latency_ms`, as gh-ost's `--max-load` slows
//! down; the reason is shown in the copy's status while it lasts.

use crate::validate::pace::Pace;
use std::time::{Duration, Instant};

const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Throttle {
    pace: Pace,
    started: Instant,
    max_latency: Option<Duration>,
    pause: Duration,
    reason: Option<String>,
}

impl Throttle {
    /// `0` for either: no limit of that kind.
    pub fn new(max_rows_per_sec: u64, max_latency_ms: u64) -> Throttle {
        Throttle {
            pace: Pace::new(Some(max_rows_per_sec)),
            started: Instant::now(),
            max_latency: (max_latency_ms > 0).then(|| Duration::from_millis(max_latency_ms)),
            pause: Duration::ZERO,
            reason: None,
        }
    }

    /// A chunk of `rows` was copied, its slower side taking `latency`: how
    /// long to wait before the next.
    pub fn after(&mut self, rows: u64, latency: Duration) -> Duration {
        let pace = self.pace.after(rows, self.started.elapsed());
        match self.max_latency {
            Some(max) if latency > max => {
                self.pause = (self.pause * 2).clamp(FIRST_PAUSE, LONGEST_PAUSE);
                self.reason = Some(format!(
                    "a chunk took {} ms, over [copy] max_latency_ms = {}: pausing {} ms between chunks",
                    latency.as_millis(),
                    max.as_millis(),
                    self.pause.as_millis()
                ));
            }
            _ => {
                self.pause = Duration::ZERO;
                self.reason = None;
            }
        }
        pace.max(self.pause)
    }

    /// Why the copy is slowed down now, if it is.
    pub fn reason(&self) -> Option<String> {
        self.reason.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_chunks_pause_longer_each_time_until_one_is_fast_again() {
        let mut t = Throttle::new(0, 100);
        assert_eq!(t.after(10, Duration::from_millis(20)), Duration::ZERO);
        assert!(t.reason().is_none());
        assert_eq!(t.after(10, Duration::from_millis(250)), FIRST_PAUSE);
        assert_eq!(t.after(10, Duration::from_millis(250)), FIRST_PAUSE * 2);
        assert!(t.reason().unwrap().contains("max_latency_ms = 100"));
        for _ in 0..20 {
            t.after(10, Duration::from_secs(1));
        }
        assert_eq!(t.after(10, Duration::from_secs(1)), LONGEST_PAUSE);
        assert_eq!(t.after(10, Duration::from_millis(5)), Duration::ZERO);
        assert!(t.reason().is_none());
    }

    #[test]
    fn without_limits_it_never_waits() {
        let mut t = Throttle::new(0, 0);
        assert_eq!(t.after(1_000_000, Duration::from_secs(60)), Duration::ZERO);
    }
}
