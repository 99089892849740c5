//! The running migration: the engine, the double-write pool, the validator
//! and repair brought together, the state machine moved (the states and
//! patterns themselves are in [`crate::model`]), validations scheduled, the
//! promotion policy consulted, auto-migrate.
//!
//! - [`control`]: [`Migration`] — bring-up from config, moves (persist, then
//!   switch the pool), the slots for background work.
//! - [`scheduler`]: full and incremental runs started and stopped; what a
//!   run counts for (whole evidence only).
//! - [`policy`]: the policy module or the built-in rule; decisions recorded.
//! - [`auto`]: `/auto-migrate`, the whole plan, cancellable, resumed after
//!   a restart.
//! - [`status`]: `/status` in the Go tool's field names, and `/metrics`.

pub mod auto;
pub mod control;
pub mod policy;
pub mod scheduler;
pub mod status;

pub use auto::AutoStatus;
pub use control::Migration;
pub use policy::Decided;
pub use status::Status;
