//! The Go tool's response envelope, `{"code", "msg", "data"}`: code 0 on
//! success, 5 on failure, 400 (with HTTP 400) for a malformed body or an
//! unknown field value, 401 (with HTTP 401) without the token. Failures
//! also carry a fitting HTTP status (409 for a move the state machine
//! refuses, 404 for an unknown module, 503 for an unhealthy `/health`), so
//! `curl -f` and load balancers see them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

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

pub fn bad_request(msg: impl Into<String>) -> Reply {
    Reply(StatusCode::BAD_REQUEST, Envelope { code: 400, msg: msg.into(), data: serde_json::Value::Null })
}

pub fn unauthorized() -> Reply {
    Reply(
        StatusCode::UNAUTHORIZED,
        Envelope {
            code: 401,
            msg: "this route needs the token: send `Authorization: Bearer <token>` (the token set by MOVEX_TOKEN or [http] token)".into(),
            data: serde_json::Value::Null,
        },
    )
}

/// A JSON body, parsed strictly: malformed JSON, a wrong type or an
/// unknown field is a 400 envelope saying what was wrong. An empty body is
/// the type's default (the pattern routes take an optional body).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for Body<T> {
    type Rejection = Reply;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| bad_request(format!("cannot read the body: {e}")))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(T::default()));
        }
        serde_json::from_slice(&bytes).map(Body).map_err(|e| bad_request(format!("malformed body: {e}")))
    }
}
