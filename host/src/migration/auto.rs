//! `/auto-migrate`: the whole plan, cancellable. `src_only` -> `src_first`
//! -> copy (the tables not copied yet, with `[copy] in_auto_migrate`) ->
//! full validation -> (policy) `dst_first` -> full validation ->
//! (policy) `dst_only` -> `completed`. It stops
//! where it is when a validation finds differences or the policy says stay
//! or pause, and rolls back when the policy says so — always saying why.
//! With `[repair] auto`, differences are first repaired and the state
//! validated again, up to `[repair] max_rounds` times per state.
//!
//! Each step is persisted as it begins (`auto_migrate` in the state store,
//! shown in `/status`), so a movex that was killed knows where its
//! auto-migrate was: `movex serve` resumes it at start (the plan is driven
//! by the persisted state, so it continues from there), or with
//! `[policy] resume_auto_migrate = false` reports it `interrupted` at that
//! step. Its validations are the current full validation while they run.

use super::control::Migration;
use crate::model::State;
use crate::model::state::MoveError;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Where auto-migrate is, as `/status` and the demo show it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AutoStatus {
    /// `running`, `completed`, `held`, `rolled_back`, `cancelled`,
    /// `failed` or `interrupted`.
    pub status: String,
    pub state: String,
    pub reason: String,
    /// The step it is at (or ended at): `moving`, `copying`, `soaking`,
    /// `validating`, `repairing`, `consulting the policy`.
    #[serde(default)]
    pub step: String,
    /// The fleet instance running it (its name in `GET /instances`), and
    /// its id: a second `POST /auto-migrate` elsewhere is refused while
    /// that instance is live.
    #[serde(default)]
    pub instance: String,
    #[serde(default)]
    pub instance_id: String,
}

impl Migration {
    /// Start auto-migrate (cancelling one already running).
    pub async fn start_auto_migrate(self: &Arc<Self>) -> Result<()> {
        let mut slot = self.tasks.auto.lock().await;
        slot.stop().await;
        let me = self.clone();
        slot.start((), move |cancel| {
            async move {
                let outcome = match me.clone().auto_migrate(cancel).await {
                    Ok(s) => s,
                    Err(e) => AutoStatus { status: "failed".into(), reason: format!("{e:#}"), ..AutoStatus::default() },
                };
                tracing::info!(status = %outcome.status, state = %outcome.state, reason = %outcome.reason, "auto-migrate ended");
                let _ = me.record_auto(&outcome).await;
            }
        });
        Ok(())
    }

    /// Stop a running auto-migrate because movex is shutting down: it is
    /// cancelled here, and its record stays `running` at its step, so the
    /// next `movex serve` resumes it as after a crash.
    pub async fn suspend_auto_migrate(&self) {
        let was = self.auto_status().await.ok().flatten().filter(|s| s.status == "running");
        if self.cancel_auto_migrate().await
            && let Some(was) = was
            && let Err(e) = self.record_auto(&was).await
        {
            tracing::warn!("recording auto-migrate as running for the next start: {e:#}");
        }
    }

    /// Cancel a running auto-migrate; whether one was running.
    pub async fn cancel_auto_migrate(&self) -> bool {
        self.tasks.auto.stop().await
    }

    pub async fn auto_status(&self) -> Result<Option<AutoStatus>> {
        Ok(self.engine.store.meta("auto_migrate").await?.and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Record where auto-migrate is, as run by this instance.
    async fn record_auto(&self, s: &AutoStatus) -> Result<()> {
        let me = self.fleet.member();
        let s = AutoStatus { instance: me.name.clone(), instance_id: me.id.clone(), ..s.clone() };
        self.engine.store.set_meta("auto_migrate", &serde_json::to_string(&s)?).await
    }

    /// Refuse to start auto-migrate here while another live instance of
    /// the fleet runs one: two plans would race each other's moves. One
    /// whose instance is gone (killed) may be taken over.
    pub async fn auto_migrate_elsewhere(&self) -> Result<Option<String>> {
        let Some(s) = self.auto_status().await?.filter(|s| s.status == "running") else { return Ok(None) };
        if self.tasks.auto.running().await || s.instance_id.is_empty() || s.instance_id == self.fleet.member().id {
            return Ok(None);
        }
        let live = self.engine.store.instances().await?.into_iter().any(|i| i.live && i.member.id == s.instance_id);
        Ok(live.then(|| {
            format!(
                "auto-migrate is already running on instance {:?} (at {} in {}): follow it in GET /status, or cancel it there (POST /auto-migrate/cancel) first",
                s.instance, s.step, s.state
            )
        }))
    }

    /// At start: an auto-migrate the last process left `running` was cut
    /// off by a crash or a kill. Resume it, or (configured) report it
    /// interrupted at its step.
    pub async fn resume_auto_migrate(self: &Arc<Self>) -> Result<()> {
        let Some(was) = self.auto_status().await?.filter(|s| s.status == "running") else { return Ok(()) };
        let at = format!("{} in {}", if was.step.is_empty() { "in progress" } else { &was.step }, was.state);
        if self.engine.config.policy.resume_auto_migrate {
            tracing::warn!(at = %at, "auto-migrate was running when movex stopped; resuming it");
            return self.start_auto_migrate().await;
        }
        let reason = format!("interrupted at {at} when movex stopped; POST /auto-migrate continues from the current state");
        self.record_auto(&AutoStatus { status: "interrupted".into(), reason, ..was }).await
    }

    async fn auto_migrate(self: Arc<Self>, cancel: CancellationToken) -> Result<AutoStatus> {
        let by = "auto-migrate";
        let end = |status: &str, state: State, reason: String| AutoStatus { status: status.into(), state: state.as_str().into(), reason, ..AutoStatus::default() };
        let at = |state: State, step: &str| AutoStatus {
            status: "running".into(),
            state: state.as_str().into(),
            reason: "in progress".into(),
            step: step.into(),
            ..AutoStatus::default()
        };
        let repair = &self.engine.config.repair;
        // Repair rounds in the current state.
        let mut rounds = (State::Initial, 0);
        loop {
            let state = self.state().await?;
            if rounds.0 != state {
                rounds = (state, 0);
            }
            // Nothing is copied, validated or promoted on a generation
            // that some live instance has not applied.
            if self.unsettled().await?.is_some() {
                self.record_auto(&at(state, "waiting for every instance to acknowledge the move")).await?;
                if !self.settle(&cancel).await? {
                    return Ok(end("cancelled", state, "cancelled on request".into()));
                }
            }
            // The step about to run: in src_first the copy comes before the
            // soak (a "soaking" recorded first would be over at once).
            let step = match state {
                State::SrcFirst if self.engine.config.copy.in_auto_migrate => "copying",
                State::SrcFirst | State::DstFirst => "soaking",
                _ => "moving",
            };
            self.record_auto(&at(state, step)).await?;
            if cancel.is_cancelled() {
                return Ok(end("cancelled", state, "cancelled on request".into()));
            }
            match state {
                State::Initial => pending_is_moved(self.move_to(State::SrcOnly, false, "auto-migrate starts", by).await)?,
                State::SrcOnly => pending_is_moved(self.move_to(State::SrcFirst, false, "auto-migrate: start double-writing", by).await)?,
                State::Completed => return Ok(end("completed", state, "the migration is completed".into())),
                // In dst_only the source is no longer written: comparing it
                // now would only find the writes it no longer gets.
                State::DstOnly => pending_is_moved(self.move_to(State::Completed, false, "auto-migrate: the destination is the only copy written", by).await)?,
                State::SrcFirst | State::DstFirst => {
                    if state == State::SrcFirst && self.engine.config.copy.in_auto_migrate {
                        let copier = crate::copy::Copier::new(self.engine.clone());
                        let board = std::sync::Arc::new(crate::copy::Board::default());
                        let report = copier.run(&crate::copy::Request::default(), board, cancel.child_token()).await?;
                        if cancel.is_cancelled() {
                            return Ok(end("cancelled", state, "cancelled on request (the copy keeps its checkpoints)".into()));
                        }
                        if let Some(t) = report.tables.iter().find(|t| t.state != crate::copy::TableState::Done) {
                            let why = t.error.clone().unwrap_or_else(|| format!("{:?}", t.state));
                            return Ok(end("held", state, format!("the copy of table {} did not finish: {why}", t.table)));
                        }
                        self.record_auto(&at(state, "soaking")).await?;
                    }
                    let soak = std::time::Duration::from_millis(self.engine.config.policy.soak_ms);
                    tokio::select! {
                        _ = tokio::time::sleep(soak) => {}
                        _ = cancel.cancelled() => return Ok(end("cancelled", state, "cancelled on request".into())),
                    }
                    self.record_auto(&at(state, "validating")).await?;
                    let report = self.validate_now(cancel.child_token()).await?;
                    if cancel.is_cancelled() {
                        return Ok(end("cancelled", state, "cancelled on request".into()));
                    }
                    if report.failed() {
                        let why: Vec<String> = report.tables.iter().filter_map(|t| t.error.clone()).collect();
                        return Ok(end("held", state, format!("validation failed: {}", why.join("; "))));
                    }
                    if let Some(t) = report.tables.iter().find(|t| t.status != "completed") {
                        return Ok(end("held", state, format!("the validation did not cover every row (table {} {}); POST /auto-migrate to run it again", t.table, t.status)));
                    }
                    let found = report.total_findings();
                    if found > 0 && repair.auto && rounds.1 < repair.max_rounds {
                        rounds.1 += 1;
                        self.record_auto(&at(state, &format!("repairing (round {})", rounds.1))).await?;
                        let summary = self.repair.repairer(false).pass(None, &cancel).await?;
                        tracing::info!(round = rounds.1, found, outcomes = ?summary.outcomes, "auto-migrate repaired; validating again");
                        continue;
                    }
                    self.record_auto(&at(state, "consulting the policy")).await?;
                    let decided = self.consult("auto-migrate, after a full validation", false).await?;
                    match (decided.action.as_str(), decided.to.as_deref().and_then(State::parse)) {
                        ("rollback", Some(to)) => {
                            pending_is_moved(self.move_to(to, false, &decided.reason, &decided.by).await)?;
                            return Ok(end("rolled_back", to, decided.reason));
                        }
                        ("promote", Some(to)) if found == 0 => {
                            pending_is_moved(self.move_to(to, false, &decided.reason, &decided.by).await)?;
                        }
                        ("promote", _) => {
                            return Ok(end("held", state, format!("validation found {found} differences; the policy's promote is not followed")));
                        }
                        _ if found > 0 => {
                            let repaired = if rounds.1 > 0 { format!(" (after {} repair rounds)", rounds.1) } else { String::new() };
                            return Ok(end("held", state, format!("validation found {found} differences{repaired}: {}", decided.reason)));
                        }
                        _ => return Ok(end("held", state, format!("{}: {}", decided.by, decided.reason))),
                    }
                }
            }
        }
    }
}

/// A move auto-migrate made: recorded counts, even if some instance has
/// not acknowledged it yet (the plan waits for them before its next step).
fn pending_is_moved(r: Result<crate::store::Transition, MoveError>) -> Result<(), MoveError> {
    match r {
        Ok(_) | Err(MoveError::Pending { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
