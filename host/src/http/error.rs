//! [`ApiError`]: every way a request fails, one variant per cause, each
//! with its HTTP status and envelope code. Handlers return
//! `Result<Reply, ApiError>` and use `?`; the extractors and the token
//! check refuse with it too.
//!
//! | variant | status | `code` | when |
//! |---|---|---|---|
//! | `BadRequest` | 400 | 400 | a malformed body or parameter; nothing ran |
//! | `Unauthorized` | 401 | 401 | no token, or another one |
//! | `TooLarge` | 413 | 413 | a body over its limit |
//! | `NotFound` | 404 | 5 | no such route or module |
//! | `Refused` | 409 | 5 | a move the state machine refuses ([`MoveRefused`]) |
//! | `Unprocessable` | 422 | 5 | well formed, but refused as configured (a module, a repair) |
//! | `StoreFailed` | 503 | 5 | the state store failed under the request |
//! | `Unavailable` | 503 | 5 | a database the request needs failed (the source, the destination, or the state store) |
//! | `Internal` | 500 | 5 | anything else |
//!
//! An `anyhow::Error` maps by the type of its cause, never by its text: a
//! [`MoveError`] or [`MoveRefused`] anywhere in its chain as a move's would
//! (409 or 503), anything else 500. A read of the state store says so
//! itself ([`ApiError::store`]): the `sqlx::Error` inside does not say
//! which database failed, the store, the source or the destination.

use super::envelope::{Envelope, Reply};
use crate::model::MoveRefused;
use crate::model::MoveError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What to do when the state store fails: the same for every route.
const STORE_REMEDY: &str = "Check the state store ([state] url) and GET /health, then retry";

#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized,
    TooLarge(String),
    NotFound(String),
    Refused(String),
    /// Done, but not yet through: a move every instance has not
    /// acknowledged (202; `code` 0, the message names who lags).
    Pending(String),
    Unprocessable(String),
    /// The whole message: what failed, the cause, what to do.
    StoreFailed(String),
    /// The whole message, as `StoreFailed`'s, for a request that needs
    /// the source or the destination as well as the store.
    Unavailable(String),
    Internal(String),
}

impl ApiError {
    /// For `.map_err`: the state store failed while `doing` something.
    pub fn store(doing: &str) -> impl FnOnce(anyhow::Error) -> ApiError + '_ {
        move |e| ApiError::StoreFailed(format!("{doing}: the state store failed: {e:#}. {STORE_REMEDY}"))
    }

    /// For `.map_err` on an operation whose only failures, besides a move
    /// refused ([`MoveRefused`], 409), are the state store's (503).
    pub fn refused_or_store(doing: &str) -> impl FnOnce(anyhow::Error) -> ApiError + '_ {
        move |e| match ApiError::from(e) {
            ApiError::Internal(m) => ApiError::StoreFailed(format!("{doing}: the state store failed: {m}. {STORE_REMEDY}")),
            other => other,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Refused(_) => StatusCode::CONFLICT,
            ApiError::Pending(_) => StatusCode::ACCEPTED,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::StoreFailed(_) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The envelope's `code`: the HTTP status for a request refused before
    /// anything ran, 5 for one that failed (as the Go tool answers).
    pub fn code(&self) -> i32 {
        match self {
            ApiError::BadRequest(_) | ApiError::Unauthorized | ApiError::TooLarge(_) => i32::from(self.status().as_u16()),
            ApiError::Pending(_) => 0,
            _ => 5,
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthorized => {
                "this route needs the token: send `Authorization: Bearer <token>` (the token set by MOVEX_TOKEN or [http] token)".into()
            }
            ApiError::BadRequest(m)
            | ApiError::TooLarge(m)
            | ApiError::NotFound(m)
            | ApiError::Refused(m)
            | ApiError::Pending(m)
            | ApiError::Unprocessable(m)
            | ApiError::StoreFailed(m)
            | ApiError::Unavailable(m)
            | ApiError::Internal(m) => m.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        Reply(self.status(), Envelope { code: self.code(), msg: self.message(), data: serde_json::Value::Null }).into_response()
    }
}

impl From<MoveError> for ApiError {
    fn from(e: MoveError) -> ApiError {
        match e {
            MoveError::Refused(r) => ApiError::Refused(r.0),
            MoveError::Store { .. } => ApiError::StoreFailed(format!("{e}. {STORE_REMEDY}")),
            // Its message says what to do: a retry might find it moved.
            MoveError::Unconfirmed { .. } => ApiError::StoreFailed(e.to_string()),
            MoveError::Pending { .. } => ApiError::Pending(e.to_string()),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        for cause in e.chain() {
            if let Some(m) = cause.downcast_ref::<MoveError>() {
                let context = format!("{e:#}");
                return match m {
                    MoveError::Refused(_) => ApiError::Refused(context),
                    MoveError::Store { .. } => ApiError::StoreFailed(format!("{context}. {STORE_REMEDY}")),
                    MoveError::Unconfirmed { .. } => ApiError::StoreFailed(context),
                    MoveError::Pending { .. } => ApiError::Pending(context),
                };
            }
            if cause.is::<MoveRefused>() {
                return ApiError::Refused(format!("{e:#}"));
            }
        }
        ApiError::Internal(format!("{e:#}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;

    fn store_down() -> anyhow::Error {
        anyhow::anyhow!("pool timed out while waiting for an open connection")
    }

    #[test]
    fn each_cause_has_its_status_and_code() {
        let cases = [
            (ApiError::BadRequest("x".into()), 400, 400),
            (ApiError::Unauthorized, 401, 401),
            (ApiError::TooLarge("x".into()), 413, 413),
            (ApiError::NotFound("x".into()), 404, 5),
            (ApiError::Refused("x".into()), 409, 5),
            (ApiError::Unprocessable("x".into()), 422, 5),
            (ApiError::StoreFailed("x".into()), 503, 5),
            (ApiError::Unavailable("x".into()), 503, 5),
            (ApiError::Internal("x".into()), 500, 5),
        ];
        for (e, status, code) in cases {
            assert_eq!((e.status().as_u16(), e.code()), (status, code), "{e:?}");
        }
    }

    #[test]
    fn a_move_error_maps_by_its_variant_directly_or_inside_anyhow() {
        let refused = || MoveError::from(MoveRefused("src_only -> dst_only is not one step; pass force to override".into()));
        let store = || MoveError::Store { to: State::SrcFirst, cause: store_down() };
        let unconfirmed = || MoveError::Unconfirmed { to: State::SrcFirst, cause: store_down() };
        for (e, via_anyhow) in [(refused(), false), (refused(), true)] {
            let e = if via_anyhow { ApiError::from(anyhow::Error::new(e).context("auto-migrate")) } else { ApiError::from(e) };
            assert_eq!(e.status(), StatusCode::CONFLICT, "{e:?}");
            assert!(e.message().contains("pass force"), "{e:?}");
        }
        for via_anyhow in [false, true] {
            let e = if via_anyhow { ApiError::from(anyhow::Error::new(store())) } else { ApiError::from(store()) };
            let msg = e.message();
            assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE, "{msg}");
            assert!(msg.contains("state store failed: pool timed out") && msg.contains("did not move to src_first") && msg.contains("GET /health"), "{msg}");
            let e = if via_anyhow { ApiError::from(anyhow::Error::new(unconfirmed())) } else { ApiError::from(unconfirmed()) };
            let msg = e.message();
            assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE, "{msg}");
            assert!(msg.contains("not known") && msg.contains("GET /status") && !msg.contains("did not move"), "{msg}");
        }
    }

    #[test]
    fn anyhow_maps_by_type_not_by_text() {
        let bare = ApiError::from(anyhow::Error::new(MoveRefused("already there".into())).context("moving"));
        assert_eq!((bare.status(), bare.message()), (StatusCode::CONFLICT, "moving: already there".to_owned()));
        // Words of a refusal or of a store outage, without the type: 500.
        for text in ["the migration is already in src_only", "the state store failed: connection refused"] {
            assert_eq!(ApiError::from(anyhow::anyhow!("{text}")).status(), StatusCode::INTERNAL_SERVER_ERROR, "{text}");
        }
        let read = ApiError::store("reading the history")(store_down());
        assert_eq!(read.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(read.message().starts_with("reading the history: the state store failed: pool timed out"), "{read:?}");
    }
}
