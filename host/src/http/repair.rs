//! Repair routes: `POST /repair/start` (`{"from": "store"|"kafka",
//! "dry_run", "table"}`, all optional), `POST /repair/stop`,
//! `GET /repair/status`.

use super::App;
use super::envelope::{Body, Reply, bad_request, fail, ok};
use crate::repair::service::Start;
use axum::extract::State as Shared;
use axum::http::StatusCode;

pub async fn start(Shared(app): Shared<App>, Body(req): Body<Start>) -> Reply {
    let from = req.from;
    match app.migration.repair.start(req).await {
        Ok(()) => ok(serde_json::json!({"started": "repair", "from": from})),
        Err(e) => bad_request(format!("{e:#}")),
    }
}

pub async fn stop(Shared(app): Shared<App>) -> Reply {
    ok(serde_json::json!({"stopped": app.migration.repair.stop().await}))
}

pub async fn status(Shared(app): Shared<App>) -> Reply {
    match app.migration.repair.status().await {
        Ok(s) => ok(s),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    }
}
