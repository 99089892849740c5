//! Validation routes: `POST /full/start`, `/full/stop`, `/incr/start`
//! (`{"utime": <epoch ms>, "interval": <ms>}`; interval <= 0 runs once to
//! the present), `/incr/stop`; `GET /validations/current`; and
//! `GET /discrepancies` (paged, filtered by table, type, tag, run).

use super::App;
use super::envelope::{Body, Reply, bad_request, fail, ok};
use crate::store::findings::FindingFilter;
use crate::validate::{FindingType, RunMode};
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::extract::State as Shared;
use axum::http::StatusCode;
use serde::Deserialize;
use std::time::Duration;

pub async fn full_start(Shared(app): Shared<App>) -> Reply {
    match app.migration.start_validation(RunMode::Full).await {
        Ok(()) => ok(serde_json::json!({"started": "full"})),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    }
}

pub async fn full_stop(Shared(app): Shared<App>) -> Reply {
    ok(serde_json::json!({"stopped": app.migration.stop_validation(true).await}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncrBody {
    /// Epoch milliseconds to start from.
    pub utime: Option<i64>,
    /// Milliseconds between rounds; <= 0 runs once.
    pub interval: Option<i64>,
}

pub async fn incr_start(Shared(app): Shared<App>, Body(b): Body<IncrBody>) -> Reply {
    let Some(since_ms) = b.utime else {
        return bad_request("`utime` (epoch milliseconds to validate from) is required; `interval` (ms, <= 0: once) is optional");
    };
    let interval = Duration::from_millis(b.interval.unwrap_or(0).max(0) as u64);
    match app.migration.start_validation(RunMode::Incr { since_ms, interval }).await {
        Ok(()) => ok(serde_json::json!({"started": "incr", "utime": since_ms, "interval": interval.as_millis() as u64})),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    }
}

pub async fn incr_stop(Shared(app): Shared<App>) -> Reply {
    ok(serde_json::json!({"stopped": app.migration.stop_validation(false).await}))
}

pub async fn current(Shared(app): Shared<App>) -> Reply {
    ok(app.migration.current().await)
}

pub async fn discrepancies(Shared(app): Shared<App>, query: Result<Query<FindingFilter>, QueryRejection>) -> Reply {
    let filter = match query {
        Ok(Query(f)) => f,
        Err(e) => return bad_request(format!("{}; known parameters: table, type, tag, run, after, limit", e.body_text())),
    };
    if let Some(t) = &filter.kind
        && FindingType::parse(t).is_none()
    {
        return bad_request(format!("type {t:?}: expected target_missing, base_missing, neq or comparator_error"));
    }
    match app.migration.store.query_findings(&filter).await {
        Ok((items, next)) => ok(serde_json::json!({"items": items, "next": next})),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    }
}
