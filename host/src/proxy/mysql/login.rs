//! The application's login to movex: movex greets like the source (its
//! version, the capabilities both backends share, minus TLS, which movex
//! refuses by not offering it; compression is
//! offered whatever the backends say, since it is movex that speaks it to
//! the client; a compressed session's backend connections are compressed
//! too where the servers can, so each server's session is as the client
//! asked), and checks
//! the user against `[[proxy.mysql.users]]` with `mysql_native_password`.
//! A client that starts with another plugin (`caching_sha2_password`, the
//! MySQL 8 default) is switched to `mysql_native_password`, which needs no
//! TLS or RSA exchange.

use super::backend::Greeting;
use super::wire::{TooLarge, Wire};
use crate::config::ProxyUser;
use anyhow::{Context, Result};
use mysql_common::auth::plugins::mysql_native_password::scramble_native;
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, ErrPacket, HandshakePacket, HandshakeResponse, ServerError, SqlState};
use mysql_common::proto::{MyDeserialize, MySerialize};

const NATIVE: &[u8] = b"mysql_native_password";
/// MySQL's "access denied" error.
const ER_ACCESS_DENIED: u16 = 1045;
/// MySQL's "Got a packet bigger than 'max_allowed_packet' bytes".
const ER_NET_PACKET_TOO_LARGE: u16 = 1153;

/// Who logged in, and what was agreed.
#[derive(Clone, Debug)]
pub struct Login {
    pub user: String,
    pub database: Option<String>,
    pub capabilities: CapabilityFlags,
    pub collation: u8,
    /// The client asked for the compressed protocol (offered or not: a
    /// client told to compress may do so regardless).
    pub compress: bool,
}

/// What movex offers clients, given both backends' greetings.
pub fn offer(source: &Greeting, destination: &Greeting) -> Greeting {
    let refused = CapabilityFlags::CLIENT_SSL;
    let needed = CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_COMPRESS;
    let caps = ((source.capabilities & destination.capabilities) - refused) | needed;
    Greeting { version: source.version.clone(), capabilities: caps, collation: source.collation }
}

fn nonce() -> [u8; 20] {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    // Printable, never NUL: the nonce travels NUL-terminated.
    std::array::from_fn(|_| rng.gen_range(33u8..127))
}

/// A packet-serialized ERR with SQL state.
pub fn error_packet(code: u16, state: &[u8; 5], msg: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    ErrPacket::Error(ServerError::new(code, Some(SqlState::new(*state)), msg.as_bytes())).serialize(&mut buf);
    buf
}

/// If `e` is a client packet refused as [`TooLarge`], tell the client
/// (movex takes at most the limit `what`) and end the connection, as the
/// server does: `Ok`. Any other error is returned.
pub async fn refuse_too_large(wire: &mut Wire, e: anyhow::Error, what: &str) -> Result<()> {
    let Some(big) = e.downcast_ref::<TooLarge>() else { return Err(e) };
    tracing::debug!(peer = big.peer, limit = big.limit, "proxy: refused a packet over the limit");
    let msg = format!("Got a packet bigger than 'max_allowed_packet' bytes: movex takes at most {} bytes {what}", big.limit);
    wire.answer_refused(big, &error_packet(ER_NET_PACKET_TOO_LARGE, b"08S01", &msg)).await
}

/// An OK packet: no rows, no insert id, `status`.
pub fn ok_packet(status: StatusFlags) -> Vec<u8> {
    let mut p = vec![0x00, 0x00, 0x00];
    p.extend_from_slice(&status.bits().to_le_bytes());
    p.extend_from_slice(&[0, 0]);
    p
}

fn verify(users: &[ProxyUser], user: &str, nonce: &[u8], response: &[u8]) -> bool {
    users.iter().any(|u| {
        u.name == user && {
            let expected = scramble_native(nonce, u.password.as_bytes()).map(|s| s.to_vec()).unwrap_or_default();
            // Constant time: the comparison must not tell how much matched.
            expected.len() == response.len() && expected.iter().zip(response).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        }
    })
}

/// Greet the client and check its login; `None` if it was refused (the
/// client has been told why). The client is not told it is in:
/// [`welcome`] does, once movex's own login to the primary is through.
pub async fn accept(wire: &mut Wire, offer: &Greeting, users: &[ProxyUser], connection_id: u32) -> Result<Option<Login>> {
    let nonce = nonce();
    let mut scramble_2 = nonce[8..].to_vec();
    scramble_2.push(0);
    let hello = HandshakePacket::new(
        10,
        offer.version.clone(),
        connection_id,
        nonce[..8].try_into().expect("8 bytes"),
        Some(scramble_2),
        offer.capabilities,
        offer.collation,
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        Some(NATIVE),
    );
    let mut buf = Vec::new();
    hello.serialize(&mut buf);
    wire.send(&buf).await?;

    let Some(packet) = wire.read().await? else { return Ok(None) };
    let response = HandshakeResponse::deserialize((), &mut ParseBuf(&packet)).context("reading the client's login")?;
    let user = String::from_utf8_lossy(response.user()).into_owned();
    let client_caps = response.capabilities();
    let caps = client_caps & offer.capabilities;
    let mut auth = response.scramble_buf().to_vec();
    let native = matches!(response.auth_plugin(), None | Some(AuthPlugin::MysqlNativePassword));
    if !native {
        let mut buf = Vec::new();
        AuthSwitchRequest::new(NATIVE, [&nonce[..], &[0]].concat()).serialize(&mut buf);
        wire.send(&buf).await?;
        auth = wire.expect().await?;
    }
    if !verify(users, &user, &nonce, &auth) {
        tracing::warn!(user = %user, peer = wire.peer(), "proxy: access denied");
        let msg = format!("Access denied for user '{user}' to movex (check [[proxy.mysql.users]])");
        wire.send(&error_packet(ER_ACCESS_DENIED, b"28000", &msg)).await?;
        return Ok(None);
    }
    Ok(Some(Login {
        user,
        database: response.db_name().filter(|d| !d.is_empty()).map(|d| String::from_utf8_lossy(d).into_owned()),
        capabilities: caps,
        collation: response.collation(),
        compress: client_caps.contains(CapabilityFlags::CLIENT_COMPRESS),
    }))
}

/// Tell a client [`accept`]ed that it is in: the OK that ends its login;
/// compressed from the next packet if it asked.
pub async fn welcome(wire: &mut Wire, login: &Login) -> Result<()> {
    wire.send(&ok_packet(StatusFlags::SERVER_STATUS_AUTOCOMMIT)).await?;
    if login.compress {
        wire.compress();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_password_scrambled_with_this_nonce_logs_in() {
        let users = [ProxyUser { name: "app".into(), password: "app-secret".into() }];
        let nonce = *b"abcdefghijklmnopqrst";
        let good = scramble_native(&nonce, b"app-secret").unwrap();
        assert!(verify(&users, "app", &nonce, &good));
        assert!(!verify(&users, "other", &nonce, &good));
        assert!(!verify(&users, "app", b"tsrqponmlkjihgfedcba", &good), "a replayed scramble fails with a new nonce");
        assert!(!verify(&users, "app", &nonce, &scramble_native(&nonce, b"wrong").unwrap()));
        assert!(!verify(&users, "app", &nonce, &[]));
    }
}
