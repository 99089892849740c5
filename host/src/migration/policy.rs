//! Consulting the promotion policy: the migration's statistics in, a
//! decision out (stay, promote, roll back, pause, with a reason). The
//! configured policy module decides; without one, the built-in rule:
//! promote one step only after a clean full validation in the current
//! state. Every decision is recorded (`last_decision`); it is applied when
//! `auto_promote` is on, or by `/auto-migrate`.

use super::control::Migration;
use crate::model::State;
use crate::model::state::MoveError;
use crate::model::FindingType;
use crate::wasm::Binding;
use anyhow::{Context, Result, anyhow};
use movex_guest::{Action, Decision, Stats};
use serde::Serialize;
use std::sync::Arc;

/// A decision and what became of it.
#[derive(Clone, Debug, Serialize)]
pub struct Decided {
    /// `stay`, `promote`, `rollback` or `pause`.
    pub action: String,
    /// The state a promote or rollback names.
    pub to: Option<String>,
    pub reason: String,
    /// `builtin` or `policy:<module>`.
    pub by: String,
    pub trigger: String,
    pub at: String,
    /// Whether it moved the migration.
    pub applied: bool,
}

/// The built-in rule.
pub fn builtin(stats: &Stats, last_full_clean: bool) -> Decision {
    let next = movex_guest::policy::next_state(&stats.state);
    match stats.state.as_str() {
        "initial" | "src_only" => Decision::stay("double-writing starts on request (POST /src_first or /auto-migrate)"),
        "completed" => Decision::stay("the migration is completed"),
        _ if last_full_clean => match next {
            Some(n) => Decision::promote(n, "the last full validation in this state was clean"),
            None => Decision::stay("nowhere further to go"),
        },
        _ if stats.full_runs == 0 => Decision::stay("no full validation yet"),
        _ => Decision::stay(format!(
            "the last full validation in this state was not clean ({} discrepancies so far); repair, then validate again",
            stats.total_discrepancies()
        )),
    }
}

impl Migration {
    /// The copy's progress as the policy sees it.
    async fn copy_counts(&self) -> Result<Vec<(String, u64)>> {
        let copies = self.engine.store.copies().await?;
        let n = |state: &str| copies.iter().filter(|c| c.state == state).count() as u64;
        Ok(vec![
            ("tables".into(), self.engine.config.tables.len() as u64),
            ("done".into(), n("done")),
            ("running".into(), n("running")),
            ("failed".into(), n("failed")),
            ("rows_copied".into(), copies.iter().map(|c| c.rows_copied).sum()),
        ])
    }

    async fn stats(&self) -> Result<(Stats, bool)> {
        let (state, since) = self.engine.store.migration_state().await?;
        let c = self.engine.store.counters().await?;
        let n = |k: &str| c.get(k).copied().unwrap_or(0);
        let since_ms = since
            .and_then(|s| humantime::parse_rfc3339_weak(&s).ok())
            .and_then(|t| t.elapsed().ok())
            .map_or(0, |d| d.as_millis() as u64);
        let stats = Stats {
            state: state.as_str().into(),
            pattern: state.pattern().as_str().into(),
            full_runs: n("full_validation_runs"),
            incr_runs: n("incr_validation_runs"),
            consecutive_clean_runs: n("consecutive_clean_runs"),
            rows_checked: n("rows_checked"),
            discrepancies: FindingType::ALL.iter().map(|t| (t.as_str().to_owned(), n(&format!("discrepancies_{}", t.as_str())))).collect(),
            errors: vec![("validation".into(), n("validation_errors"))],
            repairs: self.engine.store.repair_counts().await?.into_iter().collect(),
            copy: self.copy_counts().await?,
            time_in_state_ms: since_ms,
        };
        let clean = self.engine.store.meta("last_full_clean").await?.as_deref() == Some("true");
        Ok((stats, clean))
    }

    /// Ask the policy; record the decision; apply it if `apply`.
    pub async fn consult(self: &Arc<Self>, trigger: &str, apply: bool) -> Result<Decided> {
        let (stats, clean) = self.stats().await?;
        let (decision, by) = match &self.engine.config.policy.module {
            None => (builtin(&stats, clean), "builtin".to_owned()),
            Some(name) => {
                let module = self
                    .engine
                    .modules
                    .get(name)
                    .ok_or_else(|| anyhow!("[policy] module {name:?} is not loaded; the migration holds"))?;
                let settings = self.engine.settings(name);
                let stats = stats.clone();
                let d = tokio::task::spawn_blocking(move || module.decide(&Binding::settings(settings), &stats)).await?;
                (d.map_err(|e| anyhow!("policy {name:?}: {e}"))?, format!("policy:{name}"))
            }
        };
        let (action, to) = match &decision.action {
            Action::Stay => ("stay", None),
            Action::Promote(s) => ("promote", Some(s.clone())),
            Action::Rollback(s) => ("rollback", Some(s.clone())),
            Action::Pause => ("pause", None),
        };
        let mut decided = Decided {
            action: action.into(),
            to: to.clone(),
            reason: decision.reason.clone(),
            by: by.clone(),
            trigger: trigger.into(),
            at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            applied: false,
        };
        if apply && let Some(to) = &to {
            let target = State::parse(to).with_context(|| format!("{by} named an unknown state {to:?}"))?;
            match self.move_to(target, false, &decision.reason, &by).await {
                Ok(_) => decided.applied = true,
                Err(e @ MoveError::Pending { .. }) => {
                    decided.applied = true;
                    decided.reason = format!("{} (applied, pending: {e})", decided.reason);
                }
                Err(e) => decided.reason = format!("{} (not applied: {e:#})", decided.reason),
            }
        }
        self.engine.store.set_meta("last_decision", &serde_json::to_string(&decided)?).await?;
        Ok(decided)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(state: &str, full_runs: u64) -> Stats {
        Stats { state: state.into(), full_runs, ..Stats::default() }
    }

    #[test]
    fn the_builtin_rule_promotes_only_after_a_clean_full_validation() {
        assert_eq!(builtin(&stats("src_first", 1), true).action, Action::Promote("dst_first".into()));
        assert_eq!(builtin(&stats("dst_only", 3), true).action, Action::Promote("completed".into()));
        assert_eq!(builtin(&stats("src_first", 0), false).action, Action::Stay);
        let d = builtin(&stats("dst_first", 2), false);
        assert_eq!(d.action, Action::Stay);
        assert!(d.reason.contains("not clean"), "{}", d.reason);
        assert_eq!(builtin(&stats("src_only", 5), true).action, Action::Stay, "double-writing starts on request");
        assert_eq!(builtin(&stats("completed", 5), true).action, Action::Stay);
    }
}
