//! # movex-guest: write movex modules in plain Rust
//!
//! A movex module is user code the movex host runs, sandboxed, during a
//! migration: a **comparator** (are these two rows the same entity?), a
//! **tagger** (what kind of entity is this row?) or a **policy** (promote,
//! roll back, stay or pause?). Implement [`Plugin`] and any of [`Comparator`],
//! [`Tagger`], [`Policy`], then call [`export!`] once:
//!
//! ```
//! use movex_guest::{Binding, Comparator, Description, Plugin, Result, Row, RowBuf, Rules, Settings, Verdict};
//!
//! pub struct Exact(Rules);
//!
//! impl Plugin for Exact {
//!     fn describe() -> Description { Description::new("exact", "0.1.0") }
//!     fn bind(_: &Binding<'_>) -> Result<Self> { Ok(Exact(Rules::new())) }
//! }
//! impl Comparator for Exact {
//!     fn compare(&self, src: &Row<'_>, dst: &Row<'_>) -> Verdict { self.0.compare(src, dst) }
//! }
//! movex_guest::export!(Exact, comparator);
//!
//! let exact = Exact::bind(&Binding::settings(&Settings::default()))?;
//! let row = RowBuf::new().col("id", 1).col("email", "a@x.io");
//! assert!(exact.compare(&row.row(), &row.row()).is_equal());
//! # Ok::<(), movex_guest::Error>(())
//! ```
//!
//! Logic stays ordinary Rust: unit-test it natively with [`RowBuf`] and
//! `cargo test`; build the module with
//! `cargo build --release --target wasm32-unknown-unknown`.
//!
//! # Layout
//! - [`value`]: the values a row can hold (`Value`, `OwnedValue`, dates, times).
//! - [`row`]: `Row` (typed, null-aware access by column name), `Layout`, `RowBuf`.
//! - [`rules`]: ready-made comparison rules (ignore, float tolerance, time
//!   precision, case/white space, JSON semantics, decimal scale).
//! - [`civil`]: calendar arithmetic, dates to and from days since 1970-01-01
//!   (the rules' time comparisons and the host's date decoders share it).
//! - [`verdict`], [`policy`]: what comparators and policies answer.
//! - [`plugin`]: the traits an author implements.
//! - [`codec`]: the row encoding shared with the host (authors never need it).
//! - [`batch`]: the loops that decode a batch and call your comparator or
//!   tagger; the export glue runs them in wasm, the host's benchmark natively.
//! - `export` and `bindings`: the glue `export!` expands to (hidden).

extern crate self as movex_guest;

pub mod batch;
pub mod civil;
pub mod codec;
mod error;
pub mod plugin;
pub mod policy;
pub mod row;
pub mod rules;
pub mod value;
pub mod verdict;

#[cfg(feature = "guest")]
#[doc(hidden)]
pub mod bindings;
#[cfg(feature = "guest")]
#[doc(hidden)]
pub mod export;
#[cfg(feature = "guest")]
#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

pub use error::{Error, Result};
pub use plugin::{Binding, Capability, Comparator, Description, Plugin, Policy, Settings, Tagger};
pub use policy::{Action, Decision, Stats};
pub use row::{Column, FromValue, Layout, Row, RowBuf, RowError};
pub use rules::{ALL, Columns, EpochUnit, Precision, Rules};
pub use value::{Date, Kind, MICROS_PER_DAY, MICROS_PER_DAY_I64, OwnedValue, Time, Timestamp, Value};
pub use verdict::Verdict;
