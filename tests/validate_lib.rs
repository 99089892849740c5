//! The validator through its library API (what the control plane drives):
//! a module swapped during a run answers from the next batch on; a run
//! stops once comparator errors pass `max_validation_errors`; incremental
//! mode with an interval keeps polling until stopped.

use movex::config::Config;
use movex::validate::{Board, Request, RunMode, Validator};
use movex_tests::dbs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A validator over two SQLite files; `modules` are (file stem, package).
async fn validator(dir: &Path, src: &str, dst: &str, extra: &str, table: &str, modules: &[(&str, &str)]) -> (Arc<Validator>, String) {
    let m = dir.join("modules");
    std::fs::create_dir_all(&m).unwrap();
    for (stem, package) in modules {
        std::fs::copy(movex_tests::wasm(package), m.join(format!("{stem}.wasm"))).unwrap();
    }
    let state = format!("sqlite://{}", dir.join("state.db").display());
    let text = format!(
        "[source]\nurl = \"{src}\"\n[destination]\nurl = \"{dst}\"\n[state]\nurl = \"{state}\"\n[modules]\ndir = \"{}\"\n{extra}\n{table}",
        m.display()
    );
    let config = Config::parse(&text, "test").unwrap();
    (Arc::new(Validator::open(config).await.unwrap()), state)
}

fn full() -> Request {
    Request { tables: vec![], mode: RunMode::Full, direction: None, restart: false }
}

async fn two_tables(dir: &Path, n: i64, v: impl Fn(i64) -> String) -> (String, String) {
    let rows: Vec<String> = (0..n).map(|i| format!("({i}, '{}', {})", v(i), 1000 + i)).collect();
    let setup = format!("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, utime INTEGER); INSERT INTO t VALUES {};", rows.join(", "));
    (dbs::sqlite(dir, "src", &setup).await, dbs::sqlite(dir, "dst", &setup).await)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_swapped_during_a_run_answers_from_the_next_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = two_tables(dir.path(), 3000, |i| format!("v{i}")).await;
    // `probe` version a calls every pair different with reason "a", version b with "b".
    let (v, state) = validator(
        dir.path(),
        &src,
        &dst,
        "[validation]\nbatch_size = 100\nmax_rows_per_sec = 1000",
        "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"probe\"\n",
        &[("probe", "fixture-probe-a")],
    )
    .await;
    // Compile version b ahead (into the artifact cache), so the swap below
    // is a cache hit that lands while the run is going.
    let b = movex_tests::wasm_bytes("fixture-probe-b");
    v.engine().modules.runtime().prepare(&b).unwrap();
    let run = tokio::spawn({
        let v = v.clone();
        async move { v.run(&full(), CancellationToken::new(), &Board::default()).await.unwrap() }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while dbs::stored_findings(&state).await < 500 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let swapped = v.engine().modules.load(&b).unwrap();
    assert!(swapped.module.cache_hit, "the swap should not compile");
    let report = run.await.unwrap();
    assert!(!report.failed(), "{report:?}");
    let found = dbs::findings(&state, &report.tables[0].run_id).await;
    assert_eq!(found.len(), 3000);
    let by = |r: &str| found.iter().filter(|f| f.reason.as_deref() == Some(r)).map(|f| f.key.as_i64().unwrap()).collect::<Vec<_>>();
    let (a, b) = (by("a"), by("b"));
    assert!(a.len() >= 500 && !b.is_empty(), "both versions answered: {} a, {} b", a.len(), b.len());
    assert!(a.iter().max() < b.iter().min(), "version b took over at one point and kept it");
    assert_eq!(a.len() % 100, 0, "whole batches: a batch is judged by one version");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_stops_once_comparator_errors_pass_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    // Every 10th row cannot be decided: 50 in 500.
    let (src, dst) = two_tables(dir.path(), 500, |i| if i % 10 == 3 { "undecided".into() } else { format!("v{i}") }).await;
    let table = "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"undecided\"\n";
    let modules = [("undecided", "fixture-undecided")];
    let (v, state) = validator(dir.path(), &src, &dst, "[validation]\nbatch_size = 50\nmax_validation_errors = 20", table, &modules).await;
    let report = v.run(&full(), CancellationToken::new(), &Board::default()).await.unwrap();
    let t = &report.tables[0];
    assert_eq!(t.status, "failed");
    assert!(t.error.as_deref().unwrap().contains("more than max_validation_errors (20)"), "{t:?}");
    // Five per batch: the fifth batch passes 20, and its findings are kept.
    assert_eq!(t.findings["comparator_error"], 25);
    let found = dbs::findings(&state, &t.run_id).await;
    assert!(found.iter().all(|f| f.reason.as_deref() == Some("cannot decide this row")));

    // Under the limit, the run completes with every error reported.
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = two_tables(dir.path(), 500, |i| if i % 10 == 3 { "undecided".into() } else { format!("v{i}") }).await;
    let (v, _) = validator(dir.path(), &src, &dst, "[validation]\nbatch_size = 50", table, &modules).await;
    let report = v.run(&full(), CancellationToken::new(), &Board::default()).await.unwrap();
    assert_eq!((report.tables[0].status.as_str(), report.findings["comparator_error"]), ("completed", 50));
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_mode_with_an_interval_keeps_polling_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = two_tables(dir.path(), 100, |i| format!("v{i}")).await;
    let table = "[[tables]]\nname = \"t\"\nkey = [\"id\"]\nutime = { column = \"utime\", unit = \"ms\" }\ncomparator = \"exact\"\n";
    let (v, state) = validator(dir.path(), &src, &dst, "", table, &[("exact", "exact")]).await;
    let cancel = CancellationToken::new();
    let req = Request { mode: RunMode::Incr { since_ms: 0, interval: Duration::from_millis(200) }, ..full() };
    let run = tokio::spawn({
        let (v, cancel) = (v.clone(), cancel.clone());
        async move { v.run(&req, cancel, &Board::default()).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(dbs::stored_findings(&state).await, 0, "identical so far");
    // A write that reaches only the destination, after the first rounds.
    let now = movex::validate::incremental::now_ms();
    dbs::exec(&dst, &format!("UPDATE t SET v = 'stray', utime = {now} WHERE id = 42")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while dbs::stored_findings(&state).await < 1 {
        assert!(Instant::now() < deadline, "a later round must find the stray write");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    let report = run.await.unwrap();
    assert_eq!(report.tables[0].status, "stopped");
    let found = dbs::findings(&state, &report.tables[0].run_id).await;
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].kind.as_str(), found[0].key.as_i64()), ("neq", Some(42)));
}
