//! The domain's shared nouns, used by every layer above: the migration's
//! [`State`] and write [`Pattern`], the two databases ([`SideName`]), and
//! the validator's [`Finding`] with its [`Direction`] and [`FindingType`].
//! Plain data and the rules on it; nothing here does I/O.
//!
//! - [`state`]: states and which moves are allowed ([`MoveRefused`]).
//! - [`pattern`]: patterns, and which database is primary and secondary.
//! - [`finding`]: findings, directions (which side is the base), types.

pub mod finding;
pub mod pattern;
pub mod state;

pub use finding::{ColumnDiff, Direction, Finding, FindingType};
pub use pattern::{Pattern, SideName};
pub use state::{MoveError, MoveRefused, State};
