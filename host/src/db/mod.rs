//! Reading rows from the three databases movex migrates between, as the
//! contract's values, without loss: one module per driver, each decoding the
//! driver's raw bytes itself (sqlx's own date/time types reject MySQL zero
//! dates; its NUMERIC decoders lose the scale or the range).
//!
//! - [`connection`]: [`Db`], a pool to one database by driver, and the one
//!   place that dispatches on the driver (execute, fetch, transactions).
//! - [`statement`]: [`Statement`], SQL with its parameters, as the pool
//!   journals it; placeholders per dialect.
//! - [`schema`]: a table's columns, kinds and byte-wise key order.
//! - [`rows`]: [`Rows`], a page of rows as the contract's encoded bytes,
//!   written straight from the driver's buffers; keys compared in place.
//! - [`key`]: key order across databases; keys as JSON.
//! - [`mysql`]: MySQL/MariaDB, binary protocol.
//! - [`postgres`]: PostgreSQL, binary protocol, by type OID.
//! - [`postgres_reader`]: PostgreSQL rows read on `tokio-postgres`, the
//!   bytes of each row straight into a page.
//! - [`sqlite`]: SQLite, by each value's storage class.
//! - [`keyset`]: page queries in key order per dialect (no OFFSET).
//! - [`bind`]: contract values as query parameters, per driver.
//! - [`retry`]: which errors mean a statement did not run and may be retried.
//!
//! Background and sources: `docs/design/validator-sql-decoding.md`.

pub mod bind;
pub mod connection;
pub mod key;
pub mod keyset;
pub mod mysql;
pub mod postgres;
pub mod postgres_reader;
pub mod retry;
pub mod rows;
pub mod schema;
pub mod sqlite;
pub mod statement;

pub use connection::{Db, Decode, Executed, Params, Tx, redact};
pub use rows::{Row, RowRef, Rows};
pub use statement::Statement;

/// A value that could not be read as any contract value. Says which column,
/// what the database called its type, and what to do.
#[derive(Debug, thiserror::Error)]
#[error("column {column:?} ({type_name}): {detail}")]
pub struct ValueError {
    pub column: String,
    pub type_name: String,
    pub detail: String,
}

impl ValueError {
    pub(crate) fn new(column: &str, type_name: &str, detail: impl Into<String>) -> Self {
        ValueError { column: column.to_owned(), type_name: type_name.to_owned(), detail: detail.into() }
    }
}
