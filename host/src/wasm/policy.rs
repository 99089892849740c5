//! Calling a promotion policy: migration statistics in, a decision out.

use super::binding::Binding;
use super::wit::policy as wp;
use super::error::{Capability, GuestError};
use super::module::{Module, SLOT_POLICY};
use movex_guest::{Action, Decision, Stats};

impl Module {
    pub fn decide(&self, binding: &Binding, stats: &Stats) -> Result<Decision, GuestError> {
        self.require(Capability::Policy)?;
        let limits = &self.runtime().limits;
        let counts = |v: &[(String, u64)]| v.iter().map(|(name, value)| wp::Count { name: name.clone(), value: *value }).collect();
        let wit_stats = wp::Stats {
            state: stats.state.clone(),
            pattern: stats.pattern.clone(),
            full_runs: stats.full_runs,
            incr_runs: stats.incr_runs,
            consecutive_clean_runs: stats.consecutive_clean_runs,
            rows_checked: stats.rows_checked,
            discrepancies: counts(&stats.discrepancies),
            errors: counts(&stats.errors),
            repairs: counts(&stats.repairs),
            copy: counts(&stats.copy),
            time_in_state_ms: stats.time_in_state_ms,
        };
        let d = self.with_instance(Capability::Policy, |inst| {
            let h = inst.handle(limits, (SLOT_POLICY, binding.id()), |p, s| {
                p.movex_plugin_policy().call_bind(s, &binding.settings)
            })?;
            inst.call(limits, |p, s| p.movex_plugin_policy().call_decide(s, h, &wit_stats))
        })?;
        let action = match d.action {
            wp::Action::Stay => Action::Stay,
            wp::Action::Promote(to) => Action::Promote(to),
            wp::Action::Rollback(to) => Action::Rollback(to),
            wp::Action::Pause => Action::Pause,
        };
        Ok(Decision { action, reason: d.reason })
    }
}
