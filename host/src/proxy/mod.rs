//! The front doors: applications in any language point their DSN at movex
//! and their writes are double-written by the current pattern, with the
//! pool's journal, metrics and strict mode, as the Rust library does.
//!
//! - [`mysql`]: the MySQL wire protocol (`[proxy.mysql]`; source and
//!   destination MySQL or MariaDB). Design: `docs/design/proxy.md`.
//! - [`postgres`]: the PostgreSQL wire protocol (`[proxy.postgres]`;
//!   source and destination PostgreSQL). Design: `docs/design/proxy-postgres.md`.
//! - [`listen`]: what both doors share: the accept loop and its limits
//!   (connections at once, accept errors backed off while `/health` names
//!   the fault), the session threads, the process's file limit.

pub mod listen;
pub mod mysql;
pub mod postgres;
