//! The PostgreSQL front door: applications on PostgreSQL point their DSN
//! at movex (`[proxy.postgres] listen`) and their writes are double-written
//! by the current pattern, with the pool's journal, metrics and strict
//! mode. Design: `docs/design/proxy-postgres.md`.
//!
//! - [`wire`]: one socket, messages framed as they come and parsed by `pgwire`.
//! - [`login`]: the application's login to movex (SCRAM-SHA-256 or md5).
//! - [`backend`]: movex's login to the source and destination.
//! - [`route`]: read, session setting, transaction control or write.
//! - [`cancel`]: cancel requests, forwarded to the sides with their keys.
//! - [`session`]: one client session: rounds on the primary and the
//!   secondary, the extended protocol, COPY, generated values, strict mode.
//!
//! The door defends itself as the MySQL door does: a client must log in
//! within `handshake_timeout_ms`; at most `max_connections` clients at once
//! (the next gets SQLSTATE 53300); messages are limited (64 KiB before
//! login, `max_message_bytes` after) and refused before they are buffered;
//! accept errors are backed off while `/health` names the fault
//! (`proxy::listen`). TLS is not offered: an SSL request is answered `N`,
//! and clients go on in the clear (`sslmode=prefer`, the default) or stop
//! (`sslmode=require`).

pub mod backend;
pub mod cancel;
pub mod login;
pub mod route;
pub mod session;
pub mod wire;

use super::listen;
use crate::config::PostgresProxy;
use crate::migration::Migration;
use anyhow::{Context, Result, bail};
use backend::Target;
use bytes::BytesMut;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::{SecretKey, Startup};
use pgwire::messages::{DecodeContext, Message, ProtocolVersion};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use wire::Wire;

/// The fault `/health` names while the door cannot accept clients.
pub const FAULT: &str = "front_door.postgres";

/// The largest message before login: a startup message holds a few
/// parameters, a password message a SCRAM exchange.
pub const LOGIN_MESSAGE_MAX: usize = 64 * 1024;

const SSL_REQUEST: u32 = 80877103;
const GSS_REQUEST: u32 = 80877104;
const CANCEL_REQUEST: u32 = 80877102;

/// The front door, bound and ready to accept: [`Door::open`] at start-up
/// (its errors fail `movex serve`), then [`Door::spawn`].
pub struct Door {
    front: Arc<Front>,
    listener: TcpListener,
    workers: Vec<tokio::runtime::Handle>,
    stop: CancellationToken,
}

/// The door's part of accepting: what each client session starts from.
struct Front {
    migration: Arc<Migration>,
    config: PostgresProxy,
    users: login::Users,
    source: Target,
    destination: Target,
    cancels: Arc<cancel::Cancels>,
}

impl Door {
    /// Check `[proxy.postgres]`, listen, reach the source, and start the
    /// session threads: everything that can fail at start.
    pub async fn open(migration: Arc<Migration>, stop: CancellationToken) -> Result<Door> {
        let config = migration.engine.config.proxy.postgres.clone().context("no [proxy.postgres] section")?;
        if config.users.is_empty() {
            bail!("[proxy.postgres] needs at least one [[proxy.postgres.users]] entry (name, password): nobody could log in");
        }
        if config.max_connections == 0 {
            bail!("[proxy.postgres] max_connections = 0: nobody could connect; give the number of clients at once (default 1000)");
        }
        if config.handshake_timeout_ms == 0 {
            bail!("[proxy.postgres] handshake_timeout_ms = 0: nobody could log in; give milliseconds (default 10000)");
        }
        if config.max_message_bytes < 1024 {
            bail!("[proxy.postgres] max_message_bytes = {}: too small for any query; give bytes (default 64 MiB)", config.max_message_bytes);
        }
        let source = Target::from_url(&migration.engine.config.source.url, "source")?;
        let destination = Target::from_url(&migration.engine.config.destination.url, "destination")?;
        let listener = TcpListener::bind(&config.listen).await.with_context(|| format!("[proxy.postgres] listen = {:?}: cannot listen there (is the port in use?)", config.listen))?;
        // The source must let movex in now: a wrong password in its URL is
        // said at start, not at every client's login.
        let probe = backend::connect(&source, &[]).await.context("the PostgreSQL front door logs in to the source at start")?;
        drop(probe);
        let threads = listen::threads(config.threads);
        let workers = listen::workers(threads, "postgres", &stop)?;
        listen::files_for(config.max_connections, "[proxy.postgres]");
        let addr = listener.local_addr()?;
        tracing::info!(%addr, threads, max_connections = config.max_connections, "PostgreSQL front door listening");
        eprintln!("movex: PostgreSQL front door on {addr}");
        let users = login::Users::new(&config.users, config.auth);
        let front = Arc::new(Front { migration, config, users, source, destination, cancels: Arc::default() });
        Ok(Door { front, listener, workers, stop })
    }

    /// Accept clients until `stop`, in a task (`listen::spawn`).
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        let accepting = listen::Accepting {
            listener: self.listener,
            max_connections: self.front.config.max_connections,
            workers: self.workers,
            stop: self.stop,
            faults: self.front.migration.faults.clone(),
        };
        listen::spawn(self.front, accepting)
    }
}

impl listen::Front for Front {
    const PROTOCOL: &'static str = "PostgreSQL";
    const SECTION: &'static str = "[proxy.postgres]";
    const FAULT: &'static str = FAULT;

    fn refuse_full(&self, stream: TcpStream, peer: SocketAddr, why: String) -> impl Future<Output = ()> + Send + 'static {
        // The client speaks first: its startup message is read (briefly),
        // so its driver sees the error, not a reset.
        async move {
            let mut wire = Wire::new(stream, format!("client {peer}"));
            let _ = tokio::time::timeout(Duration::from_secs(1), wire.read_startup()).await;
            wire.refuse_and_close("53300", why).await;
        }
    }

    fn serve(self: &Arc<Self>, stream: std::net::TcpStream, peer: SocketAddr, id: u32, slot: OwnedSemaphorePermit) -> impl Future<Output = ()> + Send + 'static {
        let front = self.clone();
        async move {
            let _slot = slot;
            let Some(stream) = listen::register(stream, peer) else { return };
            // The login boxed: its future is large, and done with once the
            // session runs, here, one state machine below the task's.
            let ended = match Box::pin(front.login(stream, peer, id)).await {
                Ok(Some(session)) => session.run().await,
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = format!("{e:#}"), "proxy: session ended");
            }
        }
    }
}

/// What a connection's first message asks for.
enum Opening {
    Startup(Startup),
    Cancel(i32, i32),
}

impl Front {
    /// A client's connection up to its session: the opening (or a cancel
    /// request), the login, the primary's. `None`: it ended there.
    async fn login(&self, stream: TcpStream, peer: SocketAddr, id: u32) -> Result<Option<session::Session<'_>>> {
        let mut wire = Wire::new(stream, format!("client {peer}"));
        wire.limit_reads(LOGIN_MESSAGE_MAX);
        let timeout = Duration::from_millis(self.config.handshake_timeout_ms);
        let deadline = tokio::time::Instant::now() + timeout;
        let opened = tokio::time::timeout_at(deadline, async {
            let Some(opening) = self.opening(&mut wire).await? else { return Ok(None) };
            let startup = match opening {
                Opening::Cancel(pid, secret) => {
                    self.cancels.cancel(pid, secret).await;
                    return Ok(None);
                }
                Opening::Startup(s) => s,
            };
            // A client asking for a newer minor version (3.2) or protocol
            // options is told the door speaks 3.0, without them.
            let options: Vec<String> = startup.parameters.keys().filter(|k| k.starts_with("_pq_.")).cloned().collect();
            if startup.protocol_number_minor > 0 || !options.is_empty() {
                let negotiate = pgwire::messages::startup::NegotiateProtocolVersion::new(0, options);
                wire.queue(&wire::Frame::of(&negotiate).raw);
            }
            let user = startup.parameters.get("user").cloned().unwrap_or_default();
            if user.is_empty() {
                wire.send(&wire::error_frame(true, "28000", "no PostgreSQL user name specified in the startup packet").raw).await?;
                return Ok(None);
            }
            if let Some(db) = startup.parameters.get("database").filter(|d| **d != self.source.database && **d != user) {
                let msg = format!("movex's front door serves database \"{}\" (the source's); the client asked for \"{db}\"", self.source.database);
                wire.send(&wire::error_frame(true, "3D000", &msg).raw).await?;
                return Ok(None);
            }
            if !login::authenticate(&mut wire, &self.users, &user).await? {
                return Ok(None);
            }
            anyhow::Ok(Some((user, startup)))
        })
        .await;
        let (user, startup) = match opened {
            Ok(Ok(Some(s))) => s,
            Ok(Ok(None)) => return Ok(None),
            Ok(Err(e)) => {
                let msg = match e.downcast_ref::<wire::TooLarge>() {
                    Some(t) => format!("movex: {t} before login (a login message is a few hundred bytes)"),
                    None => format!("movex: {e:#}"),
                };
                wire.refuse_and_close("08P01", msg).await;
                return Ok(None);
            }
            Err(_) => {
                tracing::debug!(%peer, "proxy: a client did not log in in time; dropped");
                let msg = format!("movex: no login within {} ms ([proxy.postgres] handshake_timeout_ms)", self.config.handshake_timeout_ms);
                wire.refuse_and_close("08006", msg).await;
                return Ok(None);
            }
        };
        tracing::debug!(%user, %peer, "proxy: client logged in");
        wire.limit_reads(self.config.max_message_bytes);
        let params = startup.parameters.into_iter().collect();
        let me = self.cancels.register(id);
        let start = session::Start { source: self.source.clone(), destination: self.destination.clone(), params, me, defer_begin: self.config.defer_begin };
        let mut session = session::Session::new(wire, &self.migration.pool, start);
        Ok(session.open().await?.then_some(session))
    }

    /// The connection's opening: SSL and GSS requests answered `N` (the
    /// client then sends its startup message in the clear), a startup
    /// message or a cancel request. `None`: the client left.
    async fn opening(&self, wire: &mut Wire) -> Result<Option<Opening>> {
        loop {
            let Some(raw) = wire.read_startup().await? else { return Ok(None) };
            let code = u32::from_be_bytes(raw[4..8].try_into().expect("8 bytes at least"));
            match code {
                SSL_REQUEST | GSS_REQUEST => wire.send(b"N").await?,
                CANCEL_REQUEST => {
                    let mut buf = BytesMut::from(&raw[..]);
                    let c = CancelRequest::decode(&mut buf, &ctx())?.context("a short cancel request")?;
                    let secret = match c.secret_key {
                        SecretKey::I32(s) => s,
                        SecretKey::Bytes(b) if b.len() == 4 => i32::from_be_bytes(b[..].try_into().expect("4 bytes")),
                        SecretKey::Bytes(_) => return Ok(None),
                    };
                    return Ok(Some(Opening::Cancel(c.pid, secret)));
                }
                _ if code >> 16 == 3 => {
                    let mut buf = BytesMut::from(&raw[..]);
                    let s = Startup::decode(&mut buf, &ctx())?.context("a short startup message")?;
                    return Ok(Some(Opening::Startup(s)));
                }
                _ => bail!("unsupported frontend protocol {}.{}: movex speaks 3.0", code >> 16, code & 0xffff),
            }
        }
    }
}

fn ctx() -> DecodeContext {
    let mut c = DecodeContext::new(ProtocolVersion::PROTOCOL3_0);
    c.awaiting_frontend_ssl = false;
    c
}
