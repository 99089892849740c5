//! Copy routes: `POST /copy/start` (`{"tables", "restart", "offline"}`, all
//! optional), `POST /copy/stop`, `GET /copy/status` (per table: rows
//! copied, rows/s, ETA, last key, state; behind the token, since the last
//! key is row data).

use super::App;
use super::body::Body;
use super::envelope::{Reply, ok};
use super::error::ApiError;
use crate::copy::service::Start;
use axum::extract::State as Shared;

pub async fn start(Shared(app): Shared<App>, Body(req): Body<Start>) -> Result<Reply, ApiError> {
    // Nothing is copied on a move some live instance has not applied.
    if let Some(why) = app.migration.unsettled().await.map_err(ApiError::store("reading the fleet"))? {
        return Err(ApiError::Refused(format!("the copy does not start now: {why}")));
    }
    // Well formed, but refused as things stand (the state, a table not
    // configured or not on the destination): 409 with what to do. Anything
    // else is a database or the state store failing: 503.
    app.migration.copy.start(req).await.map_err(|e| {
        if e.chain().any(|c| c.is::<crate::copy::Refused>()) {
            ApiError::Refused(format!("{e:#}"))
        } else {
            ApiError::Unavailable(format!(
                "the copy did not start: {e:#}. Check the state store ([state] url), the source and the destination (GET /health), then retry"
            ))
        }
    })?;
    Ok(ok(serde_json::json!({"started": "copy"})))
}

pub async fn stop(Shared(app): Shared<App>) -> Reply {
    ok(serde_json::json!({"stopped": app.migration.copy.stop().await}))
}

pub async fn status(Shared(app): Shared<App>) -> Result<Reply, ApiError> {
    Ok(ok(app.migration.copy.status().await.map_err(ApiError::store("reading the copy's progress"))?))
}
