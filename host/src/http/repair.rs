//! Repair routes: `POST /repair/start` (`{"from": "store"|"kafka",
//! "dry_run", "table"}`, all optional), `POST /repair/stop`,
//! `GET /repair/status` (behind the token: a dry run's plan shows the
//! values it would write, and a failure can quote the database's error
//! about a row).

use super::App;
use super::envelope::{Body, Reply, fail, ok, store_failed};
use crate::repair::service::Start;
use axum::extract::State as Shared;
use axum::http::StatusCode;

pub async fn start(Shared(app): Shared<App>, Body(req): Body<Start>) -> Reply {
    let from = req.from;
    match app.migration.repair.start(req).await {
        Ok(()) => ok(serde_json::json!({"started": "repair", "from": from})),
        // Well formed, but not servable as configured (no Kafka section,
        // a table not configured): the request is fine, the setup is not.
        Err(e) => fail(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}")),
    }
}

pub async fn stop(Shared(app): Shared<App>) -> Reply {
    ok(serde_json::json!({"stopped": app.migration.repair.stop().await}))
}

pub async fn status(Shared(app): Shared<App>) -> Reply {
    match app.migration.repair.status().await {
        Ok(s) => ok(s),
        Err(e) => store_failed("reading the repair outcomes", &e),
    }
}
