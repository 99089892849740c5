//! Repair: drive the target back to the base from the findings. For each
//! finding, the base row is read again now: if it exists it is upserted
//! into the target (every compared column), if not the target row is
//! deleted. A target row newer than the base (by the update-time column) is
//! left alone: the application wrote it after the finding. After each write
//! the key is compared again, and the outcome recorded.
//!
//! - [`worker`]: the [`Repairer`]: one finding at a time, and a pass over
//!   the state store's unsettled findings.
//! - [`sql`]: the upsert and delete per dialect, guarded by update time.
//! - [`journal`]: the pool's journal of failed double-writes, turned into
//!   findings by validating the tables it names.
//! - [`kafka`]: findings from Kafka as a consumer group; offsets are
//!   committed only once a repair is durable.
//! - [`service`]: repair started, stopped and reported by the control plane,
//!   with metrics per outcome.

pub mod journal;
pub mod kafka;
pub mod service;
pub mod sql;
pub mod worker;

pub use worker::{Outcome, Repairer, Summary};
