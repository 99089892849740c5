//! The HTTP control plane (axum on hyper). The Go tool's routes and
//! envelope, exactly, plus modules, discrepancies, progress, history,
//! Prometheus metrics and an OpenAPI document.
//!
//! | route | what |
//! |---|---|
//! | `POST /src_only` `/src_first` `/dst_first` `/dst_only` (`/completed`) | move the migration (body optional: `{"force", "reason"}`) |
//! | `POST /full/start` `/full/stop` | full validation |
//! | `POST /incr/start` (`{"utime", "interval"}`, ms) `/incr/stop` | incremental validation |
//! | `POST /auto-migrate` (`/auto-migrate/cancel`) | the whole plan, policy-driven |
//! | `GET /status` `/stats` `/health` | as in the Go tool; `/health` is 503 when unhealthy |
//! | `GET /modules`, `PUT` / `DELETE /modules/{name}` | list, hot-load (body: .wasm), unload |
//! | `POST /repair/start` (`{"from": "store"\|"kafka", "dry_run", "table"}`) `/repair/stop`, `GET /repair/status` | repair |
//! | `GET /discrepancies` | findings, paged (`after`, `limit`), by `table`, `type`, `tag`, `run` |
//! | `GET /validations/current` `/history` `/metrics` `/openapi.json` | progress, transitions, Prometheus, API |
//! | `GET /instances` | the fleet: each instance, the generation it applies, who a move waits for |
//! | `GET /ui/` (`/ui/{*path}`; `/` and `/ui` redirect there) | the operator's page, on the routes above |
//!
//! - [`envelope`]: `{code, msg, data}` for every answer, the framework's
//!   rejections too.
//! - [`error`]: [`error::ApiError`], every failure by cause with its status
//!   (202 for a move not yet acknowledged by every instance, 400, 401, 404, 409, 413, 422, 500, 503) and code; what handlers return.
//! - [`body`]: strict JSON bodies (400 on a bad one, 413 over the limit)
//!   and module uploads.
//! - [`auth`]: the bearer token on every mutating route, module upload, and
//!   every route that can answer with row data (`/discrepancies`,
//!   `/repair/status`, `/validations/current`).
//! - [`patterns`], [`validations`], [`repair`], [`copy`], [`modules`], [`status`]: the handlers.
//! - [`ui`]: the operator's page, embedded (open: its files hold no data).
//!
//! Security: listens on 127.0.0.1:8080 by default and refuses a
//! non-loopback address unless a token is configured.

pub mod auth;
pub mod body;
pub mod copy;
pub mod envelope;
pub mod error;
pub mod modules;
pub mod patterns;
pub mod repair;
pub mod status;
pub mod ui;
pub mod validations;

use crate::config::Http;
use crate::migration::Migration;
use anyhow::{Context, Result, bail};
use axum::Router;
use axum::http::Uri;
use axum::routing::{get, post, put};
use std::net::SocketAddr;
use std::sync::Arc;

/// What every handler gets.
#[derive(Clone)]
pub struct App {
    pub migration: Arc<Migration>,
    /// `[http] max_upload_bytes` (or the caller's): the largest module upload.
    pub max_upload_bytes: usize,
    /// Held by a module upload or delete: the registry and the modules
    /// directory change together.
    pub modules_dir: Arc<tokio::sync::Mutex<()>>,
}

/// The routes; `token`, when set, guards the mutating ones and those that
/// answer with row values. Also reports (as the fault `modules`) a modules
/// directory that would not load as it serves now.
pub fn router(migration: Arc<Migration>, token: Option<String>, max_upload_bytes: usize) -> Router {
    modules::check_dir(&migration);
    // Behind the token: what changes the migration, and what shows row
    // values (findings, their tags, repair plans and failures). What stays
    // open answers monitoring: states, counts, health, metrics.
    let guarded = Router::new()
        .route("/src_only", post(patterns::src_only))
        .route("/src_first", post(patterns::src_first))
        .route("/dst_first", post(patterns::dst_first))
        .route("/dst_only", post(patterns::dst_only))
        .route("/completed", post(patterns::completed))
        .route("/auto-migrate", post(patterns::auto_migrate))
        .route("/auto-migrate/cancel", post(patterns::auto_migrate_cancel))
        .route("/full/start", post(validations::full_start))
        .route("/full/stop", post(validations::full_stop))
        .route("/incr/start", post(validations::incr_start))
        .route("/incr/stop", post(validations::incr_stop))
        .route("/repair/start", post(repair::start))
        .route("/repair/stop", post(repair::stop))
        .route("/modules/{name}", put(modules::put).delete(modules::delete))
        .route("/discrepancies", get(validations::discrepancies))
        .route("/validations/current", get(validations::current))
        .route("/repair/status", get(repair::status))
        .route("/copy/start", post(copy::start))
        .route("/copy/stop", post(copy::stop))
        .route("/copy/status", get(copy::status))
        .layer(axum::middleware::from_fn_with_state(auth::Token(token.map(Arc::new)), auth::require));
    Router::new()
        .route("/status", get(status::status))
        .route("/stats", get(status::stats))
        .route("/health", get(status::health))
        .route("/metrics", get(status::metrics))
        .route("/openapi.json", get(status::openapi))
        .route("/modules", get(modules::list))
        .route("/history", get(patterns::history))
        .route("/instances", get(status::instances))
        .route("/", get(ui::to_page))
        .route("/ui", get(ui::to_page))
        .route("/ui/", get(ui::index))
        .route("/ui/{*path}", get(ui::asset))
        .merge(guarded)
        .fallback(|uri: Uri| async move { error::ApiError::NotFound(format!("no route {uri}; the routes are in GET /openapi.json")) })
        .layer(axum::middleware::map_response(envelope::envelop_rejections))
        .with_state(App { migration, max_upload_bytes, modules_dir: Arc::default() })
}

/// The address to listen on, refusing a non-loopback one without a token.
pub fn listen_address(http: &Http, token: Option<&str>) -> Result<SocketAddr> {
    let addr: SocketAddr =
        http.listen.parse().with_context(|| format!("[http] listen = {:?}: expected an address like 127.0.0.1:8080", http.listen))?;
    if !addr.ip().is_loopback() && token.is_none() {
        bail!(
            "refusing to listen on {addr} without a token: anyone who can reach it could switch patterns. \
             Set MOVEX_TOKEN (or [http] token / token_file), or listen on 127.0.0.1"
        );
    }
    Ok(addr)
}

/// Serve until `shutdown` completes; in-flight requests finish first.
pub async fn serve(migration: Arc<Migration>, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
    let http = migration.engine.config.http.clone();
    let token = http.resolved_token().map_err(anyhow::Error::msg)?;
    let addr = listen_address(&http, token.as_deref())?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr} (is the port in use?)"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, token = token.is_some(), "control plane listening");
    eprintln!("movex: control plane on http://{addr} ({})", if token.is_some() { "token required for changes" } else { "no token" });
    axum::serve(listener, router(migration, token, http.max_upload_bytes)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}
