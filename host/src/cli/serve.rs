//! `movex serve --config FILE`: the host. Brings the migration up in the
//! state it was left in, serves the control plane, consults the policy on
//! its timer, and on SIGTERM or ctrl-c shuts down gracefully: requests in
//! flight finish, validations stop at a batch boundary with their
//! checkpoints committed, auto-migrate is suspended (the next start resumes
//! it).

use crate::config::Config;
use crate::migration::Migration;
use crate::store::lease::Lease;
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


/// A serving lease older than this may be taken over (a holder on this
/// host whose process is gone, at once).
const LEASE_STALE: Duration = Duration::from_secs(15);

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let migration = Migration::open(config).await?;
    let stop = CancellationToken::new();
    let lease = Lease::mine();
    if let Err(holder) = migration.engine.store.take_lease(&lease, LEASE_STALE.as_millis() as i64).await? {
        anyhow::bail!(
            "another movex serve (host {:?}, pid {}) serves this state store ({}): two would both move the migration and run its \
             validations. Stop it first; a holder that died on another host is replaced {} s after its last heartbeat",
            holder.host,
            holder.pid,
            crate::db::redact(&migration.engine.config.state.url),
            LEASE_STALE.as_secs()
        );
    }
    tokio::spawn(renew_lease(migration.clone(), lease.clone(), stop.clone()));
    if migration.engine.config.policy.interval_ms > 0 {
        tokio::spawn(migration.clone().policy_timer(Duration::from_millis(migration.engine.config.policy.interval_ms), stop.clone()));
    }
    if migration.engine.config.proxy.mysql.is_some() {
        // A door that cannot start (its port taken, the source unreachable)
        // fails `serve` now, with the reason; one that stops later makes
        // `/health` unhealthy (`proxy::Door::spawn`).
        let door = crate::proxy::Door::open(migration.clone(), stop.clone()).await.context("the MySQL front door cannot start")?;
        door.spawn();
    }
    // An auto-migrate a crash or a kill cut off resumes (or is reported
    // interrupted, as configured).
    migration.resume_auto_migrate().await.context("resuming the auto-migrate that was running when movex stopped")?;
    let result = crate::http::serve(migration.clone(), super::shutdown::signal()).await;
    eprintln!("movex: shutting down: stopping validations (checkpoints kept) and auto-migrate");
    stop.cancel();
    migration.suspend_auto_migrate().await;
    migration.stop_validation(crate::store::Mode::Full).await;
    migration.stop_validation(crate::store::Mode::Incr).await;
    if let Err(e) = migration.engine.store.release_lease(&lease).await {
        tracing::warn!("giving up the serving lease: {e:#}");
    }
    result
}

/// Renew the serving lease every third of its stale time; if another
/// process took it meanwhile (this one was stalled past it), `/health`
/// says so.
async fn renew_lease(migration: std::sync::Arc<Migration>, lease: Lease, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(LEASE_STALE / 3) => {}
            _ = stop.cancelled() => return,
        }
        match migration.engine.store.take_lease(&lease, LEASE_STALE.as_millis() as i64).await {
            Ok(Ok(())) => migration.faults.clear("serve_lease"),
            Ok(Err(h)) => migration.faults.set(
                "serve_lease",
                format!("another movex serve (host {:?}, pid {}) took over this state store: stop this one", h.host, h.pid),
            ),
            Err(e) => tracing::warn!("renewing the serving lease: {e:#}"),
        }
    }
}
