//! Repair: drive the target back to the base from the findings. For each
//! finding, the base row is read again now: if it exists it is upserted
//! into the target (every compared column), if not the target row is
//! deleted. A target row newer than the base (by the update-time column) is
//! left alone: the application wrote it after the finding. After each write
//! the key is compared again, and the outcome recorded.
//!
//! - [`worker`]: the [`Repairer`] — findings from the state store, one by one.
//! - [`sql`]: the upsert and delete per dialect.
//!
//! Not here yet: Kafka consumer-group repair, replaying the pool's journal,
//! the HTTP routes (see the repair issue).

pub mod sql;
pub mod worker;

pub use worker::{Outcome, Repairer, Summary};
