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
//! - [`session`]: one client session's command loop; the secondary's part
//!   of each command in `session/secondary.rs`, strict mode in
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
    let threads = match config.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        n => n,
    };
    let workers = workers(threads, &stop)?;
    tracing::info!(%addr, threads, "MySQL front door listening");
    eprintln!("movex: MySQL front door on {addr}");
    let ids = Arc::new(AtomicU32::new(1));
    loop {
        let (stream, peer) = tokio::select! {
            a = listener.accept() => a.context("accepting a MySQL client")?,
            _ = stop.cancelled() => return Ok(()),
        };
        let (m, offer, source, destination, users) = (migration.clone(), offer.clone(), source.clone(), destination.clone(), config.users.clone());
        let id = ids.fetch_add(1, Ordering::Relaxed);
        // The socket moves to its session's thread, and its reactor.
        let stream = stream.into_std().context("handing a client socket to a session thread")?;
        workers[id as usize % workers.len()].spawn(async move {
            let Ok(stream) = tokio::net::TcpStream::from_std(stream) else { return };
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

/// Start `n` session threads, each a single-threaded runtime that runs
/// until `stop`: a session's packets then go client -> backend -> client
/// on one thread, without waking a work-stealing pool at every hop (on the
/// front-door benchmark most of movex's time was the kernel switching
/// threads, not movex's own code).
fn workers(n: usize, stop: &CancellationToken) -> Result<Vec<tokio::runtime::Handle>> {
    (0..n)
        .map(|i| {
            let (tx, rx) = std::sync::mpsc::channel();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("movex-proxy-{i}"))
                .spawn(move || {
                    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                        Ok(rt) => rt,
                        Err(e) => return drop(tx.send(Err(e))),
                    };
                    let _ = tx.send(Ok(rt.handle().clone()));
                    rt.block_on(stop.cancelled());
                })
                .context("starting a front-door session thread")?;
            rx.recv().context("a front-door session thread died starting")?.context("building a front-door session runtime")
        })
        .collect()
}
