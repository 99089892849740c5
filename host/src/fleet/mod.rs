//! Many writers, one migration: every movex process and every library
//! [`Pool`](crate::pool::Pool) that writes for a migration is a member of
//! its fleet, and a pattern switch reaches all of them before it counts.
//!
//! - Each member registers in the shared state store and renews a
//!   heartbeat every `heartbeat_ms` ([`Fleet`]'s agent). A heartbeat is
//!   also its lease: the pool's [`Gate`] admits writes only until
//!   `lease_ms` after the last heartbeat that reached the store, measured
//!   from before it was sent. A member that cannot renew (store
//!   unreachable, process paused) stops writing once the lease lapses, and
//!   writes again only after a heartbeat that read the current generation.
//! - A move writes a new generation in the store. Each member's agent reads
//!   it (every heartbeat; at once on PostgreSQL, by `LISTEN/NOTIFY`),
//!   applies its pattern to new writes, lets writes of older generations
//!   finish, then acknowledges it. The move waits ([`Fleet::barrier`]) until
//!   every live member has acknowledged, or names those that lag.
//! - A member whose lease lapsed is not live: the barrier stops waiting for
//!   it, and it cannot write in the old pattern, because it wrote nothing
//!   since its lease ran out and will write nothing before it has applied
//!   the current generation.
//!
//! With a SQLite state store the fleet is this one process (a SQLite file
//! is one host's, and the serving lease keeps it one process's): no agent,
//! no lease, and [`Fleet::single`] says so.
//!
//! The timing argument, and what it assumes of clocks, is in
//! docs/design/fleet.md.

pub mod agent;
pub mod config;

pub use agent::Fleet;
pub use config::FleetConfig;
