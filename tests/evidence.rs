//! Only complete evidence promotes: a full validation counts toward
//! promotion only if it read every row of every table in one run, in the
//! state it started in. Two ways that failed before, with the built-in
//! policy applying its decisions (the default):
//!
//! - a run stopped part-way and resumed from its checkpoint after a row it
//!   had already passed was corrupted: the resumed run was clean, and
//!   promoted;
//! - a run that finished after the migration moved counted for the new
//!   state, where it never ran.

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use movex::config::Config;
use movex::migration::Migration;
use movex::model::State;
use movex::validate::RunMode;
use movex_tests::dbs;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// 3,000 equal rows, validated at 1,000 rows/s in batches of 100 (3 s a
/// run), policy applied after each run, in `state`.
async fn setup(dir: &Path, state: State) -> (Arc<Migration>, String) {
    let table = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);";
    let rows: Vec<String> = (1..=3000).map(|i| format!("({i}, 'v{i}')")).collect();
    let insert = format!("INSERT INTO t VALUES {};", rows.join(", "));
    let src = dbs::sqlite(dir, "src", &format!("{table}{insert}")).await;
    let dst = dbs::sqlite(dir, "dst", &format!("{table}{insert}")).await;
    let extra = "[policy]\ninterval_ms = 0\n[validation]\nbatch_size = 100\n";
    let tables = "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\nmax_rows_per_sec = 1000\n";
    let (path, _) = dbs::config(dir, &src, &dst, extra, tables);
    let m = Migration::open(Config::load(&path).unwrap()).await.unwrap();
    let path = [State::SrcOnly, State::SrcFirst, State::DstFirst];
    for s in path.iter().take_while(|s| **s <= state) {
        m.move_to(*s, false, "test", "test").await.unwrap();
    }
    (m, dst)
}

/// Wait until the full run has read at least `rows` base rows, or ended.
async fn until_read(m: &Migration, rows: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let current = m.current().await;
        let full = current.iter().find(|c| c.kind == "full").expect("a full run");
        if !full.running || full.tables.iter().map(|t| t.rows_base).sum::<u64>() >= rows {
            return;
        }
        assert!(Instant::now() < deadline, "the run did not get to {rows} rows");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn until_finished(m: &Migration) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while m.current().await.iter().any(|c| c.running) {
        assert!(Instant::now() < deadline, "the run did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn last_full_validation(m: &Migration) -> Value {
    serde_json::from_str(&m.engine.store.meta("last_full_validation").await.unwrap().expect("a full run recorded")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_resumed_from_its_checkpoint_does_not_promote_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (m, dst) = setup(dir.path(), State::DstFirst).await;
    let started = m.start_validation(RunMode::Full, false).await.unwrap();
    assert_eq!((started.mode, started.counts_toward_promotion), ("resume", true), "nothing to resume yet: {started:?}");
    until_read(&m, 1000).await;
    assert!(m.stop_validation(movex::store::Mode::Full).await, "stopped part-way");
    // Row 10 was compared already; the resumed run will not read it again.
    dbs::exec(&dst, "UPDATE t SET v = 'corrupt' WHERE id = 10").await;

    // The control plane says that this start resumes, and from where.
    let app = movex::http::router(m.clone(), None, 1 << 20);
    let resp = app.oneshot(Request::post("/full/start").body(Body::empty()).unwrap()).await.unwrap();
    let body: Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["data"]["mode"], "resume", "{body}");
    assert_eq!(body["data"]["counts_toward_promotion"], false, "{body}");
    assert!(!body["data"]["tables"][0]["resumes_after"].is_null(), "{body}");
    until_finished(&m).await;

    assert_eq!(m.state().await.unwrap(), State::DstFirst, "a resumed clean run must not promote");
    let record = last_full_validation(&m).await;
    assert_eq!((&record["clean"], &record["counts_toward_promotion"]), (&Value::Bool(true), &Value::Bool(false)), "{record}");
    assert!(record["why_not"].as_str().unwrap().contains("resumed from a checkpoint"), "{record}");

    // A whole run from the first row finds the corrupted row.
    let started = m.start_validation(RunMode::Full, true).await.unwrap();
    assert_eq!((started.mode, started.counts_toward_promotion), ("restart", true));
    until_finished(&m).await;
    assert_eq!(m.state().await.unwrap(), State::DstFirst);
    let record = last_full_validation(&m).await;
    assert_eq!(record["clean"], false, "{record}");
    assert_eq!(m.status().await.unwrap().migration_stats.data_discrepancies, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_finishes_after_a_move_counts_for_neither_state() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _) = setup(dir.path(), State::SrcFirst).await;
    m.start_validation(RunMode::Full, true).await.unwrap();
    until_read(&m, 500).await;
    m.move_to(State::DstFirst, false, "moved mid-run", "test").await.unwrap();
    until_finished(&m).await;
    assert_eq!(m.state().await.unwrap(), State::DstFirst, "the clean run began in src_first: it promotes nothing in dst_first");
    let record = last_full_validation(&m).await;
    assert_eq!((&record["state"], &record["finished_in"]), (&Value::from("src_first"), &Value::from("dst_first")), "{record}");
    assert!(record["why_not"].as_str().unwrap().contains("moved from src_first to dst_first"), "{record}");
    assert_eq!(m.engine.store.meta("last_full_clean").await.unwrap().as_deref(), Some("false"));
}
