//! `movex copy` side by side with the tools a user would pick instead, in
//! one run, rounds interleaved (BENCHMARKS.md):
//! - MariaDB -> MariaDB (another database on the same server): `movex copy`,
//!   `mariadb-dump | mariadb`, and mydumper then myloader (2 threads each);
//! - MariaDB -> PostgreSQL: `movex copy` and pgloader (data only, into the
//!   same empty table).
//!
//! Each copy starts from an empty destination table; wall time, CPU of the
//! tool's processes (wait4, children included) and movex's peak RSS; every
//! movex copy, and the peers' results too, must then validate clean
//! (`movex validate`, exact comparator).
//!
//! ```text
//! cargo build-examples && cargo build --release -p movex
//! apt-get install mydumper pgloader
//! cargo bench -p movex --bench copy -- --rows 1000000 --repeat 3
//! cargo bench -p movex --bench copy -- --rows 10000000 --only rss
//! ```
//! The source is `movex_copy_src.t` on MariaDB (10 columns: BIGINT key,
//! INT, BIGINT, two VARCHARs, DECIMAL(12,2), DOUBLE, DATETIME(6), TINYINT,
//! VARCHAR), built once per `--rows`.

#[path = "support/process.rs"]
mod process;
use process::{arg, target_dir};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const MYSQL: &str = "mysql://root@127.0.0.1:3306";
const PG: &str = "postgres://root@127.0.0.1:5432";


fn mariadb(sql: &str) {
    let out = Command::new("mariadb").args(["-h127.0.0.1", "-uroot", "test", "-e", sql]).output().unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
}

fn psql(db: &str, sql: &str) {
    let out = Command::new("psql").args(["-h", "127.0.0.1", "-U", "root", "-d", db, "-v", "ON_ERROR_STOP=1", "-c", sql]).output().unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The source table for `rows`, unless it is there already.
fn source(rows: u64) {
    let want = format!("rows={rows} v1");
    let have = Command::new("mariadb")
        .args(["-h127.0.0.1", "-uroot", "-N", "-e", "SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'movex_copy_src' AND TABLE_NAME = 't'"])
        .output()
        .unwrap();
    if String::from_utf8_lossy(&have.stdout).trim() == want {
        return;
    }
    eprintln!("building movex_copy_src.t with {rows} rows ...");
    mariadb(&format!(
        "DROP DATABASE IF EXISTS movex_copy_src; CREATE DATABASE movex_copy_src;
         CREATE TABLE movex_copy_src.t (id BIGINT PRIMARY KEY, c1 INT, c2 BIGINT, c3 VARCHAR(32), c4 VARCHAR(64),
           c5 DECIMAL(12,2), c6 DOUBLE, c7 DATETIME(6), c8 TINYINT, c9 VARCHAR(16));
         INSERT INTO movex_copy_src.t SELECT 2 * seq, seq % 100000, seq * 7919, CONCAT('name-', seq),
           CONCAT('user', seq, '@example.com'), (seq % 100000) / 100, seq / 3, TIMESTAMP '2020-01-01 00:00:00' + INTERVAL seq SECOND,
           seq % 100, ELT(1 + seq % 3, 'free', 'gold', 'vip') FROM seq_1_to_{rows};
         ANALYZE TABLE movex_copy_src.t; ALTER TABLE movex_copy_src.t COMMENT = '{want}';"
    ));
}

/// Empty destination tables on both servers.
fn empty_destinations() {
    mariadb("DROP DATABASE IF EXISTS movex_copy_dst; CREATE DATABASE movex_copy_dst; CREATE TABLE movex_copy_dst.t LIKE movex_copy_src.t; ALTER TABLE movex_copy_dst.t COMMENT = ''");
    psql("test", "DROP DATABASE IF EXISTS movex_copy_pg WITH (FORCE)");
    psql("test", "CREATE DATABASE movex_copy_pg");
    psql(
        "movex_copy_pg",
        "CREATE TABLE t (id BIGINT PRIMARY KEY, c1 INT, c2 BIGINT, c3 VARCHAR(32), c4 VARCHAR(64), c5 NUMERIC(12,2),
           c6 DOUBLE PRECISION, c7 TIMESTAMP(6), c8 SMALLINT, c9 VARCHAR(16))",
    );
}

/// Run one command: wall s, CPU s (its own and its waited-for children's),
/// peak RSS KiB (its own), stdout.
fn run(mut c: Command) -> (f64, f64, u64, Vec<u8>) {
    let t0 = Instant::now();
    let (child, reader) = process::spawn_reading(&mut c);
    let mut rss = 0;
    while let Some(s) = process::hwm_kib(child.id()) {
        rss = rss.max(s);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{c:?} failed ({status})");
    (t0.elapsed().as_secs_f64(), secs(usage.ru_utime) + secs(usage.ru_stime), rss, reader.join().unwrap())
}

fn config(dir: &Path, dst: &str) -> PathBuf {
    let modules = dir.join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::copy(target_dir().join("wasm32-unknown-unknown/release/exact.wasm"), modules.join("exact.wasm")).expect("cargo build-examples first");
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let state = dir.join(format!("state-{stamp}.db"));
    let _ = std::fs::remove_file(&state);
    let cfg = dir.join("copy.toml");
    std::fs::write(
        &cfg,
        format!(
            "[source]\nurl = \"{MYSQL}/movex_copy_src\"\n[destination]\nurl = \"{dst}\"\n[state]\nurl = \"sqlite://{}\"\n[modules]\ndir = \"{}\"\n\
             [[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"exact\"\n",
            state.display(),
            modules.display()
        ),
    )
    .unwrap();
    cfg
}

fn movex() -> Command {
    let bin = target_dir().join("release/movex");
    assert!(bin.is_file(), "cargo build --release -p movex first");
    Command::new(bin)
}

/// `movex validate` on what a copy left: exit 0 or the report.
fn validates_clean(cfg: &Path) -> bool {
    let out = movex().args(["validate", "--json", "--restart", "--config"]).arg(cfg).output().unwrap();
    if !out.status.success() {
        eprintln!("validation: {}", String::from_utf8_lossy(&out.stdout));
    }
    out.status.success()
}

struct Row {
    what: String,
    wall: f64,
    cpu: f64,
    rss: Option<u64>,
    clean: bool,
}

fn movex_copy(dir: &Path, dst: &str, what: &str) -> Row {
    let cfg = config(dir, dst);
    let mut c = movex();
    c.args(["copy", "--offline", "--json", "--config"]).arg(&cfg);
    let (wall, cpu, rss, out) = run(c);
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    assert_eq!(report["tables"][0]["state"], "done", "{report}");
    Row { what: what.into(), wall, cpu, rss: Some(rss), clean: validates_clean(&cfg) }
}

fn shell(dir: &Path, what: &str, script: &str, dst: &str) -> Row {
    let mut c = Command::new("sh");
    c.args(["-c", script]).current_dir(dir);
    let (wall, cpu, _, _) = run(c);
    Row { what: what.into(), wall, cpu, rss: None, clean: validates_clean(&config(dir, dst)) }
}

fn main() {
    let rows: u64 = arg("--rows").map_or(1_000_000, |r| r.parse().unwrap());
    let repeat: usize = arg("--repeat").map_or(3, |r| r.parse().unwrap());
    let dir = target_dir().join("bench-copy");
    std::fs::create_dir_all(&dir).unwrap();
    source(rows);
    let (my_dst, pg_dst) = (format!("{MYSQL}/movex_copy_dst"), format!("{PG}/movex_copy_pg"));
    if arg("--only").as_deref() == Some("rss") {
        empty_destinations();
        let r = movex_copy(&dir, &my_dst, "movex copy");
        println!("peak RSS of `movex copy` MariaDB -> MariaDB at {rows} rows: {:.1} MiB ({:.1} s, clean: {})", r.rss.unwrap() as f64 / 1024.0, r.wall, r.clean);
        return;
    }
    let have = |bin: &str| Command::new("sh").args(["-c", &format!("command -v {bin}")]).output().is_ok_and(|o| o.status.success());
    let pgloader_file = dir.join("pgloader.load");
    std::fs::write(
        &pgloader_file,
        "LOAD DATABASE FROM mysql://root@127.0.0.1:3306/movex_copy_src INTO postgresql://root@127.0.0.1:5432/movex_copy_pg\n\
         WITH data only, workers = 2, concurrency = 1\n\
         ALTER SCHEMA 'movex_copy_src' RENAME TO 'public';\n",
    )
    .unwrap();
    let mut results: Vec<(&str, Row)> = Vec::new();
    for round in 0..repeat {
        eprintln!("round {}", round + 1);
        empty_destinations();
        results.push(("MariaDB -> MariaDB", movex_copy(&dir, &my_dst, "movex copy")));
        empty_destinations();
        results.push((
            "MariaDB -> MariaDB",
            shell(&dir, "mariadb-dump, then mariadb", "mariadb-dump -h127.0.0.1 -uroot --single-transaction --quick movex_copy_src t | mariadb -h127.0.0.1 -uroot movex_copy_dst", &my_dst),
        ));
        if have("mydumper") {
            empty_destinations();
            let _ = std::fs::remove_dir_all(dir.join("dump"));
            results.push((
                "MariaDB -> MariaDB",
                shell(
                    &dir,
                    "mydumper + myloader (2 threads)",
                    "mydumper -h 127.0.0.1 -u root -B movex_copy_src -T t -t 2 -o dump && \
                     myloader -h 127.0.0.1 -u root -d dump -B movex_copy_dst -t 2 -o",
                    &my_dst,
                ),
            ));
        }
        empty_destinations();
        results.push(("MariaDB -> PostgreSQL", movex_copy(&dir, &pg_dst, "movex copy")));
        if have("pgloader") {
            empty_destinations();
            results.push(("MariaDB -> PostgreSQL", shell(&dir, "pgloader", &format!("pgloader --no-ssl-cert-verification {} > pgloader.log 2>&1", pgloader_file.display()), &pg_dst)));
        }
    }
    println!("\n{rows} rows, {repeat} rounds interleaved; medians (min-max)\n");
    println!("| pair | tool | wall s | rows/s | CPU s | peak RSS MiB | validates clean |");
    println!("|---|---|---:|---:|---:|---:|---|");
    let mut seen: Vec<(&str, String)> = Vec::new();
    for (pair, r) in &results {
        if seen.iter().any(|(p, w)| p == pair && *w == r.what) {
            continue;
        }
        seen.push((pair, r.what.clone()));
        let same: Vec<&Row> = results.iter().filter(|(p, x)| p == pair && x.what == r.what).map(|(_, x)| x).collect();
        let med = |f: &dyn Fn(&Row) -> f64| {
            let mut v: Vec<f64> = same.iter().map(|x| f(x)).collect();
            v.sort_by(f64::total_cmp);
            (v[v.len() / 2], v[0], v[v.len() - 1])
        };
        let (w, wmin, wmax) = med(&|x| x.wall);
        let (c, _, _) = med(&|x| x.cpu);
        let rss = same.iter().filter_map(|x| x.rss).max().map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0));
        let clean = if same.iter().all(|x| x.clean) { "yes, every run" } else { "NO" };
        println!("| {pair} | {} | {w:.2} ({wmin:.2}-{wmax:.2}) | {:.0} | {c:.2} | {rss} | {clean} |", r.what, rows as f64 / w);
    }
}
