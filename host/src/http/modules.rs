//! Module routes: `GET /modules` (what is loaded, with stats),
//! `PUT /modules/{name}` (body: the .wasm; hot-loads it and keeps it in the
//! modules directory so a restart loads it again; answers with the
//! module's description and load-time exercise, or the reason it was
//! refused), `DELETE /modules/{name}`.

use super::App;
use super::envelope::{Reply, bad_request, fail, ok};
use crate::wasm;
use axum::body::Bytes;
use axum::extract::{Path, State as Shared};
use axum::http::StatusCode;

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub async fn list(Shared(app): Shared<App>) -> Reply {
    ok(serde_json::json!({
        "warmup": app.migration.validator.warmup(),
        "modules": wasm::reports(app.migration.validator.registry()),
    }))
}

pub async fn put(Shared(app): Shared<App>, Path(name): Path<String>, body: Bytes) -> Reply {
    if !valid_name(&name) {
        return bad_request(format!("module name {name:?}: use 1-64 letters, digits, '-' or '_'"));
    }
    let registry = app.migration.validator.registry().clone();
    let bytes = body.to_vec();
    let loaded = {
        let (name, bytes) = (name.clone(), bytes.clone());
        tokio::task::spawn_blocking(move || registry.load_as(&name, &bytes)).await
    };
    let loaded = match loaded {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return fail(StatusCode::UNPROCESSABLE_ENTITY, format!("module {name:?} refused: {e}")),
        Err(e) => return fail(StatusCode::INTERNAL_SERVER_ERROR, format!("loading {name:?}: {e}")),
    };
    // Keep it for the next start: write beside, then rename over.
    let dir = &app.migration.config.modules.dir;
    let file = dir.join(format!("{name}.wasm"));
    let tmp = dir.join(format!(".{name}.wasm.uploading"));
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&tmp, &bytes)).and_then(|()| std::fs::rename(&tmp, &file)) {
        tracing::warn!(file = %file.display(), "module loaded but not saved for the next start: {e}");
    }
    let m = &loaded.module;
    ok(serde_json::json!({
        "name": name,
        "version": m.version,
        "description": m.description,
        "sha256": m.hash,
        "size": m.size,
        "exercises": loaded.exercises,
    }))
}

pub async fn delete(Shared(app): Shared<App>, Path(name): Path<String>) -> Reply {
    if !valid_name(&name) {
        return bad_request(format!("module name {name:?}: use 1-64 letters, digits, '-' or '_'"));
    }
    match app.migration.validator.registry().unload(&name) {
        Some(_) => {
            let _ = std::fs::remove_file(app.migration.config.modules.dir.join(format!("{name}.wasm")));
            ok(serde_json::json!({"unloaded": name}))
        }
        None => fail(StatusCode::NOT_FOUND, format!("no module {name:?} is loaded")),
    }
}
