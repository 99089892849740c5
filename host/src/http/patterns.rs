//! Moving the migration: the pattern routes (`POST /src_only`, ...),
//! `/auto-migrate` (and its cancel) and `GET /history`. A move the state
//! machine refuses is 409; a state store that fails under it is 503.

use super::envelope::{Body, Reply, fail, ok, store_failed};
use super::App;
use crate::model::state::MoveError;
use crate::model::{Pattern, State};
use axum::extract::State as Shared;
use axum::http::StatusCode;
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

async fn move_to(app: App, to: State, body: MoveBody) -> Reply {
    let by = format!("POST /{to}");
    let reason = body.reason.unwrap_or_else(|| format!("requested by {by}"));
    match app.migration.move_to(to, body.force, &reason, &by).await {
        Ok(t) => ok(t),
        Err(MoveError::Refused(e)) => fail(StatusCode::CONFLICT, e.to_string()),
        Err(e @ MoveError::Store { .. }) => {
            fail(StatusCode::SERVICE_UNAVAILABLE, format!("{e}. Check the state store ([state] url) and GET /health, then retry"))
        }
        Err(e @ MoveError::Unconfirmed { .. }) => fail(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

pub async fn src_only(Shared(app): Shared<App>, Body(b): Body<MoveBody>) -> Reply {
    move_to(app, State::of(Pattern::SrcOnly), b).await
}

pub async fn src_first(Shared(app): Shared<App>, Body(b): Body<MoveBody>) -> Reply {
    move_to(app, State::of(Pattern::SrcFirst), b).await
}

pub async fn dst_first(Shared(app): Shared<App>, Body(b): Body<MoveBody>) -> Reply {
    move_to(app, State::of(Pattern::DstFirst), b).await
}

pub async fn dst_only(Shared(app): Shared<App>, Body(b): Body<MoveBody>) -> Reply {
    move_to(app, State::of(Pattern::DstOnly), b).await
}

/// `POST /completed`: the last step, from `dst_only`.
pub async fn completed(Shared(app): Shared<App>, Body(b): Body<MoveBody>) -> Reply {
    move_to(app, State::Completed, b).await
}

pub async fn auto_migrate(Shared(app): Shared<App>) -> Reply {
    match app.migration.start_auto_migrate().await {
        Ok(()) => ok(serde_json::json!({"started": true, "follow": "GET /status (auto_migrate) or GET /history"})),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    }
}

pub async fn auto_migrate_cancel(Shared(app): Shared<App>) -> Reply {
    ok(serde_json::json!({"cancelled": app.migration.cancel_auto_migrate().await}))
}

pub async fn history(Shared(app): Shared<App>) -> Reply {
    match app.migration.engine.store.history(1000).await {
        Ok(h) => ok(h),
        Err(e) => store_failed("reading the history", &e),
    }
}
