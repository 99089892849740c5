//! Sets `--cfg has_tool="<name>"` for each tool in `support/tools.rs` this
//! machine has (all of them under `CI`), so tests that need a missing tool
//! are ignored, and counted as skipped, instead of passing without running.

#[allow(dead_code)] // `require` is for the tests, not for this script
#[path = "support/tools.rs"]
mod tools;

fn main() {
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
        }
    }
}
