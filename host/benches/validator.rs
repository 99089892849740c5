//! Full validation side by side in one run (BENCHMARKS.md), on three pairs
//! of databases: MariaDB -> MariaDB, PostgreSQL -> PostgreSQL and MariaDB ->
//! PostgreSQL (`--pair`).
//!
//! In process, the phases of movex's own read path:
//! - (a) raw scan: both tables read in key order with the validator's own
//!   reader (same driver, same pages, same decoding), nothing compared;
//! - (b) full validation with the `exact` comparator compiled into the host;
//! - (c) full validation with the `exact` comparator as a wasm module;
//!
//! each with the allocations it made per row read (a counting allocator),
//! beside (a0) the driver movex reads with alone on the same pages, rows
//! dropped undecoded (sqlx on MariaDB, `tokio-postgres` on PostgreSQL),
//! and on PostgreSQL (a1) sqlx alone, the driver it read with before.
//! Then whole processes, as a user runs them, interleaved round by round:
//! - (e) `movex validate` (the release binary);
//! - (f) the databases' own clients streaming both tables at once
//!   (`mariadb --quick`, `psql -c "COPY (...) TO STDOUT"`), output discarded:
//!   the speed of the wire;
//! - (d) reladiff (PyPI) on the same tables;
//!
//! with wall time, the CPU of the processes and of the database servers, and
//! movex's peak RSS.
//!
//! ```text
//! cargo build-examples && cargo build --release -p movex
//! pip install 'reladiff[mysql,postgresql]==0.6.0'
//! cargo bench -p movex --bench validator -- --rows 1000000 --pair all --repeat 3
//! cargo bench -p movex --bench validator -- --rows 10000000 --pair mariadb --only rss
//! ```
//! Tables `t` in databases `movex_bench_src` and `movex_bench_dst` on each
//! server, 10 columns, built once per row count (MariaDB's sequence engine,
//! PostgreSQL's generate_series) with the same values on both servers, 0.1%
//! seeded differences in the destination (a third each of target_missing,
//! neq, base_missing). `--pair mariadb-postgres` reads the MariaDB source
//! against the PostgreSQL destination.

#[path = "support/process.rs"]
mod process;
use process::{arg, target_dir};
use movex::config::Config;
use movex::db::Db;
use movex::validate::side::Side;
use movex::validate::{Board, NativeComparator, Request, RunMode, Validator};
use movex::wasm::{Batch, Binding, PairOutcome};
use movex_guest::batch::{Scratch, compare_batch};
use movex_guest::{Column, Layout, Plugin, Settings, Verdict};
use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

const BATCH: u64 = 2000;

/// Counts every allocation (and reallocation) the process makes.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn mysql_server() -> String {
    std::env::var("MOVEX_BENCH_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

fn pg_server() -> String {
    std::env::var("MOVEX_BENCH_PG_URL").unwrap_or_else(|_| "postgres://root@127.0.0.1:5432".into())
}


#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Server {
    MariaDb,
    Postgres,
}

/// Which databases hold the source and the destination.
#[derive(Clone, Copy, Debug)]
struct Pair {
    name: &'static str,
    src: Server,
    dst: Server,
}

const PAIRS: [Pair; 3] = [
    Pair { name: "MariaDB -> MariaDB", src: Server::MariaDb, dst: Server::MariaDb },
    Pair { name: "PostgreSQL -> PostgreSQL", src: Server::Postgres, dst: Server::Postgres },
    Pair { name: "MariaDB -> PostgreSQL", src: Server::MariaDb, dst: Server::Postgres },
];

fn url(server: Server, db: &str) -> String {
    match server {
        Server::MariaDb => format!("{}/{db}", mysql_server()),
        Server::Postgres => format!("{}/{db}", pg_server()),
    }
}

/// Build both tables on MariaDB for `rows` unless they are already there.
async fn mariadb_tables(rows: u64) {
    use sqlx::Connection;
    let mut c = sqlx::MySqlConnection::connect(&format!("{}/test", mysql_server())).await.unwrap();
    let have: Option<String> = sqlx::query_scalar("SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'movex_bench_dst' AND TABLE_NAME = 't'")
        .fetch_optional(&mut c)
        .await
        .unwrap();
    let want = format!("rows={rows} v1");
    if have.as_deref() == Some(want.as_str()) {
        return;
    }
    eprintln!("building movex_bench_src.t and movex_bench_dst.t on MariaDB with {rows} rows ...");
    let t0 = Instant::now();
    sqlx::raw_sql(&format!(
        "DROP DATABASE IF EXISTS movex_bench_src; DROP DATABASE IF EXISTS movex_bench_dst;
         CREATE DATABASE movex_bench_src; CREATE DATABASE movex_bench_dst;
         CREATE TABLE movex_bench_src.t (id BIGINT PRIMARY KEY, c1 INT, c2 BIGINT, c3 VARCHAR(32), c4 VARCHAR(64),
           c5 DECIMAL(12,2), c6 DOUBLE, c7 DATETIME(6), c8 TINYINT, c9 VARCHAR(16));
         INSERT INTO movex_bench_src.t SELECT 2 * seq, seq % 100000, seq * 7919, CONCAT('name-', seq),
           CONCAT('user', seq, '@example.com'), (seq % 100000) / 100, seq / 3, TIMESTAMP '2020-01-01 00:00:00' + INTERVAL seq SECOND,
           seq % 100, ELT(1 + seq % 3, 'free', 'gold', 'vip') FROM seq_1_to_{rows};
         CREATE TABLE movex_bench_dst.t LIKE movex_bench_src.t;
         INSERT INTO movex_bench_dst.t SELECT * FROM movex_bench_src.t;
         DELETE FROM movex_bench_dst.t WHERE id % 6000 = 2;
         UPDATE movex_bench_dst.t SET c4 = 'changed' WHERE id % 6000 = 2002;
         INSERT INTO movex_bench_dst.t SELECT id + 1, c1, c2, c3, c4, c5, c6, c7, c8, c9 FROM movex_bench_src.t WHERE id % 6000 = 4002;
         ANALYZE TABLE movex_bench_src.t, movex_bench_dst.t;
         ALTER TABLE movex_bench_dst.t COMMENT = '{want}';"
    ))
    .execute(&mut c)
    .await
    .unwrap();
    eprintln!("built in {:.0} s", t0.elapsed().as_secs_f64());
}

/// The same two tables on PostgreSQL, with the values MariaDB computes
/// (its `seq / 3` is a decimal cut at 9 digits before it becomes a DOUBLE),
/// so MariaDB -> PostgreSQL differs by the seeded rows only.
async fn postgres_tables(rows: u64) {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(&format!("{}/test", pg_server())).await.unwrap();
    let want = format!("rows={rows} v2");
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'movex_bench_dst')").fetch_one(&mut c).await.unwrap();
    if exists {
        let mut d = sqlx::PgConnection::connect(&url(Server::Postgres, "movex_bench_dst")).await.unwrap();
        let have: Option<String> = sqlx::query_scalar("SELECT obj_description(to_regclass('t'), 'pg_class')").fetch_one(&mut d).await.unwrap_or(None);
        if have.as_deref() == Some(want.as_str()) {
            return;
        }
    }
    eprintln!("building movex_bench_src.t and movex_bench_dst.t on PostgreSQL with {rows} rows ...");
    let t0 = Instant::now();
    for db in ["movex_bench_src", "movex_bench_dst"] {
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db}")).execute(&mut c).await.unwrap();
        sqlx::raw_sql(&format!("CREATE DATABASE {db}")).execute(&mut c).await.unwrap();
        let mut d = sqlx::PgConnection::connect(&url(Server::Postgres, db)).await.unwrap();
        let mut sql = format!(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, c1 INT, c2 BIGINT, c3 VARCHAR(32), c4 VARCHAR(64),
               c5 NUMERIC(12,2), c6 DOUBLE PRECISION, c7 TIMESTAMP(6), c8 SMALLINT, c9 VARCHAR(16));
             INSERT INTO t SELECT 2 * seq, seq % 100000, seq * 7919, 'name-' || seq, 'user' || seq || '@example.com',
               ((seq % 100000) / 100.0)::numeric(12,2), trunc(seq / 3.0, 9)::double precision,
               TIMESTAMP '2020-01-01 00:00:00' + seq * INTERVAL '1 second', seq % 100,
               (ARRAY['free', 'gold', 'vip'])[1 + seq % 3] FROM generate_series(1::bigint, {rows}) seq;"
        );
        if db == "movex_bench_dst" {
            sql.push_str(&format!(
                "INSERT INTO t SELECT id + 1, c1, c2, c3, c4, c5, c6, c7, c8, c9 FROM t WHERE id % 6000 = 4002;
                 DELETE FROM t WHERE id % 6000 = 2;
                 UPDATE t SET c4 = 'changed' WHERE id % 6000 = 2002;
                 COMMENT ON TABLE t IS '{want}';"
            ));
        }
        sqlx::raw_sql(&sql).execute(&mut d).await.unwrap();
        // Not in the statements above: they run as one transaction.
        sqlx::raw_sql("VACUUM ANALYZE t").execute(&mut d).await.unwrap();
    }
    eprintln!("built in {:.0} s", t0.elapsed().as_secs_f64());
}

/// The seeded differences for `rows`, as the findings column shows them.
fn seeded(rows: u64) -> String {
    let n = |rem: u64| (1..=rows).filter(|s| (2 * s) % 6000 == rem).count();
    format!("tm={} bm={} neq={}", n(2), n(4002), n(2002))
}

/// `exact` linked into the host, behind the validator's native hook (its
/// rules are not `Sync`: one caller at a time, as one table runs here).
struct NativeExact(std::sync::Mutex<exact::Exact>);

impl NativeComparator for NativeExact {
    fn compare(&self, binding: &Binding, batch: &Batch) -> Vec<PairOutcome> {
        let layout = Layout::new(&binding.table, binding.columns.iter().map(|(name, kind)| Column { name: name.clone(), kind: *kind }).collect());
        let mut out = vec![PairOutcome::Equal; batch.len()];
        for (i, v) in compare_batch(&*self.0.lock().unwrap(), &layout, batch.bytes(), &mut Scratch::default()).unwrap() {
            out[i as usize] = match v {
                Verdict::Equal => PairOutcome::Equal,
                Verdict::Different { columns, reason } => PairOutcome::Different { columns, reason },
                Verdict::Error(reason) => PairOutcome::Error { reason },
            };
        }
        out
    }
}

fn config(dir: &Path, pair: Pair, comparator: &str) -> String {
    let modules = dir.join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    let exact = target_dir().join("wasm32-unknown-unknown/release/exact.wasm");
    assert!(exact.is_file(), "run `cargo build-examples` first");
    std::fs::copy(exact, modules.join("exact.wasm")).unwrap();
    let state = dir.join(format!("state-{}.db", std::process::id()));
    // A fresh store each time, with its WAL: a stale -shm fails the open.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", state.display()));
    }
    format!(
        "[source]\nurl = \"{}\"\n[destination]\nurl = \"{}\"\n[state]\nurl = \"sqlite://{}\"\n\
         [modules]\ndir = \"{}\"\n[validation]\nbatch_size = {BATCH}\n[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"{comparator}\"\n",
        url(pair.src, "movex_bench_src"),
        url(pair.dst, "movex_bench_dst"),
        state.display(),
        modules.display(),
    )
}

struct Measured {
    label: &'static str,
    rows: u64,
    secs: f64,
    findings: String,
    /// Allocations per row read (in process), CPU seconds of the measured
    /// processes and of the database servers, peak RSS in KiB (whole processes).
    allocs_per_row: Option<f64>,
    cpu: Option<f64>,
    server_cpu: Option<f64>,
    rss_kib: Option<u64>,
}

impl Measured {
    fn new(label: &'static str, rows: u64, secs: f64, findings: String) -> Measured {
        Measured { label, rows, secs, findings, allocs_per_row: None, cpu: None, server_cpu: None, rss_kib: None }
    }

    fn rate(&self) -> f64 {
        self.rows as f64 / self.secs
    }
}

/// Allocations made while `f` runs, per row it reports.
async fn counted<F: std::future::Future<Output = Measured>>(f: F) -> Measured {
    let before = ALLOCATIONS.load(Relaxed);
    let mut m = f.await;
    m.allocs_per_row = Some((ALLOCATIONS.load(Relaxed) - before) as f64 / m.rows.max(1) as f64);
    m
}

async fn raw_scan(dir: &Path, pair: Pair) -> Measured {
    let cfg = Config::parse(&config(dir, pair, "exact"), "bench").unwrap();
    let mut sides = Vec::new();
    for (url, what) in [(&cfg.source.url, "source"), (&cfg.destination.url, "destination")] {
        let db = Db::connect(url, what, 4).await.unwrap();
        let info = db.columns("t").await.unwrap();
        sides.push(Side::new(db, what, "t".into(), info, 1, None));
    }
    let t0 = Instant::now();
    let scan = |side: Side| async move {
        let mut n = 0u64;
        let mut after = None;
        loop {
            let page = side.page(after.as_ref(), BATCH).await.unwrap();
            n += page.len() as u64;
            if (page.len() as u64) < BATCH {
                return n;
            }
            after = page.last().map(|r| r.key(1));
        }
    };
    let (a, b) = tokio::join!(tokio::spawn(scan(sides[0].clone())), tokio::spawn(scan(sides[1].clone())));
    Measured::new("(a) raw scan", a.unwrap() + b.unwrap(), t0.elapsed().as_secs_f64(), "-".into())
}

/// The same keyset pages as movex reads, rows dropped undecoded but each
/// column's bytes touched: what a driver itself costs, in time and
/// allocations.
const COLUMNS: &str = "id, c1, c2, c3, c4, c5, c6, c7, c8, c9";

/// (a0) The driver movex reads with, alone: sqlx on MariaDB,
/// `tokio-postgres` on PostgreSQL.
async fn driver_alone(pair: Pair) -> Measured {
    async fn scan(server: Server, url: String) -> u64 {
        match server {
            Server::MariaDb => sqlx_pages::<sqlx::MySql>(&url, "?").await,
            Server::Postgres => tokio_postgres_pages(&url).await,
        }
    }
    let t0 = Instant::now();
    let (a, b) = tokio::join!(
        tokio::spawn(scan(pair.src, url(pair.src, "movex_bench_src"))),
        tokio::spawn(scan(pair.dst, url(pair.dst, "movex_bench_dst")))
    );
    Measured::new("(a0) driver alone", a.unwrap() + b.unwrap(), t0.elapsed().as_secs_f64(), "-".into())
}

/// (a1) On PostgreSQL, sqlx alone on the same pages: the driver movex read
/// with before `tokio-postgres`, side by side.
async fn sqlx_alone(pair: Pair) -> Measured {
    async fn scan(server: Server, url: String) -> u64 {
        match server {
            Server::MariaDb => sqlx_pages::<sqlx::MySql>(&url, "?").await,
            Server::Postgres => sqlx_pages::<sqlx::Postgres>(&url, "$1").await,
        }
    }
    let t0 = Instant::now();
    let (a, b) = tokio::join!(
        tokio::spawn(scan(pair.src, url(pair.src, "movex_bench_src"))),
        tokio::spawn(scan(pair.dst, url(pair.dst, "movex_bench_dst")))
    );
    Measured::new("(a1) sqlx alone", a.unwrap() + b.unwrap(), t0.elapsed().as_secs_f64(), "-".into())
}

async fn sqlx_pages<DB: sqlx::Database>(url: &str, placeholder: &str) -> u64
where
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB> + for<'q> sqlx::Encode<'q, DB>,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    use futures::TryStreamExt;
    let pool = sqlx::Pool::<DB>::connect(url).await.unwrap();
    let sql = format!("SELECT {COLUMNS} FROM t WHERE id > {placeholder} ORDER BY id LIMIT {BATCH}");
    let (mut n, mut after) = (0u64, i64::MIN);
    loop {
        let mut rows = sqlx::query::<DB>(&sql).bind(after).fetch(&pool);
        let mut page = 0u64;
        while let Some(r) = rows.try_next().await.unwrap() {
            after = sqlx::Row::try_get(&r, 0usize).unwrap();
            page += 1;
        }
        n += page;
        if page < BATCH {
            return n;
        }
    }
}

async fn tokio_postgres_pages(url: &str) -> u64 {
    use futures::TryStreamExt;
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let st = client.prepare(&format!("SELECT {COLUMNS} FROM t WHERE id > $1 ORDER BY id LIMIT {BATCH}")).await.unwrap();
    let (mut n, mut after) = (0u64, i64::MIN);
    loop {
        let rows = client.query_raw(&st, [after]).await.unwrap();
        futures::pin_mut!(rows);
        let mut page = 0u64;
        while let Some(r) = rows.try_next().await.unwrap() {
            after = r.get(0);
            page += 1;
        }
        n += page;
        if page < BATCH {
            return n;
        }
    }
}

async fn validation(dir: &Path, pair: Pair, native: bool) -> Measured {
    let cfg = Config::parse(&config(dir, pair, "exact"), "bench").unwrap();
    let v = Validator::open(cfg).await.unwrap();
    if native {
        v.register_native("exact", Arc::new(NativeExact(exact::Exact::bind(&movex_guest::Binding::settings(&Settings::default())).unwrap().into())));
    }
    let req = Request { tables: vec![], mode: RunMode::Full, direction: None, restart: true };
    let t0 = Instant::now();
    let r = v.run(&req, CancellationToken::new(), &Board::default()).await.unwrap();
    let secs = t0.elapsed().as_secs_f64();
    assert!(!r.failed(), "{r:?}");
    let f = &r.findings;
    Measured::new(
        if native { "(b) native comparator" } else { "(c) wasm comparator" },
        r.rows_read.base + r.rows_read.target,
        secs,
        format!("tm={} bm={} neq={}", f["target_missing"], f["base_missing"], f["neq"]),
    )
}

/// CPU seconds used so far by the database servers' processes (MariaDB's
/// one process; PostgreSQL's postmaster with the backends it has reaped,
/// and those still running), from /proc.
fn server_cpu(server: Server) -> f64 {
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut total = 0u64;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((head, tail)) = stat.rsplit_once(')') else { continue };
        let comm = head.split_once('(').map_or("", |(_, c)| c);
        let mine = match server {
            Server::MariaDb => comm == "mariadbd" || comm == "mysqld",
            Server::Postgres => comm == "postgres",
        };
        if !mine {
            continue;
        }
        // Fields after the command: state is 3rd; utime, stime, cutime, cstime are 14-17.
        let f: Vec<u64> = tail.split_whitespace().skip(11).take(4).map(|x| x.parse().unwrap_or(0)).collect();
        total += f.iter().sum::<u64>();
    }
    total as f64 / tick
}

fn servers(pair: Pair) -> Vec<Server> {
    if pair.src == pair.dst { vec![pair.src] } else { vec![pair.src, pair.dst] }
}

/// Run `commands` at once; wall time until the last ends, their CPU
/// (user + system, from wait4), the largest peak RSS, and their stdouts.
fn run_at_once(commands: Vec<Command>, pair: Pair) -> (f64, f64, f64, u64, Vec<Vec<u8>>) {
    let cpu0: f64 = servers(pair).into_iter().map(server_cpu).sum();
    let t0 = Instant::now();
    let mut running = Vec::new();
    for mut c in commands {
        running.push(process::spawn_reading(&mut c));
    }
    // Sample each child's high-water mark until it has ended (a zombie
    // has no VmHWM); it only grows, so the last sample is the peak.
    let mut rss = 0u64;
    loop {
        let samples: Vec<Option<u64>> = running.iter().map(|(c, _)| process::hwm_kib(c.id())).collect();
        rss = rss.max(samples.iter().flatten().copied().max().unwrap_or(0));
        if samples.iter().all(Option::is_none) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (mut cpu, mut outs) = (0.0, Vec::new());
    for (child, reader) in running {
        let mut status = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // wait4 gives this child's own CPU (getrusage would mix children).
        unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        cpu += secs(usage.ru_utime) + secs(usage.ru_stime);
        outs.push(reader.join().unwrap());
    }
    let wall = t0.elapsed().as_secs_f64();
    let server: f64 = servers(pair).into_iter().map(server_cpu).sum::<f64>() - cpu0;
    (wall, cpu, server, rss, outs)
}

/// (e) `movex validate`, the release binary, as a pipeline runs it.
fn whole_movex(dir: &Path, pair: Pair) -> Measured {
    let bin = target_dir().join("release/movex");
    assert!(bin.is_file(), "run `cargo build --release -p movex` first");
    let cfg = dir.join("whole.toml");
    std::fs::write(&cfg, config(dir, pair, "exact")).unwrap();
    let mut c = Command::new(bin);
    c.args(["validate", "--json", "--restart", "--config"]).arg(&cfg);
    let (wall, cpu, server, rss, outs) = run_at_once(vec![c], pair);
    let report: serde_json::Value = serde_json::from_slice(&outs[0]).unwrap_or_default();
    let f = &report["findings"];
    let rows = report["rows_read"]["base"].as_u64().unwrap_or(0) + report["rows_read"]["target"].as_u64().unwrap_or(0);
    let findings = format!("tm={} bm={} neq={}", f["target_missing"], f["base_missing"], f["neq"]);
    Measured { cpu: Some(cpu), server_cpu: Some(server), rss_kib: Some(rss), ..Measured::new("(e) movex validate", rows, wall, findings) }
}

/// (f) The databases' own command-line clients streaming both tables in
/// key order at once, output discarded.
fn whole_clients(pair: Pair, rows: u64) -> Measured {
    let client = |server: Server, db: &str| {
        let mut c;
        match server {
            Server::MariaDb => {
                c = Command::new("mariadb");
                c.args(["-h", "127.0.0.1", "-P", "3306", "-u", "root", "--quick", "-N", "-e", "SELECT * FROM t ORDER BY id", db]);
            }
            Server::Postgres => {
                c = Command::new("psql");
                c.args(["-h", "127.0.0.1", "-U", "root", "-d", db, "-c", "COPY (SELECT * FROM t ORDER BY id) TO STDOUT"]);
            }
        }
        c
    };
    let (wall, cpu, server, _, outs) = run_at_once(vec![client(pair.src, "movex_bench_src"), client(pair.dst, "movex_bench_dst")], pair);
    let lines: u64 = outs.iter().map(|o| o.iter().filter(|&&b| b == b'\n').count() as u64).sum();
    assert!(lines + 2 >= 2 * rows, "the clients read {lines} rows");
    Measured { cpu: Some(cpu), server_cpu: Some(server), ..Measured::new("(f) database clients", lines, wall, "-".into()) }
}

/// (d) reladiff on the same tables; its `-`/`+` lines mapped to finding types.
fn reladiff(pair: Pair, rows: u64) -> Option<Measured> {
    let bin = std::env::var("RELADIFF").unwrap_or_else(|_| "reladiff".into());
    let u = |server: Server, db: &str| url(server, db).replace("postgres://", "postgresql://");
    let mut c = Command::new(&bin);
    c.args([&u(pair.src, "movex_bench_src"), "t", &u(pair.dst, "movex_bench_dst"), "t", "-k", "id"])
        .args(["-c", "c1", "-c", "c2", "-c", "c3", "-c", "c4", "-c", "c5", "-c", "c6", "-c", "c7", "-c", "c8", "-c", "c9"]);
    if Command::new(&bin).arg("--version").output().is_err() {
        eprintln!("(d) skipped: cannot run {bin}; pip install 'reladiff[mysql,postgresql]==0.6.0'");
        return None;
    }
    let (wall, cpu, server, _, outs) = run_at_once(vec![c], pair);
    let (mut minus, mut plus) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for line in String::from_utf8_lossy(&outs[0]).lines() {
        let key = line.get(1..).and_then(|r| r.trim().trim_start_matches('(').split(',').next()).map(|k| k.trim().trim_matches('\'').to_owned());
        match (line.chars().next(), key) {
            (Some('-'), Some(k)) => drop(minus.insert(k)),
            (Some('+'), Some(k)) => drop(plus.insert(k)),
            _ => {}
        }
    }
    let neq = minus.intersection(&plus).count();
    let findings = format!("tm={} bm={} neq={neq}", minus.len() - neq, plus.len() - neq);
    Some(Measured { cpu: Some(cpu), server_cpu: Some(server), ..Measured::new("(d) reladiff", 2 * rows, wall, findings) })
}

fn median(runs: &[Measured], label: &str) -> Option<f64> {
    let mut r: Vec<f64> = runs.iter().filter(|m| m.label == label).map(Measured::rate).collect();
    r.sort_by(f64::total_cmp);
    r.get(r.len() / 2).copied()
}

fn report(pair: Pair, runs: &[Measured], expected: &str, versus: &str) {
    let limit = median(runs, versus).unwrap_or(f64::NAN);
    let opt = |x: Option<f64>, digits: usize| x.map_or("-".to_owned(), |v| format!("{v:.digits$}"));
    println!("\n{}: rows/s relative to the median of {versus}\n", pair.name);
    println!("| run | rows read | wall s | rows/s | vs {versus} | allocations per row | CPU s | servers' CPU s | peak RSS MiB | findings | exactly the seeded |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for m in runs {
        let exact = if m.findings == "-" { "-" } else if m.findings == expected { "yes" } else { "NO" };
        println!(
            "| {} | {} | {:.2} | {:.0} | {:.2}x | {} | {} | {} | {} | {} | {exact} |",
            m.label,
            m.rows,
            m.secs,
            m.rate(),
            m.rate() / limit,
            opt(m.allocs_per_row, 2),
            opt(m.cpu, 2),
            opt(m.server_cpu, 2),
            opt(m.rss_kib.map(|k| k as f64 / 1024.0), 1),
            m.findings
        );
    }
    for label in ["(a0) driver alone", "(a1) sqlx alone", "(a) raw scan", "(b) native comparator", "(c) wasm comparator", "(e) movex validate", "(f) database clients", "(d) reladiff"] {
        if let Some(r) = median(runs, label) {
            println!("median {label}: {r:.0} rows/s = {:.2}x {versus}", r / limit);
        }
    }
}

fn main() {
    let rows: u64 = arg("--rows").map_or(1_000_000, |r| r.parse().unwrap());
    let repeat: usize = arg("--repeat").map_or(3, |r| r.parse().unwrap());
    let only = arg("--only");
    let pairs: Vec<Pair> = match arg("--pair").as_deref().unwrap_or("mariadb") {
        "all" => PAIRS.to_vec(),
        "mariadb" => vec![PAIRS[0]],
        "postgres" => vec![PAIRS[1]],
        "mariadb-postgres" => vec![PAIRS[2]],
        other => panic!("--pair {other}: expected mariadb, postgres, mariadb-postgres or all"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = target_dir().join("bench-validator");
    std::fs::create_dir_all(&dir).unwrap();
    rt.block_on(mariadb_tables(rows));
    if pairs.iter().any(|p| p.dst == Server::Postgres) {
        rt.block_on(postgres_tables(rows));
    }
    let expected = seeded(rows);
    println!("rows per table: {rows}; seeded: {expected} (target_missing, base_missing, neq)");
    for pair in pairs {
        if only.as_deref() == Some("rss") {
            let m = whole_movex(&dir, pair);
            println!("\n{}: peak RSS of `movex validate` at {rows} rows: {:.1} MiB ({:.1} s; findings {})", pair.name, m.rss_kib.unwrap() as f64 / 1024.0, m.secs, m.findings);
            continue;
        }
        let mut runs: Vec<Measured> = Vec::new();
        if only.as_deref() != Some("whole") {
            for _ in 0..repeat {
                runs.push(rt.block_on(counted(driver_alone(pair))));
                if pair.src == Server::Postgres || pair.dst == Server::Postgres {
                    runs.push(rt.block_on(counted(sqlx_alone(pair))));
                }
                runs.push(rt.block_on(counted(raw_scan(&dir, pair))));
                runs.push(rt.block_on(counted(validation(&dir, pair, true))));
                runs.push(rt.block_on(counted(validation(&dir, pair, false))));
            }
            report(pair, &runs, &expected, "(a) raw scan");
            runs.clear();
        }
        if only.as_deref() != Some("inproc") {
            for _ in 0..repeat {
                runs.push(whole_clients(pair, rows));
                runs.push(whole_movex(&dir, pair));
            }
            runs.extend(reladiff(pair, rows));
            report(pair, &runs, &expected, "(f) database clients");
        }
    }
}
