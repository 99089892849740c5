//! Many writers, one migration, with real processes: three `movex serve`
//! with MySQL front doors and a library `Pool` in this process share a
//! state store (PostgreSQL, then a private MariaDB). Every move is
//! acknowledged by all of them before it answers; a write through any door
//! lands by the fleet's pattern. One instance frozen (SIGSTOP) during a
//! move: the move names it while it waits, completes once its lease lapses,
//! and the instance, resumed, writes nothing in the old pattern. The state
//! store killed for longer than a lease: every instance refuses writes,
//! saying why, and resumes in the right pattern once the store is back.
//! A transaction open across a move finishes in the pattern it began in,
//! and the move waits for it.
//!
//! The patterns are told apart by where a write lands: in `dst_first` on
//! both sides, in `dst_only` on the destination alone.

use movex::fleet::{Fleet, FleetConfig};
use movex::pool::{Pool, PoolConfig, Statement};
use movex::store::Store;
use movex_tests::broker::free_port;
use movex_tests::door::{self, db_name};
use movex_tests::mariadbd::Mariadbd;
use movex_tests::needs_tool;
use movex_tests::server::{http, serve_logging};
use movex_tests::{dbs, tools};
use serde_json::Value;
use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Timings for a test: a lease lapses within a second.
const FLEET: &str = "heartbeat_ms = 100\nlease_ms = 1000\nmove_timeout_ms = 8000\n";

/// One `movex serve` of the fleet, killed (and continued first, if frozen)
/// however the test ends.
struct Instance {
    name: &'static str,
    http: u16,
    door: u16,
    child: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        signal(self.child.id(), libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: a signal to a child process this test started.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

/// Start the instances `a`, `b`, `c` on `state`, each with its own HTTP
/// port and front door.
fn start_three(dir: &Path, src: &str, dst: &str, state: &str) -> Vec<Instance> {
    ["a", "b", "c"].into_iter().map(|name| start(dir, src, dst, state, name, FLEET)).collect()
}

/// Start the instance `name` on `state` with `fleet` in its `[fleet]`.
fn start(dir: &Path, src: &str, dst: &str, state: &str, name: &'static str, fleet: &str) -> Instance {
    start_with(dir, src, dst, state, name, fleet, "")
}

/// [`start`], with `policy` in its `[policy]` too.
fn start_with(dir: &Path, src: &str, dst: &str, state: &str, name: &'static str, fleet: &str, policy: &str) -> Instance {
    let (http, door) = (free_port(), free_port());
    let base = door::config(dir, src, dst, http, door, "", "");
    let text = std::fs::read_to_string(&base).unwrap();
    let sqlite_state = text.lines().find(|l| l.starts_with("url = \"sqlite://") && l.contains("state.db")).unwrap().to_owned();
    // Generous: a loaded machine must not turn a slow connect into a
    // journaled secondary write, which the checks below would take for the
    // wrong pattern.
    let text = text.replace(&sqlite_state, &format!("url = \"{state}\"")).replace("connect_timeout_ms = 1000", "connect_timeout_ms = 10000")
        + &format!("[policy]\ninterval_ms = 0\n{policy}\n[fleet]\nname = \"{name}\"\n{fleet}");
    let cfg = dir.join(format!("movex-{name}.toml"));
    std::fs::write(&cfg, text).unwrap();
    let child = serve_logging(&cfg, http, Some(&dir.join(format!("serve-{name}.log"))));
    Instance { name, http, door, child }
}

/// A library pool in this process, a member of the same fleet.
async fn library_pool(src: &str, dst: &str, state: &str) -> (Arc<Pool>, Arc<Fleet>) {
    let store = Store::open(state).await.unwrap();
    let pool = Arc::new(Pool::new(src, dst, PoolConfig::default(), store.clone(), &mut Default::default()).unwrap());
    let config = FleetConfig { name: Some("lib".into()), heartbeat_ms: 100, lease_ms: 1000, move_timeout_ms: 8000, rollback_on_timeout: false, listen: true, forget_after_ms: 60_000 };
    let fleet = Fleet::join(store, pool.gate().clone(), config, "pool", pool.faults().clone()).await.unwrap();
    (pool, fleet)
}

fn instances(port: u16) -> Value {
    let (code, r) = http(port, "GET", "/instances");
    assert_eq!(code, 200, "{r}");
    r["data"].clone()
}

/// Move by `POST /{to}` on `port`: 200, and then every live member has
/// acknowledged the move's generation.
fn moved(port: u16, to: &str, members: usize) -> i64 {
    let (code, r) = http(port, "POST", &format!("/{to}"));
    assert_eq!(code, 200, "POST /{to}: {r}");
    let generation = r["data"]["generation"].as_i64().unwrap();
    let fleet = instances(port);
    let live: Vec<&Value> = fleet["instances"].as_array().unwrap().iter().filter(|i| i["live"] == true).collect();
    assert_eq!(live.len(), members, "{fleet}");
    for i in live {
        assert!(i["acked"].as_i64() >= Some(generation), "{} has not acknowledged {generation} when the move answered: {fleet}", i["name"]);
    }
    assert_eq!(fleet["pending"], serde_json::json!([]), "{fleet}");
    assert_eq!(r["data"]["acknowledged_by"].as_array().map(Vec::len), Some(members), "the history records who acknowledged it: {r}");
    generation
}

/// Insert row `id` through `door`: the client's exit code and output.
fn write_through(door: u16, db: &str, id: i64) -> (i32, String) {
    door::mariadb(door, "app-secret", db, &format!("INSERT INTO t VALUES ({id}, 1)"))
}

/// The instances' logs, for a failure's message.
fn logs(dir: &Path) -> String {
    ["a", "b", "c"].map(|n| format!("serve-{n}.log:\n{}", std::fs::read_to_string(dir.join(format!("serve-{n}.log"))).unwrap_or_default())).join("\n")
}

async fn on(url: &str, id: i64) -> bool {
    dbs::query_strings(url, &format!("SELECT count(*) FROM t WHERE id = {id}")).await == ["1"]
}

async fn fleet_follows_every_move(dir: &Path, state: &str, mut store: Option<&mut Mariadbd>) {
    let src = dbs::mariadb(&dbs::unique("fleet_src"), "CREATE TABLE t (id INT PRIMARY KEY, v INT)").await;
    let dst = dbs::mariadb(&dbs::unique("fleet_dst"), "CREATE TABLE t (id INT PRIMARY KEY, v INT)").await;
    let db = db_name(&src).to_owned();
    let mut fleet = start_three(dir, &src, &dst, state);
    let (pool, member) = library_pool(&src, &dst, state).await;
    let (a, b) = (fleet[0].http, fleet[1].http);
    let listed = instances(a);
    assert_eq!(listed["single"], false, "{listed}");
    let names: Vec<&str> = listed["instances"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b", "c", "lib"], "{listed}");

    moved(a, "src_only", 4);
    moved(b, "src_first", 4);
    assert_eq!(pool.pattern(), movex::model::Pattern::SrcFirst, "the library pool follows");
    for (n, i) in fleet.iter().enumerate() {
        let (code, out) = write_through(i.door, &db, n as i64 + 1);
        assert_eq!(code, 0, "through {}: {out}", i.name);
    }
    pool.execute(&Statement::new("INSERT INTO t VALUES (?, 1)").bind(4i64)).await.unwrap();
    for id in 1..=4 {
        let (s, d) = (on(&src, id).await, on(&dst, id).await);
        if !(s && d) {
            let journal = dbs::query_strings(state, "SELECT concat(side, ' ', pattern, ' ', error) FROM movex_journal").await;
            panic!("row {id} is written on both sides in src_first: on the source {s}, the destination {d}; journal {journal:?}\n{}", logs(dir));
        }
    }
    // A transaction the library pool began in src_first finishes in it:
    // the move to dst_first waits for it, naming the pool as pending.
    let mut tx = pool.begin().await.unwrap();
    tx.execute(&Statement::new("INSERT INTO t VALUES (?, 1)").bind(5i64)).await.unwrap();
    let c_http = fleet[2].http;
    let mover = std::thread::spawn(move || moved(c_http, "dst_first", 4));
    let deadline = Instant::now() + Duration::from_secs(30);
    // Until the pool has applied dst_first, it lags for that reason alone.
    while pool.pattern() != movex::model::Pattern::DstFirst {
        assert!(Instant::now() < deadline && !mover.is_finished(), "the pool did not apply dst_first while its transaction was open");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let waiting = instances(b);
    let lib = waiting["instances"].as_array().unwrap().iter().find(|i| i["name"] == "lib").unwrap();
    assert!(waiting["pending"].as_array().unwrap().iter().any(|n| n == "lib") && lib["draining"] == 1, "the move waits for the open transaction: {waiting}");
    assert!(!mover.is_finished(), "the move did not wait for the open transaction");
    tx.commit().await.unwrap();
    mover.join().unwrap();
    assert!(on(&src, 5).await && on(&dst, 5).await, "the transaction wrote in src_first, where it began");

    // c frozen: the move waits for it, names it, and goes through once its
    // lease lapses.
    let c = fleet[2].child.id();
    signal(c, libc::SIGSTOP);
    let mover = std::thread::spawn(move || http(a, "POST", "/dst_only"));
    let mut named = false;
    while !mover.is_finished() {
        let pending = instances(b)["pending"].clone();
        named |= pending.as_array().is_some_and(|p| p.iter().any(|n| n == "c"));
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, r) = mover.join().unwrap();
    assert_eq!(code, 200, "the move completes without the frozen instance: {r}");
    assert!(named, "while it waited, the move named c as pending");
    let generation = r["data"]["generation"].as_i64().unwrap();
    let listed = instances(b);
    let frozen = listed["instances"].as_array().unwrap().iter().find(|i| i["name"] == "c").unwrap().clone();
    assert_eq!(frozen["live"], false, "{listed}");

    // Resumed, c writes nothing in dst_first: refused until it has caught
    // up, or written in dst_only (the destination alone).
    signal(c, libc::SIGCONT);
    let (code, out) = write_through(fleet[2].door, &db, 10);
    match code {
        0 => assert!(on(&dst, 10).await && !on(&src, 10).await, "written right after SIGCONT, and in dst_only"),
        _ => assert!(out.contains("not written") && out.contains("fleet lease"), "refused, saying why: {out}"),
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while instances(b)["instances"].as_array().unwrap().iter().any(|i| i["name"] == "c" && (i["live"] != true || i["acked"].as_i64() < Some(generation))) {
        assert!(Instant::now() < deadline, "c did not catch up: {}", instances(b));
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, out) = write_through(fleet[2].door, &db, 11);
    assert_eq!(code, 0, "{out}");
    assert!(on(&dst, 11).await && !on(&src, 11).await, "c writes in dst_only once caught up");
    pool.execute(&Statement::new("INSERT INTO t VALUES (?, 1)").bind(12i64)).await.unwrap();
    assert!(on(&dst, 12).await && !on(&src, 12).await, "the library pool writes in dst_only: gate {:?}, {}, history {}", pool.gate(), instances(b), http(b, "GET", "/history").1);

    // The store gone for longer than a lease: every member refuses writes,
    // saying why; once it is back they write again, in dst_only.
    if let Some(store) = store.as_deref_mut() {
        store.kill();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut id = 100;
        for i in &fleet {
            loop {
                id += 1;
                let (code, out) = write_through(i.door, &db, id);
                if code != 0 {
                    assert!(out.contains("not written") && out.contains("fleet lease"), "{}: {out}", i.name);
                    break;
                }
                assert!(Instant::now() < deadline, "{} still writes with the store gone", i.name);
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let refused = loop {
            id += 1;
            // Each member's lease lapses in its own time, a heartbeat apart.
            match pool.execute(&Statement::new("INSERT INTO t VALUES (?, 1)").bind(id)).await {
                Err(e) => break e,
                Ok(_) => assert!(Instant::now() < deadline, "the library pool still writes with the store gone"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(refused.fenced && refused.to_string().contains("fleet lease"), "{refused}");
        assert!(!on(&src, id).await && !on(&dst, id).await, "a refused write is written nowhere");
        store.restart();
        let deadline = Instant::now() + Duration::from_secs(60);
        for (n, i) in fleet.iter().enumerate() {
            let id = 300 + n as i64;
            while write_through(i.door, &db, id).0 != 0 && !on(&dst, id).await {
                assert!(Instant::now() < deadline, "{} did not write again once the store was back", i.name);
                std::thread::sleep(Duration::from_millis(100));
            }
            assert!(on(&dst, id).await && !on(&src, id).await, "{} writes in dst_only after the outage", i.name);
        }
    }
    member.leave().await;
    for i in fleet.iter_mut() {
        let _ = i.child.kill();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_instances_on_a_postgres_store_follow_every_move_and_a_frozen_one_never_writes_in_the_old_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let state = dbs::postgres(&dbs::unique("fleet_state"), "").await;
    fleet_follows_every_move(dir.path(), &state, None).await;
}

#[tokio::test(flavor = "multi_thread")]
#[needs_tool("mariadbd")]
async fn three_instances_on_a_mariadb_store_stop_writing_while_it_is_gone_and_resume_in_the_right_pattern() {
    tools::require("mariadbd");
    let dir = tempfile::tempdir().unwrap();
    let mut store = Mariadbd::start(dir.path());
    let url = store.url();
    fleet_follows_every_move(dir.path(), &url, Some(&mut store)).await;
}

/// A member that does not acknowledge in time (a library pool holding a
/// transaction open in the old pattern): the move answers 202 naming it,
/// stays pending in `/status`, and the next move forward is refused until
/// it is through; with `rollback_on_timeout` the move is moved back.
#[tokio::test(flavor = "multi_thread")]
async fn a_move_not_acknowledged_in_time_is_pending_or_moved_back() {
    let dir = tempfile::tempdir().unwrap();
    let state = dbs::postgres(&dbs::unique("fleet_timeout"), "").await;
    let src = dbs::mariadb(&dbs::unique("fleet_timeout_src"), "CREATE TABLE t (id INT PRIMARY KEY, v INT)").await;
    let dst = dbs::mariadb(&dbs::unique("fleet_timeout_dst"), "CREATE TABLE t (id INT PRIMARY KEY, v INT)").await;
    // One serve, a move timeout just past the lease.
    let serve = |rollback: bool| {
        let fleet = format!("heartbeat_ms = 100\nlease_ms = 1000\nmove_timeout_ms = 1500\nrollback_on_timeout = {rollback}\n");
        start(dir.path(), &src, &dst, &state, "a", &fleet)
    };
    let a = serve(false);
    let (pool, member) = library_pool(&src, &dst, &state).await;
    moved(a.http, "src_only", 2);
    moved(a.http, "src_first", 2);

    let mut tx = pool.begin().await.unwrap();
    tx.execute(&Statement::new("INSERT INTO t VALUES (?, 1)").bind(1i64)).await.unwrap();
    let (code, r) = http(a.http, "POST", "/dst_first");
    assert_eq!((code, &r["code"]), (202, &serde_json::json!(0)), "{r}");
    let msg = r["msg"].as_str().unwrap();
    assert!(msg.contains("lib") && msg.contains("1 writes of older ones still running") && msg.contains("pending"), "{msg}");
    let (_, s) = http(a.http, "GET", "/status");
    assert_eq!((&s["data"]["current_state"], &s["data"]["fleet"]["pending"]), (&serde_json::json!("dst_first"), &serde_json::json!(["lib"])), "{s}");
    let (code, r) = http(a.http, "POST", "/dst_only");
    assert_eq!(code, 409, "no cutover while a member has not acknowledged dst_first: {r}");
    assert!(r["msg"].as_str().unwrap().contains("not acknowledged by every live movex instance"), "{r}");
    let (code, r) = http(a.http, "POST", "/full/start");
    assert_eq!(code, 409, "no validation either: {r}");
    tx.commit().await.unwrap();
    assert!(on(&src, 1).await && on(&dst, 1).await, "the transaction finished in src_first");
    let deadline = Instant::now() + Duration::from_secs(30);
    while instances(a.http)["pending"] != serde_json::json!([]) {
        assert!(Instant::now() < deadline, "{}", instances(a.http));
        std::thread::sleep(Duration::from_millis(20));
    }

    // Moved back when configured so.
    drop(a);
    let a = serve(true);
    let mut tx = pool.begin().await.unwrap();
    tx.execute(&Statement::new("INSERT INTO t VALUES (?, 1)").bind(2i64)).await.unwrap();
    let (code, r) = http(a.http, "POST", "/dst_only");
    assert_eq!(code, 409, "{r}");
    assert!(r["msg"].as_str().unwrap().contains("was moved back to dst_first"), "{r}");
    tx.commit().await.unwrap();
    let (_, h) = http(a.http, "GET", "/history");
    let last: Vec<&str> = h["data"].as_array().unwrap().iter().take(2).map(|t| t["to"].as_str().unwrap()).collect();
    assert_eq!(last, ["dst_first", "dst_only"], "{h}");
    assert!(h["data"][0]["reason"].as_str().unwrap().contains("rolled back: lib"), "{h}");
    member.leave().await;
}

/// auto-migrate driven from one instance of three: every move of its plan
/// (the copy, validations and promotions between) is acknowledged by all
/// three before the next step, as the history records.
#[tokio::test(flavor = "multi_thread")]
async fn auto_migrate_with_three_instances_completes_every_move_acknowledged_by_all() {
    let dir = tempfile::tempdir().unwrap();
    let state = dbs::postgres(&dbs::unique("fleet_auto"), "").await;
    let rows = "INSERT INTO t VALUES (1, 1), (2, 2), (3, 3);";
    let src = dbs::mariadb(&dbs::unique("fleet_auto_src"), &format!("CREATE TABLE t (id INT PRIMARY KEY, v INT); {rows}")).await;
    let dst = dbs::mariadb(&dbs::unique("fleet_auto_dst"), "CREATE TABLE t (id INT PRIMARY KEY, v INT)").await;
    let fleet = start_three(dir.path(), &src, &dst, &state);
    let a = fleet[0].http;
    let (code, r) = http(a, "POST", "/auto-migrate");
    assert_eq!(code, 200, "{r}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, s) = http(a, "GET", "/status");
        let auto = &s["data"]["auto_migrate"];
        if auto["status"] != "running" && !auto.is_null() {
            assert_eq!(auto["status"], "completed", "{s}\n{}", logs(dir.path()));
            break;
        }
        assert!(Instant::now() < deadline, "auto-migrate did not finish: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, h) = http(fleet[1].http, "GET", "/history");
    let moves: Vec<(String, Vec<String>)> = h["data"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|t| {
            let mut by: Vec<String> = t["acknowledged_by"].as_array().map(|a| a.iter().map(|n| n.as_str().unwrap().to_owned()).collect()).unwrap_or_default();
            by.sort();
            (t["to"].as_str().unwrap().to_owned(), by)
        })
        .collect();
    let all = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
    let expected: Vec<(String, Vec<String>)> = ["src_only", "src_first", "dst_first", "dst_only", "completed"].iter().map(|s| (s.to_string(), all.clone())).collect();
    assert_eq!(moves, expected, "{h}");
    assert_eq!(dbs::query_strings(&dst, "SELECT count(*) FROM t").await, ["3"], "copied");
}

/// Instances starting at once on a fresh PostgreSQL store: its tables are
/// created once, under a lock, not raced for.
#[tokio::test(flavor = "multi_thread")]
async fn stores_opened_together_on_a_fresh_postgres_database_all_open() {
    let state = dbs::postgres(&dbs::unique("fleet_fresh"), "").await;
    let mut opens = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let url = state.to_string();
        opens.spawn(async move { Store::open(&url).await.map(drop) });
    }
    for r in opens.join_all().await {
        r.unwrap();
    }
}

/// An instance that went without leaving (killed) stays listed, not live,
/// until its last heartbeat is `forget_after_ms` old; then the members
/// forget it. Here two such rows, one gone an hour, one 5 s: a member
/// joining with `forget_after_ms` = 10 minutes forgets the first and keeps
/// the second.
#[tokio::test(flavor = "multi_thread")]
async fn instances_gone_without_leaving_are_forgotten_after_forget_after_ms() {
    let state = dbs::postgres(&dbs::unique("fleet_forget"), "").await;
    let store = Store::open(&state.to_string()).await.unwrap();
    let now = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";
    for (id, ago) in [("gone-an-hour", 3_600_000), ("gone-5-s", 5_000)] {
        dbs::exec(
            &state.to_string(),
            &format!(
                "INSERT INTO movex_instances (id, name, host, pid, role, version, applied, acked, draining, started_ms, heartbeat_ms, lease_ms) \
                 VALUES ('{id}', '{id}', 'h', 1, 'serve', '0', 0, 0, 0, {now} - {ago}, {now} - {ago}, 1000)"
            ),
        )
        .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dbs::sqlite(dir.path(), "src", "").await, dbs::sqlite(dir.path(), "dst", "").await);
    let pool = Arc::new(Pool::new(&src, &dst, PoolConfig::default(), store.clone(), &mut Default::default()).unwrap());
    let config = FleetConfig { heartbeat_ms: 100, lease_ms: 1000, move_timeout_ms: 8000, forget_after_ms: 600_000, ..FleetConfig::default() };
    let fleet = Fleet::join(store.clone(), pool.gate().clone(), config, "pool", pool.faults().clone()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed = || async { store.instances().await.unwrap().into_iter().map(|i| (i.member.id, i.live)).collect::<Vec<_>>() };
    while listed().await.iter().any(|(id, _)| id == "gone-an-hour") {
        assert!(Instant::now() < deadline, "the hour-old instance is still listed: {:?}", listed().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let now = listed().await;
    assert!(now.contains(&("gone-5-s".to_owned(), false)), "lapsed, not yet forgotten: {now:?}");
    assert!(now.contains(&(fleet.member().id.clone(), true)), "{now:?}");
    fleet.leave().await;
}

/// The controller (the first instance, holding the serving lease) is
/// killed in the middle of an auto-migrate: another instance takes the
/// lease once it lapses and resumes the plan from the step it had reached;
/// the plan completes, every move acknowledged by the live members. While
/// the first ran it, a second `POST /auto-migrate` on the other instance
/// was refused (two plans would race).
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_controller_s_auto_migrate_is_resumed_by_another_instance() {
    let dir = tempfile::tempdir().unwrap();
    let state = dbs::postgres(&dbs::unique("fleet_takeover"), "").await;
    let src = dbs::mariadb(&dbs::unique("fleet_takeover_src"), "CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1), (2, 2);").await;
    let dst = dbs::mariadb(&dbs::unique("fleet_takeover_dst"), "CREATE TABLE t (id INT PRIMARY KEY, v INT)").await;
    // A soak long enough to kill the controller in.
    let policy = "soak_ms = 6000";
    let mut a = start_with(dir.path(), &src, &dst, &state, "a", FLEET, policy);
    // Started second, it finds the serving lease held: it serves and
    // follows, and only a's death leaves the plan to it.
    let b = start_with(dir.path(), &src, &dst, &state, "b", FLEET, policy);
    let (code, r) = http(a.http, "POST", "/auto-migrate");
    assert_eq!(code, 200, "{r}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, s) = http(b.http, "GET", "/status");
        if s["data"]["auto_migrate"]["step"] == "soaking" {
            break;
        }
        assert!(Instant::now() < deadline, "auto-migrate never soaked: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A second plan on another instance is refused while a runs one.
    let (code, r) = http(b.http, "POST", "/auto-migrate");
    assert_eq!(code, 409, "{r}");
    assert!(r["msg"].as_str().unwrap().contains("already running on instance \"a\""), "{r}");
    let _ = a.child.kill();
    let _ = a.child.wait();
    // b takes over once the lease is stale (15 s) and resumes the plan.
    let deadline = Instant::now() + Duration::from_secs(120);
    let s = loop {
        let (_, s) = http(b.http, "GET", "/status");
        let auto = &s["data"]["auto_migrate"];
        if auto["status"] != "running" {
            break s;
        }
        assert!(Instant::now() < deadline, "auto-migrate did not finish after the controller died: {s}\n{}", logs(dir.path()));
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!((&s["data"]["auto_migrate"]["status"], &s["data"]["current_state"]), (&serde_json::json!("completed"), &serde_json::json!("completed")), "{s}\n{}", logs(dir.path()));
    let (_, h) = http(b.http, "GET", "/history");
    let last = &h["data"][0];
    assert_eq!((&last["to"], &last["acknowledged_by"]), (&serde_json::json!("completed"), &serde_json::json!(["b"])), "{h}");
    assert_eq!(dbs::query_strings(&dst, "SELECT count(*) FROM t").await, ["2"], "copied");
}
