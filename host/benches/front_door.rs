//! The MySQL front door under sysbench, side by side in one run
//! (BENCHMARKS.md): each workload and thread count goes to MariaDB
//! directly, then through haproxy relaying TCP (the least any proxy costs
//! on this machine; skipped if haproxy is not installed), then through
//! movex in `src_only`, then as two direct loads at once on two databases
//! (the least doing every write twice costs, with no proxy), then through
//! movex in `src_first`, back to back. The report gives TPS as a ratio of
//! the direct run's, the p95 latency added, and each movex figure against
//! its ceiling. Afterwards the `src_first` pair is validated: it must come
//! out clean.
//!
//! ```text
//! cargo build-examples && cargo build --release -p movex
//! cargo bench -p movex --bench front_door -- --time 60
//! ```
//! Options: `--time S` (60), `--threads 8,32`, `--workloads
//! oltp_write_only,oltp_read_write`, `--tables 4`, `--table-size 100000`,
//! `--proxy-threads N` (`[proxy.mysql] threads`; 0, the default, is one per core).
//! Needs sysbench, and haproxy for the relay floor (`apt-get install
//! sysbench haproxy`). Databases `movex_fd_direct`, `movex_fd_direct2`,
//! `movex_fd_a_{src,dst}` (the `src_only` movex) and `movex_fd_b_{src,dst}`
//! (the `src_first` movex) are dropped and made again.

#[path = "support/process.rs"]
mod process;
#[path = "support/door.rs"]
mod door;

use door::{Movex, Relay, mariadb, post};
use process::target_dir;
use std::process::{Command, Output, Stdio};

fn arg(name: &str, default: &str) -> String {
    process::arg(name).unwrap_or_else(|| default.to_owned())
}

/// A `movex serve` over `<name>_src` and `<name>_dst` with `tables`
/// sysbench tables configured, in `src_first`: both sides get the same
/// rows when sysbench prepares through it.
fn movex(dir: &std::path::Path, name: &str, tables: u32, threads: &str) -> Movex {
    let mut extra = format!("threads = {threads}\n");
    for t in 1..=tables {
        extra += &format!("[[tables]]\nname = \"sbtest{t}\"\nkey = [\"id\"]\ncomparator = \"exact\"\n");
    }
    Movex::start(dir, name, &extra, &["/src_only", "/src_first"])
}

/// What sysbench reported.
#[derive(Clone, Copy, Default)]
struct Run {
    tps: f64,
    p95_ms: f64,
    errors: u64,
    transactions: u64,
}

fn sysbench(port: u16, user: &str, password: &str, db: &str, args: &[&str]) -> Output {
    let out = Command::new("sysbench")
        .args(["--db-driver=mysql", "--mysql-host=127.0.0.1", &format!("--mysql-port={port}")])
        .arg(format!("--mysql-user={user}"))
        .arg(format!("--mysql-password={password}"))
        .arg(format!("--mysql-db={db}"))
        .args(args)
        .stderr(Stdio::piped())
        .output()
        .expect("sysbench (apt-get install sysbench)");
    assert!(out.status.success(), "sysbench {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn parse(report: &str) -> Run {
    let field = |label: &str| -> Option<&str> { report.lines().find(|l| l.trim_start().starts_with(label)).and_then(|l| l.split(':').nth(1)).map(str::trim) };
    let num = |s: &str| s.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()).unwrap_or(f64::NAN);
    let per_sec = |s: &str| s.split('(').nth(1).map(num).unwrap_or(f64::NAN);
    let tx = field("transactions").unwrap_or_default();
    Run {
        tps: per_sec(tx),
        transactions: num(tx) as u64,
        p95_ms: field("95th percentile").map(num).unwrap_or(f64::NAN),
        errors: field("errors").map(num).unwrap_or(f64::NAN) as u64,
    }
}

fn main() {
    let time = arg("--time", "60");
    let threads: Vec<String> = arg("--threads", "8,32").split(',').map(str::to_owned).collect();
    let workloads: Vec<String> = arg("--workloads", "oltp_write_only,oltp_read_write").split(',').map(str::to_owned).collect();
    let tables: u32 = arg("--tables", "4").parse().unwrap();
    let size = arg("--table-size", "100000");
    let shape = [format!("--tables={tables}"), format!("--table-size={size}")];
    let shape: Vec<&str> = shape.iter().map(String::as_str).collect();
    let dir = std::env::temp_dir().join(format!("movex-front-door-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    eprintln!("preparing {tables} tables x {size} rows: directly, and through each movex in src_first");
    mariadb("DROP DATABASE IF EXISTS movex_fd_direct; CREATE DATABASE movex_fd_direct");
    sysbench(3306, "root", "", "movex_fd_direct", &[&shape[..], &["oltp_common", "prepare"]].concat());
    let proxy_threads = arg("--proxy-threads", "0");
    let only = movex(&dir, "movex_fd_a", tables, &proxy_threads);
    let first = movex(&dir, "movex_fd_b", tables, &proxy_threads);
    for m in [&only, &first] {
        sysbench(m.proxy, "app", "app-secret", &format!("{}_src", m.name), &[&shape[..], &["oltp_common", "prepare"]].concat());
    }
    post(only.http, "/src_only");

    // The two ceilings on this machine, measured in the same run: a TCP
    // relay that parses nothing (haproxy) is the least any proxy can cost;
    // two loads at once, on two databases of the same server, is the least
    // doing every write twice can cost without any proxy.
    let relay = Relay::start(&dir);
    if relay.is_none() {
        eprintln!("haproxy is not installed: the relay-floor rows are skipped (apt-get install haproxy)");
    }
    mariadb("DROP DATABASE IF EXISTS movex_fd_direct2; CREATE DATABASE movex_fd_direct2");
    sysbench(3306, "root", "", "movex_fd_direct2", &[&shape[..], &["oltp_common", "prepare"]].concat());

    let mut targets = vec![Target::One("direct", 3306, "root", "", "movex_fd_direct".into())];
    if let Some(r) = &relay {
        targets.push(Target::One("haproxy TCP relay (floor)", r.port, "root", "", "movex_fd_direct".into()));
    }
    targets.push(Target::One("movex src_only", only.proxy, "app", "app-secret", format!("{}_src", only.name)));
    targets.push(Target::Pair("direct, 2 loads at once (double work)", ["movex_fd_direct", "movex_fd_direct2"]));
    targets.push(Target::One("movex src_first", first.proxy, "app", "app-secret", format!("{}_src", first.name)));
    println!("| workload | threads | target | TPS | vs direct | p95 ms | added p95 ms | errors |");
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
    let mut summary = Vec::new();
    for w in &workloads {
        for t in &threads {
            let (threads, time) = (format!("--threads={t}"), format!("--time={time}"));
            let args = [&shape[..], &[&threads, &time, "--report-interval=0", w.as_str(), "run"]].concat();
            let mut ratios = std::collections::HashMap::new();
            let mut direct = Run::default();
            for target in &targets {
                let (label, r) = target.run(&args);
                if label == "direct" {
                    direct = r;
                }
                let ratio = r.tps / direct.tps;
                ratios.insert(label, ratio);
                println!(
                    "| {w} | {t} | {label} | {:.1} | {ratio:.2}x | {:.2} | {:+.2} | {} |",
                    r.tps,
                    r.p95_ms,
                    r.p95_ms - direct.p95_ms,
                    r.errors
                );
                eprintln!("{w} x{t} {label}: {} transactions, {:.1} tps, p95 {:.2} ms, {} errors", r.transactions, r.tps, r.p95_ms, r.errors);
            }
            summary.push((format!("{w} x{t}"), ratios));
        }
    }
    let out = Command::new(target_dir().join("release/movex")).args(["validate", "--config"]).arg(&first.config).output().unwrap();
    println!(
        "\nvalidate (the src_first pair after every run): exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n")
    );
    // Each movex figure next to its ceiling: src_only against the relay
    // floor; src_first against double work times the relay floor.
    println!();
    for (what, r) in summary {
        let floor = r.get("haproxy TCP relay (floor)").copied();
        let double = r["direct, 2 loads at once (double work)"];
        let (only, first) = (r["movex src_only"], r["movex src_first"]);
        match floor {
            Some(f) => println!(
                "{what}: src_only {only:.2}x direct = {:.2}x the relay floor ({f:.2}x); src_first {first:.2}x direct = {:.2}x its ceiling ({double:.2}x double work x {f:.2}x relay = {:.2}x)",
                only / f,
                first / (double * f),
                double * f
            ),
            None => println!("{what}: src_only {only:.2}x direct; src_first {first:.2}x direct (double work alone: {double:.2}x)"),
        }
    }
}

/// One row of the table: a sysbench load on one port, or two at once.
enum Target {
    /// (label, port, user, password, database)
    One(&'static str, u16, &'static str, &'static str, String),
    /// Two loads at once on two databases of the same server, directly.
    Pair(&'static str, [&'static str; 2]),
}

impl Target {
    /// Run the load; for a pair, the mean TPS of the two and the worse p95.
    fn run(&self, args: &[&str]) -> (&'static str, Run) {
        match self {
            Target::One(label, port, user, password, db) => (label, parse(&String::from_utf8_lossy(&sysbench(*port, user, password, db, args).stdout))),
            Target::Pair(label, dbs) => {
                let runs: Vec<Run> = std::thread::scope(|s| {
                    let handles: Vec<_> = dbs.iter().map(|db| s.spawn(move || parse(&String::from_utf8_lossy(&sysbench(3306, "root", "", db, args).stdout)))).collect();
                    handles.into_iter().map(|h| h.join().unwrap()).collect()
                });
                let run = Run {
                    tps: runs.iter().map(|r| r.tps).sum::<f64>() / 2.0,
                    p95_ms: runs.iter().map(|r| r.p95_ms).fold(0.0, f64::max),
                    errors: runs.iter().map(|r| r.errors).sum(),
                    transactions: runs.iter().map(|r| r.transactions).sum::<u64>() / 2,
                };
                (label, run)
            }
        }
    }
}
