//! The guests the tests load: the example modules and the broken fixtures.
//!
//! `tests/build.rs` includes this file and builds every one of them once,
//! when the tests are built, with cargo in a target directory of its own
//! (under `OUT_DIR`: the outer cargo holds the lock on the usual one); the
//! tests get each wasm file's path from what it generates
//! (`crate::wasm`). A guest that does not build fails the build of the
//! tests, so a missing wasm file is never a skipped or passed test.
//!
//! This file is also compiled into the build script: std only.

/// Example modules (wasm32-unknown-unknown core modules).
pub const EXAMPLES: [&str; 4] = ["exact", "tolerant", "tag-by-column", "promote-when-clean"];
/// Broken fixtures built for wasm32-unknown-unknown.
pub const FIXTURES: [&str; 11] = [
    "fixture-undecided",
    "fixture-loop",
    "fixture-memory-bomb",
    "fixture-panic",
    "fixture-recursion",
    "fixture-wrong-interface",
    "fixture-probe-a",
    "fixture-probe-b",
    "fixture-probe-broken",
    "fixture-core-import",
    "fixture-tagger",
];
/// The one fixture built for wasm32-wasip2 (it imports wasi:*).
pub const WASIP2_FIXTURE: &str = "fixture-forbidden-import";

/// The target a guest is built for.
pub fn target_of(package: &str) -> &'static str {
    if package == WASIP2_FIXTURE { "wasm32-wasip2" } else { "wasm32-unknown-unknown" }
}

/// The file cargo writes for a guest package: `tag-by-column` -> `tag_by_column.wasm`.
pub fn file_name(package: &str) -> String {
    format!("{}.wasm", package.replace('-', "_"))
}
