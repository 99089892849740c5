//! # movex: zero-downtime database migrations, user logic in sandboxed wasm
//!
//! movex moves a table (or a database) from a source to a destination while
//! the application keeps writing. Comparison and promotion logic is user code:
//! wasm components written with the `movex-guest` SDK, loaded and hot-swapped
//! at run time, invoked per row in batches, bounded in CPU and memory.
//!
//! # Layout
//! Layers, lowest first. A module imports only from layers below its own
//! (checked by `tests/layers.rs`, which reads every `use crate::` and
//! `super::` path); a type two siblings share moves down, not sideways.
//!
//! | layer | modules | what they own |
//! |---|---|---|
//! | 1 | [`db`] | connections to the three databases (one place dispatches on the driver), values read without loss into pages of encoded rows, statements, schemas, keys and key order, keyset pages |
//! | 2 | [`model`] | the shared nouns: the migration's [`model::State`] and write [`model::Pattern`], the two databases, findings and their direction |
//! | 3 | [`health`], [`task`] | named faults that make `/health` 503; background work started, cancelled and joined one way |
//! | 4 | [`store`] | the state store (SQLite by default; MariaDB/MySQL or PostgreSQL): runs, checkpoints, findings and the Kafka outbox, the journal, the migration's state, transitions and generation, the fleet's members, the serving lease |
//! | 5 | [`wasm`] | the sandbox: engine, limits, artifact cache, module registry with hot swap, warm-up, one file per capability (comparator, tagger, policy) |
//! | 6 | [`pool`] | the double-write pool: patterns and the gate writes pass, transactions, strict and not, retries, the journal of missed writes, metrics |
//! | 7 | [`fleet`] | many writers, one migration: members' heartbeats and leases, the generation each applies, the barrier a move waits at |
//! | 8 | [`config`] | the TOML file (unknown keys are errors); the sections of the layers below live with them ([`pool::PoolConfig`], [`wasm::Limits`], [`fleet::FleetConfig`]) |
//! | 9 | [`engine`] | what the work shares, built once from the config: the config, the store, the modules, a reading pool per database |
//! | 10 | [`validate`] | full and incremental runs in both directions, per-row wasm comparison, findings, checkpoints, Kafka delivery |
//! | 11 | [`repair`], [`copy`] | drives the target back to the base from the findings, the journal or Kafka; copies the rows that already exist, in locked chunks, resumable |
//! | 12 | [`migration`] | the running migration: moves (a barrier across the fleet), the scheduler of validations, the policy, auto-migrate, status |
//! | 13 | [`http`], [`proxy`] | the doors: the HTTP control plane (and the operator's page it serves, `http/ui.rs`); the MySQL and PostgreSQL front doors (`proxy/mysql`, `proxy/postgres`, their shared accept loop `proxy/listen.rs`) |
//! | 14 | [`cli`] | the `movex` command line, one file per subcommand; `src/main.rs` only calls it |
//!
//! Words: the **source** and the **destination** are the two databases; in
//! a validation the **base** is the side taken as right and the **target**
//! the side checked against it; in a write the **primary** runs it first and
//! the **secondary** follows. `docs/glossary.md` has the rest.
//!
//! The contract with guests is `guest-sdk/wit/plugin.wit`, shared with the SDK.

pub mod db;
pub mod model;
pub mod health;
pub mod task;
pub mod store;
pub mod wasm;
pub mod pool;
pub mod fleet;
pub mod config;
pub mod engine;
pub mod validate;
pub mod repair;
pub mod copy;
pub mod migration;
pub mod http;
pub mod proxy;
pub mod cli;
