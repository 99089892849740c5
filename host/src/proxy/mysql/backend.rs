//! A backend connection: movex logging in to the source or destination as
//! a MySQL client, with the credentials of the configured URL and the
//! capability flags the application's client negotiated with movex, so the
//! packets relayed from it mean what the client expects. The login is
//! built from `mysql_common`'s handshake packets and scrambles
//! (`mysql_native_password`, and `caching_sha2_password`'s fast path).

use super::wire::{MAX_PACKET, Wire};
use anyhow::{Context, Result, anyhow, bail};
use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
use mysql_common::auth::plugins::mysql_native_password::scramble_native;
use mysql_common::constants::CapabilityFlags;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse};
use mysql_common::proto::{MyDeserialize, MySerialize};
use std::time::Duration;
use tokio::net::TcpStream;

/// Where and as whom to log in, from a `mysql://user:pass@host:port/db` URL.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: String,
    pub user: String,
    pub password: String,
    /// The URL's database: the session's default unless the client names one.
    pub database: Option<String>,
    /// `source` or `destination`, for errors.
    pub side: &'static str,
}

impl Target {
    pub fn from_url(url: &str, side: &'static str) -> Result<Target> {
        let u = url::Url::parse(url).with_context(|| format!("the {side} URL is not a URL"))?;
        if !matches!(u.scheme(), "mysql" | "mariadb") {
            bail!("the MySQL front door needs a MySQL or MariaDB {side}; its URL is {}://...", u.scheme());
        }
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        Ok(Target {
            addr: format!("{}:{}", u.host_str().unwrap_or("127.0.0.1"), u.port().unwrap_or(3306)),
            user: decode(u.username()),
            password: decode(u.password().unwrap_or("")),
            database: Some(u.path().trim_start_matches('/')).filter(|d| !d.is_empty()).map(str::to_owned),
            side,
        })
    }
}

/// A backend refused movex's login (an unknown database, access denied):
/// the server's error, relayed to the client as its own login's.
#[derive(Debug, thiserror::Error)]
#[error("logging in to the {side} as {user:?}: {msg} ({code})")]
pub struct LoginRefused {
    pub side: &'static str,
    pub user: String,
    pub code: u16,
    pub state: [u8; 5],
    pub msg: String,
}

/// What a backend says before login: its version and capabilities.
#[derive(Clone, Debug)]
pub struct Greeting {
    pub version: Vec<u8>,
    pub capabilities: CapabilityFlags,
    pub collation: u8,
}

async fn connect(target: &Target) -> Result<Wire> {
    let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&target.addr))
        .await
        .map_err(|_| anyhow!("connecting to the {} at {}: timed out after 10 s", target.side, target.addr))?
        .with_context(|| format!("connecting to the {} at {}", target.side, target.addr))?;
    Ok(Wire::new(stream, format!("the {} ({})", target.side, target.addr)))
}

fn greeting(packet: &[u8], target: &Target) -> Result<HandshakePacket<'static>> {
    if packet.first() == Some(&0xff) {
        let (code, msg) = super::response::err(CapabilityFlags::empty(), packet);
        bail!("the {} refused the connection: {msg} ({code})", target.side);
    }
    let hs = HandshakePacket::deserialize((), &mut ParseBuf(packet)).with_context(|| format!("reading the {}'s greeting", target.side))?;
    Ok(hs.into_owned())
}

/// Read a backend's greeting and hang up (what movex offers clients
/// follows from it).
pub async fn probe(target: &Target) -> Result<Greeting> {
    let mut wire = connect(target).await?;
    let hs = greeting(&wire.expect().await?, target)?;
    Ok(Greeting { version: hs.server_version_ref().to_vec(), capabilities: hs.capabilities(), collation: hs.default_collation() })
}

fn scramble(plugin: &AuthPlugin<'_>, nonce: &[u8], password: &str, side: &str) -> Result<Vec<u8>> {
    let pass = password.as_bytes();
    Ok(match plugin {
        AuthPlugin::MysqlNativePassword => scramble_native(nonce, pass).map(|s| s.to_vec()).unwrap_or_default(),
        AuthPlugin::CachingSha2Password => {
            let nonce: &[u8; 20] = nonce.get(..20).and_then(|n| n.try_into().ok()).context("a caching_sha2_password nonce shorter than 20 bytes")?;
            scramble_sha256(nonce, pass).map(|s| s.to_vec()).unwrap_or_default()
        }
        other => bail!(
            "the {side} asks for the {:?} authentication plugin; movex logs in with mysql_native_password or caching_sha2_password",
            String::from_utf8_lossy(other.as_bytes())
        ),
    })
}

/// A backend connection that has greeted and waits for movex's login:
/// its connection id is known ([`Dialed::thread_id`]) before the client
/// is greeted, so the client can be given the same one.
pub struct Dialed {
    wire: Wire,
    hs: HandshakePacket<'static>,
}

impl Dialed {
    /// The server's id for this connection (`CONNECTION_ID()`).
    pub fn thread_id(&self) -> u32 {
        self.hs.connection_id()
    }
}

/// Connect to `target` and read its greeting.
pub async fn dial(target: &Target) -> Result<Dialed> {
    let mut wire = connect(target).await?;
    let hs = greeting(&wire.expect().await?, target)?;
    Ok(Dialed { wire, hs })
}

/// Log in to `target` with `caps` (the client's, within the backend's) and
/// `database` (the client's, else the URL's); the connection and its id.
pub async fn login(target: &Target, caps: CapabilityFlags, collation: u8, database: Option<&str>) -> Result<(Wire, u32)> {
    log_in(dial(target).await?, target, caps, collation, database).await
}

/// [`login`] on a connection already [`dial`]led.
pub async fn log_in(dialed: Dialed, target: &Target, caps: CapabilityFlags, collation: u8, database: Option<&str>) -> Result<(Wire, u32)> {
    let Dialed { mut wire, hs } = dialed;
    let thread_id = hs.connection_id();
    let caps = (caps & hs.capabilities())
        | CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH;
    // Compressed when the client's session is (and the server can): the
    // server's session then is what the client asked for (its
    // `Compression` status says ON).
    let caps = caps - CapabilityFlags::CLIENT_SSL;
    let database = database.map(str::to_owned).or_else(|| target.database.clone());
    let caps = if database.is_some() { caps | CapabilityFlags::CLIENT_CONNECT_WITH_DB } else { caps - CapabilityFlags::CLIENT_CONNECT_WITH_DB };
    let plugin = hs.auth_plugin().unwrap_or(AuthPlugin::MysqlNativePassword).into_owned();
    let data = scramble(&plugin, &hs.nonce(), &target.password, target.side)?;
    let response = HandshakeResponse::new(
        Some(data),
        hs.server_version_parsed().unwrap_or((5, 7, 0)),
        Some(target.user.as_bytes()),
        database.as_deref().map(str::as_bytes),
        Some(plugin),
        caps,
        None,
        MAX_PACKET as u32,
    );
    let mut buf = Vec::new();
    response.serialize(&mut buf);
    // The collation the client asked for, not the one HandshakeResponse picks.
    if buf.len() > 8 {
        buf[8] = collation;
    }
    wire.send(&buf).await?;
    loop {
        let reply = wire.expect().await?;
        match reply.first() {
            Some(0x00) => {
                if caps.contains(CapabilityFlags::CLIENT_COMPRESS) {
                    wire.compress();
                }
                return Ok((wire, thread_id));
            }
            Some(0xff) => {
                let (code, msg) = super::response::err(caps, &reply);
                // `0xff`, the code, `#` and the SQLSTATE.
                let state = reply.get(3..9).filter(|s| s[0] == b'#').and_then(|s| s[1..].try_into().ok()).unwrap_or(*b"HY000");
                return Err(LoginRefused { side: target.side, user: target.user.clone(), code, state, msg }.into());
            }
            Some(0xfe) => {
                let switch = AuthSwitchRequest::deserialize((), &mut ParseBuf(&reply)).context("reading an auth switch request")?;
                let d = switch.plugin_data();
                let nonce = d.strip_suffix(&[0]).unwrap_or(d);
                let data = scramble(&switch.auth_plugin(), nonce, &target.password, target.side)?;
                wire.send(&data).await?;
            }
            // caching_sha2_password: 3 = fast auth done (an OK follows); 4 = full auth.
            Some(0x01) if reply.get(1) == Some(&3) => {}
            Some(0x01) => bail!(
                "the {} wants caching_sha2_password's full authentication for {:?}, which needs TLS; log in once with another \
                 client to fill the server's cache, or give the user mysql_native_password",
                target.side,
                target.user
            ),
            _ => bail!("the {} answered the login with an unexpected packet", target.side),
        }
    }
}
