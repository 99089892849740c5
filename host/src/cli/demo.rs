//! `movex demo`: the whole story on SQLite files, with no server to set up.
//! It creates a source and an empty destination, loads the example
//! modules, writes through the double-write pool in the background as an
//! application would, serves the control plane, and drives `/auto-migrate`
//! to `completed`: double-writes begin, the copy fills the destination
//! while they run, validation finds it equal, the policy promotes. With
//! `--inject-diff` the destination is instead a backfill made by another
//! tool (no copy), with a few rows corrupted: validation finds each of
//! them, repair (`[repair] auto`) drives them back to the source, the next
//! validation is clean and the migration completes.

use crate::config::Config;
use crate::migration::Migration;
use crate::model::{Pattern, State};
use crate::db::Statement;
use anyhow::{Context, Result, bail};
use clap::Args;
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Corrupt a few destination rows first, to watch validation catch them
    /// and repair fix them.
    #[arg(long)]
    inject_diff: bool,
    /// Where the demo's files go (recreated on each run).
    #[arg(long, default_value = "movex-demo")]
    dir: PathBuf,
    /// The control plane's address (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Rows in the demo table.
    #[arg(long, default_value_t = 5000)]
    rows: i64,
    /// Where the example modules' .wasm files are (default: where `cargo
    /// build-examples` puts them).
    #[arg(long)]
    examples: Option<PathBuf>,
}

const TABLE: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, \
                     tier TEXT NOT NULL, score REAL NOT NULL, utime INTEGER NOT NULL)";

pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(demo(args))
}

/// The example modules, built by `cargo build-examples`.
fn examples_dir(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir.to_path_buf());
    }
    let mut candidates = vec![PathBuf::from("target/wasm32-unknown-unknown/release")];
    if let Ok(exe) = std::env::current_exe()
        && let Some(target) = exe.parent().and_then(Path::parent)
    {
        candidates.insert(0, target.join("wasm32-unknown-unknown/release"));
    }
    candidates.into_iter().find(|d| d.join("tolerant.wasm").is_file()).context(
        "the example modules are not built: run `cargo build-examples` first (or the README's one command)",
    )
}

async fn sqlite(path: &Path, sql: &str) -> Result<()> {
    let url = format!("sqlite://{}", path.display());
    let opts: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
    let mut c = sqlx::SqliteConnection::connect_with(&opts.create_if_missing(true)).await?;
    sqlx::raw_sql(sql).execute(&mut c).await?;
    Ok(())
}

fn rows_sql(n: i64) -> String {
    let now = crate::validate::incremental::now_ms();
    let rows: Vec<String> = (1..=n)
        .map(|i| {
            let tier = ["free", "gold", "vip"][(i % 3) as usize];
            format!("({i}, 'user {i}', 'user{i}@example.com', '{tier}', {}, {})", (i * 37 % 1000) as f64 / 10.0, now - 60_000 + i)
        })
        .collect();
    format!("INSERT INTO users VALUES {};", rows.join(", "))
}

/// The differences `--inject-diff` makes, as (key, type).
fn injected(n: i64) -> Vec<(i64, &'static str)> {
    vec![(7, "neq"), (42, "neq"), (n / 2, "neq"), (n - 1, "target_missing"), (n + 100, "base_missing")]
}

async fn demo(args: DemoArgs) -> Result<ExitCode> {
    let t0 = Instant::now();
    let dir = &args.dir;
    let examples = examples_dir(args.examples.as_deref())?;
    for f in ["src.db", "dst.db", "state.db", "state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let modules = dir.join("modules");
    std::fs::create_dir_all(&modules).with_context(|| format!("creating {}", modules.display()))?;
    for (file, name) in [("tolerant", "tolerant"), ("tag_by_column", "tag-by-column"), ("promote_when_clean", "promote-when-clean")] {
        std::fs::copy(examples.join(format!("{file}.wasm")), modules.join(format!("{name}.wasm")))?;
    }
    let n = args.rows.max(100);
    let rows = rows_sql(n);
    sqlite(&dir.join("src.db"), &format!("{TABLE}; {rows}")).await?;
    if args.inject_diff {
        sqlite(&dir.join("dst.db"), &format!("{TABLE}; {rows}")).await?;
        println!("movex demo: {n} users in {0}/src.db, backfilled into {0}/dst.db by another tool", dir.display());
        let d = injected(n);
        sqlite(
            &dir.join("dst.db"),
            &format!(
                "UPDATE users SET name = 'corrupted' WHERE id IN ({}, {});
                 UPDATE users SET score = score + 50 WHERE id = {};
                 DELETE FROM users WHERE id = {};
                 INSERT INTO users VALUES ({}, 'stray', 'stray@example.com', 'free', 1, 0);",
                d[0].0, d[1].0, d[2].0, d[3].0, d[4].0
            ),
        )
        .await?;
        println!("injected 5 differences into the destination: {:?}", d);
    } else {
        sqlite(&dir.join("dst.db"), TABLE).await?;
        println!("movex demo: {n} users in {0}/src.db, none yet in {0}/dst.db: auto-migrate copies them while the application writes", dir.display());
    }
    let text = format!(
        r#"# Written by `movex demo`; `movex serve --config {cfg}` runs it again.
[source]
url = "sqlite://{src}"
[destination]
url = "sqlite://{dst}"
[state]
url = "sqlite://{state}"
[modules]
dir = "{modules}"
[modules.settings.tag-by-column]
column = "tier"
[modules.settings.promote-when-clean]
clean_runs = "1"
[policy]
module = "promote-when-clean"
interval_ms = 0
soak_ms = 2500
[http]
listen = "{listen}"
[repair]
auto = true
[validation]
batch_size = 500
[copy]
chunk_size = 500
in_auto_migrate = {copy}
[[tables]]
name = "users"
key = ["id"]
utime = {{ column = "utime", unit = "ms" }}
comparator = "tolerant"
tagger = "tag-by-column"
"#,
        cfg = dir.join("movex.toml").display(),
        src = dir.join("src.db").display(),
        dst = dir.join("dst.db").display(),
        state = dir.join("state.db").display(),
        modules = modules.display(),
        listen = args.listen,
        copy = !args.inject_diff,
    );
    std::fs::write(dir.join("movex.toml"), &text)?;
    let config = Config::parse(&text, "movex-demo/movex.toml")?;
    let m = Migration::open(config).await?;
    let w = &m.engine.warmup;
    println!("modules: {} of {} loaded in {} ms ({})", w.success_count, w.total_modules, w.elapsed_ms, w.modules.join(", "));

    let stop = CancellationToken::new();
    let server = tokio::spawn(crate::http::serve(m.clone(), {
        let stop = stop.clone();
        async move { stop.cancelled().await }
    }));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let workload = tokio::spawn(workload(m.clone(), n, ok.clone(), failed.clone(), stop.clone()));

    m.start_auto_migrate().await?;
    let mut seen = 0;
    let mut repaired = std::collections::BTreeMap::new();
    let mut last_line = Instant::now();
    let outcome = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if last_line.elapsed() >= Duration::from_secs(1) {
            last_line = Instant::now();
            let state = m.state().await?;
            let mut runs: Vec<String> = m
                .current()
                .await
                .iter()
                .filter(|c| c.running)
                .flat_map(|c| c.tables.iter().map(|t| format!("validating {}: {} rows", t.table, t.done)))
                .collect();
            if m.auto_status().await?.is_some_and(|a| a.step == "copying") {
                runs.extend(m.engine.store.copies().await?.iter().map(|c| format!("copying {}: {} rows", c.table, c.rows_copied)));
            }
            println!(
                "[{:5.1}s] {state}: {} writes through the pool ({} failed){}",
                t0.elapsed().as_secs_f64(),
                ok.load(Relaxed),
                failed.load(Relaxed),
                if runs.is_empty() { String::new() } else { format!("; {}", runs.join(", ")) }
            );
        }
        if server.is_finished() {
            stop.cancel();
            return match server.await? {
                Err(e) => Err(e.context("the control plane stopped (try --listen 127.0.0.1:0)")),
                Ok(()) => bail!("the control plane stopped"),
            };
        }
        let history = m.engine.store.history(100).await?;
        for t in history.iter().rev().skip(seen) {
            println!("[{:5.1}s] {} -> {} by {}: {}", t0.elapsed().as_secs_f64(), t.from, t.to, t.by, t.reason);
        }
        seen = history.len();
        let repairs = m.repair.outcomes();
        if repairs != repaired {
            let shown: Vec<String> = repairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("[{:5.1}s] repair: {}", t0.elapsed().as_secs_f64(), shown.join(" "));
            repaired = repairs;
        }
        match m.auto_status().await? {
            Some(a) if a.status != "running" => break a,
            _ if t0.elapsed() > Duration::from_secs(110) => bail!("the demo did not finish within 110 s"),
            _ => {}
        }
    };
    stop.cancel();
    let _ = workload.await;
    let _ = server.await;
    let status = m.status().await?;
    let stats = &status.migration_stats;
    println!(
        "[{:5.1}s] auto-migrate {}: {} ({})",
        t0.elapsed().as_secs_f64(),
        outcome.status,
        outcome.state,
        outcome.reason
    );
    println!(
        "writes through the pool: {} ok, {} failed; journaled: {:?}; full validations: {}; discrepancies found: {}",
        ok.load(Relaxed),
        failed.load(Relaxed),
        status.pool_metrics.by_side.journaled,
        stats.full_validation_runs,
        stats.data_discrepancies
    );
    if !args.inject_diff {
        return Ok(if outcome.status == "completed" { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    let (found, _) = m.engine.store.query_findings(&crate::store::findings::FindingFilter { limit: Some(1000), ..Default::default() }).await?;
    println!("findings:");
    for f in &found {
        let cols: Vec<String> = f.columns.iter().map(|c| format!("{}: {} -> {}", c.column, c.base, c.target)).collect();
        println!("  {:>15} key {:>6} tag {:<6} {}", f.kind.as_str(), f.key.to_string(), f.tag.as_deref().unwrap_or("-"), cols.join(", "));
    }
    let mut want: Vec<(String, String)> = injected(n).into_iter().map(|(k, t)| (k.to_string(), t.to_owned())).collect();
    let mut got: Vec<(String, String)> = found.iter().map(|f| (f.key.to_string(), f.kind.as_str().to_owned())).collect();
    want.sort();
    got.sort();
    got.dedup();
    let every = want == got;
    println!("every injected difference found, and nothing else: {}", if every { "yes" } else { "NO" });
    let repairs = m.repair.status().await?.recorded;
    let shown: Vec<String> = repairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("repair outcomes: {}", shown.join(" "));
    let repaired = repairs.get("repaired").copied().unwrap_or(0);
    println!("the injected differences were repaired and the migration reached {}", outcome.state);
    Ok(if every && repaired == want.len() as u64 && outcome.status == "completed" { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The application: updates and inserts through the pool, ~100/s, once
/// double-writing has begun (before that, the destination would miss them).
async fn workload(m: Arc<Migration>, n: i64, ok: Arc<AtomicU64>, failed: Arc<AtomicU64>, stop: CancellationToken) {
    let mut i: i64 = 0;
    while !stop.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if m.pool.pattern() == Pattern::SrcOnly || m.state().await.map_or(true, |s| s == State::Completed) {
            continue;
        }
        i += 1;
        let now = crate::validate::incremental::now_ms();
        // Rows the demo corrupts are left alone, so the findings stay put.
        let id = 100 + (i * 7919) % (n / 2 - 100);
        let stmt = if i % 10 == 0 {
            Statement::new("INSERT INTO users VALUES (?, ?, ?, 'free', 0, ?)").bind(n + 1000 + i).bind(format!("new {i}")).bind(format!("new{i}@example.com")).bind(now)
        } else {
            Statement::new("UPDATE users SET score = score + 1, utime = ? WHERE id = ?").bind(now).bind(id)
        };
        match m.pool.execute(&stmt).await {
            Ok(_) => ok.fetch_add(1, Relaxed),
            Err(e) => {
                tracing::warn!("demo write failed: {e}");
                failed.fetch_add(1, Relaxed)
            }
        };
    }
}
