//! `movex serve --config FILE`: the host. Brings the migration up in the
//! state it was left in, serves the control plane, consults the policy on
//! its timer, and on SIGTERM or ctrl-c shuts down gracefully: requests in
//! flight finish, validations stop at a batch boundary with their
//! checkpoints committed, auto-migrate is cancelled.

use crate::config::Config;
use crate::migration::Migration;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The configuration file (TOML).
    #[arg(long, short)]
    config: PathBuf,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let migration = Migration::open(config).await?;
    let stop = CancellationToken::new();
    if migration.config.policy.interval_ms > 0 {
        tokio::spawn(migration.clone().policy_timer(Duration::from_millis(migration.config.policy.interval_ms), stop.clone()));
    }
    if migration.config.proxy.mysql.is_some() {
        // A door that cannot start (its port taken, the source unreachable)
        // fails `serve` now, with the reason; one that stops later makes
        // `/health` unhealthy (`proxy::Door::spawn`).
        let door = crate::proxy::Door::open(migration.clone(), stop.clone()).await.context("the MySQL front door cannot start")?;
        door.spawn();
    }
    let result = crate::http::serve(migration.clone(), shutdown_signal()).await;
    eprintln!("movex: shutting down: stopping validations (checkpoints kept) and auto-migrate");
    stop.cancel();
    migration.cancel_auto_migrate().await;
    migration.stop_validation(true).await;
    migration.stop_validation(false).await;
    result
}
