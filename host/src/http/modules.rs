//! Module routes: `GET /modules` (what is loaded, with stats),
//! `PUT /modules/{name}` (body: the .wasm; hot-loads it and keeps it in the
//! modules directory as `{name}.wasm` so a restart loads it again; answers
//! with the module's description and load-time exercise, or the reason it
//! was refused), `DELETE /modules/{name}` (unloads it and removes its file,
//! so a restart does not bring it back).
//!
//! One module name, one file: an upload replaces every file that held the
//! module it replaces, whatever that file was called (`tag_by_column.wasm`
//! for `tag-by-column`), so the next start cannot find two files of one
//! name. And [`check_dir`] compares the directory with what serves — at
//! start and after each upload or delete — and sets the fault `modules`
//! (`/health` 503) while the next start would load something else: a file
//! refused at warm-up, two files of one module, a module with no file.

use super::App;
use super::body::Upload;
use super::envelope::{Reply, ok};
use super::error::ApiError;
use crate::migration::Migration;
use crate::wasm;
use axum::extract::{Path, State as Shared};
use std::path::{Path as FsPath, PathBuf};

/// The fault `/health` names while the modules directory is out of step.
pub const FAULT: &str = "modules";

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The name, if it is one a module may have; a 400 saying why if not.
fn checked(name: &str) -> Result<(), ApiError> {
    if valid_name(name) {
        return Ok(());
    }
    Err(ApiError::BadRequest(format!("module name {name:?}: use 1-64 letters, digits, '-' or '_'")))
}

/// Every file warm-up would load (`*.wasm`, as `wasm::warm_up` picks
/// them), with its content hash.
fn wasm_files(dir: &FsPath) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "wasm") && path.is_file() {
            let hash = wasm::cache::content_hash(&std::fs::read(&path)?);
            out.push((path, hash));
        }
    }
    out.sort();
    Ok(out)
}

/// What in the modules directory differs from what serves, each with what
/// to do; empty when a restart would load exactly what serves now.
fn dir_problems(m: &Migration) -> Vec<String> {
    let dir = &m.engine.config.modules.dir;
    let files = match wasm_files(dir) {
        Ok(f) => f,
        Err(e) => return vec![format!("cannot read it: {e}")],
    };
    let warmup = &m.engine.warmup;
    let mut problems = Vec::new();
    let serving = m.engine.modules.list();
    for (path, hash) in &files {
        if !serving.iter().any(|s| &s.hash == hash) {
            let shown = path.display().to_string();
            let why = match warmup.failures.iter().find(|f| f.file == shown) {
                Some(f) => format!("refused at warm-up: {}", f.error),
                None => "it does not hold a module that serves".into(),
            };
            problems.push(format!("{shown}: {why}; remove it, or upload the module with PUT /modules/{{name}}"));
        }
    }
    for s in &serving {
        let held: Vec<String> = files.iter().filter(|(_, h)| *h == s.hash).map(|(p, _)| p.display().to_string()).collect();
        match held.len() {
            0 => problems.push(format!(
                "module {:?} serves but no file holds it: it would not load at the next start; upload it again with PUT /modules/{}",
                s.name(),
                s.name()
            )),
            1 => {}
            _ => problems.push(format!(
                "module {:?} is in {} files ({}): the next start would refuse all but one; keep one, or upload it again with PUT /modules/{}",
                s.name(),
                held.len(),
                held.join(", "),
                s.name()
            )),
        }
    }
    problems
}

/// Set the fault `modules` while the directory is out of step with what
/// serves, clear it once it is not.
pub fn check_dir(m: &Migration) {
    let problems = dir_problems(m);
    if problems.is_empty() {
        m.faults.clear(FAULT);
    } else {
        m.faults.set(
            FAULT,
            format!(
                "the modules directory {} does not hold what serves, so a restart would load other modules: {}",
                m.engine.config.modules.dir.display(),
                problems.join("; ")
            ),
        );
    }
}

/// Remove the files (other than `keep`) holding any of `hashes`; the files
/// removed, or the first that could not be.
fn remove_holding(dir: &FsPath, hashes: &[&str], keep: Option<&FsPath>) -> Result<Vec<String>, String> {
    let files = wasm_files(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut removed = Vec::new();
    for (path, hash) in files {
        if hashes.contains(&hash.as_str()) && Some(path.as_path()) != keep {
            std::fs::remove_file(&path).map_err(|e| format!("removing {}: {e}", path.display()))?;
            removed.push(path.display().to_string());
        }
    }
    Ok(removed)
}

/// Write `bytes` as `file`: beside it, synced, then renamed over, so a
/// crash leaves the old file or the new one, never half of one.
fn save(dir: &FsPath, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    let file = dir.join(format!("{name}.wasm"));
    let tmp = dir.join(format!(".{name}.wasm.uploading"));
    std::fs::create_dir_all(dir)?;
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &file)?;
    Ok(file)
}

pub async fn list(Shared(app): Shared<App>) -> Reply {
    ok(serde_json::json!({
        "warmup": &app.migration.engine.warmup,
        "modules": wasm::reports(&app.migration.engine.modules),
    }))
}

pub async fn put(Shared(app): Shared<App>, Path(name): Path<String>, Upload(body): Upload) -> Result<Reply, ApiError> {
    checked(&name)?;
    // One upload or delete at a time: load and file must change together.
    let _dir = app.modules_dir.lock().await;
    let registry = app.migration.engine.modules.clone();
    let before = registry.get(&name).map(|m| m.hash.clone());
    let bytes = body.to_vec();
    let loaded = {
        let (name, bytes) = (name.clone(), bytes.clone());
        tokio::task::spawn_blocking(move || registry.load_as(&name, &bytes)).await
    };
    let loaded = loaded
        .map_err(|e| ApiError::Internal(format!("loading {name:?}: {e}")))?
        .map_err(|e| ApiError::Unprocessable(format!("module {name:?} refused: {e}")))?;
    let m = &loaded.module;
    // Keep it for the next start as `{name}.wasm`, and drop every other file
    // that held this module or the one it replaces.
    let dir = &app.migration.engine.config.modules.dir;
    let saved = save(dir, &name, &bytes).map_err(|e| format!("saving {}: {e}", dir.join(format!("{name}.wasm")).display())).and_then(|file| {
        let hashes: Vec<&str> = [Some(m.hash.as_str()), before.as_deref()].into_iter().flatten().collect();
        remove_holding(dir, &hashes, Some(&file)).map(|removed| (file, removed))
    });
    check_dir(&app.migration);
    let (file, removed) = saved.map_err(|e| {
        ApiError::Internal(format!(
            "module {name:?} loaded and serving, but the modules directory could not be updated ({e}): \
             the next start would not load what serves now (GET /health names it). Fix the directory, then upload again"
        ))
    })?;
    Ok(ok(serde_json::json!({
        "name": name,
        "version": m.version,
        "description": m.description,
        "sha256": m.hash,
        "size": m.size,
        "exercises": loaded.exercises,
        "file": file.display().to_string(),
        "replaced_files": removed,
    })))
}

pub async fn delete(Shared(app): Shared<App>, Path(name): Path<String>) -> Result<Reply, ApiError> {
    checked(&name)?;
    let _dir = app.modules_dir.lock().await;
    let Some(gone) = &app.migration.engine.modules.unload(&name) else {
        return Err(ApiError::NotFound(format!("no module {name:?} is loaded (GET /modules lists them)")));
    };
    // Its file, whatever it is called, and `{name}.wasm` if that holds
    // another version: nothing of this name loads at the next start.
    let dir = &app.migration.engine.config.modules.dir;
    let own = dir.join(format!("{name}.wasm"));
    let removed = remove_holding(dir, &[gone.hash.as_str()], None).and_then(|mut removed| match std::fs::remove_file(&own) {
        Ok(()) => {
            removed.push(own.display().to_string());
            Ok(removed)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(removed),
        Err(e) => Err(format!("removing {}: {e}", own.display())),
    });
    check_dir(&app.migration);
    let removed = removed.map_err(|e| {
        ApiError::Internal(format!("module {name:?} is unloaded, but its file stays ({e}): the next start would load it again. Remove the file by hand"))
    })?;
    Ok(ok(serde_json::json!({"unloaded": name, "removed_files": removed})))
}
