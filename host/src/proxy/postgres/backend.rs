//! movex's own login to the source and the destination: the URL's user,
//! password and database, with the client's session parameters
//! (`application_name`, `client_encoding`, `DateStyle`...). The server's
//! authentication request is answered as it asks — SCRAM-SHA-256 and md5
//! by `postgres-protocol`, or the password in clear — and its parameters
//! and cancel key are kept for the client.

use super::wire::{Frame, Wire};
use anyhow::{Context, Result, anyhow, bail};
use bytes::{Bytes, BytesMut};
use pgwire::messages::Message;
use pgwire::messages::startup::{Authentication, BackendKeyData, Password, SASLInitialResponse, SASLResponse, Startup};
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
use std::net::SocketAddr;
use tokio::net::TcpStream;

/// Where a side is, and who movex is there.
#[derive(Clone, Debug)]
pub struct Target {
    /// `source` or `destination`, in messages.
    pub label: &'static str,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
}

impl Target {
    pub fn from_url(url: &str, label: &'static str) -> Result<Target> {
        let u = url::Url::parse(url).with_context(|| format!("the {label} URL is not a URL"))?;
        if !matches!(u.scheme(), "postgres" | "postgresql") {
            bail!("the PostgreSQL front door needs a PostgreSQL {label} (postgres://...), not {}://", u.scheme());
        }
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let database = decode(u.path().trim_start_matches('/'));
        let user = if u.username().is_empty() { "postgres".to_owned() } else { decode(u.username()) };
        Ok(Target {
            label,
            host: u.host_str().unwrap_or("127.0.0.1").trim_matches(['[', ']']).to_owned(),
            port: u.port().unwrap_or(5432),
            database: if database.is_empty() { user.clone() } else { database },
            user,
            password: u.password().map(decode).unwrap_or_default(),
        })
    }

    pub async fn addr(&self) -> Result<SocketAddr> {
        tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("resolving the {}'s host {}", self.label, self.host))?
            .next()
            .ok_or_else(|| anyhow!("the {}'s host {} has no address", self.label, self.host))
    }
}

/// A logged-in backend connection.
pub struct Backend {
    pub wire: Wire,
    /// The server's cancel key for this connection.
    pub key: Bytes,
    /// Its ParameterStatus messages, as sent.
    pub params: Vec<Frame>,
    /// Its transaction status, from its last ReadyForQuery.
    pub status: u8,
}

/// The server refused movex's login: its error, for the client.
#[derive(Debug)]
pub struct Refused(pub Frame);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (code, msg) = self.0.error();
        write!(f, "the server refused movex's login: {code} {msg}")
    }
}

impl std::error::Error for Refused {}

/// Connect and log in, with the client's session `params`.
pub async fn connect(t: &Target, params: &[(String, String)]) -> Result<Backend> {
    let addr = t.addr().await?;
    let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to the {} at {addr}", t.label))?;
    let mut wire = Wire::new(stream, format!("the {}", t.label));
    wire.limit_reads(usize::MAX);
    let mut startup = Startup::new();
    startup.parameters.insert("user".into(), t.user.clone());
    startup.parameters.insert("database".into(), t.database.clone());
    for (k, v) in params {
        if !matches!(k.as_str(), "user" | "database" | "replication") && !k.starts_with("_pq_.") {
            startup.parameters.insert(k.clone(), v.clone());
        }
    }
    let mut buf = BytesMut::new();
    startup.encode(&mut buf)?;
    wire.send(&buf).await?;
    let mut scram: Option<ScramSha256> = None;
    let mut key = Bytes::new();
    let mut kept = Vec::new();
    loop {
        let f = wire.expect().await?;
        match f.tag {
            b'R' => {
                let reply = match f.decode::<Authentication>()? {
                    Authentication::Ok => continue,
                    Authentication::CleartextPassword => Frame::of(&Password::new(t.password.clone())),
                    Authentication::MD5Password(salt) => {
                        let salt: [u8; 4] = salt.as_slice().try_into().map_err(|_| anyhow!("the {} sent a malformed md5 salt", t.label))?;
                        let hash = postgres_protocol::authentication::md5_hash(t.user.as_bytes(), t.password.as_bytes(), salt);
                        Frame::of(&Password::new(hash))
                    }
                    Authentication::SASL(methods) => {
                        if !methods.iter().any(|m| m == "SCRAM-SHA-256") {
                            bail!("the {} offers SASL methods {methods:?}; movex speaks SCRAM-SHA-256", t.label);
                        }
                        let s = ScramSha256::new(t.password.as_bytes(), ChannelBinding::unsupported());
                        let first = SASLInitialResponse::new("SCRAM-SHA-256".into(), Some(Bytes::copy_from_slice(s.message())));
                        scram = Some(s);
                        Frame::of(&first)
                    }
                    Authentication::SASLContinue(data) => {
                        let s = scram.as_mut().ok_or_else(|| anyhow!("the {} continued a SASL exchange it had not begun", t.label))?;
                        s.update(&data).with_context(|| format!("the {}'s SCRAM challenge", t.label))?;
                        Frame::of(&SASLResponse::new(Bytes::copy_from_slice(s.message())))
                    }
                    Authentication::SASLFinal(data) => {
                        let s = scram.as_mut().ok_or_else(|| anyhow!("the {} ended a SASL exchange it had not begun", t.label))?;
                        s.finish(&data).with_context(|| format!("the {}'s SCRAM signature does not match: is it the server the URL names?", t.label))?;
                        continue;
                    }
                    other => bail!("the {} asks for {other:?}, which movex does not speak (use scram-sha-256, md5 or password)", t.label),
                };
                wire.send(&reply.raw).await?;
            }
            b'S' => kept.push(f),
            b'K' => key = Bytes::copy_from_slice(f.body()),
            b'E' => return Err(Refused(f).into()),
            b'Z' => return Ok(Backend { wire, key, params: kept, status: f.body().first().copied().unwrap_or(b'I') }),
            // Notices, protocol negotiation: nothing to do.
            _ => {}
        }
    }
}

/// Forward a client's cancel request to the server: a new connection that
/// sends the server's own key for the session and closes.
pub async fn cancel(t: &Target, key: &Bytes) -> Result<()> {
    let addr = t.addr().await?;
    let mut stream = TcpStream::connect(addr).await?;
    let mut msg = Vec::with_capacity(12 + key.len());
    msg.extend_from_slice(&((8 + key.len()) as u32).to_be_bytes());
    msg.extend_from_slice(&80877102u32.to_be_bytes());
    msg.extend_from_slice(key);
    tokio::io::AsyncWriteExt::write_all(&mut stream, &msg).await?;
    Ok(())
}

/// The cancel key movex gives a client: its own process number and secret.
pub fn key_frame(pid: i32, secret: i32) -> Frame {
    Frame::of(&BackendKeyData::new(pid, pgwire::messages::startup::SecretKey::I32(secret)))
}
