//! Full validation, MariaDB -> MariaDB, side by side in one run (BENCHMARKS.md):
//!
//! - (a) raw scan: both tables read in key order with the validator's own
//!   reader (same driver, same pages, same decoding), nothing compared — the limit;
//! - (b) full validation with the `exact` comparator compiled into the host;
//! - (c) full validation with the `exact` comparator as a wasm module;
//! - (d) reladiff (PyPI) on the same tables.
//!
//! Then the peak memory of `movex validate` (the release binary, as a
//! pipeline runs it) at the given row count.
//!
//! ```text
//! cargo build-examples && cargo build --release -p movex
//! pip install 'reladiff[mysql]==0.6.0'
//! cargo bench -p movex --bench validator -- --rows 1000000 --repeat 3
//! cargo bench -p movex --bench validator -- --rows 10000000 --only rss
//! ```
//! Tables: `movex_bench_src.t` / `movex_bench_dst.t`, 10 columns, built once
//! per row count with MariaDB's sequence engine, 0.1% seeded differences
//! (a third each of target_missing, neq, base_missing).

use movex::config::Config;
use movex::db::Db;
use movex::validate::side::Side;
use movex::validate::{Board, NativeComparator, Request, RunMode, Validator};
use movex::wasm::{Batch, Binding, PairOutcome};
use movex_guest::batch::{Scratch, compare_batch};
use movex_guest::{Column, Layout, Plugin, Settings, Verdict};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

const BATCH: u64 = 2000;

fn server() -> String {
    std::env::var("MOVEX_BENCH_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Build both tables for `rows` unless they are already there.
async fn tables(rows: u64) {
    use sqlx::Connection;
    let mut c = sqlx::MySqlConnection::connect(&format!("{}/test", server())).await.unwrap();
    let have: Option<String> = sqlx::query_scalar("SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'movex_bench_dst' AND TABLE_NAME = 't'")
        .fetch_optional(&mut c)
        .await
        .unwrap();
    let want = format!("rows={rows} v1");
    if have.as_deref() == Some(want.as_str()) {
        return;
    }
    eprintln!("building movex_bench_src.t and movex_bench_dst.t with {rows} rows ...");
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

fn config(dir: &Path, comparator: &str) -> String {
    let modules = dir.join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    let exact = workspace().join("target/wasm32-unknown-unknown/release/exact.wasm");
    assert!(exact.is_file(), "run `cargo build-examples` first");
    std::fs::copy(exact, modules.join("exact.wasm")).unwrap();
    let state = dir.join(format!("state-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&state);
    format!(
        "[source]\nurl = \"{s}/movex_bench_src\"\n[destination]\nurl = \"{s}/movex_bench_dst\"\n[state]\nurl = \"sqlite://{}\"\n\
         [modules]\ndir = \"{}\"\n[validation]\nbatch_size = {BATCH}\n[[tables]]\nname = \"t\"\nkey = [\"id\"]\ncomparator = \"{comparator}\"\n",
        state.display(),
        modules.display(),
        s = server()
    )
}

struct Measured {
    label: &'static str,
    rows: u64,
    secs: f64,
    findings: String,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.secs
    }
}

async fn raw_scan(dir: &Path) -> Measured {
    let cfg = Config::parse(&config(dir, "exact"), "bench").unwrap();
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
            after = Some(page[page.len() - 1][..1].to_vec());
        }
    };
    let (a, b) = tokio::join!(tokio::spawn(scan(sides[0].clone())), tokio::spawn(scan(sides[1].clone())));
    Measured { label: "(a) raw scan", rows: a.unwrap() + b.unwrap(), secs: t0.elapsed().as_secs_f64(), findings: "-".into() }
}

async fn validation(dir: &Path, native: bool) -> Measured {
    let cfg = Config::parse(&config(dir, "exact"), "bench").unwrap();
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
    Measured {
        label: if native { "(b) native comparator" } else { "(c) wasm comparator" },
        rows: r.rows_read.base + r.rows_read.target,
        secs,
        findings: format!("tm={} bm={} neq={}", f["target_missing"], f["base_missing"], f["neq"]),
    }
}

/// reladiff on the same tables; its `-`/`+` lines mapped to finding types.
fn reladiff(rows: u64) -> Option<Measured> {
    let bin = std::env::var("RELADIFF").unwrap_or_else(|_| "reladiff".into());
    let s = server();
    let t0 = Instant::now();
    let out = Command::new(&bin)
        .args([&format!("{s}/movex_bench_src"), "t", &format!("{s}/movex_bench_dst"), "t", "-k", "id"])
        .args(["-c", "c1", "-c", "c2", "-c", "c3", "-c", "c4", "-c", "c5", "-c", "c6", "-c", "c7", "-c", "c8", "-c", "c9"])
        .output();
    let secs = t0.elapsed().as_secs_f64();
    let out = match out {
        Ok(o) if o.status.success() || o.status.code() == Some(1) => o,
        Ok(o) => {
            eprintln!("reladiff failed: {}", String::from_utf8_lossy(&o.stderr));
            return None;
        }
        Err(e) => {
            eprintln!("(d) skipped: cannot run {bin} ({e}); pip install 'reladiff[mysql]==0.6.0'");
            return None;
        }
    };
    let (mut minus, mut plus) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let key = line.get(1..).and_then(|r| r.trim().trim_start_matches('(').split(',').next()).map(|k| k.trim().trim_matches('\'').to_owned());
        match (line.chars().next(), key) {
            (Some('-'), Some(k)) => drop(minus.insert(k)),
            (Some('+'), Some(k)) => drop(plus.insert(k)),
            _ => {}
        }
    }
    let neq = minus.intersection(&plus).count();
    Some(Measured {
        label: "(d) reladiff",
        rows: 2 * rows,
        secs,
        findings: format!("tm={} bm={} neq={neq}", minus.len() - neq, plus.len() - neq),
    })
}

/// Peak resident memory of `movex validate` (release binary) on the tables.
fn peak_rss(dir: &Path) -> (u64, f64, String) {
    let bin = workspace().join("target/release/movex");
    assert!(bin.is_file(), "run `cargo build --release -p movex` first");
    let cfg = dir.join("rss.toml");
    std::fs::write(&cfg, config(dir, "exact")).unwrap();
    let t0 = Instant::now();
    let mut child = Command::new(bin).args(["validate", "--json", "--restart", "--config"]).arg(&cfg).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let pid = child.id() as i32;
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut out).unwrap();
        out
    });
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // wait4 gives this child's own peak RSS (getrusage would mix children).
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = t0.elapsed().as_secs_f64();
    let out = reader.join().unwrap();
    let _ = child.try_wait(); // reaped by wait4 above
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    (usage.ru_maxrss as u64, secs, report["findings"].to_string())
}

fn main() {
    let rows: u64 = arg("--rows").map_or(1_000_000, |r| r.parse().unwrap());
    let repeat: usize = arg("--repeat").map_or(3, |r| r.parse().unwrap());
    let only = arg("--only");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = workspace().join("target/bench-validator");
    std::fs::create_dir_all(&dir).unwrap();
    rt.block_on(tables(rows));
    let expected = seeded(rows);
    println!("rows per table: {rows}; seeded: {expected} (target_missing, base_missing, neq)");
    if only.as_deref() != Some("rss") {
        let mut runs: Vec<Measured> = Vec::new();
        for _ in 0..repeat {
            runs.push(rt.block_on(raw_scan(&dir)));
            runs.push(rt.block_on(validation(&dir, true)));
            runs.push(rt.block_on(validation(&dir, false)));
        }
        if only.as_deref() != Some("movex") {
            runs.extend(reladiff(rows));
        }
        let median = |label: &str| {
            let mut r: Vec<f64> = runs.iter().filter(|m| m.label == label).map(Measured::rate).collect();
            r.sort_by(f64::total_cmp);
            r.get(r.len() / 2).copied()
        };
        let limit = median("(a) raw scan").unwrap();
        println!("\n| run | rows read | seconds | rows/s | vs (a) | findings | exactly the seeded |\n|---|---:|---:|---:|---:|---|---|");
        for m in &runs {
            let exact = if m.findings == "-" { "-" } else if m.findings == expected { "yes" } else { "NO" };
            println!("| {} | {} | {:.2} | {:.0} | {:.2}x | {} | {exact} |", m.label, m.rows, m.secs, m.rate(), m.rate() / limit, m.findings);
        }
        for label in ["(a) raw scan", "(b) native comparator", "(c) wasm comparator", "(d) reladiff"] {
            if let Some(r) = median(label) {
                println!("median {label}: {r:.0} rows/s = {:.2}x (a)", r / limit);
            }
        }
    }
    if only.is_none() || only.as_deref() == Some("rss") {
        let (kib, secs, findings) = peak_rss(&dir);
        println!("\npeak RSS of `movex validate` at {rows} rows: {:.1} MiB ({secs:.1} s; findings {findings})", kib as f64 / 1024.0);
    }
}
