//! The migration itself: the state machine, the running migration that
//! ties the pool, the validator and the state store together, the
//! scheduler of validation runs, the promotion policy and auto-migrate.
//!
//! - [`state`]: states, patterns, and which moves are allowed.
//! - [`control`]: [`Migration`] — bring-up from config, moves (persist, then
//!   switch the pool), status in the Go tool's field names, metrics.
//! - [`scheduler`]: full and incremental runs started and stopped; counters.
//! - [`policy`]: the policy module or the built-in rule; decisions recorded.
//! - [`auto`]: `/auto-migrate`, the whole plan, cancellable.

pub mod auto;
pub mod control;
pub mod policy;
pub mod scheduler;
pub mod state;

pub use auto::AutoStatus;
pub use control::{Migration, Status};
pub use policy::Decided;
pub use state::{Pattern, State};
