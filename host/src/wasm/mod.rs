//! The wasm runtime: user code (comparators, taggers, policies) as sandboxed
//! components, reused across batches and hot-swappable by name.
//!
//! - [`runtime`]: the engine, sandbox linker, compile thread and the load
//!   pipeline (componentize, import allowlist, compile or cache).
//! - [`ticker`]: the epoch ticker, which ticks while a guest call runs.
//! - [`limits`]: memory, CPU-per-call and stack bounds.
//! - [`cache`]: precompiled artifacts on disk.
//! - [`module`]: one loaded version, its instance pool and description.
//! - [`instance`]: one live store; arms the bounds, classifies failures.
//! - [`registry`]: modules by name, hot swap, version counter.
//! - [`exercise`]: the load-time run on sample rows that refuses broken modules.
//! - [`warmup`]: load a modules directory at start; stats for `/health`.
//! - [`binding`], [`batch`]: what a call is about (layout, encoded rows).
//! - [`comparator`], [`tagger`], [`policy`]: one file per capability.
//! - [`isolate`]: pins a failed batch's error on the row that caused it.
//! - [`error`], [`stats`]: typed failures and per-module counters.
//! - [`wit`]: the one `bindgen!` over `guest-sdk/wit/plugin.wit`.

pub mod batch;
pub mod binding;
pub mod wit;
pub mod cache;
pub mod comparator;
pub mod error;
pub mod exercise;
pub mod instance;
pub mod isolate;
pub mod limits;
pub mod module;
pub mod policy;
pub mod registry;
pub mod runtime;
pub mod stats;
pub mod tagger;
pub(crate) mod ticker;
pub mod warmup;

pub use batch::Batch;
pub use binding::Binding;
pub use comparator::PairOutcome;
pub use exercise::Exercise;
pub use error::{Capability, FailureKind, GuestError, LoadError};
pub use limits::Limits;
pub use module::{Description, Module};
pub use registry::{Loaded, Registry};
pub use runtime::{ALLOWED_IMPORTS, Runtime, RuntimeConfig};
pub use warmup::{ModuleReport, Warmup, WarmupStatus, reports, warm_up};
