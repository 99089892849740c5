//! What the front doors share: the accept loop ([`accept`]) with its
//! limits, the session threads ([`workers`]) and room in the process's file
//! limit ([`files_for`]). A door brings what is its own through [`Front`]:
//! how a client past the limit is refused, and how an admitted client is
//! served, in its protocol's words.

use anyhow::{Context, Result};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Accept errors are retried after this, doubling up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Repeated warnings (accept errors, refused clients) are logged at most
/// this often, with a count of those left out: a flood must not become a
/// flood of log lines.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// A front door's own part of accepting clients.
pub trait Front: Send + Sync + 'static {
    /// "MySQL" or "PostgreSQL", in messages.
    const PROTOCOL: &'static str;
    /// Its config section, `[proxy.mysql]`, in messages.
    const SECTION: &'static str;
    /// The fault `/health` names while the door cannot accept clients.
    const FAULT: &'static str;

    /// Tell a client past `max_connections` so (`why`) and close.
    fn refuse_full(&self, stream: TcpStream, peer: SocketAddr, why: String) -> impl Future<Output = ()> + Send + 'static;

    /// Serve an admitted client: the future is the session's task, on a
    /// session thread, where it registers `stream` with that thread's
    /// reactor ([`register`]) first. `id` is the door's own number for the
    /// connection; `slot` is held while it lasts.
    fn serve(self: &Arc<Self>, stream: std::net::TcpStream, peer: SocketAddr, id: u32, slot: OwnedSemaphorePermit) -> impl Future<Output = ()> + Send + 'static;
}

/// What [`accept`] needs besides the door.
pub struct Accepting {
    pub listener: TcpListener,
    pub max_connections: usize,
    pub workers: Vec<tokio::runtime::Handle>,
    pub stop: CancellationToken,
    pub faults: Arc<crate::health::Faults>,
}

/// Accept clients until `stop`, in a task. Should the loop end before
/// `stop` (it does not return on errors: a panic), `/health` turns
/// unhealthy and names it.
pub fn spawn<F: Front>(front: Arc<F>, a: Accepting) -> tokio::task::JoinHandle<()> {
    let (faults, stop) = (a.faults.clone(), a.stop.clone());
    let accepting = tokio::spawn(accept(front, a));
    tokio::spawn(async move {
        let why = match accepting.await {
            Ok(()) if stop.is_cancelled() => return,
            Ok(()) => "its accept loop ended".to_owned(),
            Err(e) => format!("its accept loop failed: {e}"),
        };
        eprintln!("movex: the {} front door stopped: {why}", F::PROTOCOL);
        faults.set(F::FAULT, format!("the {} front door stopped: {why}; clients cannot connect until movex serve is restarted", F::PROTOCOL));
    })
}

async fn accept<F: Front>(front: Arc<F>, a: Accepting) {
    let addr = a.listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let slots = Arc::new(Semaphore::new(a.max_connections));
    let ids = AtomicU32::new(1);
    let (mut backoff, mut failing) = (BACKOFF_MIN, false);
    let (mut accept_log, mut full_log) = (Throttle::default(), Throttle::default());
    loop {
        let accepted = tokio::select! {
            r = a.listener.accept() => r,
            _ = a.stop.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(r) => r,
            // That client gave up before it was accepted: the door is fine.
            Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset) => continue,
            // Out of files (EMFILE), of buffers...: what frees them is
            // other connections closing. Retry, backing off, and say so.
            Err(e) => {
                let cause = format!(
                    "the {} front door on {addr} cannot accept clients: {e}; it keeps retrying. \
                     If it is out of files, raise the file limit (ulimit -n, systemd LimitNOFILE=) or lower {} max_connections",
                    F::PROTOCOL,
                    F::SECTION
                );
                a.faults.set(F::FAULT, cause);
                if let Some(left_out) = accept_log.ready() {
                    tracing::error!(error = %e, retry_in_ms = backoff.as_millis() as u64, left_out, "proxy: accepting a client failed; retrying");
                }
                failing = true;
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = a.stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        if failing {
            failing = false;
            backoff = BACKOFF_MIN;
            a.faults.clear(F::FAULT);
            tracing::info!(%addr, "proxy: accepting clients again");
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if let Some(left_out) = full_log.ready() {
                tracing::warn!(%peer, max_connections = a.max_connections, left_out, "proxy: too many connections; refusing a client");
            }
            let why = format!(
                "Too many connections: movex's front door has its {} max_connections = {} clients; try again later, or raise it",
                F::SECTION,
                a.max_connections
            );
            tokio::spawn(front.refuse_full(stream, peer, why));
            continue;
        };
        let id = ids.fetch_add(1, Ordering::Relaxed);
        // The socket moves to its session's thread, and its reactor.
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "proxy: handing a client socket to a session thread failed; dropped it");
                continue;
            }
        };
        // The door's future is the task itself, not wrapped in another:
        // each wake-up of a session polls through one state machine fewer.
        a.workers[id as usize % a.workers.len()].spawn(front.serve(stream, peer, id, slot));
    }
}

/// A client's socket, handed over by [`accept`], registered with the
/// reactor of the session thread this runs on; `None` (logged) if it
/// cannot be.
pub fn register(stream: std::net::TcpStream, peer: SocketAddr) -> Option<TcpStream> {
    TcpStream::from_std(stream).inspect_err(|e| tracing::warn!(%peer, error = %e, "proxy: a session thread could not take a client socket; dropped it")).ok()
}

/// Lets one of a run of repeated warnings through every [`LOG_EVERY`].
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
    left_out: u64,
}

impl Throttle {
    /// `Some(how many were left out since the last)` if this one is logged.
    fn ready(&mut self) -> Option<u64> {
        if self.last.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            self.left_out += 1;
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.left_out))
    }
}

/// Make room for a door's clients in the process's file limit: the soft
/// limit is raised to the hard one (as Go programs do at start), and a
/// limit too low for `max_connections` is said at start, not found at the
/// first flood. Each client holds up to three files: its socket and one
/// connection per database.
pub fn files_for(max_connections: usize, section: &str) {
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    let needed = max_connections.saturating_mul(3).saturating_add(256);
    if (lim.rlim_cur as u128) < needed as u128 {
        tracing::warn!(
            max_connections,
            file_limit = lim.rlim_cur as u64,
            "proxy: the process may open fewer files than {section} max_connections clients need (up to 3 each, and movex's own): \
             past the limit the door cannot accept until connections close (/health says so). Raise the limit (ulimit -n, systemd LimitNOFILE=) or lower max_connections"
        );
    }
}

/// The number of session threads for `configured` (0: one per core, at most 4).
pub fn threads(configured: usize) -> usize {
    match configured {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        n => n,
    }
}

/// Start `n` session threads, each a single-threaded runtime that runs
/// until `stop`: a session's messages then go client -> backend -> client
/// on one thread, without waking a work-stealing pool at every hop (on the
/// front-door benchmark most of movex's time was the kernel switching
/// threads, not movex's own code).
pub fn workers(n: usize, name: &str, stop: &CancellationToken) -> Result<Vec<tokio::runtime::Handle>> {
    (0..n)
        .map(|i| {
            let (tx, rx) = std::sync::mpsc::channel();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("movex-{name}-{i}"))
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
