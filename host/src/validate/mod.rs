//! The validator: finds every difference between the source and the
//! destination of a table, in both directions, and records each as a
//! finding that is never lost.
//!
//! - [`run`]: the [`Validator`] — config in, tables prepared and run, report out.
//! - [`full`]: full mode, a one-pass merge of both tables in key order.
//! - [`incremental`]: rows changed since a time, on both sides.
//! - [`table`]: one table's run; settles batches (compare, tag, commit, pace).
//! - [`merge`]: the merge step over two key-ordered buffers (pure).
//! - [`judge`]: a batch through the comparator and tagger modules.
//! - [`side`]: one side's pool and queries (keyset pages, lookups), decoded.
//! - [`schema`]: a table's columns, kinds and byte-wise key order per side.
//! - [`key`]: key order across sides, keys as JSON and in checkpoints.
//! - [`finding`]: findings (`target_missing`, `base_missing`, `neq`,
//!   `comparator_error`), direction, stable ids.
//! - the state store ([`crate::store`]) keeps runs, checkpoints and
//!   findings (the embedded sink and the Kafka outbox).
//! - [`outbox`]: Kafka delivery from the outbox, at least once.
//! - [`progress`], [`pace`]: live progress and ETA; rows/s limit.

pub mod finding;
pub mod full;
pub mod incremental;
pub mod judge;
pub mod key;
pub mod merge;
pub mod outbox;
pub mod pace;
pub mod progress;
pub mod run;
pub mod schema;
pub mod side;
pub mod table;

pub use finding::{Direction, Finding, FindingType};
pub use judge::NativeComparator;
pub use run::{Board, Report, Request, RunMode, TableReport, Validator};
pub use crate::store::{Mode, Store};
