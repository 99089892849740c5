//! `movex demo`, as a newcomer runs it: with no server at all it reaches
//! `completed` (well under 2 minutes), and with `--inject-diff` it finds
//! every injected difference, nothing else, and holds.

use std::process::Command;
use std::time::{Duration, Instant};

fn demo(args: &[&str]) -> (i32, String, Duration) {
    let dir = tempfile::tempdir().unwrap();
    // The demo reads the example modules from the target directory.
    for p in ["tolerant", "tag-by-column", "promote-when-clean"] {
        movex_tests::wasm(p);
    }
    let t0 = Instant::now();
    let out = Command::new(movex_tests::movex_bin())
        .args(["demo", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir.path())
        .args(args)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text, t0.elapsed())
}

#[test]
fn the_demo_reaches_completed_writing_through_the_pool_all_along() {
    let (code, out, took) = demo(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(took < Duration::from_secs(120), "{took:?}");
    for step in ["initial -> src_only", "src_only -> src_first", "src_first -> dst_first by policy:promote-when-clean", "dst_first -> dst_only", "dst_only -> completed", "auto-migrate completed"] {
        assert!(out.contains(step), "missing {step:?} in:\n{out}");
    }
    let line = out.lines().find(|l| l.starts_with("writes through the pool:")).unwrap();
    assert!(line.contains(", 0 failed;") && line.contains("discrepancies found: 0"), "{line}");
    let writes: u64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(writes > 50, "the workload ran during the migration: {line}");
}

#[test]
fn with_injected_differences_the_demo_finds_each_one_and_holds() {
    let (code, out, _) = demo(&["--inject-diff"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("auto-migrate held: src_first (validation found 5 differences"), "{out}");
    assert!(out.contains("every injected difference found, and nothing else: yes"), "{out}");
}
