//! `promote-when-clean`: promote one step after N consecutive clean validation
//! runs; roll back one step when the discrepancy ratio exceeds a threshold;
//! stay while repair has findings it could not settle (`failed`) or a copy
//! of existing rows is running or failed; otherwise stay.
//!
//! Settings: `clean_runs` (N, default 3), `rollback_ratio` (default 0.01, i.e.
//! more than 1% of checked rows differ).

use movex_guest::policy::{next_state, previous_state};
use movex_guest::{Binding, Decision, Description, Error, Plugin, Policy, Result, Stats};

pub struct PromoteWhenClean {
    clean_runs: u64,
    rollback_ratio: f64,
}

impl Plugin for PromoteWhenClean {
    fn describe() -> Description {
        Description::new("promote-when-clean", env!("CARGO_PKG_VERSION"))
            .summary("promote after N clean runs, roll back above a discrepancy ratio")
    }

    fn bind(binding: &Binding<'_>) -> Result<Self> {
        let s = binding.settings;
        let clean_runs = s.parse_or("clean_runs", 3u64)?;
        let rollback_ratio = s.parse_or("rollback_ratio", 0.01f64)?;
        if clean_runs == 0 || !(0.0..=1.0).contains(&rollback_ratio) {
            return Err(Error::new("clean_runs must be >= 1 and rollback_ratio within 0..=1"));
        }
        Ok(PromoteWhenClean { clean_runs, rollback_ratio })
    }
}

impl Policy for PromoteWhenClean {
    fn decide(&self, stats: &Stats) -> Decision {
        let ratio = stats.discrepancy_ratio();
        if ratio > self.rollback_ratio {
            if let Some(back) = previous_state(&stats.state).filter(|s| *s != "initial") {
                return Decision::rollback(back, format!(
                    "discrepancy ratio {ratio:.4} exceeds {}", self.rollback_ratio
                ));
            }
        }
        let failed = stats.repairs("failed");
        if failed > 0 {
            return Decision::stay(format!("{failed} findings repair could not settle; look at GET /repair/status"));
        }
        let (copying, copy_failed) = (stats.copy("running"), stats.copy("failed"));
        if copying + copy_failed > 0 {
            return Decision::stay(format!(
                "the copy of existing rows is not finished ({copying} tables copying, {copy_failed} failed); look at GET /copy/status"
            ));
        }
        if stats.consecutive_clean_runs >= self.clean_runs {
            if let Some(next) = next_state(&stats.state) {
                return Decision::promote(next, format!(
                    "{} consecutive clean runs (need {})", stats.consecutive_clean_runs, self.clean_runs
                ));
            }
        }
        Decision::stay(format!(
            "{} of {} clean runs, discrepancy ratio {ratio:.4}", stats.consecutive_clean_runs, self.clean_runs
        ))
    }
}

movex_guest::export!(PromoteWhenClean, policy);

#[cfg(test)]
mod tests {
    use super::*;
    use movex_guest::{Action, Settings};

    fn policy() -> PromoteWhenClean {
        let s = Settings::default().with("clean_runs", 2).with("rollback_ratio", 0.1);
        PromoteWhenClean::bind(&Binding::settings(&s)).unwrap()
    }

    fn stats(state: &str, clean: u64, rows: u64, neq: u64) -> Stats {
        Stats {
            state: state.into(),
            consecutive_clean_runs: clean,
            rows_checked: rows,
            discrepancies: vec![("neq".into(), neq)],
            ..Stats::default()
        }
    }

    #[test]
    fn holds_while_a_copy_is_running_or_failed() {
        let p = policy();
        let mut s = stats("src_first", 5, 1000, 0);
        s.copy = vec![("tables".into(), 2), ("done".into(), 1), ("running".into(), 1)];
        assert!(matches!(p.decide(&s).action, Action::Stay), "copying");
        s.copy = vec![("tables".into(), 2), ("done".into(), 1), ("failed".into(), 1)];
        assert!(matches!(p.decide(&s).action, Action::Stay), "failed");
        s.copy = vec![("tables".into(), 2), ("done".into(), 2)];
        assert!(matches!(p.decide(&s).action, Action::Promote(_)), "copied");
        s.copy = vec![("tables".into(), 2)];
        assert!(matches!(p.decide(&s).action, Action::Promote(_)), "never copied by movex (another tool backfilled)");
    }

    #[test]
    fn promotes_after_n_clean_runs() {
        assert_eq!(policy().decide(&stats("src_first", 2, 100, 0)).action, Action::Promote("dst_first".into()));
        assert_eq!(policy().decide(&stats("src_first", 1, 100, 0)).action, Action::Stay);
    }

    #[test]
    fn rolls_back_above_the_ratio() {
        let d = policy().decide(&stats("dst_first", 0, 100, 11));
        assert_eq!(d.action, Action::Rollback("src_first".into()));
        assert!(d.reason.contains("0.1100"), "{}", d.reason);
        assert_eq!(policy().decide(&stats("dst_first", 0, 100, 10)).action, Action::Stay);
    }

    #[test]
    fn holds_while_repair_has_failed_findings() {
        let mut s = stats("src_first", 5, 100, 0);
        s.repairs = vec![("repaired".into(), 4), ("failed".into(), 2)];
        let d = policy().decide(&s);
        assert_eq!(d.action, Action::Stay);
        assert!(d.reason.contains("2 findings repair could not settle"), "{}", d.reason);
        s.repairs = vec![("repaired".into(), 6)];
        assert_eq!(policy().decide(&s).action, Action::Promote("dst_first".into()));
    }

    #[test]
    fn bad_settings_are_refused() {
        let s = Settings::default().with("clean_runs", "0");
        assert!(PromoteWhenClean::bind(&Binding::settings(&s)).is_err());
    }
}
