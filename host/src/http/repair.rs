//! Repair routes: `POST /repair/start` (`{"from": "store"|"kafka",
//! "dry_run", "table"}`, all optional), `POST /repair/stop`,
//! `GET /repair/status` (behind the token: a dry run's plan shows the
//! values it would write, and a failure can quote the database's error
//! about a row).

use super::App;
use super::body::Body;
use super::envelope::{Reply, ok};
use super::error::ApiError;
use crate::repair::service::Start;
use axum::extract::State as Shared;

pub async fn start(Shared(app): Shared<App>, Body(req): Body<Start>) -> Result<Reply, ApiError> {
    let from = req.from;
    // Well formed, but not servable as configured (no Kafka section,
    // a table not configured): the request is fine, the setup is not.
    app.migration.repair.start(req).await.map_err(|e| ApiError::Unprocessable(format!("{e:#}")))?;
    Ok(ok(serde_json::json!({"started": "repair", "from": from})))
}

pub async fn stop(Shared(app): Shared<App>) -> Reply {
    ok(serde_json::json!({"stopped": app.migration.repair.stop().await}))
}

pub async fn status(Shared(app): Shared<App>) -> Result<Reply, ApiError> {
    Ok(ok(app.migration.repair.status().await.map_err(ApiError::store("reading the repair outcomes"))?))
}
