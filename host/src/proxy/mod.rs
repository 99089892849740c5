//! The MySQL front door: applications in any language point their DSN at
//! movex (`[proxy.mysql] listen`) and their writes are double-written by
//! the current pattern, with the pool's journal and metrics. Design:
//! `docs/design/proxy.md`.
//!
//! - [`wire`]: one socket, packets framed by `mysql_common`'s codec.
//! - [`login`]: the application's login to movex (`[[proxy.mysql.users]]`).
//! - [`backend`]: movex's login to the source and destination.
//! - [`response`]: reading a backend's response, relayed or drained.
//! - [`route`]: read, session statement or write.
//! - [`session`]: one client session's command loop; strict mode in
//!   `session/strict.rs`.

pub mod backend;
pub mod login;
pub mod response;
pub mod route;
pub mod session;
pub mod wire;

use crate::migration::Migration;
use anyhow::{Context, Result, bail};
use backend::Target;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Accept MySQL clients until `stop`.
pub async fn serve(migration: Arc<Migration>, stop: CancellationToken) -> Result<()> {
    let config = migration.config.proxy.mysql.clone().context("no [proxy.mysql] section")?;
    if config.users.is_empty() {
        bail!("[proxy.mysql] needs at least one [[proxy.mysql.users]] entry (name, password): nobody could log in");
    }
    let source = Target::from_url(&migration.config.source.url, "source")?;
    let destination = Target::from_url(&migration.config.destination.url, "destination")?;
    let listener = TcpListener::bind(&config.listen).await.with_context(|| format!("[proxy.mysql] listen = {:?}: cannot listen there", config.listen))?;
    // What clients are offered follows from both backends (the source's
    // alone while the destination is unreachable).
    let from_source = backend::probe(&source).await.context("the MySQL front door reads the source's greeting at start")?;
    let offer = match backend::probe(&destination).await {
        Ok(d) => login::offer(&from_source, &d),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "proxy: the destination is unreachable; offering what the source offers");
            login::offer(&from_source, &from_source)
        }
    };
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "MySQL front door listening");
    eprintln!("movex: MySQL front door on {addr}");
    let ids = Arc::new(AtomicU32::new(1));
    loop {
        let (stream, peer) = tokio::select! {
            a = listener.accept() => a.context("accepting a MySQL client")?,
            _ = stop.cancelled() => return Ok(()),
        };
        let (m, offer, source, destination, users) = (migration.clone(), offer.clone(), source.clone(), destination.clone(), config.users.clone());
        let id = ids.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let mut wire = wire::Wire::new(stream, format!("client {peer}"));
            let result = async {
                let Some(login) = login::accept(&mut wire, &offer, &users, id).await? else { return Ok(()) };
                tracing::debug!(user = %login.user, %peer, "proxy: client logged in");
                session::Session::new(wire, login, &m.pool, source, destination).run().await
            }
            .await;
            if let Err(e) = result {
                tracing::debug!(%peer, error = format!("{e:#}"), "proxy: session ended");
            }
        });
    }
}
