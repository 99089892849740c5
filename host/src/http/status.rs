//! Read-only routes: `GET /status`, `/stats`, `/health` (503 when a
//! database does not answer), `/metrics` (Prometheus text) and
//! `/openapi.json`.

use super::App;
use super::envelope::{Envelope, Reply, ok};
use super::error::ApiError;
use axum::extract::State as Shared;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub async fn status(Shared(app): Shared<App>) -> Result<Reply, ApiError> {
    Ok(ok(app.migration.status().await.map_err(ApiError::store("reading the status"))?))
}

/// The fleet: every instance, the generation each applies, who a move
/// waits for.
pub async fn instances(Shared(app): Shared<App>) -> Result<Reply, ApiError> {
    Ok(ok(app.migration.fleet_status().await.map_err(ApiError::store("reading the fleet"))?))
}

pub async fn stats(Shared(app): Shared<App>) -> Result<Reply, ApiError> {
    Ok(ok(app.migration.status().await.map_err(ApiError::store("reading the statistics"))?.migration_stats))
}

/// Both databases, the module warm-up and the faults in force (a stopped
/// front door, a journal the state store cannot take). Unhealthy: HTTP 503, code 5, and
/// as in the Go tool `src` / `dst` keys holding the errors.
pub async fn health(Shared(app): Shared<App>) -> Reply {
    let m = &app.migration;
    let db = m.pool.health().await;
    let warmup = &m.engine.warmup;
    // A modules directory fixed by hand is seen here, not only at the next
    // upload; looked at only while out of step (it reads every module file).
    if m.faults.list().contains_key(super::modules::FAULT) {
        super::modules::check_dir(m);
    }
    let faults = m.faults.list();
    let healthy = db.healthy && faults.is_empty();
    let mut data = serde_json::json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "faults": faults,
        "timestamp": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        "service": "movex",
        "version": env!("CARGO_PKG_VERSION"),
        "databases": db,
        "warmup": warmup,
        "modules": crate::wasm::reports(&m.engine.modules),
    });
    if let Some(e) = &db.source.error {
        data["src"] = e.clone().into();
    }
    if let Some(e) = &db.destination.error {
        data["dst"] = e.clone().into();
    }
    if healthy {
        Reply(StatusCode::OK, Envelope { code: 0, msg: "healthy".into(), data })
    } else {
        Reply(StatusCode::SERVICE_UNAVAILABLE, Envelope { code: 5, msg: "health check failed".into(), data })
    }
}

pub async fn metrics(Shared(app): Shared<App>) -> Result<Response, ApiError> {
    let text = app.migration.metrics_text().await.map_err(ApiError::store("reading the metrics"))?;
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response())
}

/// The OpenAPI document (docs/openapi.json, checked against the router by
/// the HTTP tests).
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
