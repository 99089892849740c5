//! The migration itself: its state machine (and, as the control plane
//! lands, the scheduler and the promotion policy around it).
//!
//! - [`state`]: states, patterns, and which moves are allowed.

pub mod state;

pub use state::{Pattern, State};
