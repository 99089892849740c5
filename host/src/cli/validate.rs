//! `movex validate`: one validation for pipelines. Exit status 0 when no
//! differences were found, 1 when some were, 2 on any error (bad config,
//! unreachable database, refused module, a table failing, or findings that
//! could not be delivered to Kafka yet). A progress bar on a terminal, plain
//! log lines otherwise; `--json` prints one JSON report on stdout.

use crate::config::Config;
use crate::model::Direction;
use crate::validate::{Board, Report, Request, RunMode, Validator};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

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
    let cancel = CancellationToken::new();
    // Ctrl-C or SIGTERM stops cleanly: the checkpoint is kept and the next run resumes.
    tokio::spawn({
        let cancel = cancel.clone();
        async move {
            super::shutdown::signal().await;
            eprintln!("stopping: the next run resumes from the checkpoint");
            cancel.cancel();
        }
    });
    let board = Arc::new(Board::default());
    let done = CancellationToken::new();
    let watcher = tokio::spawn(watch(board.clone(), std::io::stderr().is_terminal(), done.clone()));
    let report = validator.run(&request, cancel, &board).await;
    done.cancel();
    let _ = watcher.await;
    report
}

/// Show progress: a bar per table on a terminal, a log line every 5 s
/// otherwise; on a terminal the bars get a last update when `done`.
async fn watch(board: Arc<Board>, terminal: bool, done: CancellationToken) {
    let multi = indicatif::MultiProgress::new();
    let style = indicatif::ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} rows {msg}")
        .expect("template")
        .progress_chars("=> ");
    let mut bars: Vec<indicatif::ProgressBar> = Vec::new();
    let period = if terminal { Duration::from_millis(200) } else { Duration::from_secs(5) };
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        let last = tokio::select! {
            _ = tick.tick() => false,
            _ = done.cancelled() => true,
        };
        if last && !terminal {
            return;
        }
        let tables = board.tables.lock().expect("board").clone();
        for (i, p) in tables.iter().enumerate() {
            let s = p.snapshot();
            let found: u64 = s.findings.values().sum();
            let eta = s.eta_secs.map_or(String::new(), |e| format!(", ETA {:.0}s", e));
            if terminal {
                if bars.len() <= i {
                    let bar = multi.add(indicatif::ProgressBar::new(0).with_style(style.clone()).with_prefix(s.table.clone()));
                    bars.push(bar);
                }
                bars[i].set_length(s.estimate.max(s.done));
                bars[i].set_position(s.done);
                bars[i].set_message(format!("{:.0} rows/s, {found} findings{eta}", s.rows_per_sec));
                if last {
                    bars[i].set_length(s.done);
                    bars[i].finish();
                }
            } else {
                let pct = s.percent.map_or(String::new(), |p| format!(" ({p:.0}%)"));
                eprintln!("{}: {} rows{pct}, {:.0} rows/s, {found} findings{eta}", s.table, s.done, s.rows_per_sec);
            }
        }
        if last {
            // The finished bars stay; the report starts on a line of its own.
            eprintln!();
            return;
        }
    }
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
