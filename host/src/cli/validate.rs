//! `movex validate`: one validation for pipelines. Exit status 0 when no
//! differences were found, 1 when some were, 2 on any error (bad config,
//! unreachable database, refused module, a table failing, or findings that
//! could not be delivered to Kafka yet). A progress bar on a terminal, plain
//! log lines otherwise; `--json` prints one JSON report on stdout.

use crate::config::Config;
use crate::model::Direction;
use crate::validate::{Board, Report, Request, RunMode, Validator};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The configuration file (TOML).
    #[arg(long, short)]
    config: PathBuf,
    /// Validate only this table (repeatable); default: every table.
    #[arg(long = "table", value_name = "NAME")]
    tables: Vec<String>,
    /// `full`: every row; `incr`: rows changed since --since.
    #[arg(long, value_enum, default_value = "full")]
    mode: ModeArg,
    /// Incremental mode: epoch milliseconds to start from.
    #[arg(long, value_name = "MS")]
    since: Option<i64>,
    /// The base side: SRC or DST (default: the one the current pattern implies).
    #[arg(long)]
    direction: Option<Direction>,
    /// Start over instead of resuming an interrupted run's checkpoint.
    #[arg(long)]
    restart: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ModeArg {
    Full,
    Incr,
}

const EXIT_CLEAN: u8 = 0;
const EXIT_DIFFERENCES: u8 = 1;
const EXIT_ERROR: u8 = 2;

pub fn run(args: ValidateArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(&format!("starting the runtime: {e}")),
    };
    match runtime.block_on(validate(&args)) {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serializes"));
            } else {
                print_text(&report);
            }
            let code = if report.failed() || report.undelivered > 0 {
                EXIT_ERROR
            } else if report.total_findings() > 0 {
                EXIT_DIFFERENCES
            } else {
                EXIT_CLEAN
            };
            ExitCode::from(code)
        }
        Err(e) => fail(&format!("{e:#}")),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_ERROR)
}

async fn validate(args: &ValidateArgs) -> anyhow::Result<Report> {
    let config = Config::load(&args.config)?;
    let mode = match (args.mode, args.since) {
        (ModeArg::Full, None) => RunMode::Full,
        (ModeArg::Full, Some(_)) => anyhow::bail!("--since is for --mode incr"),
        (ModeArg::Incr, Some(since_ms)) => RunMode::Incr { since_ms, interval: Duration::ZERO },
        (ModeArg::Incr, None) => anyhow::bail!("--mode incr needs --since MS (epoch milliseconds)"),
    };
    let validator = Validator::open(config).await?;
    let request = Request { tables: args.tables.clone(), mode, direction: args.direction, restart: args.restart };
    let cancel = super::shutdown::stop_on_signal();
    let board = Arc::new(Board::default());
    let shown = super::progress::show({
        let board = board.clone();
        move || lines(&board)
    });
    let report = validator.run(&request, cancel, &board).await;
    shown.finish().await;
    report
}

/// Each table's rows read, rate, findings and ETA, for [`super::progress`].
fn lines(board: &Board) -> Vec<super::progress::Line> {
    let tables = board.tables.lock().expect("board").clone();
    tables
        .iter()
        .map(|p| {
            let s = p.snapshot();
            let found: u64 = s.findings.values().sum();
            let pct = s.percent.map_or(String::new(), |p| format!(" ({p:.0}%)"));
            let eta = s.eta_secs.map_or(String::new(), |e| format!(", ETA {:.0}s", e));
            super::progress::Line { table: s.table.clone(), done: s.done, total: s.estimate, message: format!("{:.0} rows/s{pct}, {found} findings{eta}", s.rows_per_sec) }
        })
        .collect()
}

fn print_text(r: &Report) {
    for t in &r.tables {
        let resumed = if t.resumed { " (resumed)" } else { "" };
        println!(
            "{}: {} {} {}{resumed}, run {}: {} base rows, {} target rows in {:.1}s",
            t.table,
            t.status,
            t.mode.as_str(),
            t.direction.as_str(),
            t.run_id,
            t.rows_read.base,
            t.rows_read.target,
            t.duration_ms as f64 / 1e3
        );
        let f: Vec<String> = t.findings.iter().map(|(k, n)| format!("{k}={n}")).collect();
        println!("  findings: {}", f.join(" "));
        if let Some(e) = &t.error {
            println!("  error: {e}");
        }
    }
    if r.undelivered > 0 {
        println!(
            "{} findings are stored in the state store but not yet delivered to Kafka; the next run (or movex serve) delivers them",
            r.undelivered
        );
    }
}
