//! The integration tests, one module per capability, linked into one binary
//! (see `Cargo.toml` for why). Shared helpers live in the `movex_tests` library
//! (`support/`): real databases, the broker, the built `movex` binary.

mod auto_restart;
mod cli;
mod copy;
mod db_values;
mod demo;
mod evidence;
mod faults;
mod fleet;
mod hot_swap;
mod http;
mod journal;
mod kafka;
mod layers;
mod keyset;
mod pool;
mod proxy;
mod proxy_defence;
mod proxy_fidelity;
mod proxy_postgres;
mod proxy_strict;
mod repair;
mod repair_concurrent;
mod repair_kafka;
mod resume;
mod runtime;
mod sandbox;
mod schemathesis;
mod serve;
mod store;
mod ui_browser;
mod validate;
mod validate_lib;
