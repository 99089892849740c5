//! The migration's state machine. States, in order: `initial`, `src_only`,
//! `src_first`, `dst_first`, `dst_only`, `completed`. A migration moves one
//! step forward, or one step back (a rollback), and from `dst_only` to
//! `completed`; any other move needs an explicit `force`. Each state implies
//! the write pattern the pool uses (`initial` writes like `src_only`,
//! `completed` like `dst_only`).

use super::Pattern;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A move the state machine refuses as things stand (already there, not
/// one step, moved meanwhile, journal entries waiting): the caller's
/// request conflicts with the state (HTTP 409).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MoveRefused(pub String);

/// Why a move did not happen: refused, or the state store failed. An enum
/// rather than an `anyhow::Error` to downcast, so every caller of a move
/// (the control plane, auto-migrate, the policy) meets both cases by type,
/// and a store outage cannot pass for a refusal or a refusal for an outage.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// The state machine refuses it (HTTP 409); nothing was written.
    #[error(transparent)]
    Refused(#[from] MoveRefused),
    /// The state store failed before the move was recorded (HTTP 503):
    /// the migration stays where it was; retry once the store answers.
    #[error("the state store failed: {cause:#}; the migration did not move to {to}")]
    Store { to: State, cause: anyhow::Error },
    /// The state store failed while committing the move (HTTP 503): it may
    /// or may not be recorded, and the pool still writes by the pattern of
    /// the state it left. (A commit whose answer was lost may have landed.)
    #[error(
        "the state store failed while committing the move to {to} ({cause:#}), so whether it was recorded is not known; \
         the pool still writes by the pattern it had. Once the store answers, GET /status says where the migration is: \
         if it is in {to}, restart movex serve so the pool writes by {to}'s pattern; if not, retry the move"
    )]
    Unconfirmed { to: State, cause: anyhow::Error },
    /// Recorded, but not every live member of the fleet acknowledged it
    /// within `[fleet] move_timeout_ms` (HTTP 202): it stays pending;
    /// nothing moves forward, validates or copies until it is through.
    #[error(
        "the move to {to} is recorded as generation {generation}, but not every live movex instance has acknowledged it yet: {lagging}. \
         It stays pending until they do (or their leases lapse); GET /instances shows each one"
    )]
    Pending { to: State, generation: i64, lagging: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Initial,
    SrcOnly,
    SrcFirst,
    DstFirst,
    DstOnly,
    Completed,
}

impl State {
    pub const ALL: [State; 6] =
        [State::Initial, State::SrcOnly, State::SrcFirst, State::DstFirst, State::DstOnly, State::Completed];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Initial => "initial",
            State::SrcOnly => "src_only",
            State::SrcFirst => "src_first",
            State::DstFirst => "dst_first",
            State::DstOnly => "dst_only",
            State::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    fn index(self) -> usize {
        State::ALL.iter().position(|&x| x == self).expect("in ALL")
    }

    /// The state a pattern route moves to.
    pub fn of(pattern: Pattern) -> State {
        match pattern {
            Pattern::SrcOnly => State::SrcOnly,
            Pattern::SrcFirst => State::SrcFirst,
            Pattern::DstFirst => State::DstFirst,
            Pattern::DstOnly => State::DstOnly,
        }
    }

    /// The write pattern in this state.
    pub fn pattern(self) -> Pattern {
        match self {
            State::Initial | State::SrcOnly => Pattern::SrcOnly,
            State::SrcFirst => Pattern::SrcFirst,
            State::DstFirst => Pattern::DstFirst,
            State::DstOnly | State::Completed => Pattern::DstOnly,
        }
    }

    /// The state after this one on the way to `completed`.
    pub fn next(self) -> Option<State> {
        State::ALL.get(self.index() + 1).copied()
    }

    /// Whether `self -> to` moves toward `completed`.
    pub fn is_forward(self, to: State) -> bool {
        to.index() > self.index()
    }

    /// Whether `self -> to` is allowed without `force`: one step forward, one
    /// step back, and never out of `completed` or back to `initial`.
    pub fn may_go(self, to: State) -> Result<(), String> {
        if self.is_step(to) {
            return Ok(());
        }
        if self == to {
            return Err(format!("already {}", self.as_str()));
        }
        let allowed: Vec<&str> = State::ALL.iter().filter(|&&s| self.is_step(s)).map(|s| s.as_str()).collect();
        Err(format!(
            "{} -> {} is not one step forward or back (from {} you may go to: {}); pass force to override",
            self.as_str(),
            to.as_str(),
            self.as_str(),
            if allowed.is_empty() { "nowhere".to_owned() } else { allowed.join(", ") }
        ))
    }

    fn is_step(self, to: State) -> bool {
        let (from, at) = (self.index() as i64, to.index() as i64);
        self != State::Completed && to != State::Initial && (at - from).abs() == 1
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::State::*;
    use super::*;

    #[test]
    fn one_step_forward_or_back_and_nothing_else_without_force() {
        let allowed = [
            (Initial, SrcOnly),
            (SrcOnly, SrcFirst),
            (SrcFirst, DstFirst),
            (DstFirst, DstOnly),
            (DstOnly, Completed),
            (DstOnly, DstFirst),
            (DstFirst, SrcFirst),
            (SrcFirst, SrcOnly),
        ];
        for from in State::ALL {
            for to in State::ALL {
                assert_eq!(from.may_go(to).is_ok(), allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
        let e = SrcOnly.may_go(DstOnly).unwrap_err();
        assert!(e.contains("you may go to: src_first") && e.contains("force"), "{e}");
        assert!(Completed.may_go(DstOnly).unwrap_err().contains("nowhere"));
    }

    #[test]
    fn states_imply_patterns() {
        assert_eq!(Initial.pattern(), Pattern::SrcOnly);
        assert_eq!(Completed.pattern(), Pattern::DstOnly);
        assert_eq!(Pattern::parse("dst_first").map(State::of), Some(DstFirst));
        assert_eq!(State::parse("completed"), Some(Completed));
        assert_eq!(SrcFirst.next(), Some(DstFirst));
        assert_eq!(Completed.next(), None);
    }
}
