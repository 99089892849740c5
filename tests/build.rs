//! The tests' build script does two things once, when the tests are built:
//!
//! - builds every guest the tests load (`support/guests.rs`: the examples
//!   and the fixtures) for wasm, with cargo in a target directory of its own
//!   under `OUT_DIR` (the outer cargo holds the lock on the usual one, and
//!   the guests' profile and targets are not the tests'), as wasmtime's
//!   `crates/test-programs/artifacts` does, and writes their paths to
//!   `OUT_DIR/guests.rs`, which `support/mod.rs` includes. A guest that does
//!   not build, or a wasm file that is not there after, fails the build.
//! - sets `--cfg has_tool="<name>"` for each tool in `support/tools.rs` this
//!   machine has (all of them under `CI`), so tests that need a missing tool
//!   are ignored, and counted as skipped, instead of passing without running;
//!   and warns, for each one missing, with the command that installs it.

#[allow(dead_code)] // `require` is for the tests, not for this script
#[path = "support/tools.rs"]
mod tools;

#[path = "support/guests.rs"]
mod guests;

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    has_tool();
    build_guests();
}

fn has_tool() {
    println!("cargo::rerun-if-changed=support/tools.rs");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-env-changed=CI");
    let names: Vec<String> = tools::TOOLS.iter().map(|t| format!("{:?}", t.name)).collect();
    println!("cargo::rustc-check-cfg=cfg(has_tool, values({}))", names.join(", "));
    // Under CI every test runs: a tool CI failed to install fails its tests.
    let ci = std::env::var_os("CI").is_some();
    for tool in tools::TOOLS {
        if ci || tools::found(tool) {
            println!("cargo::rustc-cfg=has_tool={:?}", tool.name);
        } else {
            // nextest prints no reason for a skipped test: cargo prints this.
            println!("cargo::warning=no {} here: the tests that need it are skipped; install it: {}", tool.name, tool.install);
        }
    }
}

fn build_guests() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().expect("tests/ is in the workspace");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    // What the guests are built from: cargo then runs this script again and
    // the inner cargo rebuilds what changed (directories are scanned whole).
    println!("cargo::rerun-if-changed=support/guests.rs");
    for p in ["guest-sdk", "examples", "tests/fixtures", "Cargo.toml", "Cargo.lock", ".cargo/config.toml", "rust-toolchain.toml"] {
        println!("cargo::rerun-if-changed={}", root.join(p).display());
    }
    let target_dir = out.join("guests");
    let unknown: Vec<&str> = guests::EXAMPLES.iter().chain(&guests::FIXTURES).copied().collect();
    cargo_build(root, &target_dir, "wasm32-unknown-unknown", &unknown);
    cargo_build(root, &target_dir, "wasm32-wasip2", &[guests::WASIP2_FIXTURE]);

    let mut table = String::from("/// Each guest's wasm file, built by tests/build.rs: (package, path).\npub const GUEST_FILES: &[(&str, &str)] = &[\n");
    for package in unknown.iter().chain(&[guests::WASIP2_FIXTURE]) {
        let path = target_dir.join(guests::target_of(package)).join("release").join(guests::file_name(package));
        if !path.is_file() {
            panic!("cargo built the guests but {} is not there", path.display());
        }
        let path = path.to_str().expect("a UTF-8 OUT_DIR");
        table.push_str(&format!("    ({package:?}, {path:?}),\n"));
    }
    table.push_str("];\n");
    std::fs::write(out.join("guests.rs"), table).expect("writing OUT_DIR/guests.rs");
}

/// `cargo build --release --target TARGET -p ...` for guests, into `target_dir`.
fn cargo_build(root: &Path, target_dir: &Path, target: &str, packages: &[&str]) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.args(["build", "--release", "--target", target]).arg("--target-dir").arg(target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    // The outer cargo's flags are for the host: left set, they would replace
    // the guests' own (`.cargo/config.toml`). Its target directory is locked.
    cmd.current_dir(root).env_remove("CARGO_ENCODED_RUSTFLAGS").env_remove("RUSTFLAGS").env_remove("CARGO_TARGET_DIR");
    // Cargo reads a build script's stdout for instructions: the inner
    // cargo's output goes to stderr, shown when the build fails.
    cmd.stdout(std::io::stderr());
    let shown = format!("{} {}", Path::new(&cargo).display(), cmd.get_args().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "));
    eprintln!("building the test guests: {shown}");
    let status = cmd.status().unwrap_or_else(|e| panic!("running `{shown}`: {e}"));
    if !status.success() {
        panic!(
            "building the test guests failed: `{shown}` (if the {target} target is missing: `rustup toolchain install` in the workspace installs what rust-toolchain.toml names)"
        );
    }
}
