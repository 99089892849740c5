//! What a promotion policy sees (`Stats`) and says (`Decision`).

/// Migration statistics the host gives a policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub state: String,
    pub pattern: String,
    pub full_runs: u64,
    pub incr_runs: u64,
    /// Validation runs in a row, newest last, that found nothing.
    pub consecutive_clean_runs: u64,
    pub rows_checked: u64,
    /// Findings by type: `target_missing`, `base_missing`, `neq`, `comparator_error`.
    pub discrepancies: Vec<(String, u64)>,
    /// Errors by kind (database, module, ...).
    pub errors: Vec<(String, u64)>,
    /// Repair's outcomes, each finding counted once by its latest outcome:
    /// `repaired`, `already_consistent`, `skipped_newer`, `skipped`, `failed`.
    pub repairs: Vec<(String, u64)>,
    /// The copy of existing rows: `tables` configured, `done`, `running`
    /// (or interrupted), `failed`, and `rows_copied` in all.
    pub copy: Vec<(String, u64)>,
    pub time_in_state_ms: u64,
}

impl Stats {
    pub fn total_discrepancies(&self) -> u64 {
        self.discrepancies.iter().map(|(_, n)| n).sum()
    }

    /// Findings repair has left with this outcome (0 if none).
    pub fn repairs(&self, outcome: &str) -> u64 {
        self.repairs.iter().filter(|(n, _)| n == outcome).map(|(_, v)| v).sum()
    }

    /// The copy's count `name` (0 if none): `tables`, `done`, `running`,
    /// `failed`, `rows_copied`.
    pub fn copy(&self, name: &str) -> u64 {
        self.copy.iter().filter(|(n, _)| n == name).map(|(_, v)| v).sum()
    }

    /// Findings per row checked (0 when nothing was checked).
    pub fn discrepancy_ratio(&self) -> f64 {
        if self.rows_checked == 0 {
            0.0
        } else {
            self.total_discrepancies() as f64 / self.rows_checked as f64
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Stay,
    /// Move forward to the named state.
    Promote(String),
    /// Move back to the named state.
    Rollback(String),
    Pause,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub reason: String,
}

impl Decision {
    pub fn stay(reason: impl Into<String>) -> Self {
        Decision { action: Action::Stay, reason: reason.into() }
    }
    pub fn promote(to: impl Into<String>, reason: impl Into<String>) -> Self {
        Decision { action: Action::Promote(to.into()), reason: reason.into() }
    }
    pub fn rollback(to: impl Into<String>, reason: impl Into<String>) -> Self {
        Decision { action: Action::Rollback(to.into()), reason: reason.into() }
    }
    pub fn pause(reason: impl Into<String>) -> Self {
        Decision { action: Action::Pause, reason: reason.into() }
    }
}

/// The migration's states in order; policies name where to go next.
pub const STATES: [&str; 6] = ["initial", "src_only", "src_first", "dst_first", "dst_only", "completed"];

/// The state one step forward of `state`, if any.
pub fn next_state(state: &str) -> Option<&'static str> {
    let i = STATES.iter().position(|s| *s == state)?;
    STATES.get(i + 1).copied()
}

/// The state one step back of `state`, if any.
pub fn previous_state(state: &str) -> Option<&'static str> {
    let i = STATES.iter().position(|s| *s == state)?;
    i.checked_sub(1).map(|j| STATES[j])
}
