//! # movex: zero-downtime database migrations, user logic in sandboxed wasm
//!
//! movex moves a table (or a database) from a source to a destination while
//! the application keeps writing. Comparison and promotion logic is user code:
//! wasm components written with the `movex-guest` SDK, loaded and hot-swapped
//! at run time, invoked per row in batches, bounded in CPU and memory.
//!
//! # Layout
//! - [`wasm`]: the sandboxed runtime — engine, limits, artifact cache, module
//!   registry with hot swap, warm-up, and one file per capability
//!   (comparator, tagger, policy). Start at `wasm/mod.rs`.
//! - [`health`]: named faults (a stopped front door, a journal the store
//!   cannot take) that make `/health` unhealthy while they last.
//! - [`config`]: the TOML configuration (unknown keys are errors; embedded
//!   defaults).
//! - [`db`]: reading MySQL/MariaDB, PostgreSQL and SQLite rows as contract
//!   values without loss; keyset page queries per dialect.
//! - [`validate`]: the validator — full and incremental runs in both
//!   directions, per-row wasm comparison, findings in the state store and
//!   delivered to Kafka, checkpoints. Start at `validate/mod.rs`.
//! - [`store`]: the state store (SQLite by default; MariaDB/MySQL or
//!   PostgreSQL): validation runs, checkpoints, findings and the Kafka
//!   outbox, the repair journal, the migration's state and transitions.
//! - [`pool`]: the double-write pool — patterns, transactions, strict and
//!   non-strict, retries, repair journal, metrics, health.
//! - [`repair`]: drives the target back to the base from the findings
//!   (upsert or delete guarded by update time, re-check, outcomes), from
//!   the store and the pool's journal or from Kafka as a consumer group.
//! - [`proxy`]: the MySQL front door — applications in any language write
//!   through movex; commands relayed to the primary and checked on the
//!   secondary, a write's answer held back until both sides answered.
//! - [`http`]: the HTTP control plane (routes, envelope, token).
//! - [`migration`]: the running migration — state machine, scheduler of
//!   validations, promotion policy, auto-migrate, status.
//! - [`cli`]: the `movex` command line (`movex module check`, `movex module
//!   warmup`; `movex validate` in [`validate_cli`], `movex serve` in
//!   [`serve_cli`], `movex demo` in [`demo`], `movex repair` in
//!   [`repair_cli`]); `src/main.rs` only calls it.
//!
//! The contract with guests is `guest-sdk/wit/plugin.wit`, shared with the SDK.

pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod health;
pub mod http;
pub mod migration;
pub mod pool;
pub mod proxy;
pub mod repair;
pub mod store;
pub mod repair_cli;
pub mod serve_cli;
pub mod validate;
pub mod validate_cli;
pub mod wasm;
