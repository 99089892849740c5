//! What can go wrong with a module, as types a caller can match on:
//! `LoadError` when a module is refused (at load, upload or warm-up) and
//! `GuestError` when a loaded module fails during a call.

use serde::Serialize;
use std::fmt;

/// A capability a module exports, as the host names it in errors and stats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Describe,
    Comparator,
    Tagger,
    Policy,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::Describe => "describe",
            Capability::Comparator => "comparator",
            Capability::Tagger => "tagger",
            Capability::Policy => "policy",
        })
    }
}

/// Why a module was refused. Every message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not a wasm module or component ({detail}); upload the .wasm file your build produced")]
    NotWasm { detail: String },
    #[error(
        "core module could not be made a component ({detail}); build it with the movex-guest SDK \
         (`movex_guest::export!`) for wasm32-unknown-unknown"
    )]
    NotAModule { detail: String },
    #[error(
        "module imports `{import}`, which the sandbox does not provide (allowed: {allowed}); guests get \
         no file system, network, environment or clock: remove the code that needs it, and build for \
         wasm32-unknown-unknown (wasip1/wasip2 builds import wasi:* through Rust's std)"
    )]
    ForbiddenImport { import: String, allowed: String },
    #[error(
        "module does not implement the movex:plugin@0.3.0 contract ({detail}); rebuild it against this \
         movex's guest SDK"
    )]
    WrongInterface { detail: String },
    #[error("compiling the module failed: {detail}")]
    Compile { detail: String },
    #[error("instantiating the module failed: {detail}")]
    Instantiate { detail: String },
    #[error("the module's describe call failed: {0}")]
    Describe(#[source] Box<GuestError>),
    #[error("the module failed when exercised on sample rows: {0}")]
    Exercise(#[source] Box<GuestError>),
    #[error("the module describes itself badly: {detail}")]
    BadDescription { detail: String },
    #[error("module describes itself as {found:?}, but was loaded as {expected:?}; use its described name")]
    NameMismatch { expected: String, found: String },
    #[error("a module named {name:?} is already loaded; give each module its own name")]
    NameTaken { name: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// How a guest call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Over the per-call CPU bound (epoch deadline or fuel).
    Timeout,
    /// Tried to grow memory past the cap.
    MemoryExhausted,
    /// Recursed past the stack bound.
    StackOverflow,
    /// The guest panicked (the SDK reported the message before aborting).
    Panic,
    /// Any other trap (`unreachable`, out-of-bounds access, ...).
    Trap,
    /// The guest answered with an error of its own.
    Refused,
    /// The guest refused a binding (its settings or the table layout).
    BindingRefused,
    /// The guest returned something the contract does not allow.
    InvalidResult,
    /// No instance could be created for the call.
    Unavailable,
}

impl FailureKind {
    /// Every kind, in declaration order (so `kind as usize` indexes it).
    pub const ALL: [FailureKind; 9] = [
        FailureKind::Timeout,
        FailureKind::MemoryExhausted,
        FailureKind::StackOverflow,
        FailureKind::Panic,
        FailureKind::Trap,
        FailureKind::Refused,
        FailureKind::BindingRefused,
        FailureKind::InvalidResult,
        FailureKind::Unavailable,
    ];

    /// The kind's name in stats and JSON (`memory_exhausted`).
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::MemoryExhausted => "memory_exhausted",
            FailureKind::StackOverflow => "stack_overflow",
            FailureKind::Panic => "panic",
            FailureKind::Trap => "trap",
            FailureKind::Refused => "refused",
            FailureKind::BindingRefused => "binding_refused",
            FailureKind::InvalidResult => "invalid_result",
            FailureKind::Unavailable => "unavailable",
        }
    }

    /// Whether the instance is dead after this failure and must be re-created.
    pub fn kills_instance(self) -> bool {
        !matches!(self, FailureKind::Refused | FailureKind::BindingRefused)
    }

    /// Whether the module broke (trap, bound hit), as opposed to answering
    /// with an error of its own about the data or the binding.
    pub fn is_breakage(self) -> bool {
        !matches!(self, FailureKind::Refused | FailureKind::BindingRefused)
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureKind::Timeout => "timed out",
            FailureKind::MemoryExhausted => "ran out of memory",
            FailureKind::StackOverflow => "overflowed its stack",
            FailureKind::Panic => "panicked",
            FailureKind::Trap => "trapped",
            FailureKind::Refused => "returned an error",
            FailureKind::BindingRefused => "refused the binding",
            FailureKind::InvalidResult => "returned an invalid result",
            FailureKind::Unavailable => "could not be instantiated",
        })
    }
}

/// A failed guest call, naming module, version, capability and the row.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct GuestError {
    pub module: String,
    /// The registry's version counter of the module that failed.
    pub version: u64,
    pub capability: Capability,
    /// The key of the row being processed, when the failure is pinned to one.
    pub key: Option<String>,
    pub kind: FailureKind,
    pub detail: String,
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "module {} (version {}) {} {}", self.module, self.version, self.capability, self.kind)?;
        if let Some(key) = &self.key {
            write!(f, " on row {key}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::FailureKind;

    #[test]
    fn all_is_in_declaration_order_and_names_match_serde() {
        for (i, k) in FailureKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
    }
}
