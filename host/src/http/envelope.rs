//! The Go tool's response envelope, `{"code", "msg", "data"}`: code 0 on
//! success, 5 when what was asked failed, and the HTTP status itself (400,
//! 401, 405, 413, ...) when the request was refused before anything ran
//! (a malformed or too large body, no token, a method the path does not
//! take). Failures also carry a fitting HTTP status (409 for a move the
//! state machine refuses, 404 for an unknown module, 503 for an unhealthy
//! `/health` or a state store that fails), so `curl -f` and load balancers
//! see them. Every answer is an envelope, the framework's own rejections
//! included ([`envelop_rejections`]); only `/metrics` (Prometheus text),
//! `/openapi.json` and the operator's page (`/`, `/ui/...`: HTML, script,
//! style, redirects) answer otherwise when they succeed. The failures
//! themselves, by cause, are [`super::error::ApiError`].

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Serialize;

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
