//! `movex repair --config FILE [--from store|kafka] [--follow] [--dry-run]
//! [--table T] [--json]`. From the store (the default): one pass over the
//! pool's journal and the findings repair has not settled. From Kafka: as a
//! member of the consumer group until no finding came for `[repair]
//! idle_ms`. With `--follow` it keeps going until ctrl-c or SIGTERM (a
//! worker). Prints the outcomes (and in a dry run the SQL it would run);
//! exit status 0 when none failed, 2 otherwise.

use crate::config::Config;
use crate::repair::kafka::{self, Until};
use crate::repair::service::Source;
use crate::repair::{Repairer, Summary};
use crate::validate::Validator;
use clap::Args;
use clap::builder::TypedValueParser as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Args, Debug)]
pub struct RepairArgs {
    /// The configuration file (TOML).
    #[arg(long, short)]
    config: PathBuf,
    /// Where the findings come from.
    #[arg(long, default_value = "store", value_parser = clap::builder::PossibleValuesParser::new(["store", "kafka"]).map(|s| s.parse::<Source>().expect("one of the possible values")))]
    from: Source,
    /// Keep repairing until ctrl-c or SIGTERM.
    #[arg(long)]
    follow: bool,
    /// Only this table's findings (from the store).
    #[arg(long)]
    table: Option<String>,
    /// Report the SQL that would run; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

async fn repair(args: &RepairArgs, config: Config, cancel: CancellationToken) -> anyhow::Result<Summary> {
    let validator = Arc::new(Validator::open(config).await?);
    let mut repairer = Repairer::new(validator, args.dry_run);
    match (args.from, args.follow) {
        (Source::Kafka, follow) => kafka::consume(&mut repairer, if follow { Until::Cancelled } else { Until::Idle }, &cancel).await,
        (Source::Store, false) => repairer.pass(args.table.as_deref(), &cancel).await,
        (Source::Store, true) => {
            let mut total = Summary::default();
            while !cancel.is_cancelled() {
                total.absorb(repairer.pass(args.table.as_deref(), &cancel).await?);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = cancel.cancelled() => {}
                }
            }
            Ok(total)
        }
    }
}

pub fn run(args: RepairArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    if args.from == Source::Kafka && config.events.kafka.is_none() {
        anyhow::bail!("--from kafka needs an [events.kafka] section (brokers, topic) in {}", args.config.display());
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let summary = rt.block_on(async {
        let cancel = CancellationToken::new();
        tokio::spawn({
            let cancel = cancel.clone();
            async move {
                super::shutdown::signal().await;
                tracing::info!("stopping repair: what was repaired is recorded");
                cancel.cancel();
            }
        });
        repair(&args, config, cancel).await
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        if let Some(j) = &summary.journal {
            let verb = if j.dry_run { "would validate" } else { "validated" };
            println!("journal: {} entries; {verb} {:?}; unmatched {}", j.entries, j.tables, j.unmatched.len());
            if let Some(e) = &j.error {
                println!("journal not settled: {e}");
            }
        }
        for p in &summary.plan {
            println!("{} key {}: {}", p["table"].as_str().unwrap_or(""), p["key"], p["sql"][0].as_str().unwrap_or(""));
        }
        for f in &summary.failures {
            println!("failed: {} key {}: {}", f["table"].as_str().unwrap_or(""), f["key"], f["error"].as_str().unwrap_or(""));
        }
        let outcomes: Vec<String> = summary.outcomes.iter().map(|(k, n)| format!("{k}={n}")).collect();
        println!(
            "repair{}: {} in {} ms",
            if args.dry_run { " (dry run)" } else { "" },
            if outcomes.is_empty() { "nothing to do".into() } else { outcomes.join(" ") },
            summary.duration_ms
        );
    }
    let journal_unsettled = summary.journal.as_ref().is_some_and(|j| j.error.is_some());
    Ok(if summary.failed() > 0 || journal_unsettled { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
