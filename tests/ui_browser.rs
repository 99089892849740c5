//! The operator's page in a real browser: Debian's `chromium` driven by
//! Playwright (`playwright-core`, no browser download) through
//! `tests/ui/steps.mjs`, against a real `movex serve` on SQLite with a
//! token. The script does what an operator does and checks what the page
//! shows: the state, the token asked for once, the moves to `src_only` and
//! `src_first`, a module uploaded and listed, garbage dropped on the page and
//! refused with the reason, a destination row corrupted (here, when the
//! script signals) and found by a full validation with both values, repair
//! settling it. One screenshot per step in `target/ui-screenshots/`, which
//! CI keeps. Without chromium and playwright-core it is skipped
//! (`has_tool`, tests/support/tools.rs); `.ci/run` installs both.

use movex_tests::broker::free_port;
use movex_tests::server::{serve_logging, stop_and_report};
use movex_tests::{dbs, needs_tool, tools};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The script's steps, in order: each leaves `NN-<step>.png`.
const STEPS: [&str; 8] = ["read-only", "token", "src_only", "src_first", "module-uploaded", "garbage-refused", "finding", "repaired"];

/// The whole run's bound (a hang is a failure, not a wait forever).
const BOUND: Duration = Duration::from_secs(600);

#[needs_tool("chromium")]
#[tokio::test(flavor = "multi_thread")]
async fn the_operators_page_does_every_step_in_chromium() {
    tools::require("chromium");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let token = "ui-token";
    // The policy decides and says why, but moves nothing on its own: the
    // page's buttons do.
    let (config, dst) = dbs::users_to_serve(dir.path(), 30, port, token, "[policy]\nauto_promote = false\ninterval_ms = 0").await;
    let log = dir.path().join("serve.log");
    let mut server = serve_logging(&config, port, Some(&log));

    let root = movex_tests::workspace_root();
    let shots = root.join("target/ui-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let signals = dir.path().join("signals");
    std::fs::create_dir_all(&signals).unwrap();
    let script = root.join("tests/ui/steps.mjs");
    let out_path = dir.path().join("steps.log");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut node = Command::new("node")
        .arg(&script)
        .env("MOVEX_URL", format!("http://127.0.0.1:{port}/"))
        .env("MOVEX_TOKEN", token)
        .env("MOVEX_MODULE", movex_tests::wasm("promote-when-clean"))
        .env("MOVEX_SHOTS", &shots)
        .env("MOVEX_SIGNALS", &signals)
        // Where CI installs playwright-core, beside node-postgres.
        .env("NODE_PATH", movex_tests::pgdoor::node_modules())
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .expect("start node");

    // The script asks for a destination row to be corrupted, once, and
    // waits for the answer before it starts the validation.
    let started = Instant::now();
    let mut corrupted = false;
    let status = loop {
        if let Some(status) = node.try_wait().unwrap() {
            break Some(status);
        }
        if !corrupted && signals.join("corrupt").exists() {
            dbs::exec(&dst, "UPDATE users SET name = 'corrupted' WHERE id = 7").await;
            std::fs::write(signals.join("corrupted"), "").unwrap();
            corrupted = true;
        }
        if started.elapsed() > BOUND {
            node.kill().unwrap();
            node.wait().unwrap();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let report = stop_and_report(&mut server, &out_path, &log);
    let Some(status) = status else { panic!("the browser steps ran past {BOUND:?}:\n{report}") };
    assert!(status.success(), "a browser step failed ({status}; its screenshot is in {}):\n{report}", shots.display());
    assert!(corrupted, "the script never asked for the corrupted row:\n{report}");
    // What the page said repair did, it did.
    assert_eq!(dbs::query_strings(&dst, "SELECT name FROM users WHERE id = 7").await, ["user7"], "the destination row after repair");
    for (i, step) in STEPS.iter().enumerate() {
        let shot = shots.join(format!("{:02}-{step}.png", i + 1));
        let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        assert!(size > 0, "no screenshot {} of step {step}:\n{report}", shot.display());
    }
    eprint!("{}", std::fs::read_to_string(&out_path).unwrap_or_default());
}
