//! Shared helpers for the integration tests: the real guests (examples and
//! broken fixtures), built once by the tests' build script (`guests.rs`,
//! `tests/build.rs`), and the `movex` binary, built once per test process.
//! A guest that does not build fails the build of the tests, never a skip.

pub mod broker;
pub mod dbs;
pub mod door;
#[allow(dead_code)] // `target_of` and `file_name` are for tests/build.rs
mod guests;
pub mod mariadbd;
pub mod pgdoor;
pub mod server;
pub mod tools;

use movex::wasm::{Batch, Binding, Limits, Module, Registry, Runtime, RuntimeConfig};
use movex_guest::{Kind, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

pub use guests::{EXAMPLES, FIXTURES, WASIP2_FIXTURE};
/// `#[needs_tool("tansu")]` above `#[test]`: see `tools.rs`.
pub use movex_tests_macros::needs_tool;

// GUEST_FILES: (package, path of its wasm file), written by tests/build.rs.
include!(concat!(env!("OUT_DIR"), "/guests.rs"));

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the workspace").to_path_buf()
}

fn cargo(args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .unwrap_or_else(|e| panic!("running {cargo}: {e}"));
    assert!(status.success(), "`cargo {}` failed: the test cannot run without it", args.join(" "));
}

/// Path of a guest's wasm file, by package name (built with the tests).
pub fn wasm(package: &str) -> PathBuf {
    let (_, path) = GUEST_FILES
        .iter()
        .find(|(p, _)| *p == package)
        .unwrap_or_else(|| panic!("{package} is not a guest the tests build (tests/support/guests.rs)"));
    let path = PathBuf::from(path);
    assert!(path.is_file(), "{} was built with the tests and is gone since: build them again", path.display());
    path
}

pub fn wasm_bytes(package: &str) -> Vec<u8> {
    std::fs::read(wasm(package)).expect("read wasm")
}

/// The `movex` binary, built in the same profile as this test; or the
/// one `MOVEX_TEST_BIN` names (to run the tests against another build, an
/// older commit's say).
pub fn movex_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(bin) = std::env::var_os("MOVEX_TEST_BIN") {
                return PathBuf::from(bin);
            }
            // This test runs from target/<profile>/deps/.
            let exe = std::env::current_exe().expect("current exe");
            let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps");
            let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => "dev".to_owned(),
                Some(other) => other.to_owned(),
            };
            cargo(&["build", "--profile", &profile, "-p", "movex", "--bin", "movex"]);
            let bin = profile_dir.join("movex");
            assert!(bin.is_file(), "{} was not built", bin.display());
            bin
        })
        .clone()
}

pub fn runtime(limits: Limits) -> Arc<Runtime> {
    Runtime::new(RuntimeConfig { limits, cache_dir: None }).expect("runtime")
}

pub fn registry() -> Registry {
    Registry::new(runtime(Limits::default()))
}

/// A module compiled and instantiated but not exercised, so tests can call a
/// broken fixture directly and watch it fail.
pub fn unchecked_module(runtime: &Arc<Runtime>, package: &str) -> Module {
    let prepared = runtime.prepare(&wasm_bytes(package)).expect("prepare");
    Module::new(runtime.clone(), prepared, 1).expect("instantiate")
}

/// A `users` table layout: id, email, score, utime.
pub fn users() -> Binding {
    Binding::new(
        "users",
        vec![
            ("id".into(), Kind::Int),
            ("email".into(), Kind::Text),
            ("score".into(), Kind::Float),
            ("utime".into(), Kind::Int),
        ],
        vec![],
    )
}

/// A `users` row.
pub fn user(id: i64, email: &'static str, score: f64, utime: i64) -> [Value<'static>; 4] {
    [Value::Int(id), Value::Text(email), Value::Float(score), Value::Int(utime)]
}

/// A batch of `n` equal user pairs with ids 1..=n.
pub fn equal_users(n: i64) -> Batch {
    let mut b = Batch::new();
    for id in 1..=n {
        let row = user(id, "a@x.io", id as f64 / 3.0, 1_700_000_000_000 + id);
        b.push_pair(id.to_string(), row, row);
    }
    b
}
