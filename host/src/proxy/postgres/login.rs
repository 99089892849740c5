//! The application's login to movex: the startup message's user checked
//! against `[[proxy.postgres.users]]` by SCRAM-SHA-256 (RFC 5802 and 7677,
//! as PostgreSQL does it: no channel binding, the startup user counts) or
//! md5. Passwords are kept only as SCRAM verifiers, made at start by
//! `postgres-protocol`. An unknown user goes through the same exchange as
//! a known one, against a verifier nobody knows, and gets the same error:
//! the door does not tell who may log in.

use super::wire::{Frame, Wire, error_frame};
use crate::config::{PgAuth, ProxyUser};
use anyhow::{Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use pgwire::messages::startup::{Authentication, Password, SASLInitialResponse, SASLResponse};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// SQLSTATE invalid_password.
const INVALID_PASSWORD: &str = "28P01";

/// A user's SCRAM verifier (`SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`).
#[derive(Clone)]
struct Verifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl Verifier {
    fn of(password: &str) -> Verifier {
        let v = postgres_protocol::password::scram_sha_256(password.as_bytes());
        Verifier::parse(&v).expect("postgres-protocol makes well-formed verifiers")
    }

    fn parse(v: &str) -> Option<Verifier> {
        let rest = v.strip_prefix("SCRAM-SHA-256$")?;
        let (iter_salt, keys) = rest.split_once('$')?;
        let (iter, salt) = iter_salt.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        Some(Verifier { iterations: iter.parse().ok()?, salt: B64.decode(salt).ok()?, stored_key: B64.decode(stored).ok()?, server_key: B64.decode(server).ok()? })
    }
}

/// Who may log in, made once when the door opens.
#[derive(Clone)]
pub struct Users {
    auth: PgAuth,
    scram: HashMap<String, Verifier>,
    passwords: HashMap<String, String>,
    /// For unknown users: the exchange runs against it, and fails.
    nobody: Verifier,
}

impl Users {
    pub fn new(users: &[ProxyUser], auth: PgAuth) -> Users {
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        Users {
            auth,
            scram: users.iter().map(|u| (u.name.clone(), Verifier::of(&u.password))).collect(),
            passwords: users.iter().map(|u| (u.name.clone(), u.password.clone())).collect(),
            nobody: Verifier::of(&hex::encode(secret)),
        }
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

/// Read the client's next password-family message body.
async fn password_message(wire: &mut Wire) -> Result<Option<Frame>> {
    match wire.read().await? {
        None => Ok(None),
        Some(f) if f.tag == b'p' => Ok(Some(f)),
        Some(f) => bail!("expected a password message, got a '{}' message", f.tag as char),
    }
}

/// Log `user` in. `Ok(true)`: authenticated (AuthenticationOk not yet
/// sent: the caller logs in to the primary first). `Ok(false)`: refused,
/// and told so; or the client left.
pub async fn authenticate(wire: &mut Wire, users: &Users, user: &str) -> Result<bool> {
    let ok = match users.auth {
        PgAuth::ScramSha256 => scram(wire, users, user).await?,
        PgAuth::Md5 => md5(wire, users, user).await?,
    };
    match ok {
        Some(true) => Ok(true),
        Some(false) => {
            tracing::debug!(user, peer = %wire.peer, "proxy: a client's password was refused");
            let msg = format!("password authentication failed for user \"{user}\"");
            wire.send(&error_frame(true, INVALID_PASSWORD, &msg).raw).await?;
            Ok(false)
        }
        None => Ok(false),
    }
}

async fn md5(wire: &mut Wire, users: &Users, user: &str) -> Result<Option<bool>> {
    let mut salt = [0u8; 4];
    rand::thread_rng().fill_bytes(&mut salt);
    wire.send(&Frame::of(&Authentication::MD5Password(salt.to_vec())).raw).await?;
    let Some(f) = password_message(wire).await? else { return Ok(None) };
    let given: Password = f.decode()?;
    let Some(password) = users.passwords.get(user) else { return Ok(Some(false)) };
    let expected = postgres_protocol::authentication::md5_hash(user.as_bytes(), password.as_bytes(), salt);
    Ok(Some(given.password == expected))
}

async fn scram(wire: &mut Wire, users: &Users, user: &str) -> Result<Option<bool>> {
    let v = users.scram.get(user).unwrap_or(&users.nobody);
    wire.send(&Frame::of(&Authentication::SASL(vec!["SCRAM-SHA-256".into()])).raw).await?;
    let Some(f) = password_message(wire).await? else { return Ok(None) };
    let first: SASLInitialResponse = f.decode()?;
    if first.auth_method != "SCRAM-SHA-256" {
        bail!("the client chose SASL method {:?}; movex offers SCRAM-SHA-256", first.auth_method);
    }
    let client_first = String::from_utf8(first.data.unwrap_or_default().to_vec())?;
    // gs2 header: "n,," (no channel binding) or "y,," (client could, server
    // does not offer it); "p=..." asks for binding, which needs TLS.
    let mut parts = client_first.splitn(3, ',');
    let (flag, authzid, bare) = match (parts.next(), parts.next(), parts.next()) {
        (Some(f), Some(a), Some(b)) => (f, a, b.to_owned()),
        _ => bail!("the client's SCRAM first message is malformed"),
    };
    if !(flag == "n" || flag == "y") {
        bail!("SCRAM channel binding was asked for; movex's door offers no TLS, so none can be bound");
    }
    let gs2 = format!("{flag},{authzid},");
    let client_nonce = bare.split(',').find_map(|a| a.strip_prefix("r=")).ok_or_else(|| anyhow!("the client's SCRAM first message has no nonce"))?;
    let mut server_nonce = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut server_nonce);
    let nonce = format!("{client_nonce}{}", B64.encode(server_nonce));
    let server_first = format!("r={nonce},s={},i={}", B64.encode(&v.salt), v.iterations);
    wire.send(&Frame::of(&Authentication::SASLContinue(Bytes::from(server_first.clone()))).raw).await?;
    let Some(f) = password_message(wire).await? else { return Ok(None) };
    let reply: SASLResponse = f.decode()?;
    let client_final = String::from_utf8(reply.data.to_vec())?;
    let (without_proof, proof) = client_final.rsplit_once(",p=").ok_or_else(|| anyhow!("the client's SCRAM final message has no proof"))?;
    let attr = |k: &str| without_proof.split(',').find_map(|a| a.strip_prefix(k));
    if attr("r=") != Some(nonce.as_str()) || attr("c=").and_then(|c| B64.decode(c).ok()).as_deref() != Some(gs2.as_bytes()) {
        return Ok(Some(false));
    }
    let Ok(proof) = B64.decode(proof) else { return Ok(Some(false)) };
    let auth_message = format!("{bare},{server_first},{without_proof}");
    let signature = hmac(&v.stored_key, &[auth_message.as_bytes()]);
    if proof.len() != signature.len() {
        return Ok(Some(false));
    }
    let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
    if Sha256::digest(&client_key).as_slice() != v.stored_key.as_slice() || !users.scram.contains_key(user) {
        return Ok(Some(false));
    }
    let server_signature = hmac(&v.server_key, &[auth_message.as_bytes()]);
    let last = format!("v={}", B64.encode(server_signature));
    wire.queue(&Frame::of(&Authentication::SASLFinal(Bytes::from(last))).raw);
    Ok(Some(true))
}

/// AuthenticationOk, queued.
pub fn ok(wire: &mut Wire) {
    wire.queue(&Frame::of(&Authentication::Ok).raw);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's example: the verifier derived by the RFC's password
    /// and salt checks the RFC's client proof for its messages.
    #[test]
    fn checks_rfc_7677_s_client_proof() {
        let salted = postgres_protocol_hi(b"pencil", &B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap(), 4096);
        let client_key = hmac(&salted, &[b"Client Key"]);
        let stored_key = Sha256::digest(&client_key).to_vec();
        let bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let without_proof = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let auth = format!("{bare},{server_first},{without_proof}");
        let proof = B64.decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=").unwrap();
        let sig = hmac(&stored_key, &[auth.as_bytes()]);
        let recovered: Vec<u8> = proof.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        assert_eq!(Sha256::digest(&recovered).to_vec(), stored_key);
        let server_key = hmac(&salted, &[b"Server Key"]);
        assert_eq!(B64.encode(hmac(&server_key, &[auth.as_bytes()])), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    /// PBKDF2-HMAC-SHA-256 with one block, as SCRAM's Hi().
    fn postgres_protocol_hi(password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut u = hmac(password, &[salt, &[0, 0, 0, 1]]);
        let mut out = u.clone();
        for _ in 1..iterations {
            u = hmac(password, &[&u]);
            out.iter_mut().zip(&u).for_each(|(o, x)| *o ^= x);
        }
        out
    }

    #[test]
    fn parses_the_verifiers_postgres_protocol_makes() {
        let v = Verifier::of("secret");
        assert_eq!(v.iterations, 4096);
        assert_eq!((v.salt.len(), v.stored_key.len(), v.server_key.len()), (16, 32, 32));
    }
}
