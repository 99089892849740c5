//! The journal when the state store cannot take it: nothing lost, nothing
//! counted before it is durable, no write stalled, no move forward.
//!
//! - A SQLite state store made unwritable (`chattr +i`) under the MySQL
//!   front door: each missed write is spooled and counted, `/health` is 503
//!   naming the journal, `/dst_first` is refused; once the store is
//!   writable again the spool moves into it, whole.
//! - Connections the SQLite store opened while its file was unwritable are
//!   not kept (SQLite would keep them read-only for good).
//! - A PostgreSQL state store behind a TCP relay the test kills, under the
//!   library pool: writes return within the configured bound rather than
//!   the store's 10 s connect wait, the entries are spooled, and they reach
//!   the store when the relay is back.

use movex::config::Config;
use movex::migration::Migration;
use movex::model::State;
use movex::pool::Statement;
use movex_tests::needs_tool;
use movex_tests::dbs;
use movex_tests::door::{door, mariadb, repair, secondary_failed, validates_clean};
use movex_tests::tools;
use movex_tests::server::http;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// `chattr` on the state store's files that exist.
fn chattr(flag: &str, files: &[std::path::PathBuf]) {
    let existing: Vec<_> = files.iter().filter(|f| f.exists()).collect();
    assert!(Command::new("chattr").arg(flag).args(&existing).status().is_ok_and(|s| s.success()), "chattr {flag}");
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// Poll `cond` for up to 60 s.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[needs_tool("chattr")]
#[tokio::test(flavor = "multi_thread")]
async fn a_journal_the_sqlite_store_cannot_take_is_spooled_counted_and_moved_there_later() {
    tools::require("chattr");
    let dir = tempfile::tempdir().unwrap();
    let setup = "CREATE TABLE t (id INT PRIMARY KEY, v INT)";
    let mut d = door(dir.path(), "jsq", setup, setup).await;
    let db = d.src.rsplit('/').next().unwrap().to_owned();
    // Every write through the door now fails on the destination.
    dbs::exec(&d.dst_direct, "RENAME TABLE t TO t_away").await;
    let state = dir.path().join("state.db");
    // The database and its WAL refuse writes. Not the shared-memory index:
    // SQLite maps it, and the kernel answers a write fault on a page of an
    // immutable file with SIGBUS, killing the process (a reader writes its
    // read mark there). A disk that refuses writes fails them with errors.
    let files: Vec<_> = ["", "-wal"].iter().map(|s| std::path::PathBuf::from(format!("{}{s}", state.display()))).collect();
    chattr("+i", &files);
    let mut outcomes = Vec::new();
    for i in 1..=5 {
        outcomes.push(mariadb(d.proxy_port, "app-secret", &db, &format!("INSERT INTO t VALUES ({i}, {i})")));
    }
    let (health_code, health) = http(d.http_port, "GET", "/health");
    let (move_code, moved) = http(d.http_port, "POST", "/dst_first");
    let spooled = lines(&dir.path().join("state.db.journal-spool"));
    let (journaled, status) = secondary_failed(d.http_port);
    // Writable again before asserting, so a failure leaves no immutable file behind.
    chattr("-i", &files);
    for (code, out) in &outcomes {
        assert_eq!(*code, 0, "the source took the write; the client succeeds: {out}");
    }
    assert_eq!(journaled, 5, "{status}");
    assert_eq!(spooled, 5, "each entry spooled (fsynced) while the store refused it");
    assert_eq!(health_code, 503, "{health}");
    assert!(health["data"]["faults"]["journal"]["cause"].as_str().unwrap().contains("5 journal entries"), "{health}");
    assert_ne!(move_code, 200, "no move forward with journal entries outside the store: {moved}");
    assert!(moved["msg"].as_str().unwrap().contains("journal entries are not in the state store"), "{moved}");

    // The store takes the spool once it can, and /health recovers.
    eventually("the spool moves into the store", || http(d.http_port, "GET", "/health").0 == 200).await;
    let stored = dbs::query_strings(&format!("sqlite://{}", state.display()), "SELECT count(*) FROM movex_journal").await;
    assert_eq!(stored, ["5"], "every spooled entry is in the store, once");
    assert_eq!(lines(&dir.path().join("state.db.journal-spool")), 0);

    dbs::exec(&d.dst_direct, "RENAME TABLE t_away TO t").await;
    d.stop();
    let (code, summary) = repair(&d.cfg);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["journal"]["entries"], 5, "repair sees the journal: {summary}");
    validates_clean(&d.cfg);
}

/// SQLite opens a write-protected file read-only without a word, and such a
/// connection stays read-only once the file is writable again. Connections
/// the store's pool opens while its file is immutable must not be kept:
/// four writes at once make the pool open every connection it may, during
/// the fault; once the file is writable, every write through every
/// connection lands. (Found in CI: under load the front door's journal
/// drainer met such a connection and never emptied the spool.)
#[needs_tool("chattr")]
#[tokio::test(flavor = "multi_thread")]
async fn connections_opened_while_the_sqlite_store_is_unwritable_are_not_kept() {
    use movex::store::journal::NewEntry;
    use movex::store::{JournalKind, Store};
    tools::require("chattr");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let store = Store::open(&format!("sqlite://{}", state.display())).await.unwrap();
    let entry = |i: usize| NewEntry::new("src_first", "destination", JournalKind::SecondaryFailed, &[Statement::new("INSERT INTO t VALUES (?)").bind(i as i64)], "test");
    store.journal(&entry(0)).await.unwrap();
    // Not the shared-memory index: see the test above.
    let files: Vec<_> = ["", "-wal"].iter().map(|s| std::path::PathBuf::from(format!("{}{s}", state.display()))).collect();
    chattr("+i", &files);
    let mut writes = JoinSet::new();
    for i in 1..=4 {
        let (store, e) = (store.clone(), entry(i));
        writes.spawn(async move { store.journal(&e).await.is_ok() });
    }
    let during: Vec<bool> = writes.join_all().await;
    chattr("-i", &files);
    assert!(during.iter().any(|ok| !ok), "the store took writes while immutable: {during:?}");
    let mut writes = JoinSet::new();
    for i in 5..=12 {
        let (store, e) = (store.clone(), entry(i));
        writes.spawn(async move { store.journal(&e).await });
    }
    let after = writes.join_all().await;
    for r in &after {
        assert!(r.is_ok(), "a write after the fault failed: {:?}", r.as_ref().err());
    }
    let stored = dbs::query_strings(&format!("sqlite://{}", state.display()), "SELECT count(*) FROM movex_journal").await;
    let took = 1 + during.iter().filter(|ok| **ok).count() + after.len();
    assert_eq!(stored, [took.to_string()]);
}

/// A TCP relay to PostgreSQL on `listener`, killed by aborting the task
/// (its connections go with it).
fn relay(listener: TcpListener) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut conns = JoinSet::new();
        while let Ok((mut inbound, _)) = listener.accept().await {
            conns.spawn(async move {
                if let Ok(mut out) = TcpStream::connect("127.0.0.1:5432").await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journal_the_postgres_store_cannot_reach_is_spooled_without_stalling_writes() {
    let dir = tempfile::tempdir().unwrap();
    let state_direct = dbs::postgres(&dbs::unique("jpg_state"), "").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut relaying = relay(listener);
    let src = dbs::sqlite(dir.path(), "src", "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)").await;
    // No table on the destination: every secondary write fails.
    let dst = dbs::sqlite(dir.path(), "dst", "CREATE TABLE other (id INTEGER)").await;
    let spool = dir.path().join("journal.spool");
    let extra = format!("[pool]\njournal_timeout_ms = 300\njournal_spool = \"{}\"\n[policy]\ninterval_ms = 0\n", spool.display());
    let (path, _) = dbs::config(dir.path(), &src, &dst, &extra, "[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\n");
    let mut config = Config::load(&path).unwrap();
    config.state.url = state_direct.replace("127.0.0.1:5432", &format!("127.0.0.1:{port}"));
    let m = Migration::open(config).await.unwrap();
    m.move_to(State::SrcOnly, false, "test", "test").await.unwrap();
    m.move_to(State::SrcFirst, false, "test", "test").await.unwrap();

    relaying.abort();
    let _ = (&mut relaying).await;
    let mut slowest = Duration::ZERO;
    for i in 1..=5 {
        let t0 = Instant::now();
        m.pool.execute(&Statement::new("INSERT INTO t (id, v) VALUES (?, ?)").bind(i as i64).bind(i as i64)).await.expect("the source took it");
        slowest = slowest.max(t0.elapsed());
    }
    // The bound is 300 ms; the store's own connect wait was 10 s. Generous
    // for a loaded machine, far under the stall this catches.
    assert!(slowest < Duration::from_secs(5), "a write waited {slowest:?} on the journal");
    assert_eq!(m.pool.counts().journaled["secondary_failed"], 5);
    assert_eq!(m.pool.journal().waiting(), 5);
    assert_eq!(lines(&spool), 5);
    assert!(m.faults.list().contains_key("journal"), "{:?}", m.faults.list());
    // (Refused whatever the reason: here the store cannot even be read.)
    assert!(m.move_to(State::DstFirst, false, "test", "test").await.is_err());

    // The relay comes back on the same port: the spool drains into the store.
    let _relaying = relay(TcpListener::bind(("127.0.0.1", port)).await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !m.faults.list().is_empty() {
        assert!(Instant::now() < deadline, "the spool did not drain: {:?}", m.faults.list());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dbs::query_strings(&state_direct, "SELECT count(*)::bigint FROM movex_journal").await, ["5"]);
    assert_eq!(lines(&spool), 0);
    m.move_to(State::DstFirst, false, "test", "test").await.expect("nothing waits any more");
}
