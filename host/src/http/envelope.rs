//! The Go tool's response envelope, `{"code", "msg", "data"}`: code 0 on
//! success, 5 when what was asked failed, and the HTTP status itself (400,
//! 401, 405, 413, ...) when the request was refused before anything ran
//! (a malformed or too large body, no token, a method the path does not
//! take). Failures also carry a fitting HTTP status (409 for a move the
//! state machine refuses, 404 for an unknown module, 503 for an unhealthy
//! `/health` or a state store that fails), so `curl -f` and load balancers
//! see them. Every answer is an envelope, the framework's own rejections
//! included ([`envelop_rejections`]); only `/metrics` (Prometheus text) and
//! `/openapi.json` answer otherwise when they succeed.

use super::App;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Largest JSON body a route takes. The bodies are a few small fields; a
/// bigger one is a mistake or an attack, refused before it is buffered.
pub const JSON_LIMIT: usize = 64 << 10;

#[derive(Debug, Serialize)]
pub struct Envelope {
    pub code: i32,
    pub msg: String,
    pub data: serde_json::Value,
}

/// A response: HTTP status and envelope.
#[derive(Debug)]
pub struct Reply(pub StatusCode, pub Envelope);

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

pub fn ok(data: impl Serialize) -> Reply {
    Reply(StatusCode::OK, Envelope { code: 0, msg: "OK".into(), data: serde_json::to_value(data).unwrap_or_default() })
}

/// A failure (code 5) with this HTTP status.
pub fn fail(status: StatusCode, msg: impl Into<String>) -> Reply {
    Reply(status, Envelope { code: 5, msg: msg.into(), data: serde_json::Value::Null })
}

/// A request refused before anything ran: code is the HTTP status.
pub fn rejected(status: StatusCode, msg: impl Into<String>) -> Reply {
    Reply(status, Envelope { code: i32::from(status.as_u16()), msg: msg.into(), data: serde_json::Value::Null })
}

pub fn bad_request(msg: impl Into<String>) -> Reply {
    rejected(StatusCode::BAD_REQUEST, msg)
}

pub fn unauthorized() -> Reply {
    rejected(
        StatusCode::UNAUTHORIZED,
        "this route needs the token: send `Authorization: Bearer <token>` (the token set by MOVEX_TOKEN or [http] token)",
    )
}

/// The state store failed under a request: 503 with the cause, so a client
/// retries later rather than fixing its request.
pub fn store_failed(what: &str, e: &anyhow::Error) -> Reply {
    fail(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("{what}: the state store failed: {e:#}. Check the state store ([state] url) and GET /health, then retry"),
    )
}

/// A body over `limit` bytes: 413, saying the limit and what to do.
fn too_large(what: &str, limit: usize, remedy: &str) -> Reply {
    rejected(StatusCode::PAYLOAD_TOO_LARGE, format!("{what} is larger than the limit of {limit} bytes; {remedy}"))
}

/// The body, up to `limit` bytes; a declared or actual size over it is a
/// 413 envelope before more is read. (Read here rather than through axum's
/// `Bytes`, whose own default limit of 2 MiB would cut uploads short and
/// answer in plain text.)
async fn read_body(req: Request, limit: usize, what: &str, remedy: &str) -> Result<Bytes, Reply> {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(what, limit, remedy));
    }
    match http_body_util::Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(what, limit, remedy)),
        Err(e) => Err(bad_request(format!("cannot read {what}: {e}; send it again"))),
    }
}

/// A JSON body, parsed strictly: malformed JSON, a wrong type or an
/// unknown field is a 400 envelope saying what was wrong; over
/// [`JSON_LIMIT`], a 413 envelope. An empty body is the type's default
/// (the pattern routes take an optional body).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for Body<T> {
    type Rejection = Reply;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let remedy = "the JSON bodies of this API are a few small fields (see GET /openapi.json)";
        let bytes = read_body(req, JSON_LIMIT, "the body", remedy).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(T::default()));
        }
        serde_json::from_slice(&bytes).map(Body).map_err(|e| bad_request(format!("malformed body: {e}")))
    }
}

/// A module upload (`PUT /modules/{name}`): the raw bytes, up to
/// `[http] max_upload_bytes`; over it, a 413 envelope naming the limit.
pub struct Upload(pub Bytes);

impl FromRequest<App> for Upload {
    type Rejection = Reply;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let remedy = "build the module in release mode (cargo build-examples does), or raise [http] max_upload_bytes";
        read_body(req, app.max_upload_bytes, "the module", remedy).await.map(Upload)
    }
}

/// Turn any error answer that is not already an envelope (the framework's
/// own: 405 for a method the path does not take, 400 for a path it cannot
/// decode, and whatever a layer answers) into one, keeping its status and
/// headers.
pub async fn envelop_rejections(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // The framework's rejection texts are one short line.
    let text = match http_body_util::Limited::new(body, 4096).collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).trim().to_owned(),
        Err(_) => String::new(),
    };
    let msg = if status == StatusCode::METHOD_NOT_ALLOWED {
        // axum sets `Allow` after the layers have run: not readable here.
        "this path does not take that method: the methods it takes are in the Allow header and in GET /openapi.json".to_owned()
    } else if text.is_empty() {
        format!("{status}; the routes and what they take are in GET /openapi.json")
    } else {
        format!("{text}; the routes and what they take are in GET /openapi.json")
    };
    let code = if status.is_server_error() { 5 } else { i32::from(status.as_u16()) };
    let body = serde_json::to_vec(&Envelope { code, msg, data: serde_json::Value::Null }).unwrap_or_default();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}
