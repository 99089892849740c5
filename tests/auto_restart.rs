//! auto-migrate survives `kill -9` of `movex serve`: killed at each of its
//! steps (soaking and validating, in `src_first` and in `dst_first`, the
//! latter right after the move; the last time stopped by SIGTERM instead),
//! the next `movex serve` resumes it from where the state store says it was, and it completes with each move made
//! once. While it validates, its validation is the current one. With
//! `[policy] resume_auto_migrate = false` it is reported `interrupted` at
//! its step instead, and `POST /auto-migrate` continues it.

use movex_tests::dbs;
use movex_tests::server::{http, serve_logging};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// 2,000 equal rows validated at 1,000 rows/s (2 s a run), a 1.5 s soak
/// in each double-write state; `extra` added to `[policy]`.
async fn setup(dir: &Path, extra: &str) -> (PathBuf, u16) {
    let table = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);";
    let rows: Vec<String> = (1..=2000).map(|i| format!("({i}, 'v{i}')")).collect();
    let insert = format!("INSERT INTO t VALUES {};", rows.join(", "));
    let src = dbs::sqlite(dir, "src", &format!("{table}{insert}")).await;
    let dst = dbs::sqlite(dir, "dst", &format!("{table}{insert}")).await;
    let port = movex_tests::broker::free_port();
    let extra = format!("[http]\nlisten = \"127.0.0.1:{port}\"\n[policy]\ninterval_ms = 0\nsoak_ms = 1500\n{extra}\n[validation]\nbatch_size = 100\n");
    let tables = "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\nmax_rows_per_sec = 1000\n";
    (dbs::config(dir, &src, &dst, &extra, tables).0, port)
}

fn auto(port: u16) -> Value {
    http(port, "GET", "/status").1["data"]["auto_migrate"].clone()
}

/// Poll `/status` until auto-migrate is at `step` in `state` (60 s at most).
fn wait_for_step(port: u16, state: &str, step: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = auto(port);
        if a["status"] == "running" && a["state"] == state && a["step"] == step {
            return a;
        }
        assert!(Instant::now() < deadline, "auto-migrate never reached {step} in {state}: {a}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(server: &mut Child) {
    server.kill().unwrap(); // SIGKILL: nothing runs on the way out
    server.wait().unwrap();
}

/// SIGTERM: a graceful stop.
fn term(server: &mut Child) {
    // SAFETY: signalling a child process this test started.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    assert!(server.wait().unwrap().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_migrate_killed_at_each_step_resumes_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, port) = setup(dir.path(), "").await;
    let log = dir.path().join("serve.log");
    let mut server = serve_logging(&cfg, port, Some(&log));
    assert_eq!(http(port, "POST", "/auto-migrate").0, 200);
    for (state, step) in [("src_first", "soaking"), ("src_first", "validating"), ("dst_first", "soaking"), ("dst_first", "validating")] {
        wait_for_step(port, state, step);
        if step == "validating" {
            let (_, current) = http(port, "GET", "/validations/current");
            let full = current["data"].as_array().unwrap().iter().find(|c| c["kind"] == "full").cloned();
            assert!(full.is_some_and(|f| f["running"] == true), "auto-migrate's validation is the current one: {current}");
        }
        if (state, step) == ("dst_first", "validating") {
            term(&mut server);
        } else {
            kill(&mut server);
        }
        server = serve_logging(&cfg, port, Some(&log));
        let a = auto(port);
        assert_eq!(a["status"], "running", "resumed after a stop at {step} in {state}: {a}");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let a = loop {
        let a = auto(port);
        if a["status"] != "running" {
            break a;
        }
        assert!(Instant::now() < deadline, "auto-migrate did not end: {a}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(a["status"], "completed", "{a}");
    let (_, history) = http(port, "GET", "/history");
    let moves: Vec<String> = history["data"].as_array().unwrap().iter().rev().map(|t| format!("{}>{}", t["from"].as_str().unwrap(), t["to"].as_str().unwrap())).collect();
    assert_eq!(moves, ["initial>src_only", "src_only>src_first", "src_first>dst_first", "dst_first>dst_only", "dst_only>completed"], "each move once");
    kill(&mut server);
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_migrate_killed_is_reported_interrupted_when_told_not_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, port) = setup(dir.path(), "resume_auto_migrate = false").await;
    let mut server = serve_logging(&cfg, port, None);
    assert_eq!(http(port, "POST", "/auto-migrate").0, 200);
    wait_for_step(port, "src_first", "soaking");
    kill(&mut server);
    server = serve_logging(&cfg, port, None);
    let a = auto(port);
    assert_eq!(a["status"], "interrupted", "{a}");
    assert!(a["reason"].as_str().unwrap().contains("interrupted at soaking in src_first"), "{a}");
    let (_, status) = http(port, "GET", "/status");
    assert_eq!(status["data"]["current_state"], "src_first", "nothing moved on its own: {status}");
    assert_eq!(http(port, "POST", "/auto-migrate").0, 200);
    wait_for_step(port, "dst_first", "soaking");
    kill(&mut server);
}
