//! Validation routes: `POST /full/start`, `/full/stop`, `/incr/start`
//! (`{"utime": <epoch ms>, "interval": <ms>}`; interval <= 0 runs once to
//! the present), `/incr/stop`; `GET /validations/current`; and
//! `GET /discrepancies` (paged, filtered by table, type, tag, run; each
//! finding with what repair did with it, `repair`). Both GET routes are
//! behind the token: findings carry row values, and the progress counts
//! findings by tag (a tag is a column's value).

use super::App;
use super::body::Body;
use super::envelope::{Reply, ok};
use super::error::ApiError;
use crate::store::findings::FindingFilter;
use crate::model::FindingType;
use crate::validate::RunMode;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::extract::State as Shared;
use serde::Deserialize;
use std::time::Duration;

/// Optional body of `POST /full/start`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FullBody {
    /// Start every table from its first row, ignoring checkpoints (only
    /// such a run counts toward promotion). Default false: tables with a
    /// checkpoint resume there, and the answer says which.
    #[serde(default)]
    pub restart: bool,
}

pub async fn full_start(Shared(app): Shared<App>, Body(b): Body<FullBody>) -> Result<Reply, ApiError> {
    Ok(ok(app.migration.start_validation(RunMode::Full, b.restart).await.map_err(ApiError::refused_or_store("starting a full validation"))?))
}

pub async fn full_stop(Shared(app): Shared<App>) -> Reply {
    ok(serde_json::json!({"stopped": app.migration.stop_validation(crate::store::Mode::Full).await}))
}

/// `utime`'s range: 0001-01-01 to 9999-12-31T23:59:59.999, in epoch ms.
const UTIME_MIN: i64 = -62_135_596_800_000;
const UTIME_MAX: i64 = 253_402_300_799_999;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncrBody {
    /// Epoch milliseconds to start from.
    #[serde(default, deserialize_with = "whole")]
    pub utime: Option<i64>,
    /// Milliseconds between rounds; <= 0 runs once.
    #[serde(default, deserialize_with = "whole")]
    pub interval: Option<i64>,
}

/// A whole number as JSON counts one: `5` or `5.0` (what some encoders, and
/// JSON Schema, take for an integer); null is absent.
fn whole<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else { return Ok(None) };
    // Beyond ±2^63 a float has no i64; within it, a whole float converts exactly enough.
    let float = || n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18).map(|f| f as i64);
    n.as_i64().or_else(float).map(Some).ok_or_else(|| D::Error::custom(format!("{n}: expected a whole number of milliseconds")))
}

pub async fn incr_start(Shared(app): Shared<App>, Body(b): Body<IncrBody>) -> Result<Reply, ApiError> {
    let Some(since_ms) = b.utime else {
        return Err(ApiError::BadRequest("`utime` (epoch milliseconds to validate from) is required; `interval` (ms, <= 0: once) is optional".into()));
    };
    // Years 1 to 9999: what a DATETIME column can hold, and far from the
    // arithmetic's limits when the bound is converted to the column's unit.
    if !(UTIME_MIN..=UTIME_MAX).contains(&since_ms) {
        return Err(ApiError::BadRequest(format!("utime {since_ms}: epoch milliseconds from {UTIME_MIN} (year 1) to {UTIME_MAX} (year 9999)")));
    }
    let interval = Duration::from_millis(b.interval.unwrap_or(0).max(0) as u64);
    let started = app.migration.start_validation(RunMode::Incr { since_ms, interval }, false).await;
    started.map_err(ApiError::refused_or_store("starting an incremental validation"))?;
    Ok(ok(serde_json::json!({"started": "incr", "utime": since_ms, "interval": interval.as_millis() as u64})))
}

pub async fn incr_stop(Shared(app): Shared<App>) -> Reply {
    ok(serde_json::json!({"stopped": app.migration.stop_validation(crate::store::Mode::Incr).await}))
}

pub async fn current(Shared(app): Shared<App>) -> Reply {
    ok(app.migration.current().await)
}

pub async fn discrepancies(Shared(app): Shared<App>, query: Result<Query<FindingFilter>, QueryRejection>) -> Result<Reply, ApiError> {
    let Query(filter) = query.map_err(|e| ApiError::BadRequest(format!("{}; known parameters: table, type, tag, run, after, limit", e.body_text())))?;
    if let Some(t) = &filter.kind
        && FindingType::parse(t).is_none()
    {
        return Err(ApiError::BadRequest(format!("type {t:?}: expected target_missing, base_missing, neq or comparator_error")));
    }
    if let Some(n) = filter.limit
        && !(1..=1000).contains(&n)
    {
        return Err(ApiError::BadRequest(format!("limit {n}: a page holds 1 to 1000 findings (default 100)")));
    }
    // No state store takes a NUL inside a string (PostgreSQL refuses it):
    // a filter holding one cannot match, and is a mistake.
    if [&filter.table, &filter.tag, &filter.run].into_iter().flatten().any(|s| s.contains('\0')) {
        return Err(ApiError::BadRequest("table, tag and run cannot hold a NUL character".into()));
    }
    let (items, next) = app.migration.engine.store.query_findings(&filter).await.map_err(ApiError::store("reading the findings"))?;
    // Findings stored before a table was marked `redact_values` still
    // hold values: they leave without them all the same.
    let redacted: Vec<&str> = app.migration.engine.config.tables.iter().filter(|t| t.redact_values).map(|t| t.name.as_str()).collect();
    let items: Vec<_> = items
        .into_iter()
        .map(|f| {
            if !redacted.contains(&f.table.as_str()) || f.redacted {
                return f;
            }
            // Which reason the module wrote is not known any more: none is kept.
            let mut f = f.without_values();
            f.reason = None;
            f
        })
        .collect();
    // Beside each finding, what repair did with it (null: nothing yet).
    let ids: Vec<&str> = items.iter().map(|f| f.id.as_str()).collect();
    let outcomes = app.migration.engine.store.repair_outcomes(&ids).await.map_err(ApiError::store("reading the repair outcomes"))?;
    let items: Vec<serde_json::Value> = items
        .iter()
        .map(|f| {
            let mut item = serde_json::to_value(f).unwrap_or_default();
            item["repair"] = match outcomes.get(&f.id) {
                // A failure's detail can quote the database about the row.
                Some((outcome, detail, at)) => {
                    let detail = if redacted.contains(&f.table.as_str()) { None } else { Some(detail) };
                    serde_json::json!({"outcome": outcome, "detail": detail, "at": at})
                }
                None => serde_json::Value::Null,
            };
            item
        })
        .collect();
    Ok(ok(serde_json::json!({"items": items, "next": next})))
}
