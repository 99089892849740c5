//! The validator: finds every difference between the source and the
//! destination of a table, in both directions, and records each as a
//! finding that is never lost.
//!
//! - [`run`]: the [`Validator`] — an engine in, tables prepared and run,
//!   report out; what to run ([`Request`], [`RunMode`]), live progress
//!   ([`Board`]).
//! - [`prepare`]: a table made ready to run in one direction (columns both
//!   sides have, key order checks, comparator binding); repair uses it too.
//! - [`report`]: what a run reports, per table and in all.
//! - [`full`]: full mode, a one-pass merge of both tables in key order.
//! - [`incremental`]: rows changed since a time, on both sides.
//! - [`table`]: one table's run; commits batches (compare, tag, commit, pace).
//! - [`merge`]: the merge step over two key-ordered buffers (pure).
//! - [`judge`]: a batch through the comparator and tagger modules.
//! - [`side`]: one side of a table and its queries (keyset pages, lookups).
//! - findings, directions and their types are shared nouns: [`crate::model`];
//!   columns, keys and key order: [`crate::db::schema`], [`crate::db::key`].
//! - the state store ([`crate::store`]) keeps runs, checkpoints and
//!   findings (the embedded sink and the Kafka outbox).
//! - [`outbox`]: Kafka delivery from the outbox, at least once.
//! - [`progress`], [`pace`]: live progress and ETA; rows/s limit.

pub mod full;
pub mod incremental;
pub mod judge;
pub mod merge;
pub mod outbox;
pub mod pace;
pub mod prepare;
pub mod progress;
pub mod report;
pub mod run;
pub mod side;
pub mod table;

pub use judge::NativeComparator;
pub use report::{Report, TableReport};
pub use run::{Board, Request, RunMode, Validator};
