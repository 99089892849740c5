//! `movex repair --config FILE [--dry-run] [--table T] [--json]`: one pass
//! over the findings the state store holds that repair has not settled.
//! Prints the outcomes (and in a dry run the SQL it would run); exit status
//! 0 when none failed, 2 otherwise.

use crate::config::Config;
use crate::repair::Repairer;
use crate::store::Store;
use crate::validate::Validator;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct RepairArgs {
    /// The configuration file (TOML).
    #[arg(long, short)]
    config: PathBuf,
    /// Only this table's findings.
    #[arg(long)]
    table: Option<String>,
    /// Report the SQL that would run; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: RepairArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let summary = rt.block_on(async {
        let limit = Some(config.repair.max_rows_per_sec).filter(|&m| m > 0);
        let store = Store::open(&config.state.url).await?;
        let validator = Arc::new(Validator::open_with(Arc::new(config), store, true).await?);
        Repairer::new(validator, args.dry_run).run_once(args.table.as_deref(), limit).await
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        for p in &summary.plan {
            println!("{} key {}: {}", p["table"].as_str().unwrap_or(""), p["key"], p["sql"][0].as_str().unwrap_or(""));
        }
        for f in &summary.failures {
            println!("failed: {} key {}: {}", f["table"].as_str().unwrap_or(""), f["key"], f["error"].as_str().unwrap_or(""));
        }
        let outcomes: Vec<String> = summary.outcomes.iter().map(|(k, n)| format!("{k}={n}")).collect();
        println!("repair{}: {} in {} ms", if args.dry_run { " (dry run)" } else { "" }, if outcomes.is_empty() { "nothing to do".into() } else { outcomes.join(" ") }, summary.duration_ms);
    }
    Ok(if summary.outcomes.contains_key("failed") { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
