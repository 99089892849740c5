//! The real `movex` binary: `module check` on every example and fixture,
//! and `module warmup` with a cache across two runs (a restart).

use movex_tests::*;
use std::process::{Command, Output};

fn movex(args: &[&str]) -> Output {
    Command::new(movex_bin()).args(args).output().expect("run movex")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn module_check_prints_what_each_example_exports() {
    for (package, name, cap) in [
        ("exact", "exact", "comparator"),
        ("tolerant", "tolerant", "comparator"),
        ("tag-by-column", "tag-by-column", "tagger"),
        ("promote-when-clean", "promote-when-clean", "policy"),
    ] {
        let path = wasm(package);
        let out = movex(&["module", "check", path.to_str().unwrap()]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{package}: {}", text(&out.stderr));
        assert!(stdout.contains(&format!("name:          {name}")), "{stdout}");
        assert!(stdout.contains(&format!("capabilities:  {cap}")), "{stdout}");
        assert!(stdout.contains("imports:       movex:plugin/host@0.3.0"), "{stdout}");
        assert!(stdout.contains(&format!("exercise:      {cap}")), "{stdout}");
    }
}

#[test]
fn module_check_takes_settings_and_limits() {
    let tagger = wasm("tag-by-column");
    let out = movex(&["module", "check", tagger.to_str().unwrap(), "--setting", "column=tier"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("exercise:      tagger — 4 rows: 3 tagged"), "{}", text(&out.stdout));
    let out = movex(&["module", "check", tagger.to_str().unwrap()]);
    assert!(text(&out.stdout).contains("skipped: setting `column` is required"), "{}", text(&out.stdout));

    let out = movex(&["module", "check", tagger.to_str().unwrap(), "--setting", "nokey"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("expected KEY=VALUE"), "{}", text(&out.stderr));
    let out = movex(&["module", "check", tagger.to_str().unwrap(), "--call-timeout-ms", "0"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("call_timeout"), "{}", text(&out.stderr));
}

#[test]
fn module_check_json_is_machine_readable() {
    let out = movex(&["module", "check", "--json", wasm("tolerant").to_str().unwrap()]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["description"]["name"], "tolerant");
    assert_eq!(v["description"]["capabilities"][0], "comparator");
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(v["exercises"][0]["skipped"], false);
}

#[test]
fn module_check_refuses_each_broken_fixture_naming_the_cause() {
    let garbage_dir = tempfile::tempdir().unwrap();
    let garbage = garbage_dir.path().join("garbage.wasm");
    std::fs::write(&garbage, [0x13u8, 0x37, 0xca, 0xfe, 0, 1, 2, 3]).unwrap();
    let cases = [
        (wasm("fixture-loop"), "timed out"),
        (wasm("fixture-memory-bomb"), "ran out of memory"),
        (wasm("fixture-panic"), "panicked"),
        (wasm("fixture-recursion"), "overflowed its stack"),
        (wasm(WASIP2_FIXTURE), "imports `wasi:"),
        (wasm("fixture-wrong-interface"), "does not implement the movex:plugin@0.3.0 contract"),
        (wasm("fixture-core-import"), "imports `env::movex_fixture_clock`"),
        (garbage, "not a wasm module or component"),
        (garbage_dir.path().join("missing.wasm"), "No such file"),
    ];
    for (path, cause) in cases {
        let out = movex(&["module", "check", path.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{}: accepted", path.display());
        assert!(stderr.contains(cause), "{}: expected {cause:?} in {stderr}", path.display());
        assert!(out.stdout.is_empty(), "nothing on stdout for a refused module");
    }
}

#[test]
fn module_warmup_uses_the_cache_on_the_second_run() {
    let dir = tempfile::tempdir().unwrap();
    for p in EXAMPLES {
        std::fs::copy(wasm(p), dir.path().join(format!("{p}.wasm"))).unwrap();
    }
    let cache = tempfile::tempdir().unwrap();
    let args = ["module", "warmup", dir.path().to_str().unwrap(), "--cache-dir", cache.path().to_str().unwrap()];
    let run = || {
        let out = movex(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let cold = run();
    assert_eq!(cold["warmup"]["status"], "completed");
    assert_eq!(cold["warmup"]["successCount"], 4);
    assert!(cold["details"].as_array().unwrap().iter().all(|d| d["cache_hit"] == false));
    let warm = run();
    assert!(warm["details"].as_array().unwrap().iter().all(|d| d["cache_hit"] == true), "{warm}");

    std::fs::write(dir.path().join("broken.wasm"), b"nope").unwrap();
    let out = movex(&args);
    assert!(!out.status.success(), "a refused module fails the warm-up");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["warmup"]["status"], "failed");
    assert_eq!(v["warmup"]["successCount"], 4, "the good modules still load");
}
