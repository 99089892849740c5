//! `[policy]`: what moves the migration forward (or back) — a policy module
//! or the built-in rule — and when its decisions are applied, how long
//! auto-migrate soaks, and whether it resumes after a restart.

use serde::Deserialize;

/// `[policy]`: what moves the migration forward (or back).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// A policy module (by name); without one the built-in rule applies:
    /// promote one step only after a clean full validation.
    pub module: Option<String>,
    /// Apply the policy's decisions as they are made, after each validation
    /// and on the timer (the default). Off: they are recorded and shown in
    /// `/status`, and applied only by `/auto-migrate`.
    pub auto_promote: bool,
    /// Consult the policy on this timer too (0: only after validations).
    pub interval_ms: u64,
    /// Auto-migrate stays at least this long in each double-write state
    /// (soak time under real traffic) before validating for promotion.
    pub soak_ms: u64,
    /// An auto-migrate that was running when movex stopped (a crash, a
    /// kill) resumes when `movex serve` starts again (the default). Off: it
    /// is reported `interrupted` at its step, and `POST /auto-migrate`
    /// continues it.
    pub resume_auto_migrate: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { module: None, auto_promote: true, interval_ms: 60_000, soak_ms: 0, resume_auto_migrate: true }
    }
}
