//! The token check for mutating routes, module upload and delete, and the
//! routes that answer with row data: when a token is configured, requests
//! must carry `Authorization: Bearer <token>`.
//! Compared as SHA-256 digests, so the comparison takes the same time
//! whatever the guess.

use super::error::ApiError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::Arc;

#[derive(Clone)]
pub struct Token(pub Option<Arc<String>>);

pub async fn require(State(token): State<Token>, req: Request, next: Next) -> Response {
    let Some(expected) = token.0 else { return next.run(req).await };
    let given = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes()) {
        next.run(req).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}
