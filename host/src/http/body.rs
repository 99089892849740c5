//! Request bodies, strict and bounded: a JSON body ([`Body`]: 400 saying
//! what was wrong, 413 over [`JSON_LIMIT`]) and a module upload
//! ([`Upload`]: 413 over `[http] max_upload_bytes`). Both refuse with
//! [`ApiError`], so the answer is the envelope like any other failure.

use super::App;
use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

/// Largest JSON body a route takes. The bodies are a few small fields; a
/// bigger one is a mistake or an attack, refused before it is buffered.
pub const JSON_LIMIT: usize = 64 << 10;

/// A body over `limit` bytes: 413, saying the limit and what to do.
fn too_large(what: &str, limit: usize, remedy: &str) -> ApiError {
    ApiError::TooLarge(format!("{what} is larger than the limit of {limit} bytes; {remedy}"))
}

/// The body, up to `limit` bytes; a declared or actual size over it is a
/// 413 envelope before more is read. (Read here rather than through axum's
/// `Bytes`, whose own default limit of 2 MiB would cut uploads short and
/// answer in plain text.)
async fn read_body(req: Request, limit: usize, what: &str, remedy: &str) -> Result<Bytes, ApiError> {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(what, limit, remedy));
    }
    match http_body_util::Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(what, limit, remedy)),
        Err(e) => Err(ApiError::BadRequest(format!("cannot read {what}: {e}; send it again"))),
    }
}

/// A JSON body, parsed strictly: malformed JSON, a wrong type or an
/// unknown field is a 400 envelope saying what was wrong; over
/// [`JSON_LIMIT`], a 413 envelope. An empty body is the type's default
/// (the pattern routes take an optional body).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let remedy = "the JSON bodies of this API are a few small fields (see GET /openapi.json)";
        let bytes = read_body(req, JSON_LIMIT, "the body", remedy).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(T::default()));
        }
        serde_json::from_slice(&bytes).map(Body).map_err(|e| ApiError::BadRequest(format!("malformed body: {e}")))
    }
}

/// A module upload (`PUT /modules/{name}`): the raw bytes, up to
/// `[http] max_upload_bytes`; over it, a 413 envelope naming the limit.
pub struct Upload(pub Bytes);

impl FromRequest<App> for Upload {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let remedy = "build the module in release mode (cargo build-examples does), or raise [http] max_upload_bytes";
        read_body(req, app.max_upload_bytes, "the module", remedy).await.map(Upload)
    }
}
