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
use std::sync::Arc;
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
    // The serving lease: on a SQLite store, the one process that may serve
    // it; on a shared store, the controller among the fleet's instances,
    // which runs the policy's timer and resumes an interrupted
    // auto-migrate (every instance serves, moves and follows the fleet).
    let lease = Lease::mine();
    let store = &migration.engine.store;
    let controller = match store.take_lease(&lease, LEASE_STALE.as_millis() as i64).await? {
        Ok(()) => true,
        Err(holder) if store.shared() => {
            tracing::info!(host = holder.host, pid = holder.pid, "another instance controls the migration's timers; this one serves and follows the fleet");
            false
        }
        Err(holder) => anyhow::bail!(
            "another movex serve (host {:?}, pid {}) serves this state store ({}): two would both move the migration and run its \
             validations. Stop it first; a holder that died on another host is replaced {} s after its last heartbeat \
             (to run several instances, share a MariaDB/MySQL or PostgreSQL state store: see README, Several instances)",
            holder.host,
            holder.pid,
            crate::db::redact(&migration.engine.config.state.url),
            LEASE_STALE.as_secs()
        ),
    };
    if migration.engine.config.proxy.mysql.is_some() {
        // A door that cannot start (its port taken, the source unreachable)
        // fails `serve` now, with the reason; one that stops later makes
        // `/health` unhealthy (`proxy::mysql::Door::spawn`).
        let door = crate::proxy::mysql::Door::open(migration.clone(), stop.clone()).await.context("the MySQL front door cannot start")?;
        door.spawn();
    }
    if migration.engine.config.proxy.postgres.is_some() {
        let door = crate::proxy::postgres::Door::open(migration.clone(), stop.clone()).await.context("the PostgreSQL front door cannot start")?;
        door.spawn();
    }
    let duties = stop.child_token();
    if controller {
        control(&migration, duties.clone()).await?;
    }
    tokio::spawn(renew_lease(migration.clone(), lease.clone(), controller, duties, stop.clone()));
    let result = crate::http::serve(migration.clone(), super::shutdown::signal()).await;
    eprintln!("movex: shutting down: stopping validations (checkpoints kept) and auto-migrate");
    stop.cancel();
    migration.suspend_auto_migrate().await;
    migration.stop_validation(crate::store::Mode::Full).await;
    migration.stop_validation(crate::store::Mode::Incr).await;
    migration.fleet.leave().await;
    if let Err(e) = migration.engine.store.release_lease(&lease).await {
        tracing::warn!("giving up the serving lease: {e:#}");
    }
    result
}

/// The controller's duties: the policy's timer, and an auto-migrate a
/// crash or a kill cut off resumed (or reported interrupted, as
/// configured). The timer ends with `duties` (a child of the shutdown).
async fn control(migration: &Arc<Migration>, duties: CancellationToken) -> anyhow::Result<()> {
    if migration.engine.config.policy.interval_ms > 0 {
        tokio::spawn(migration.clone().policy_timer(Duration::from_millis(migration.engine.config.policy.interval_ms), duties));
    }
    migration.resume_auto_migrate().await.context("resuming the auto-migrate that was running when movex stopped")
}

/// Renew the serving lease every third of its stale time. On a SQLite
/// store, if another process took it meanwhile (this one was stalled past
/// it), `/health` says so. On a shared store an instance that is not the
/// controller takes over when the controller's lease lapses, and one that
/// lost it gives up its duties.
async fn renew_lease(migration: Arc<Migration>, lease: Lease, mut controller: bool, mut duties: CancellationToken, stop: CancellationToken) {
    let shared = migration.engine.store.shared();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(LEASE_STALE / 3) => {}
            _ = stop.cancelled() => return,
        }
        match migration.engine.store.take_lease(&lease, LEASE_STALE.as_millis() as i64).await {
            Ok(Ok(())) if shared && !controller => {
                tracing::info!("this instance now controls the migration's timers");
                controller = true;
                duties = stop.child_token();
                if let Err(e) = control(&migration, duties.clone()).await {
                    tracing::warn!("{e:#}");
                }
            }
            Ok(Ok(())) => migration.faults.clear("serve_lease"),
            Ok(Err(_)) if shared => {
                if controller {
                    tracing::warn!("another instance took over the migration's timers (this one was stalled past its serving lease)");
                    duties.cancel();
                    migration.suspend_auto_migrate().await;
                    controller = false;
                }
            }
            Ok(Err(h)) => migration.faults.set(
                "serve_lease",
                format!("another movex serve (host {:?}, pid {}) took over this state store: stop this one", h.host, h.pid),
            ),
            Err(e) => tracing::warn!("renewing the serving lease: {e:#}"),
        }
    }
}
