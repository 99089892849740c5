//! The state store on each database it accepts — a SQLite file (the
//! default), MariaDB and PostgreSQL: named values, transitions (atomic
//! against a concurrent move), counters, findings with their checkpoint and
//! outbox, and the repair journal; and a migration that comes back in its
//! pattern with its state kept in PostgreSQL or MariaDB.

use movex::model::State;
use movex::pool::Statement;
use movex::store::findings::FindingFilter;
use movex::store::journal::NewEntry;
use movex::store::{Checkpoint, JournalKind, Mode, Store};
use movex::model::{Direction, Finding, FindingType};
use movex_guest::OwnedValue;
use movex_tests::dbs;

async fn exercise(url: &str) {
    let s = Store::open(url).await.unwrap_or_else(|e| panic!("{url}: {e:#}"));
    // Opening again finds the tables there.
    let s2 = Store::open(url).await.unwrap();

    assert_eq!(s.meta("x").await.unwrap(), None);
    s.set_meta("x", "1").await.unwrap();
    s2.set_meta("x", "2").await.unwrap();
    assert_eq!(s.meta("x").await.unwrap().as_deref(), Some("2"));

    assert_eq!(s.migration_state().await.unwrap().0, State::Initial);
    let t = s.record_transition(State::Initial, State::SrcOnly, "start", "test", false).await.unwrap();
    s.record_transition(State::SrcOnly, State::SrcFirst, "go", "test", true).await.unwrap();
    assert!(s.record_transition(State::SrcOnly, State::SrcFirst, "stale", "test", false).await.is_err(), "moved meanwhile");
    let h = s.history(10).await.unwrap();
    assert_eq!((h.len(), h[0].to.as_str(), h[0].forced, h[1].id), (2, "src_first", true, t.id));
    assert_eq!(s.migration_state().await.unwrap().0, State::SrcFirst);
    assert_eq!(s.meta("pattern").await.unwrap().as_deref(), Some("src_first"));

    s.bump(&[("runs", 1), ("found", 5)]).await.unwrap();
    s.bump(&[("runs", 1)]).await.unwrap();
    s.set_counter("found", 0).await.unwrap();
    let c = s.counters().await.unwrap();
    assert_eq!((c["runs"], c["found"]), (2, 0));

    let findings: Vec<Finding> = (1..=3)
        .map(|i| {
            let mut f = Finding::new("run1", "users", Direction::Src, FindingType::Neq, &vec![OwnedValue::Int(i)]);
            f.tag = Some(if i == 2 { "vip".into() } else { "free".into() });
            f
        })
        .collect();
    let cp = Checkpoint { run_id: "run1".into(), cursor: serde_json::json!([["int", 3]]), rows_base: 3, rows_target: 3 };
    s.commit("users", Mode::Full, Direction::Src, &cp, &findings).await.unwrap();
    s.commit("users", Mode::Full, Direction::Src, &cp, &findings).await.unwrap(); // stored once
    assert_eq!(s.checkpoint("users", Mode::Full, Direction::Src).await.unwrap().unwrap().rows_base, 3);
    assert_eq!(s.counts("run1").await.unwrap()[&FindingType::Neq], 3);
    assert_eq!(s.counts_by_tag("run1").await.unwrap()["vip"], 1);
    let (page, next) = s.query_findings(&FindingFilter { tag: Some("free".into()), limit: Some(1), ..Default::default() }).await.unwrap();
    assert_eq!((page.len(), page[0].key.clone()), (1, serde_json::json!(1)));
    let (page, _) = s.query_findings(&FindingFilter { tag: Some("free".into()), after: next, ..Default::default() }).await.unwrap();
    assert_eq!(page[0].key, serde_json::json!(3));
    let outbox = s.undelivered(10).await.unwrap();
    assert_eq!(outbox.len(), 3);
    s.mark_delivered(&[outbox[0].0]).await.unwrap();
    assert_eq!(s.undelivered_count().await.unwrap(), 2);
    s.finish_run("run1", "users", Mode::Full, Direction::Src, "completed", None).await.unwrap();
    assert!(s.checkpoint("users", Mode::Full, Direction::Src).await.unwrap().is_none());

    let stmt = Statement::new("UPDATE t SET v = ? WHERE id = ?").bind("x").bind(7i64);
    let entry = NewEntry::new("src_first", "destination", JournalKind::SecondaryFailed, std::slice::from_ref(&stmt), "down");
    let id = s.journal(&entry).await.unwrap();
    assert_eq!(s.journal(&entry).await.unwrap(), id, "the same entry again (a spooled one whose insert landed): stored once");
    let j = s.journal_entries(0, 10).await.unwrap();
    assert_eq!((j.len(), j[0].id, &j[0].statements[0], j[0].kind), (1, id, &stmt, JournalKind::SecondaryFailed));
}

#[tokio::test]
async fn the_state_store_works_on_sqlite_mariadb_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    exercise(&format!("sqlite://{}", dir.path().join("state.db").display())).await;
    exercise(&dbs::mariadb(&dbs::unique("store"), "").await).await;
    exercise(&dbs::postgres(&dbs::unique("store"), "").await).await;
}

#[tokio::test]
async fn a_migration_with_its_state_in_postgres_or_mariadb_comes_back_in_its_pattern() {
    for state in [dbs::postgres(&dbs::unique("state_pg"), "").await, dbs::mariadb(&dbs::unique("state_my"), "").await] {
        let dir = tempfile::tempdir().unwrap();
        let src = dbs::sqlite(dir.path(), "src", "CREATE TABLE t (id INTEGER PRIMARY KEY);").await;
        let dst = dbs::sqlite(dir.path(), "dst", "CREATE TABLE t (id INTEGER PRIMARY KEY);").await;
        let (path, _) = dbs::config(dir.path(), &src, &dst, "", "");
        let mut config = movex::config::Config::load(&path).unwrap();
        config.state.url = state.to_string();
        {
            let m = movex::migration::Migration::open(config.clone()).await.unwrap();
            for to in [State::SrcOnly, State::SrcFirst, State::DstFirst] {
                m.move_to(to, false, "test", "test").await.unwrap();
            }
        }
        let m = movex::migration::Migration::open(config).await.unwrap();
        assert_eq!((m.state().await.unwrap(), m.pool.pattern()), (State::DstFirst, movex::model::Pattern::DstFirst), "{state}");
    }
}
