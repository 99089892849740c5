//! Moving the migration: the pattern routes (`POST /src_only`, ...),
//! `/auto-migrate` (and its cancel) and `GET /history`. A move the state
//! machine refuses is 409; a state store that fails under it is 503, forced
//! or not ([`crate::model::MoveError`], mapped by [`ApiError`]).

use super::App;
use super::body::Body;
use super::envelope::{Reply, ok};
use super::error::ApiError;
use crate::model::{Pattern, State};
use axum::extract::State as Shared;
use serde::Deserialize;

/// Optional body of a pattern route.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    /// Allow a move other than one step forward or back.
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

async fn move_to(app: App, to: State, body: MoveBody) -> Result<Reply, ApiError> {
    let by = format!("POST /{to}");
    let reason = body.reason.unwrap_or_else(|| format!("requested by {by}"));
    Ok(ok(app.migration.move_to(to, body.force, &reason, &by).await?))
}

pub async fn src_only(Shared(app): Shared<App>, Body(b): Body<MoveBody>) -> Result<Reply, ApiError> {
    move_to(app, State::of(Pattern::SrcOnly), b).await
}

pub async fn src_first(Shared(app): Shared<App>, Body(b): Body<MoveBody>) -> Result<Reply, ApiError> {
    move_to(app, State::of(Pattern::SrcFirst), b).await
}

pub async fn dst_first(Shared(app): Shared<App>, Body(b): Body<MoveBody>) -> Result<Reply, ApiError> {
    move_to(app, State::of(Pattern::DstFirst), b).await
}

pub async fn dst_only(Shared(app): Shared<App>, Body(b): Body<MoveBody>) -> Result<Reply, ApiError> {
    move_to(app, State::of(Pattern::DstOnly), b).await
}

/// `POST /completed`: the last step, from `dst_only`.
pub async fn completed(Shared(app): Shared<App>, Body(b): Body<MoveBody>) -> Result<Reply, ApiError> {
    move_to(app, State::Completed, b).await
}

/// Starts the plan in the background: its moves answer in `GET /status`
/// (`auto_migrate`) and `GET /history`, not here.
pub async fn auto_migrate(Shared(app): Shared<App>) -> Result<Reply, ApiError> {
    if let Some(why) = app.migration.auto_migrate_elsewhere().await.map_err(ApiError::store("reading auto-migrate's record"))? {
        return Err(ApiError::Refused(why));
    }
    app.migration.start_auto_migrate().await?;
    Ok(ok(serde_json::json!({"started": true, "follow": "GET /status (auto_migrate) or GET /history"})))
}

pub async fn auto_migrate_cancel(Shared(app): Shared<App>) -> Reply {
    ok(serde_json::json!({"cancelled": app.migration.cancel_auto_migrate().await}))
}

pub async fn history(Shared(app): Shared<App>) -> Result<Reply, ApiError> {
    Ok(ok(app.migration.engine.store.history(1000).await.map_err(ApiError::store("reading the history"))?))
}
