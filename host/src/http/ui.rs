//! The operator's page: `ui/`, built into `ui/dist/` (`npm --prefix ui ci
//! && npm --prefix ui run build`, output committed, so building movex needs
//! no npm), embedded in the binary and served at `GET /ui/` (its
//! `index.html`) and `GET /ui/{*path}` (its script and style); `GET /` and
//! `GET /ui` redirect to `/ui/`.
//!
//! These routes are open: the files hold no data. The page reads and acts
//! through the documented routes only (`docs/openapi.json`), with the
//! token when one is configured (it asks for it when a route answers 401),
//! so it can do nothing `curl` could not.
//!
//! Caching: the files keep their names from one build to the next, so each
//! is served with `Cache-Control: no-cache` and an `ETag` (its SHA-256): a
//! browser asks again on each load and gets `304 Not Modified` until the
//! binary serves other bytes, never a stale script after an upgrade.

use super::error::ApiError;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// A file of the page.
pub struct Asset {
    /// Its path under `/ui/` (and under `ui/dist/`).
    pub path: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $content_type:literal) => {
        Asset { path: $path, content_type: $content_type, bytes: include_bytes!(concat!("../../../ui/dist/", $path)) }
    };
}

/// Every file of `ui/dist/` (`tests/http.rs` checks that none is left out).
pub const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("main.js", "text/javascript; charset=utf-8"),
    asset!("main.css", "text/css; charset=utf-8"),
];

/// The page runs only its own script and talks only to movex; no other
/// site may frame it (its buttons move the migration).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// `GET /` and `GET /ui`: to the page. Relative (`ui/` from either), so
/// it holds behind a proxy that serves movex under a path prefix.
pub async fn to_page() -> Redirect {
    Redirect::temporary("ui/")
}

/// `GET /ui/`: the page itself.
pub async fn index(headers: HeaderMap) -> Response {
    serve(0, &headers)
}

/// `GET /ui/{*path}`: one of its files; 404 (the envelope) for any other.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(i) = ASSETS.iter().position(|a| a.path == path) else {
        return Err(ApiError::NotFound(format!("the operator's page has no file {path:?}; the page is at /ui/")));
    };
    Ok(serve(i, &headers))
}

/// Each file's ETag, computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| ASSETS.iter().map(|a| format!("\"{}\"", hex::encode(&Sha256::digest(a.bytes)[..16]))).collect())
}

fn serve(i: usize, headers: &HeaderMap) -> Response {
    let (a, etag) = (&ASSETS[i], &etags()[i]);
    let mut resp = if matches_etag(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, a.content_type)], a.bytes).into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(etag).expect("hex"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if a.path == "index.html" {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    resp
}

/// Whether `If-None-Match` names this ETag (or `*`).
fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    let Some(v) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else { return false };
    v.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == etag || t == "*")
}
