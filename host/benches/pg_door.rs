//! The PostgreSQL front door under pgbench, side by side in one run
//! (BENCHMARKS.md): each workload and client count goes to PostgreSQL
//! directly, through PgBouncer in session mode (what a team would put in
//! front of PostgreSQL instead), through haproxy relaying TCP (the least
//! any proxy costs on this machine), through movex in `src_only`, as two
//! direct loads at once on two databases (the least doing every write
//! twice costs, with no proxy), and through movex in `src_first`, back to
//! back. Afterwards the `src_first` pair is validated: it must come out
//! clean.
//!
//! ```text
//! cargo build-examples && cargo build --release -p movex
//! cargo bench -p movex --bench pg_door -- --time 20 --repeat 3
//! ```
//! The rows of one load (direct, PgBouncer, haproxy, movex `src_only`) all
//! run on one database, the `src_only` movex's source; before every row the
//! databases are tidied as pgbench does before a run (history emptied,
//! branches and tellers vacuumed), the accounts vacuumed, a checkpoint
//! taken and every table and index read into the page cache, so no row
//! starts with the dead rows of those before it, nor from disk.
//!
//! Each row runs `--repeat` times (3), the rows taking turns and each
//! round starting one row later; the table gives each row's median (and
//! every run's TPS): on these machines one minute can run 20% slower than
//! the next, which a single run per row would put on whichever row it
//! fell on. The targets' ratios are also given round by round (each
//! round runs every row once, back to back): their median, and in how
//! many rounds movex met the target.
//!
//! Options: `--time S` (60, per run), `--repeat N` (3), `--clients 8,32`, `--workloads tpcb,simple-update`
//! (pgbench's default TPC-B-like script and `-N`), `--scale 32`,
//! `--mode simple` (pgbench `-M`: simple, extended or prepared), `--keep`
//! (the databases stay after the run),
//! `--proxy-threads N[,M...]` (`[proxy.postgres] threads` of the `src_only`
//! movex: unset, the config's default; each further value is one more
//! `src_only` row, a movex with that many threads over the same databases).
//! `--targets pgbouncer,haproxy,src_only,begin_at_once,double,src_first`
//! (the default; `begin_at_once` is a `src_only` movex with `defer_begin =
//! false`, which sends a transaction's `BEGIN` at once, not with its first
//! statement as movex does by default; and
//! `pgbouncer_again`, not run by default, is a second PgBouncer, the same
//! as the first: how far apart two identical proxies come out, which is
//! what a ratio to PgBouncer can resolve):
//! the rows besides `direct` (always run: the others are given against
//! it), for a closer look at a few with more `--repeat`s; databases and
//! movexes only rows left out need are not made.
//! The proxies' rows also give their CPU time per transaction (all their
//! threads, user and system, from `/proc`): less tied to the machine's load
//! than TPS.
//! Needs pgbench, pgbouncer and haproxy (`apt-get install postgresql-contrib
//! pgbouncer haproxy`); PgBouncer runs as the `postgres` user (it refuses
//! root). Databases `movex_pgd_direct`, `movex_pgd_direct2`,
//! `movex_pgd_a_{src,dst}` (the `src_only` movex) and `movex_pgd_b_{src,dst}`
//! (the `src_first` movex) are made anew, and dropped at the end (kept
//! with `--keep`, or when the closing validation finds differences).

#[path = "support/process.rs"]
mod process;
#[path = "support/door.rs"]
mod door;

use door::{Movex, Relay, free_port, post, wait_for};
use process::{cpu_seconds, target_dir};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// The rows' labels, as the table prints them and the ratios find them.
const DIRECT: &str = "direct";
const BOUNCER: &str = "PgBouncer, session mode";
const TWIN: &str = "PgBouncer again (a second one, A/A)";
const RELAY: &str = "haproxy TCP relay (floor)";
const ONLY: &str = "movex src_only";
const AT_ONCE: &str = "movex src_only, BEGIN sent at once (defer_begin = false)";
const DOUBLE: &str = "direct, 2 loads at once (double work)";
const FIRST: &str = "movex src_first";

/// What `--targets` can name (all of them by default).
const TARGETS: [&str; 7] = ["pgbouncer", "pgbouncer_again", "haproxy", "src_only", "begin_at_once", "double", "src_first"];

fn arg(name: &str, default: &str) -> String {
    process::arg(name).unwrap_or_else(|| default.to_owned())
}

fn psql(sql: &str) {
    let out = Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &format!("{SERVER}/postgres"), "-c", sql]).output().expect("psql");
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Every database of the run, as pgbench leaves them before a run without
/// `-n` (history emptied, branches and tellers vacuumed) and the accounts
/// vacuumed too, every table and index read into the page cache
/// (`pg_prewarm`); then a checkpoint. Done directly (not through a proxy)
/// before every row, so each starts from the same state, not from the dead
/// rows the rows before it left in its database, nor from a disk: these
/// machines page out file pages unused for about a minute (DAMON's
/// `pageout` scheme, `/sys/kernel/mm/damon`), so a database idle while
/// other rows ran used to start its run reading from disk (pgbench `-N`
/// x32 directly: 300 TPS cold, 3,200 warm).
fn tidy(dbs: &[&str]) {
    for db in dbs {
        let url = format!("{SERVER}/{db}");
        let prewarm = "SELECT pg_prewarm(c.oid::regclass, 'read') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')";
        let out = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &url, "-c", "TRUNCATE pgbench_history", "-c", "VACUUM ANALYZE pgbench_branches, pgbench_tellers, pgbench_accounts", "-c", prewarm])
            .output()
            .expect("psql");
        assert!(out.status.success(), "tidying {db}: {}", String::from_utf8_lossy(&out.stderr));
    }
    psql("CHECKPOINT");
}

/// `db` made anew, with `pg_prewarm` for [`tidy`].
fn fresh(db: &str) {
    psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    psql(&format!("CREATE DATABASE {db}"));
    let out = Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &format!("{SERVER}/{db}"), "-c", "CREATE EXTENSION pg_prewarm"]).output().expect("psql");
    assert!(out.status.success(), "pg_prewarm in {db} (it comes with PostgreSQL's server package): {}", String::from_utf8_lossy(&out.stderr));
}

/// A `movex serve` with `[proxy.postgres]` (and `settings` in it) over
/// `<dbs>_src` and `<dbs>_dst`, in `src_first`. `fresh`: the databases are
/// made anew (`pgbench -i` through it then fills both).
fn movex(dir: &Path, name: &str, dbs: &str, settings: &str, fresh_dbs: bool) -> Movex {
    if fresh_dbs {
        for side in ["src", "dst"] {
            fresh(&format!("{dbs}_{side}"));
        }
    }
    let (http, proxy) = (free_port(), free_port());
    let mut text = format!(
        "[source]\nurl = \"{SERVER}/{dbs}_src\"\n[destination]\nurl = \"{SERVER}/{dbs}_dst\"\n\
         [state]\nurl = \"sqlite://{state}\"\n[modules]\ndir = \"{modules}\"\n[http]\nlisten = \"127.0.0.1:{http}\"\n\
         [proxy.postgres]\nlisten = \"127.0.0.1:{proxy}\"\n{settings}[[proxy.postgres.users]]\nname = \"app\"\npassword = \"app-secret\"\n",
        state = dir.join(format!("{name}.db")).display(),
        modules = target_dir().join("wasm32-unknown-unknown/release").display(),
    );
    for (t, k) in [("pgbench_accounts", "aid"), ("pgbench_branches", "bid"), ("pgbench_tellers", "tid")] {
        text += &format!("[[tables]]\nname = \"{t}\"\nkey = [\"{k}\"]\ncomparator = \"exact\"\n");
    }
    Movex::launch(dir, name, &text, http, proxy, &["/src_only", "/src_first"])
}

/// PgBouncer in session mode in front of the shared server, as the
/// `postgres` user, its files in a directory of its own.
struct Bouncer {
    port: u16,
    child: Child,
    pidfile: std::path::PathBuf,
}

impl Bouncer {
    fn start(dir: &Path, name: &str) -> Option<Bouncer> {
        let bin = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].into_iter().find(|p| Path::new(p).exists())?;
        let home = dir.join(name);
        std::fs::create_dir_all(&home).unwrap();
        let port = free_port();
        let ini = home.join("pgbouncer.ini");
        let pidfile = home.join("pgbouncer.pid");
        // Its server connections are closed a second after their row:
        // PgBouncer keeps them 10 minutes by default, and two PgBouncers'
        // 32 each, with the double-work row's 64, are past the server's
        // max_connections (100).
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host=127.0.0.1 port=5432 user=postgres\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 auth_type = any\npool_mode = session\nmax_client_conn = 400\ndefault_pool_size = 80\nserver_idle_timeout = 1\nunix_socket_dir =\n\
                 logfile = {log}\npidfile = {pid}\n",
                log = home.join("pgbouncer.log").display(),
                pid = pidfile.display()
            ),
        )
        .unwrap();
        let _ = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir).status();
        let child = Command::new("runuser").args(["-u", "postgres", "--", bin]).arg(&ini).stdout(Stdio::null()).stderr(Stdio::null()).spawn().ok()?;
        wait_for(port, "pgbouncer", Duration::from_secs(10));
        Some(Bouncer { port, child, pidfile })
    }

    /// PgBouncer's own process (runuser's child), by its pid file.
    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(&self.pidfile).ok()?.trim().parse().ok()
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        // Killing runuser does not stop its child: PgBouncer by its pid.
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The middle value (the mean of the middle two of an even count).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// What pgbench reported.
#[derive(Clone, Copy, Default)]
struct Run {
    tps: f64,
    latency_ms: f64,
    failed: u64,
    transactions: u64,
    /// The proxy's CPU time per transaction, in microseconds.
    cpu_us: Option<f64>,
}

fn pgbench(url: &str, args: &[&str]) -> Output {
    let out = Command::new("pgbench").args(args).arg(url).stderr(Stdio::piped()).output().expect("pgbench (apt-get install postgresql-contrib)");
    assert!(out.status.success(), "pgbench {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn parse(report: &str) -> Run {
    let after = |label: &str| report.lines().find_map(|l| l.trim_start().strip_prefix(label)).map(str::trim);
    let num = |s: &str| s.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()).unwrap_or(f64::NAN);
    Run {
        tps: after("tps = ").map(num).unwrap_or(f64::NAN),
        latency_ms: after("latency average = ").map(num).unwrap_or(f64::NAN),
        failed: after("number of failed transactions:").map(num).unwrap_or(f64::NAN) as u64,
        transactions: after("number of transactions actually processed:").and_then(|s| s.split('/').next()).map(num).unwrap_or(f64::NAN) as u64,
        cpu_us: None,
    }
}

/// One row of the table: a pgbench load on one URL (through the proxy
/// with this process id, if any), or two at once.
enum Target {
    One(String, String, Option<u32>),
    /// Two loads at once on two databases of the same server, directly.
    Pair(String, [String; 2]),
}

impl Target {
    fn label(&self) -> &str {
        match self {
            Target::One(label, ..) | Target::Pair(label, _) => label,
        }
    }

    fn run(&self, args: &[&str]) -> (&str, Run) {
        match self {
            Target::One(label, url, pid) => {
                let before = pid.and_then(cpu_seconds);
                let mut run = parse(&String::from_utf8_lossy(&pgbench(url, args).stdout));
                let after = pid.and_then(cpu_seconds);
                if let (Some(b), Some(a)) = (before, after) {
                    run.cpu_us = Some((a - b) * 1e6 / run.transactions as f64);
                }
                (label, run)
            }
            Target::Pair(label, urls) => {
                let runs: Vec<Run> = std::thread::scope(|s| {
                    let handles: Vec<_> = urls.iter().map(|u| s.spawn(move || parse(&String::from_utf8_lossy(&pgbench(u, args).stdout)))).collect();
                    handles.into_iter().map(|h| h.join().unwrap()).collect()
                });
                let run = Run {
                    tps: runs.iter().map(|r| r.tps).sum::<f64>() / 2.0,
                    latency_ms: runs.iter().map(|r| r.latency_ms).fold(0.0, f64::max),
                    failed: runs.iter().map(|r| r.failed).sum(),
                    transactions: runs.iter().map(|r| r.transactions).sum(),
                    cpu_us: None,
                };
                (label, run)
            }
        }
    }
}

fn main() {
    let time = arg("--time", "60");
    let clients: Vec<String> = arg("--clients", "8,32").split(',').map(str::to_owned).collect();
    let workloads: Vec<String> = arg("--workloads", "tpcb,simple-update").split(',').map(str::to_owned).collect();
    let scale = arg("--scale", "32");
    let mode = arg("--mode", "simple");
    let repeat: usize = arg("--repeat", "3").parse().expect("--repeat N: how many runs of each row");
    assert!(repeat > 0, "--repeat N: at least 1");
    let chosen = arg("--targets", &TARGETS.iter().filter(|t| **t != "pgbouncer_again").copied().collect::<Vec<_>>().join(","));
    let chosen: Vec<&str> = chosen.split(',').map(str::trim).collect();
    for c in &chosen {
        assert!(TARGETS.contains(c), "--targets: {c:?} is none of {}", TARGETS.join(", "));
    }
    let wants = |t: &str| chosen.contains(&t);
    let dir = std::env::temp_dir().join(format!("movex-pg-door-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    eprintln!("initialising scale {scale}: directly, and through each movex in src_first");
    let init = ["-i", "-q", "-s", scale.as_str()];
    // The databases of this run, tidied before every row.
    let mut dbs = vec!["movex_pgd_a_src", "movex_pgd_a_dst"];
    if wants("src_first") {
        dbs.extend(["movex_pgd_b_src", "movex_pgd_b_dst"]);
    }
    let directs: &[&str] = if wants("double") { &["movex_pgd_direct", "movex_pgd_direct2"] } else { &[] };
    dbs.extend(directs);
    for db in directs {
        fresh(db);
        pgbench(&format!("{SERVER}/{db}"), &init);
    }
    let threads: Vec<String> = process::arg("--proxy-threads").map(|t| t.split(',').map(str::to_owned).collect()).unwrap_or_default();
    let threads_line = |t: &str| format!("threads = {t}\n");
    let settings = threads.first().map(|t| threads_line(t)).unwrap_or_default();
    // The src_only movex's source is every one-load row's database: always made.
    let only = movex(&dir, "movex_pgd_a", "movex_pgd_a", &settings, true);
    let first = wants("src_first").then(|| movex(&dir, "movex_pgd_b", "movex_pgd_b", &settings, true));
    let via = |m: &Movex, dbs: &str| format!("postgresql://app:app-secret@127.0.0.1:{}/{dbs}_src", m.proxy);
    pgbench(&via(&only, "movex_pgd_a"), &init);
    if let Some(first) = &first {
        pgbench(&via(first, "movex_pgd_b"), &init);
    }
    post(only.http, "/src_only");
    // More thread counts: movexes over the `src_only` one's databases.
    let mut others: Vec<(String, Movex)> =
        threads.iter().skip(1).enumerate().map(|(i, t)| (format!("movex src_only, threads = {t}"), movex(&dir, &format!("movex_pgd_a{i}"), "movex_pgd_a", &threads_line(t), false))).collect();
    if wants("begin_at_once") {
        others.push((AT_ONCE.into(), movex(&dir, "movex_pgd_a_at_once", "movex_pgd_a", &format!("{settings}defer_begin = false\n"), false)));
    }
    for (_, m) in &others {
        post(m.http, "/src_only");
    }

    let relay = wants("haproxy").then(|| Relay::to(&dir, 5432)).flatten();
    let bouncer = wants("pgbouncer").then(|| Bouncer::start(&dir, "pgbouncer")).flatten();
    let twin = wants("pgbouncer_again").then(|| Bouncer::start(&dir, "pgbouncer-again")).flatten();
    if wants("haproxy") && relay.is_none() || (wants("pgbouncer") || wants("pgbouncer_again")) && bouncer.is_none() {
        eprintln!("haproxy or pgbouncer is not installed: their rows are skipped (apt-get install haproxy pgbouncer)");
    }
    // Every one-load row runs on the one database, the src_only movex's
    // source: the same rows, tidied the same way before each.
    let direct = format!("{SERVER}/movex_pgd_a_src");
    let mut targets = vec![Target::One(DIRECT.into(), direct.clone(), None)];
    if let Some(b) = &bouncer {
        targets.push(Target::One(BOUNCER.into(), format!("postgres://postgres@127.0.0.1:{}/movex_pgd_a_src", b.port), b.pid()));
    }
    if let Some(b) = &twin {
        targets.push(Target::One(TWIN.into(), format!("postgres://postgres@127.0.0.1:{}/movex_pgd_a_src", b.port), b.pid()));
    }
    if let Some(r) = &relay {
        targets.push(Target::One(RELAY.into(), format!("postgres://postgres@127.0.0.1:{}/movex_pgd_a_src", r.port), Some(r.pid())));
    }
    if wants("src_only") {
        targets.push(Target::One(ONLY.into(), via(&only, "movex_pgd_a"), Some(only.pid())));
    }
    for (label, m) in &others {
        targets.push(Target::One(label.clone(), via(m, "movex_pgd_a"), Some(m.pid())));
    }
    if wants("double") {
        targets.push(Target::Pair(DOUBLE.into(), [format!("{SERVER}/movex_pgd_direct"), format!("{SERVER}/movex_pgd_direct2")]));
    }
    if let Some(first) = &first {
        targets.push(Target::One(FIRST.into(), via(first, "movex_pgd_b"), Some(first.pid())));
    }

    println!("| workload | clients | target | TPS (median) | vs direct | TPS of each run | latency ms | added ms | failed | proxy CPU µs/tx |");
    println!("|---|---:|---|---:|---:|---|---:|---:|---:|---:|");
    let mut summary = Vec::new();
    for w in &workloads {
        for c in &clients {
            let mut args = vec!["-n", "-c", c.as_str(), "-j", "2", "-T", time.as_str(), "-M", mode.as_str()];
            if w == "simple-update" {
                args.push("-N");
            }
            // Each row `repeat` times, the rows in turn, each round
            // starting one row later: a row is not always the one after
            // the same other, and a slow minute of the machine falls on
            // one run of a row, not on the whole row.
            let mut runs: Vec<Vec<Run>> = vec![Vec::new(); targets.len()];
            for round in 0..repeat {
                for k in 0..targets.len() {
                    let i = (k + round) % targets.len();
                    tidy(&dbs);
                    let (label, r) = targets[i].run(&args);
                    eprintln!("{w} x{c} round {round} {label}: {:.1} tps, latency {:.2} ms, {} failed", r.tps, r.latency_ms, r.failed);
                    runs[i].push(r);
                }
            }
            // `direct` is the first row.
            let (base_tps, base_latency) = (median(runs[0].iter().map(|r| r.tps)), median(runs[0].iter().map(|r| r.latency_ms)));
            for (target, rs) in targets.iter().zip(&runs) {
                let label = target.label();
                let (tps, latency) = (median(rs.iter().map(|r| r.tps)), median(rs.iter().map(|r| r.latency_ms)));
                let ratio = tps / base_tps;
                let each = rs.iter().map(|r| format!("{:.0}", r.tps)).collect::<Vec<_>>().join(", ");
                let failed: u64 = rs.iter().map(|r| r.failed).sum();
                let cpu = if rs.iter().all(|r| r.cpu_us.is_some()) { format!("{:.0}", median(rs.iter().filter_map(|r| r.cpu_us))) } else { "-".to_owned() };
                println!("| {w} | {c} | {label} | {tps:.1} | {ratio:.2}x | {each} | {latency:.2} | {:+.2} | {failed} | {cpu} |", latency - base_latency);
            }
            let by_round: HashMap<String, Vec<f64>> = targets.iter().zip(&runs).map(|(t, rs)| (t.label().to_owned(), rs.iter().map(|r| r.tps).collect())).collect();
            summary.push((format!("{w} x{c}"), by_round));
        }
    }
    let mut clean = true;
    if let Some(first) = &first {
        let out = Command::new(target_dir().join("release/movex")).args(["validate", "--config"]).arg(&first.config).output().unwrap();
        clean = out.status.success();
        println!(
            "\nvalidate (the src_first pair after every run): exit {:?}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n")
        );
    }
    // The shared server keeps none of the run's databases, unless asked
    // to or they are needed to look into a failed validation.
    let keep = std::env::args().any(|a| a == "--keep");
    if clean && !keep {
        drop((relay, bouncer, twin, only, first, others));
        for db in &dbs {
            psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    } else {
        eprintln!("kept for a look: databases {}", dbs.join(", "));
    }
    // Each movex figure next to its ceiling: src_only against the relay
    // floor and PgBouncer; src_first against double work times the floor
    // (each only where its rows ran).
    println!();
    let mut paired_lines = Vec::new();
    for (what, by_round) in summary {
        paired_lines.push(paired(&what, &by_round));
        // Medians against direct's.
        let ratio = |label: &str| by_round.get(label).map(|tps| median(tps.iter().copied()) / median(by_round[DIRECT].iter().copied()));
        let floor = ratio(RELAY);
        let mut parts = Vec::new();
        if let Some(only) = ratio(ONLY) {
            let mut part = format!("src_only {only:.2}x direct");
            if let Some(floor) = floor {
                part += &format!(" = {:.2}x the relay floor ({floor:.2}x)", only / floor);
            }
            if let Some(bouncer) = ratio(BOUNCER) {
                part += &format!(", {:.2}x PgBouncer ({bouncer:.2}x)", only / bouncer);
            }
            parts.push(part);
        }
        if let (Some(at_once), Some(bouncer)) = (ratio(AT_ONCE), ratio(BOUNCER)) {
            parts.push(format!("src_only with BEGIN sent at once {at_once:.2}x direct = {:.2}x PgBouncer", at_once / bouncer));
        }
        if let (Some(twin), Some(bouncer)) = (ratio(TWIN), ratio(BOUNCER)) {
            parts.push(format!("PgBouncer again {twin:.2}x direct = {:.2}x PgBouncer", twin / bouncer));
        }
        if let (Some(first), Some(double), Some(floor)) = (ratio(FIRST), ratio(DOUBLE), floor) {
            parts.push(format!(
                "src_first {first:.2}x direct = {:.2}x its ceiling ({double:.2}x double work x {floor:.2}x relay = {:.2}x)",
                first / (double * floor),
                double * floor
            ));
        }
        println!("{what}: {}", parts.join("; "));
    }
    println!("\nThe same ratios taken round by round (each round runs every row once, back to back), their median and how many rounds reached 1.00x:");
    for line in paired_lines {
        println!("{line}");
    }
}

/// The ratios of [`main`]'s summary taken within each round, whose runs
/// are minutes apart rather than up to a row-group apart: less of the
/// machine's drift between the two sides of a ratio. Their median, and
/// in how many rounds movex reached the target.
fn paired(what: &str, by_round: &HashMap<String, Vec<f64>>) -> String {
    let tps = |label: &str| by_round.get(label);
    let mut parts = Vec::new();
    let mut each = |name: &str, values: Vec<f64>| {
        let met = values.iter().filter(|v| **v >= 1.0).count();
        let list = values.iter().map(|v| format!("{v:.2}")).collect::<Vec<_>>().join(", ");
        parts.push(format!("{name} {:.2}x, {met} of {} rounds >= 1.00x ({list})", median(values.iter().copied()), values.len()));
    };
    if let (Some(only), Some(floor)) = (tps(ONLY), tps(RELAY)) {
        each("src_only / (0.95 x relay)", only.iter().zip(floor).map(|(o, f)| o / (0.95 * f)).collect());
    }
    if let (Some(only), Some(bouncer)) = (tps(ONLY), tps(BOUNCER)) {
        each("src_only / PgBouncer", only.iter().zip(bouncer).map(|(o, b)| o / b).collect());
    }
    if let (Some(at_once), Some(bouncer)) = (tps(AT_ONCE), tps(BOUNCER)) {
        each("src_only with BEGIN sent at once / PgBouncer", at_once.iter().zip(bouncer).map(|(o, b)| o / b).collect());
    }
    if let (Some(twin), Some(bouncer)) = (tps(TWIN), tps(BOUNCER)) {
        each("PgBouncer again / PgBouncer", twin.iter().zip(bouncer).map(|(o, b)| o / b).collect());
    }
    if let (Some(first), Some(direct), Some(double), Some(floor)) = (tps(FIRST), tps(DIRECT), tps(DOUBLE), tps(RELAY)) {
        // first/direct over (double/direct x floor/direct), round by round.
        each("src_first / (0.95 x ceiling)", (0..first.len()).map(|i| first[i] * direct[i] / (0.95 * double[i] * floor[i])).collect());
    }
    format!("{what}: {}", parts.join("; "))
}
