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
//! - [`names`]: database names written in the SQL, mapped to the
//!   destination's.
//! - [`sessions`]: the live sessions by the connection id their clients
//!   were given (the primary's), for `KILL`.
//! - [`session`]: one client session's command loop; beside it, one file
//!   per concern: connecting a side (`session/connect.rs`), the primary's
//!   and the secondary's part of each command (`primary.rs`,
//!   `secondary.rs`), the transaction (`transaction.rs`), prepared
//!   statements (`prepared.rs`), pinning (`pin.rs`), strict mode
//!   (`strict.rs`).
//!
//! The door defends itself ([`Door`]): a client must log in within
//! `handshake_timeout_ms`; at most `max_connections` clients at once (the
//! next is told "Too many connections"); packets are limited (64 KiB before
//! login, `max_packet_bytes` after), refused with a MySQL error, never
//! buffered; accept errors (out of files) are backed off and retried while
//! `/health` names the fault. A door that cannot start fails `movex serve`.

pub mod backend;
pub mod login;
pub mod response;
pub mod names;
pub mod route;
pub mod session;
pub mod sessions;
pub mod wire;

use crate::config::MysqlProxy;
use crate::migration::Migration;
use crate::pool::SideName;
use anyhow::{Context, Result, bail};
use backend::{Greeting, Target};
use login::error_packet;
use super::listen;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// The fault `/health` names while the door cannot accept clients.
pub const FAULT: &str = "front_door.mysql";

/// The largest packet a client may send before it has logged in: a
/// handshake response holds a user, a scramble, a database and connection
/// attributes, a few hundred bytes.
pub const LOGIN_PACKET_MAX: usize = 64 * 1024;

/// MySQL's "Too many connections".
const ER_CON_COUNT_ERROR: u16 = 1040;
/// MySQL's "Bad handshake".
const ER_HANDSHAKE_ERROR: u16 = 1043;

/// The front door, bound and ready to accept: [`Door::open`] at start-up
/// (its errors fail `movex serve`), then [`Door::spawn`].
pub struct Door {
    migration: Arc<Migration>,
    config: MysqlProxy,
    /// The largest command a logged-in client may send: `max_packet_bytes`,
    /// or the source's `max_allowed_packet` read at start.
    max_packet: usize,
    listener: TcpListener,
    offer: Greeting,
    source: Target,
    destination: Target,
    workers: Vec<tokio::runtime::Handle>,
    stop: CancellationToken,
    sessions: Arc<sessions::Sessions>,
}

impl Door {
    /// Check `[proxy.mysql]`, listen, read the backends' greetings and
    /// start the session threads: everything that can fail at start.
    pub async fn open(migration: Arc<Migration>, stop: CancellationToken) -> Result<Door> {
        let config = migration.engine.config.proxy.mysql.clone().context("no [proxy.mysql] section")?;
        if config.users.is_empty() {
            bail!("[proxy.mysql] needs at least one [[proxy.mysql.users]] entry (name, password): nobody could log in");
        }
        if config.max_connections == 0 {
            bail!("[proxy.mysql] max_connections = 0: nobody could connect; give the number of clients at once (default 1000)");
        }
        if config.handshake_timeout_ms == 0 {
            bail!("[proxy.mysql] handshake_timeout_ms = 0: nobody could log in; give milliseconds (default 10000)");
        }
        if let Some(n) = config.max_packet_bytes.filter(|&n| n < 1024) {
            bail!("[proxy.mysql] max_packet_bytes = {n}: too small for any command; give bytes, or leave it out to take the source's max_allowed_packet");
        }
        let source = Target::from_url(&migration.engine.config.source.url, "source")?;
        let destination = Target::from_url(&migration.engine.config.destination.url, "destination")?;
        let listener = TcpListener::bind(&config.listen).await.with_context(|| format!("[proxy.mysql] listen = {:?}: cannot listen there (is the port in use?)", config.listen))?;
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
        let max_packet = match config.max_packet_bytes {
            Some(n) => n,
            None => max_allowed_packet(&migration.engine.source).await,
        };
        let threads = listen::threads(config.threads);
        let workers = listen::workers(threads, "mysql", &stop)?;
        listen::files_for(config.max_connections, "[proxy.mysql]");
        let addr = listener.local_addr()?;
        tracing::info!(%addr, threads, max_connections = config.max_connections, max_packet_bytes = max_packet, "MySQL front door listening");
        eprintln!("movex: MySQL front door on {addr}");
        Ok(Door { migration, config, max_packet, listener, offer, source, destination, workers, stop, sessions: Arc::default() })
    }

    /// Accept clients until `stop`, in a task (`listen::spawn`).
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        let front = Arc::new(Front {
            migration: self.migration.clone(),
            config: self.config.clone(),
            offer: self.offer,
            source: self.source,
            destination: self.destination,
            sessions: self.sessions,
            max_packet: self.max_packet,
            dials: Arc::new(Semaphore::new(DIALS_BEFORE_LOGIN)),
        });
        let accepting = listen::Accepting {
            listener: self.listener,
            max_connections: self.config.max_connections,
            workers: self.workers,
            stop: self.stop,
            faults: self.migration.faults.clone(),
        };
        listen::spawn(front, accepting)
    }
}

/// The door's part of accepting: what each client session starts from.
struct Front {
    migration: Arc<Migration>,
    config: MysqlProxy,
    offer: Greeting,
    source: Target,
    destination: Target,
    sessions: Arc<sessions::Sessions>,
    /// The largest command a logged-in client may send ([`Door::max_packet`]).
    max_packet: usize,
    /// Leave to dial the primary before greeting (see [`DIALS_BEFORE_LOGIN`]).
    dials: Arc<Semaphore>,
}

impl listen::Front for Front {
    const PROTOCOL: &'static str = "MySQL";
    const SECTION: &'static str = "[proxy.mysql]";
    const FAULT: &'static str = FAULT;

    fn refuse_full(&self, stream: TcpStream, peer: std::net::SocketAddr, why: String) -> impl Future<Output = ()> + Send + 'static {
        wire::Wire::new(stream, format!("client {peer}")).refuse_and_close(error_packet(ER_CON_COUNT_ERROR, b"08004", &why))
    }

    fn serve(self: &Arc<Self>, stream: std::net::TcpStream, peer: std::net::SocketAddr, id: u32, slot: OwnedSemaphorePermit) -> impl Future<Output = ()> + Send + 'static {
        let client = Client { front: self.clone(), id, dial: self.dials.clone().try_acquire_owned().ok(), _slot: slot };
        async move {
            let Some(stream) = listen::register(stream, peer) else { return };
            if let Err(e) = client.run(stream, peer).await {
                tracing::debug!(%peer, error = format!("{e:#}"), "proxy: session ended");
            }
        }
    }
}

/// One client connection, from its greeting to its end; it holds one of
/// the door's `max_connections` slots while it lasts.
struct Client {
    front: Arc<Front>,
    /// movex's own number for the connection, given to the client only if
    /// the primary could not be dialled before the greeting.
    id: u32,
    /// Leave to dial the primary before greeting (one of
    /// [`DIALS_BEFORE_LOGIN`]), held until the client has logged in.
    dial: Option<OwnedSemaphorePermit>,
    _slot: OwnedSemaphorePermit,
}

impl Client {
    async fn run(mut self, stream: TcpStream, peer: std::net::SocketAddr) -> Result<()> {
        let front = self.front.clone();
        let mut wire = wire::Wire::new(stream, format!("client {peer}"));
        wire.limit_reads(LOGIN_PACKET_MAX);
        let timeout = Duration::from_millis(front.config.handshake_timeout_ms);
        let deadline = tokio::time::Instant::now() + timeout;
        // The primary is dialled first: the client is given its id for the
        // connection, so CONNECTION_ID(), the process list and KILL agree.
        let (primary, _) = front.migration.pool.pattern().roles();
        let target = match primary {
            SideName::Source => &front.source,
            SideName::Destination => &front.destination,
        };
        // Only so many at once: a client that never logs in must not hold
        // a database connection, or a flood of them would use up the
        // server's max_connections for everyone. Past that many, the
        // client is greeted with movex's own number and the primary is
        // connected after its login.
        let dial = self.dial.take();
        let dialed = match dial {
            None => None,
            Some(_) => match tokio::time::timeout_at(deadline, backend::dial(target)).await {
                Ok(Ok(d)) => Some(d),
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = format!("{e:#}"), "proxy: dialling the primary before the greeting failed; the session connects later");
                    None
                }
                Err(_) => None,
            },
        };
        let id = dialed.as_ref().map_or(self.id, |d| d.thread_id());
        let login = match tokio::time::timeout_at(deadline, login::accept(&mut wire, &front.offer, &front.config.users, id)).await {
            Ok(Ok(Some(login))) => login,
            Ok(Ok(None)) => return Ok(()),
            Ok(Err(e)) => return login::refuse_too_large(&mut wire, e, "before login (a login packet is a few hundred bytes)").await,
            Err(_) => {
                tracing::debug!(%peer, "proxy: a client did not log in in time; dropped");
                let msg = format!("Bad handshake: no login within {} ms ([proxy.mysql] handshake_timeout_ms)", front.config.handshake_timeout_ms);
                wire.refuse_and_close(error_packet(ER_HANDSHAKE_ERROR, b"08S01", &msg)).await;
                return Ok(());
            }
        };
        drop(dial);
        tracing::debug!(user = %login.user, %peer, "proxy: client logged in");
        wire.limit_reads(front.max_packet);
        let me = front.sessions.register(id, &login.user);
        let start = session::Start { source: front.source.clone(), destination: front.destination.clone(), sessions: front.sessions.clone(), me, dialed: dialed.map(|d| (primary, d)) };
        let mut session = session::Session::new(wire, login, &front.migration.pool, start);
        if !session.open().await? {
            return Ok(());
        }
        session.run().await
    }
}

/// Clients that may be in their handshake with a connection to the primary
/// dialled for them (to greet them with its id): a bound on the database
/// connections that clients not yet logged in hold.
const DIALS_BEFORE_LOGIN: usize = 16;

/// The largest command when the source cannot say: MariaDB's default
/// `max_allowed_packet`.
const DEFAULT_MAX_PACKET: usize = 16 * 1024 * 1024;

/// The source's `@@max_allowed_packet`: what drivers read (through the
/// door) to size their commands, so the door takes what the source
/// takes. MariaDB's default if it cannot be read.
async fn max_allowed_packet(source: &crate::db::Db) -> usize {
    let read = match source {
        crate::db::Db::MySql(pool) => sqlx::query_scalar::<_, u64>("SELECT @@max_allowed_packet").fetch_one(pool).await.map_err(anyhow::Error::from),
        _ => Err(anyhow::anyhow!("the source is not MySQL")),
    };
    match read {
        Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "proxy: the source's max_allowed_packet could not be read; the door takes commands up to 16 MiB");
            DEFAULT_MAX_PACKET
        }
    }
}
