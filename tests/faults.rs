//! Faults a migration meets, with real parts:
//!
//! - the destination's server killed (SIGKILL) mid-load under the MySQL
//!   front door and started again, in non-strict mode (every client write
//!   succeeds, the misses are journaled) and in strict mode (a write the
//!   client was told succeeded is on the source, one it got an error for is
//!   not); then `movex repair`, and `movex validate` exits 0. The server is
//!   a private `mariadbd` the test starts (the shared one stays up);
//! - a second `movex serve` on one state store is refused, naming the
//!   first, until the first is gone;
//! - the state store's server (a private `mariadbd`) killed under a
//!   running `movex serve`: every move, forced or not, is 503 saying the
//!   store failed and the migration did not move; a move the state machine
//!   refuses is 409 before and after; nothing moved meanwhile.

use movex_tests::needs_tool;
use movex_tests::broker::free_port;
use movex_tests::door::{config, repair, secondary_failed, validates_clean};
use movex_tests::mariadbd::Mariadbd;
use movex_tests::server::{http, http_body, serve_logging};
use movex_tests::{dbs, tools};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TABLE: &str = "CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)";

/// Writes through the door until the file `STOP` exists: an INSERT of
/// each id, then an UPDATE of the one before; prints the ids whose INSERT
/// the client was told succeeded, and those it got an error for.
const LOAD: &str = r#"
import os, json, time, pymysql
def connect():
    return pymysql.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="app", password="app-secret",
                           database=os.environ["DB"], autocommit=True, connect_timeout=10, read_timeout=30, write_timeout=30)
c = connect()
ok, failed, i = [], [], 0
while not os.path.exists(os.environ["STOP"]):
    i += 1
    try:
        c.cursor().execute("INSERT INTO t (id, v) VALUES (%s, %s)", (i, i))
        ok.append(i)
    except pymysql.err.MySQLError:
        failed.append(i)
        try:
            c.close()
        except Exception:
            pass
        c = connect()
        continue
    try:
        c.cursor().execute("UPDATE t SET v = v + 1 WHERE id = %s", (i - 1,))
    except pymysql.err.MySQLError:
        pass
    time.sleep(0.005)
print(json.dumps({"ok": ok, "failed": failed}))
"#;

async fn count(url: &str) -> i64 {
    dbs::query_strings(url, "SELECT count(*) FROM t").await[0].parse().unwrap()
}

/// Wait until the source holds at least `n` rows (the load is going).
async fn until_rows(url: &str, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(url).await < n {
        assert!(Instant::now() < deadline, "the load did not reach {n} rows on the source");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One run of the load with the destination killed and started again
/// part-way; the ids the client saw succeed and fail, the journal's count,
/// the config, and the source (dropped with the guard, when the test passes).
async fn load_across_a_kill(dir: &Path, server: &mut Mariadbd, strict: bool) -> (BTreeSet<i64>, BTreeSet<i64>, String, std::path::PathBuf, dbs::Db) {
    let name = if strict { "strict" } else { "lax" };
    let src = dbs::mariadb(&dbs::unique(&format!("kill_{name}_src")), TABLE).await;
    dbs::exec(&server.url(), &format!("CREATE DATABASE kill_{name}; CREATE TABLE kill_{name}.t (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)")).await;
    let dst = server.url().replace("/test", &format!("/kill_{name}"));
    let (http_port, proxy_port) = (free_port(), free_port());
    let cfg = config(dir, &src, &dst, http_port, proxy_port, if strict { "strict = true" } else { "" }, "");
    let mut serve = serve_logging(&cfg, http_port, Some(&dir.join("serve.log")));
    for route in ["/src_only", "/src_first"] {
        assert_eq!(http(http_port, "POST", route).0, 200);
    }
    let stop = dir.join("STOP");
    let load = Command::new("python3")
        .args(["-c", LOAD])
        .env("PORT", proxy_port.to_string())
        .env("DB", src.rsplit('/').next().unwrap())
        .env("STOP", &stop)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until_rows(&src, 30).await;
    server.kill();
    // The load goes on against a dead destination for a while.
    let before = count(&src).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.restart();
    // ... and on once it is back (movex reconnects by itself).
    until_rows(&src, count(&src).await.max(before) + 30).await;
    std::fs::write(&stop, "").unwrap();
    let out = load.wait_with_output().unwrap();
    assert!(out.status.success(), "the load failed: {}", String::from_utf8_lossy(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids = |k: &str| result[k].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect::<BTreeSet<i64>>();
    let journaled = secondary_failed(http_port).0.to_string();
    let _ = serve.kill();
    let _ = serve.wait();
    let on_source: BTreeSet<i64> = dbs::query_strings(&src, "SELECT id FROM t").await.iter().map(|s| s.parse().unwrap()).collect();
    assert_eq!(on_source, ids("ok"), "the source holds exactly the writes the client was told succeeded");
    (ids("ok"), ids("failed"), journaled, cfg, src)
}

#[needs_tool("pymysql", "mariadbd")]
#[tokio::test(flavor = "multi_thread")]
async fn the_destination_killed_mid_load_under_the_front_door_is_repaired_to_a_clean_validation() {
    tools::require("pymysql");
    tools::require("mariadbd");
    let dir = tempfile::tempdir().unwrap();
    let mut server = Mariadbd::start(dir.path());

    let lax = dir.path().join("lax");
    std::fs::create_dir_all(&lax).unwrap();
    let (ok, failed, journaled, cfg, _src) = load_across_a_kill(&lax, &mut server, false).await;
    assert!(failed.is_empty(), "non-strict: the source took every write, so every client write succeeded: {failed:?}");
    assert!(journaled.parse::<u64>().unwrap() > 0, "the writes the destination missed are journaled: {journaled}");
    assert!(ok.len() >= 60);
    let (code, summary) = repair(&cfg);
    assert_eq!(code, Some(0), "{summary}");
    validates_clean(&cfg);

    let strict = dir.path().join("strict");
    std::fs::create_dir_all(&strict).unwrap();
    let (ok, failed, _, cfg, _src) = load_across_a_kill(&strict, &mut server, true).await;
    assert!(!failed.is_empty(), "strict: the writes tried while the destination was dead are errors");
    assert!(ok.len() >= 60);
    let (code, summary) = repair(&cfg);
    assert_eq!(code, Some(0), "{summary}");
    validates_clean(&cfg);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_serve_on_one_state_store_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let src = dbs::sqlite(dir.path(), "src", "CREATE TABLE t (id INTEGER PRIMARY KEY);").await;
    let dst = dbs::sqlite(dir.path(), "dst", "CREATE TABLE t (id INTEGER PRIMARY KEY);").await;
    let (a, b) = (free_port(), free_port());
    let (cfg_a, _) = dbs::config(dir.path(), &src, &dst, &format!("[http]\nlisten = \"127.0.0.1:{a}\""), "");
    let cfg_b = dir.path().join("b.toml");
    std::fs::write(&cfg_b, std::fs::read_to_string(&cfg_a).unwrap().replace(&format!(":{a}\""), &format!(":{b}\""))).unwrap();
    let mut first = serve_logging(&cfg_a, a, None);
    let mut second = Command::new(movex_tests::movex_bin()).args(["serve", "--config"]).arg(&cfg_b).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline || std::net::TcpStream::connect(("127.0.0.1", b)).is_ok() {
            second.kill().unwrap();
            second.wait().unwrap();
            panic!("a second movex serve started on a state store another one serves");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("another movex serve") && stderr.contains(&format!("pid {}", first.id())), "{stderr}");
    // SIGKILL: no clean release. On the same host a dead holder is replaced at once.
    first.kill().unwrap();
    first.wait().unwrap();
    let mut second = serve_logging(&cfg_b, b, None);
    assert_eq!(http(b, "GET", "/status").0, 200);
    second.kill().unwrap();
    second.wait().unwrap();
}

/// A move answered 503 because the state store failed: code 5, and a
/// message naming the store, the cause, that the migration did not move,
/// and what to do.
fn assert_store_failed(answer: &(u16, serde_json::Value), to: &str) {
    let (code, r) = answer;
    assert_eq!((*code, &r["code"]), (503, &serde_json::json!(5)), "POST /{to} with the state store down: {r}");
    let msg = r["msg"].as_str().unwrap_or_default();
    assert!(msg.contains("the state store failed: ") && msg.contains(&format!("the migration did not move to {to}")), "{msg}");
    assert!(msg.contains("[state] url") && msg.contains("GET /health") && msg.contains("retry"), "says what to do: {msg}");
}

#[tokio::test(flavor = "multi_thread")]
#[needs_tool("mariadbd")]
async fn the_state_store_killed_under_serve_makes_moves_and_starts_503_and_refused_moves_stay_409() {
    tools::require("mariadbd");
    let dir = tempfile::tempdir().unwrap();
    let mut store = Mariadbd::start(dir.path());
    let src = dbs::sqlite(dir.path(), "src", "CREATE TABLE t (id INTEGER PRIMARY KEY);").await;
    let dst = dbs::sqlite(dir.path(), "dst", "CREATE TABLE t (id INTEGER PRIMARY KEY);").await;
    let port = free_port();
    // No policy timer: only the requests below move the migration.
    let (cfg, sqlite_state) = dbs::config(dir.path(), &src, &dst, &format!("[http]\nlisten = \"127.0.0.1:{port}\"\n[policy]\ninterval_ms = 0"), "");
    std::fs::write(&cfg, std::fs::read_to_string(&cfg).unwrap().replace(&sqlite_state, &store.url())).unwrap();
    // Killed however the test ends: a failed assertion must not leave it running.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _serve = Killed(serve_logging(&cfg, port, Some(&dir.path().join("serve.log"))));

    assert_eq!(http(port, "POST", "/src_only").0, 200);
    let (code, r) = http(port, "POST", "/dst_only");
    assert_eq!((code, &r["code"]), (409, &serde_json::json!(5)), "refused with the store up: {r}");
    assert!(r["msg"].as_str().unwrap().contains("force"), "{r}");

    store.kill();
    // Each waits out the store's connect timeout (10 s), then answers.
    assert_store_failed(&http(port, "POST", "/src_first"), "src_first");
    assert_store_failed(&http_body(port, "POST", "/dst_only", r#"{"force": true, "reason": "drill"}"#), "dst_only");
    // Whether a move is refused depends on the state, which cannot be read
    // now: a move that would be refused is 503 too, not a guess of 409.
    assert_store_failed(&http(port, "POST", "/dst_only"), "dst_only");
    // Starting a validation or a copy reads the store too: 503, not a 500
    // or a refusal.
    for (route, body) in [("/full/start", "{}"), ("/incr/start", r#"{"utime": 0}"#), ("/copy/start", "{}")] {
        let (code, r) = http_body(port, "POST", route, body);
        assert_eq!((code, &r["code"]), (503, &serde_json::json!(5)), "POST {route} with the state store down: {r}");
        let msg = r["msg"].as_str().unwrap_or_default();
        assert!(msg.contains("the state store failed") && msg.contains("retry"), "POST {route}: {msg}");
    }

    store.restart();
    let (code, s) = http(port, "GET", "/status");
    assert_eq!(code, 200, "the store answers again: {s}");
    assert_eq!((&s["data"]["current_state"], &s["data"]["current_pattern"]), (&serde_json::json!("src_only"), &serde_json::json!("src_only")), "nothing moved: {s}");
    let (_, h) = http(port, "GET", "/history");
    assert_eq!(h["data"].as_array().map(Vec::len), Some(1), "one transition recorded, initial -> src_only: {h}");
    let (code, r) = http(port, "POST", "/dst_only");
    assert_eq!((code, &r["code"]), (409, &serde_json::json!(5)), "refused again once the store is back: {r}");
    let (code, r) = http(port, "POST", "/src_first");
    assert_eq!((code, &r["data"]["to"]), (200, &serde_json::json!("src_first")), "{r}");
}
