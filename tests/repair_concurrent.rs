//! Repair while the application keeps writing the same keys through the
//! double-write pool (`src_first`): seeded differences of every type are
//! repaired to zero, no update is lost (every key holds the writer's last
//! value on both sides, and `movex validate` exits 0 afterwards). Run
//! MariaDB -> PostgreSQL and PostgreSQL -> MariaDB, so each dialect's
//! guarded upsert and delete meet a live writer.

use movex::config::Config;
use movex::model::Pattern;
use movex::pool::{Pool, Statement};
use movex::repair::Repairer;
use movex::store::Store;
use movex::validate::{Board, Request, RunMode, Validator};
use movex_tests::dbs;
use sqlx::{Connection, Row};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const N: i64 = 300;
/// How much the writer and the repair rounds overlap, at the least.
const MIN_WRITES: u64 = 500;
const MIN_ROUNDS: u32 = 3;
const STUCK: Duration = Duration::from_secs(300);
const TABLE: &str = "CREATE TABLE acct (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, note VARCHAR(40), utime BIGINT NOT NULL);";
/// On the destination: 1..=10 missing, 11..=30 different, 1001..=1010 extra.
const SEED: &str = "DELETE FROM acct WHERE id <= 10;
    UPDATE acct SET v = -1 WHERE id BETWEEN 11 AND 20;
    UPDATE acct SET note = 'x' WHERE id BETWEEN 21 AND 30;
    INSERT INTO acct VALUES (1001, 0, 'extra', 1), (1002, 0, 'extra', 1), (1003, 0, 'extra', 1), (1004, 0, 'extra', 1),
      (1005, 0, 'extra', 1), (1006, 0, 'extra', 1), (1007, 0, 'extra', 1), (1008, 0, 'extra', 1), (1009, 0, 'extra', 1), (1010, 0, 'extra', 1);";

fn rows() -> String {
    let rows: Vec<String> = (1..=N).map(|id| format!("({id}, {id}, 'n{id}', 1)")).collect();
    format!("{TABLE} INSERT INTO acct VALUES {};", rows.join(", "))
}

/// The keys the application writes: every seeded one and a few others.
fn keys() -> Vec<i64> {
    (1..=40).chain(1001..=1010).chain(100..=110).collect()
}

fn full() -> Request {
    Request { tables: vec![], mode: RunMode::Full, direction: None, restart: true }
}

/// `id -> v` of the keys, as a database holds them.
async fn values(url: &str) -> BTreeMap<i64, i64> {
    let sql = "SELECT id, v FROM acct WHERE id <= 110 OR id > 1000";
    let rows: Vec<(i64, i64)> = if url.starts_with("mysql") {
        let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
        sqlx::query(sql).fetch_all(&mut c).await.unwrap().iter().map(|r| (r.get(0), r.get(1))).collect()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).fetch_all(&mut c).await.unwrap().iter().map(|r| (r.get(0), r.get(1))).collect()
    };
    rows.into_iter().collect()
}

/// The application: updates the keys round after round through the pool,
/// each write with a new value and a newer update time, until `stop`.
/// Returns the last value the source took per key; `made` counts the writes
/// as they go.
async fn writer(pool: Arc<Pool>, stop: CancellationToken, made: Arc<AtomicU64>) -> BTreeMap<i64, i64> {
    let (mut last, mut tick) = (BTreeMap::new(), 1000i64);
    while !stop.is_cancelled() {
        for k in keys() {
            tick += 1;
            let stmt = Statement::new("UPDATE acct SET v = ?, utime = ? WHERE id = ?").bind(tick).bind(tick).bind(k);
            let done = pool.execute(&stmt).await.expect("the application's write");
            let writes = made.fetch_add(1, Ordering::Relaxed) + 1;
            if done.rows_affected == 1 {
                last.insert(k, tick);
            }
            if writes % 8 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    last
}

async fn repair_under_a_live_writer(src: dbs::Db, dst: dbs::Db) {
    let dir = tempfile::tempdir().unwrap();
    let table = "[[tables]]\nname = \"acct\"\nkey = [\"id\"]\nutime = { column = \"utime\", unit = \"ms\" }\ncomparator = \"exact\"\n";
    let (cfg, state) = dbs::config(dir.path(), &src, &dst, "[validation]\nbatch_size = 64\n", table);
    let config = Config::load(&cfg).unwrap();
    let validator = Arc::new(Validator::open(config.clone()).await.unwrap());
    let store = Store::open(&state).await.unwrap();
    let pool = Arc::new(Pool::new(&src, &dst, config.pool.clone(), store, &mut Default::default()).unwrap());
    pool.set_pattern(Pattern::SrcFirst);

    let report = validator.run(&full(), CancellationToken::new(), &Board::default()).await.unwrap();
    let seeded: BTreeMap<&str, u64> = [("base_missing", 10), ("comparator_error", 0), ("neq", 20), ("target_missing", 10)].into();
    assert_eq!(report.findings, seeded);

    let (stop, made) = (CancellationToken::new(), Arc::new(AtomicU64::new(0)));
    let app = tokio::spawn(writer(pool.clone(), stop.clone(), made.clone()));
    // Validate and repair, round after round, while the application writes:
    // at least MIN_ROUNDS rounds and until the writer has made MIN_WRITES
    // writes, however long a loaded machine takes for them (the deadline only
    // stops a run that is stuck).
    let (mut outcomes, mut rounds) = (BTreeMap::<String, u64>::new(), 0);
    let t0 = Instant::now();
    while rounds < MIN_ROUNDS || made.load(Ordering::Relaxed) < MIN_WRITES {
        assert!(t0.elapsed() < STUCK, "stuck: {} writes and {rounds} rounds in {STUCK:?}", made.load(Ordering::Relaxed));
        validator.run(&full(), CancellationToken::new(), &Board::default()).await.unwrap();
        let s = Repairer::new(validator.clone(), false).run_once(None, None, &CancellationToken::new()).await.unwrap();
        for (k, n) in s.outcomes {
            *outcomes.entry(k).or_default() += n;
        }
        rounds += 1;
    }
    stop.cancel();
    let last = app.await.unwrap();
    let writes = made.load(Ordering::Relaxed);
    eprintln!("{writes} writes by the application; {rounds} validate+repair rounds alongside; outcomes {outcomes:?}");
    let repaired = outcomes.get("repaired").copied().unwrap_or(0) + outcomes.get("already_consistent").copied().unwrap_or(0);
    assert!(repaired >= 40, "every seeded finding was settled: {outcomes:?}");

    // Once the application stops: anything left is repaired, and nothing is.
    validator.run(&full(), CancellationToken::new(), &Board::default()).await.unwrap();
    let s = Repairer::new(validator.clone(), false).run_once(None, None, &CancellationToken::new()).await.unwrap();
    assert_eq!(s.failed(), 0, "{s:?}");
    let out = std::process::Command::new(movex_tests::movex_bin()).args(["validate", "--json", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "validate after repair: {}", String::from_utf8_lossy(&out.stdout));

    // No lost update: the source holds each key's last write, and so does the destination.
    let (on_src, on_dst) = (values(&src).await, values(&dst).await);
    for k in keys() {
        assert_eq!(on_src.get(&k), last.get(&k), "source, key {k}");
        assert_eq!(on_dst.get(&k), last.get(&k), "destination, key {k}: a newer row was overwritten, or a write lost");
    }
    assert!((1001..=1010).all(|k| !on_dst.contains_key(&k)), "the extra destination rows are deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_to_postgres_repair_loses_no_update_under_a_live_writer() {
    let src = dbs::mariadb(&dbs::unique("race_src"), &rows()).await;
    let dst = dbs::postgres(&dbs::unique("race_dst"), &format!("{}{SEED}", rows())).await;
    repair_under_a_live_writer(src, dst).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_to_mariadb_repair_loses_no_update_under_a_live_writer() {
    let src = dbs::postgres(&dbs::unique("race_src2"), &rows()).await;
    let dst = dbs::mariadb(&dbs::unique("race_dst2"), &format!("{}{SEED}", rows())).await;
    repair_under_a_live_writer(src, dst).await;
}
