//! Warm-up at start-up: every `.wasm` in the modules directory is compiled (or
//! loaded from cache), instantiated and asked to describe itself, before any
//! validation needs it. The result feeds `/health`, in the field names
//! operators of the Go tool already read (`totalModules`, `elapsedMs`...),
//! plus per-module details.

use super::error::LoadError;
use super::registry::Registry;
use super::stats::StatsSnapshot;
use serde::Serialize;
use std::path::Path;
use std::time::{Instant, SystemTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarmupStatus {
    NotStarted,
    /// Every module loaded.
    Completed,
    /// At least one module was refused (see `failures`); the others serve.
    Failed,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Warmup {
    pub status: WarmupStatus,
    /// Names of the modules loaded.
    pub modules: Vec<String>,
    pub total_modules: usize,
    pub success_count: usize,
    /// Human form, e.g. `12ms 345us`.
    pub elapsed: String,
    pub elapsed_ms: u64,
    /// RFC 3339, when warm-up finished.
    pub timestamp: String,
    pub failures: Vec<WarmupFailure>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WarmupFailure {
    pub file: String,
    pub error: String,
}

/// One module as `/health` and `/modules` show it.
#[derive(Clone, Debug, Serialize)]
pub struct ModuleReport {
    pub name: String,
    /// Registry version counter.
    pub version: u64,
    /// The module's own version string.
    pub module_version: String,
    pub capabilities: Vec<super::error::Capability>,
    pub hash: String,
    pub size: usize,
    pub load_ms: f64,
    pub cache_hit: bool,
    #[serde(flatten)]
    pub stats: StatsSnapshot,
}

impl Default for Warmup {
    fn default() -> Self {
        Warmup {
            status: WarmupStatus::NotStarted,
            modules: Vec::new(),
            total_modules: 0,
            success_count: 0,
            elapsed: String::new(),
            elapsed_ms: 0,
            timestamp: String::new(),
            failures: Vec::new(),
        }
    }
}

/// Load every `*.wasm` in `dir` (sorted by file name). A module whose name is
/// already taken by an earlier file is refused, not silently swapped in.
pub fn warm_up(registry: &Registry, dir: &Path) -> Result<Warmup, LoadError> {
    let started = Instant::now();
    let io = |e| LoadError::Io { path: dir.display().to_string(), source: e };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
        .collect();
    files.sort();
    let mut w = Warmup { total_modules: files.len(), ..Warmup::default() };
    let mut seen: Vec<(String, String)> = Vec::new();
    for path in &files {
        let file = path.display().to_string();
        let outcome = std::fs::read(path)
            .map_err(|e| LoadError::Io { path: file.clone(), source: e })
            .and_then(|bytes| registry.load_new(&bytes));
        match outcome {
            Ok(loaded) => {
                let name = loaded.module.name().to_owned();
                seen.push((name.clone(), file));
                w.modules.push(name);
                w.success_count += 1;
            }
            Err(LoadError::NameTaken { name }) => {
                let other = seen.iter().find(|(n, _)| *n == name).map_or("an earlier file", |(_, f)| f.as_str());
                let error = format!("module name {name:?} is already used by {other}; give each module its own name");
                tracing::error!(%file, "module refused at warm-up: {error}");
                w.failures.push(WarmupFailure { file, error });
            }
            Err(e) => {
                tracing::error!(%file, "module refused at warm-up: {e}");
                w.failures.push(WarmupFailure { file, error: e.to_string() });
            }
        }
    }
    let elapsed = started.elapsed();
    w.status = if w.failures.is_empty() { WarmupStatus::Completed } else { WarmupStatus::Failed };
    w.elapsed = humantime::format_duration(elapsed).to_string();
    w.elapsed_ms = elapsed.as_millis() as u64;
    w.timestamp = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    Ok(w)
}

/// Reports on every module now serving.
pub fn reports(registry: &Registry) -> Vec<ModuleReport> {
    registry
        .list()
        .iter()
        .map(|m| ModuleReport {
            name: m.name().to_owned(),
            version: m.version,
            module_version: m.description.version.clone(),
            capabilities: m.description.capabilities.clone(),
            hash: m.hash.clone(),
            size: m.size,
            load_ms: m.load_time.as_secs_f64() * 1e3,
            cache_hit: m.cache_hit,
            stats: m.stats.snapshot(),
        })
        .collect()
}
