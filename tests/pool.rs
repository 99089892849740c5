//! The double-write pool against the real MariaDB (source) and PostgreSQL
//! (destination): every pattern writes where it should and reads from the
//! primary; a transaction keeps its pattern across a switch; with the
//! secondary unreachable, non-strict mode keeps the application writing and
//! journals every missed write, and strict mode fails the caller with no
//! half-applied transaction on the primary.

use movex::model::Pattern;
use movex::pool::{Pool, PoolConfig, SideName, Statement};
use movex::store::{JournalKind, Store};
use movex_guest::OwnedValue;
use movex_tests::dbs;

const TABLE: &str = "CREATE TABLE acct (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL, note VARCHAR(20));";
const UNREACHABLE_PG: &str = "postgres://postgres@127.0.0.1:1/nowhere";

struct Fixture {
    src: dbs::Db,
    dst: dbs::Db,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn fixture(name: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let src = dbs::mariadb(&dbs::unique(&format!("pool_{name}_src")), TABLE).await;
    let dst = dbs::postgres(&dbs::unique(&format!("pool_{name}_dst")), TABLE).await;
    let store = Store::open(&format!("sqlite://{}", dir.path().join("state.db").display())).await.unwrap();
    Fixture { src, dst, store, _dir: dir }
}

fn pool(f: &Fixture, dst: &str, config: PoolConfig) -> Pool {
    Pool::new(&f.src, dst, config, f.store.clone(), &mut Default::default()).unwrap()
}

fn fast() -> PoolConfig {
    PoolConfig { connect_timeout_ms: 300, retry_attempts: 2, retry_backoff_ms: 50, ..PoolConfig::default() }
}

fn insert(id: i64, balance: i64) -> Statement {
    Statement::new("INSERT INTO acct (id, balance, note) VALUES (?, ?, ?)").bind(id).bind(balance).bind(format!("n{id}"))
}

/// The ids in `acct` on a database, sorted.
async fn ids(url: &str) -> Vec<i64> {
    use sqlx::Connection;
    if url.starts_with("mysql") {
        let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
        sqlx::query_scalar("SELECT id FROM acct ORDER BY id").fetch_all(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar("SELECT id FROM acct ORDER BY id").fetch_all(&mut c).await.unwrap()
    }
}

#[tokio::test]
async fn every_pattern_writes_where_it_should_and_reads_from_the_primary() {
    let f = fixture("patterns").await;
    let p = pool(&f, &f.dst, PoolConfig::default());
    for (i, pattern) in [Pattern::SrcOnly, Pattern::SrcFirst, Pattern::DstFirst, Pattern::DstOnly].into_iter().enumerate() {
        p.set_pattern(pattern);
        let out = p.execute(&insert(i as i64 + 1, 100)).await.unwrap();
        assert_eq!(out.rows_affected, 1);
    }
    assert_eq!(ids(&f.src).await, [1, 2, 3], "src_only, src_first, dst_first reach the source");
    assert_eq!(ids(&f.dst).await, [2, 3, 4], "src_first, dst_first, dst_only reach the destination");
    // Reads go to the primary only.
    let read = Statement::new("SELECT balance FROM acct WHERE id = ?").bind(4i64);
    assert_eq!(p.fetch(&read).await.unwrap(), vec![vec![OwnedValue::Int(100)]], "dst_only reads the destination");
    p.set_pattern(Pattern::SrcFirst);
    assert!(p.fetch(&read).await.unwrap().is_empty(), "src_first reads the source, which never had id 4");
    let counts = p.counts();
    assert_eq!((counts.source_success, counts.destination_success), (3, 3));
    assert!(p.health().await.healthy);
}

#[tokio::test]
async fn a_transaction_keeps_the_pattern_it_began_with() {
    let f = fixture("tx").await;
    let p = pool(&f, &f.dst, PoolConfig::default());
    p.set_pattern(Pattern::SrcFirst);
    let mut tx = p.begin().await.unwrap();
    tx.execute(&insert(1, 10)).await.unwrap();
    p.set_pattern(Pattern::DstOnly);
    tx.execute(&insert(2, 20)).await.unwrap();
    assert_eq!(tx.pattern(), Pattern::SrcFirst);
    tx.commit().await.unwrap();
    // A statement after the switch follows the new pattern.
    p.execute(&insert(3, 30)).await.unwrap();
    assert_eq!(ids(&f.src).await, [1, 2]);
    assert_eq!(ids(&f.dst).await, [1, 2, 3]);
    // A rolled-back transaction leaves nothing on either side.
    p.set_pattern(Pattern::DstFirst);
    let mut tx = p.begin().await.unwrap();
    tx.execute(&insert(4, 40)).await.unwrap();
    tx.rollback().await;
    assert_eq!((ids(&f.src).await.len(), ids(&f.dst).await.len()), (2, 3));
}

#[tokio::test]
async fn non_strict_keeps_writing_with_the_secondary_down_and_journals_every_missed_write() {
    let f = fixture("nonstrict").await;
    let p = pool(&f, UNREACHABLE_PG, fast());
    p.set_pattern(Pattern::SrcFirst);
    let mut written = Vec::new();
    for id in 1..=5 {
        let s = insert(id, id * 10);
        p.execute(&s).await.expect("the application keeps writing");
        written.push(vec![s]);
    }
    let mut tx = p.begin().await.expect("a transaction begins without the secondary");
    let pair = vec![insert(6, 60), Statement::new("UPDATE acct SET balance = balance + ? WHERE id = ?").bind(1i64).bind(6i64)];
    for s in &pair {
        tx.execute(s).await.unwrap();
    }
    tx.commit().await.unwrap();
    written.push(pair);

    assert_eq!(ids(&f.src).await, [1, 2, 3, 4, 5, 6]);
    let journal = f.store.journal_entries(0, 100).await.unwrap();
    assert_eq!(journal.len(), 6, "one entry per missed write or transaction");
    for (entry, statements) in journal.iter().zip(&written) {
        assert_eq!((entry.side.as_str(), entry.kind, entry.pattern.as_str()), ("destination", JournalKind::SecondaryFailed, "src_first"));
        assert_eq!(&entry.statements, statements, "the statements and their parameters, as written");
        assert!(!entry.error.is_empty());
    }
    let c = p.counts();
    assert_eq!(c.source_success, 7);
    assert!(c.destination_failure >= 5, "{c:?}");
    assert_eq!(c.journaled["secondary_failed"], 6);
    let h = p.health().await;
    assert!(!h.healthy && h.source.healthy && h.destination.error.is_some(), "{h:?}");
}

#[tokio::test]
async fn strict_mode_fails_the_caller_and_leaves_nothing_half_applied() {
    let f = fixture("strict").await;
    let strict = PoolConfig { strict: true, ..fast() };
    // The secondary unreachable: the write fails, the source has nothing.
    let p = pool(&f, UNREACHABLE_PG, strict.clone());
    p.set_pattern(Pattern::SrcFirst);
    let e = p.execute(&insert(1, 10)).await.unwrap_err();
    assert_eq!(e.side, SideName::Destination, "{e}");
    assert!(p.begin().await.is_err());
    assert!(ids(&f.src).await.is_empty(), "no half-applied write on the primary");

    // The secondary refuses one statement (a key it already has): the
    // statement fails and the transaction is rolled back on both sides.
    let p = pool(&f, &f.dst, strict);
    p.set_pattern(Pattern::SrcFirst);
    dbs::exec(&f.dst, "INSERT INTO acct VALUES (99, 0, 'only here')").await;
    let e = p.execute(&insert(99, 1)).await.unwrap_err();
    assert_eq!(e.side, SideName::Destination, "{e}");
    assert!(ids(&f.src).await.is_empty());
    let mut tx = p.begin().await.unwrap();
    tx.execute(&insert(7, 70)).await.unwrap();
    assert!(tx.execute(&insert(99, 1)).await.is_err());
    tx.rollback().await;
    assert!(ids(&f.src).await.is_empty(), "neither statement of the failed transaction stays on the primary");
    assert_eq!(ids(&f.dst).await, [99]);
    // And a good transaction commits on both.
    let mut tx = p.begin().await.unwrap();
    tx.execute(&insert(8, 80)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((ids(&f.src).await, ids(&f.dst).await), (vec![8], vec![8, 99]));
    assert_eq!(f.store.journal_count().await.unwrap(), 0, "strict mode failed the callers instead");
}
