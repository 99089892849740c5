//! `movex copy`: copy the rows that already exist on the source to the
//! destination, resuming each table from its checkpoint. Exit status 0 when
//! every table is copied, 2 on any error (config, database, a refused
//! state, a table failing, or a stop before the end). A progress bar on a
//! terminal, plain log lines otherwise; `--json` prints one JSON report;
//! `--dry-run` prints the plan and changes nothing.

use crate::config::Config;
use crate::copy::{Board, Copier, Report, Request, TablePlan};
use crate::engine::Engine;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct CopyArgs {
    /// The configuration file (TOML).
    #[arg(long, short)]
    config: PathBuf,
    /// Copy only this table (repeatable); default: every table.
    #[arg(long = "table", value_name = "NAME")]
    tables: Vec<String>,
    /// Forget the checkpoints and copy each table from its first key.
    #[arg(long)]
    restart: bool,
    /// Print the plan (tables, columns, estimated rows and chunks) and copy nothing.
    #[arg(long)]
    dry_run: bool,
    /// Nothing writes to the source: allow the copy before src_first.
    #[arg(long)]
    offline: bool,
    /// Create a destination table that is missing, from the source's columns
    /// and key (types mapped across databases; no secondary indexes).
    #[arg(long)]
    create_tables: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

const EXIT_DONE: u8 = 0;
const EXIT_ERROR: u8 = 2;

pub fn run(args: CopyArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(&format!("starting the runtime: {e}")),
    };
    match runtime.block_on(copy(&args)) {
        Ok(Outcome::Plan(plans, chunk)) => {
            print_plan(&plans, chunk, args.json);
            ExitCode::from(EXIT_DONE)
        }
        Ok(Outcome::Copied(report)) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serializes"));
            } else {
                print_text(&report);
            }
            ExitCode::from(if report.failed() { EXIT_ERROR } else { EXIT_DONE })
        }
        Err(e) => fail(&format!("{e:#}")),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_ERROR)
}

enum Outcome {
    Plan(Vec<TablePlan>, u64),
    Copied(Report),
}

async fn copy(args: &CopyArgs) -> anyhow::Result<Outcome> {
    let config = Config::load(&args.config)?;
    let engine = Engine::open(config).await?;
    let copier = Copier::new(engine.clone());
    let request = Request { tables: args.tables.clone(), restart: args.restart, offline: args.offline, create_tables: args.create_tables };
    if args.dry_run {
        return Ok(Outcome::Plan(copier.plan(&request).await?, engine.config.copy.chunk_size));
    }
    let cancel = super::shutdown::stop_on_signal();
    let board = Arc::new(Board::default());
    let shown = super::progress::show({
        let board = board.clone();
        move || lines(&board)
    });
    let report = copier.run(&request, board, cancel).await;
    shown.finish().await;
    Ok(Outcome::Copied(report?))
}

/// Each table's rows copied, rate, ETA and slow-down, for [`super::progress`].
fn lines(board: &Board) -> Vec<super::progress::Line> {
    board
        .snapshot()
        .into_iter()
        .map(|s| {
            let eta = s.eta_secs.map_or(String::new(), |e| format!(", ETA {e}s"));
            let slow = s.throttled.as_deref().map_or(String::new(), |r| format!(" (slowed: {r})"));
            super::progress::Line { table: s.table, done: s.rows_copied, total: s.estimated_rows, message: format!("{:.0} rows/s{eta}{slow}", s.rows_per_sec) }
        })
        .collect()
}

fn print_plan(plans: &[TablePlan], chunk: u64, json: bool) {
    if json {
        let tables: Vec<serde_json::Value> = plans
            .iter()
            .map(|p| {
                serde_json::json!({
                    "table": p.name, "source_table": p.source_table, "destination_table": p.destination_table,
                    "columns": p.source_cols.iter().map(|c| &c.name).collect::<Vec<_>>(),
                    "key": p.source_cols[..p.key_len].iter().map(|c| &c.name).collect::<Vec<_>>(),
                    "estimated_rows": p.estimated_rows, "chunk_size": chunk, "estimated_chunks": p.estimated_rows.div_ceil(chunk),
                    "create": p.create,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "dry_run": true, "tables": tables })).expect("plan serializes"));
        return;
    }
    for p in plans {
        let key: Vec<&str> = p.source_cols[..p.key_len].iter().map(|c| c.name.as_str()).collect();
        println!(
            "{}: {} -> {}, key ({}), {} columns, about {} rows in {} chunks of {chunk}",
            p.name,
            p.source_table,
            p.destination_table,
            key.join(", "),
            p.source_cols.len(),
            p.estimated_rows,
            p.estimated_rows.div_ceil(chunk)
        );
        if let Some(ddl) = &p.create {
            println!("  would create it on the destination:\n{ddl};");
        }
    }
    println!("dry run: nothing was copied");
}

fn print_text(r: &Report) {
    for name in &r.already_done {
        println!("{name}: already copied (--restart copies it again)");
    }
    for t in &r.tables {
        println!("{}: {:?}, {} rows copied, {:.0} rows/s", t.table, t.state, t.rows_copied, t.rows_per_sec);
        if let Some(e) = &t.error {
            println!("  error: {e}");
        }
    }
}
