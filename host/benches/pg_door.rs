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
//! cargo bench -p movex --bench pg_door -- --time 60
//! ```
//! Options: `--time S` (60), `--clients 8,32`, `--workloads tpcb,simple-update`
//! (pgbench's default TPC-B-like script and `-N`), `--scale 32`,
//! `--mode simple` (pgbench `-M`: simple, extended or prepared),
//! `--proxy-threads N` (`[proxy.postgres] threads`; 0, the default, is one
//! per core).
//! Needs pgbench, pgbouncer and haproxy (`apt-get install postgresql-contrib
//! pgbouncer haproxy`); PgBouncer runs as the `postgres` user (it refuses
//! root). Databases `movex_pgd_direct`, `movex_pgd_direct2`,
//! `movex_pgd_a_{src,dst}` (the `src_only` movex) and `movex_pgd_b_{src,dst}`
//! (the `src_first` movex) are dropped and made again.

#[path = "support/process.rs"]
mod process;
#[path = "support/door.rs"]
mod door;

use door::{Movex, Relay, free_port, post, wait_for};
use process::target_dir;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

fn arg(name: &str, default: &str) -> String {
    process::arg(name).unwrap_or_else(|| default.to_owned())
}

fn psql(sql: &str) {
    let out = Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &format!("{SERVER}/postgres"), "-c", sql]).output().expect("psql");
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
}

fn fresh(db: &str) {
    psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    psql(&format!("CREATE DATABASE {db}"));
}

/// A `movex serve` with `[proxy.postgres]` over `<name>_src` and
/// `<name>_dst`, in `src_first`: `pgbench -i` through it fills both.
fn movex(dir: &Path, name: &str, threads: &str) -> Movex {
    for side in ["src", "dst"] {
        fresh(&format!("{name}_{side}"));
    }
    let (http, proxy) = (free_port(), free_port());
    let mut text = format!(
        "[source]\nurl = \"{SERVER}/{name}_src\"\n[destination]\nurl = \"{SERVER}/{name}_dst\"\n\
         [state]\nurl = \"sqlite://{state}\"\n[modules]\ndir = \"{modules}\"\n[http]\nlisten = \"127.0.0.1:{http}\"\n\
         [proxy.postgres]\nlisten = \"127.0.0.1:{proxy}\"\nthreads = {threads}\n[[proxy.postgres.users]]\nname = \"app\"\npassword = \"app-secret\"\n",
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
}

impl Bouncer {
    fn start(dir: &Path) -> Option<Bouncer> {
        let bin = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].into_iter().find(|p| Path::new(p).exists())?;
        let home = dir.join("pgbouncer");
        std::fs::create_dir_all(&home).unwrap();
        let port = free_port();
        let ini = home.join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host=127.0.0.1 port=5432 user=postgres\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 auth_type = any\npool_mode = session\nmax_client_conn = 400\ndefault_pool_size = 80\nunix_socket_dir =\n\
                 logfile = {log}\npidfile = {pid}\n",
                log = home.join("pgbouncer.log").display(),
                pid = home.join("pgbouncer.pid").display()
            ),
        )
        .unwrap();
        let _ = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir).status();
        let child = Command::new("runuser").args(["-u", "postgres", "--", bin]).arg(&ini).stdout(Stdio::null()).stderr(Stdio::null()).spawn().ok()?;
        wait_for(port, "pgbouncer", Duration::from_secs(10));
        Some(Bouncer { port, child })
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What pgbench reported.
#[derive(Clone, Copy, Default)]
struct Run {
    tps: f64,
    latency_ms: f64,
    failed: u64,
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
    }
}

/// One row of the table: a pgbench load on one URL, or two at once.
enum Target {
    One(&'static str, String),
    /// Two loads at once on two databases of the same server, directly.
    Pair(&'static str, [String; 2]),
}

impl Target {
    fn run(&self, args: &[&str]) -> (&'static str, Run) {
        match self {
            Target::One(label, url) => (label, parse(&String::from_utf8_lossy(&pgbench(url, args).stdout))),
            Target::Pair(label, urls) => {
                let runs: Vec<Run> = std::thread::scope(|s| {
                    let handles: Vec<_> = urls.iter().map(|u| s.spawn(move || parse(&String::from_utf8_lossy(&pgbench(u, args).stdout)))).collect();
                    handles.into_iter().map(|h| h.join().unwrap()).collect()
                });
                let run = Run { tps: runs.iter().map(|r| r.tps).sum::<f64>() / 2.0, latency_ms: runs.iter().map(|r| r.latency_ms).fold(0.0, f64::max), failed: runs.iter().map(|r| r.failed).sum() };
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
    let dir = std::env::temp_dir().join(format!("movex-pg-door-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    eprintln!("initialising scale {scale}: directly (twice), and through each movex in src_first");
    let init = ["-i", "-q", "-s", scale.as_str()];
    for db in ["movex_pgd_direct", "movex_pgd_direct2"] {
        fresh(db);
        pgbench(&format!("{SERVER}/{db}"), &init);
    }
    let threads = arg("--proxy-threads", "0");
    let only = movex(&dir, "movex_pgd_a", &threads);
    let first = movex(&dir, "movex_pgd_b", &threads);
    let via = |m: &Movex| format!("postgresql://app:app-secret@127.0.0.1:{}/{}_src", m.proxy, m.name);
    for m in [&only, &first] {
        pgbench(&via(m), &init);
    }
    post(only.http, "/src_only");

    let relay = Relay::to(&dir, 5432);
    let bouncer = Bouncer::start(&dir);
    if relay.is_none() || bouncer.is_none() {
        eprintln!("haproxy or pgbouncer is not installed: their rows are skipped (apt-get install haproxy pgbouncer)");
    }
    let direct = format!("{SERVER}/movex_pgd_direct");
    let mut targets = vec![Target::One("direct", direct.clone())];
    if let Some(b) = &bouncer {
        targets.push(Target::One("PgBouncer, session mode", format!("postgres://postgres@127.0.0.1:{}/movex_pgd_direct", b.port)));
    }
    if let Some(r) = &relay {
        targets.push(Target::One("haproxy TCP relay (floor)", format!("postgres://postgres@127.0.0.1:{}/movex_pgd_direct", r.port)));
    }
    targets.push(Target::One("movex src_only", via(&only)));
    targets.push(Target::Pair("direct, 2 loads at once (double work)", [direct.clone(), format!("{SERVER}/movex_pgd_direct2")]));
    targets.push(Target::One("movex src_first", via(&first)));

    println!("| workload | clients | target | TPS | vs direct | latency ms | added ms | failed |");
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
    let mut summary = Vec::new();
    for w in &workloads {
        for c in &clients {
            let mut args = vec!["-n", "-c", c.as_str(), "-j", "2", "-T", time.as_str(), "-M", mode.as_str()];
            if w == "simple-update" {
                args.push("-N");
            }
            let mut ratios = std::collections::HashMap::new();
            let mut base = Run::default();
            for target in &targets {
                let (label, r) = target.run(&args);
                if label == "direct" {
                    base = r;
                }
                let ratio = r.tps / base.tps;
                ratios.insert(label, ratio);
                println!("| {w} | {c} | {label} | {:.1} | {ratio:.2}x | {:.2} | {:+.2} | {} |", r.tps, r.latency_ms, r.latency_ms - base.latency_ms, r.failed);
                eprintln!("{w} x{c} {label}: {:.1} tps, latency {:.2} ms, {} failed", r.tps, r.latency_ms, r.failed);
            }
            summary.push((format!("{w} x{c}"), ratios));
        }
    }
    let out = Command::new(target_dir().join("release/movex")).args(["validate", "--config"]).arg(&first.config).output().unwrap();
    println!(
        "\nvalidate (the src_first pair after every run): exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n")
    );
    // Each movex figure next to its ceiling: src_only against the relay
    // floor and PgBouncer; src_first against double work times the floor.
    println!();
    for (what, r) in summary {
        let (only, first) = (r["movex src_only"], r["movex src_first"]);
        let double = r["direct, 2 loads at once (double work)"];
        let floor = r.get("haproxy TCP relay (floor)").copied().unwrap_or(f64::NAN);
        let bouncer = r.get("PgBouncer, session mode").copied().unwrap_or(f64::NAN);
        println!(
            "{what}: src_only {only:.2}x direct = {:.2}x the relay floor ({floor:.2}x), {:.2}x PgBouncer ({bouncer:.2}x); \
             src_first {first:.2}x direct = {:.2}x its ceiling ({double:.2}x double work x {floor:.2}x relay = {:.2}x)",
            only / floor,
            only / bouncer,
            first / (double * floor),
            double * floor
        );
    }
}
