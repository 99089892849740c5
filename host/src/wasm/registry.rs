//! Modules by name, hot-swappable. `get` hands out an `Arc<Module>`: a batch
//! that holds it finishes on that version even if a new one is loaded
//! meanwhile; the next `get` returns the new one. A module that fails to load
//! is refused and whatever was serving under its name keeps serving.

use super::error::LoadError;
use super::exercise::{Exercise, exercise};
use super::module::Module;
use super::runtime::Runtime;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub struct Registry {
    runtime: Arc<Runtime>,
    current: RwLock<BTreeMap<String, Arc<Module>>>,
    /// Last version handed out. Every successful load or swap takes the next.
    version: AtomicU64,
    /// Loads run one at a time, so two uploads of one name cannot interleave
    /// and versions are handed out in the order modules start serving.
    loading: Mutex<()>,
    /// Settings each module is exercised with at load (those it will be bound
    /// with), by module name; `""` holds the default for any other name.
    settings: RwLock<BTreeMap<String, Vec<(String, String)>>>,
}

/// What a load did.
#[derive(Clone)]
pub struct Loaded {
    pub module: Arc<Module>,
    /// The version it replaced, if any.
    pub replaced: Option<u64>,
    /// True when identical bytes were already serving: nothing changed.
    pub unchanged: bool,
    /// What the load-time exercise did, per capability.
    pub exercises: Vec<Exercise>,
}

impl Registry {
    pub fn new(runtime: Arc<Runtime>) -> Self {
        Registry {
            runtime,
            current: RwLock::new(BTreeMap::new()),
            version: AtomicU64::new(0),
            loading: Mutex::new(()),
            settings: RwLock::new(BTreeMap::new()),
        }
    }

    /// The settings module `name` is configured with: its load-time exercise
    /// binds with them, so a module that needs settings is exercised too.
    pub fn set_settings(&self, name: &str, settings: Vec<(String, String)>) {
        self.settings.write().expect("settings lock").insert(name.to_owned(), settings);
    }

    /// Settings for modules with none of their own (`movex module check --setting`).
    pub fn set_default_settings(&self, settings: Vec<(String, String)>) {
        self.set_settings("", settings);
    }

    fn settings_for(&self, name: &str) -> Vec<(String, String)> {
        let map = self.settings.read().expect("settings lock");
        map.get(name).or_else(|| map.get("")).cloned().unwrap_or_default()
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Load (or replace) a module under the name it describes.
    pub fn load(&self, bytes: &[u8]) -> Result<Loaded, LoadError> {
        self.load_with(None, true, bytes)
    }

    /// Load (or replace) a module that must describe itself as `name`.
    pub fn load_as(&self, name: &str, bytes: &[u8]) -> Result<Loaded, LoadError> {
        self.load_with(Some(name), true, bytes)
    }

    /// Load a module whose name is not taken yet (warm-up: two files must not
    /// silently shadow each other).
    pub fn load_new(&self, bytes: &[u8]) -> Result<Loaded, LoadError> {
        self.load_with(None, false, bytes)
    }

    fn load_with(&self, expected: Option<&str>, replace: bool, bytes: &[u8]) -> Result<Loaded, LoadError> {
        let _one_at_a_time = self.loading.lock().expect("load lock");
        let hash = super::cache::content_hash(bytes);
        if let Some(same) = self.list().into_iter().find(|m| m.hash == hash && expected.is_none_or(|n| n == m.name())) {
            if !replace {
                return Err(LoadError::NameTaken { name: same.name().to_owned() });
            }
            return Ok(Loaded { module: same, replaced: None, unchanged: true, exercises: Vec::new() });
        }
        // The artifact is cached only once the module is accepted: a module
        // the exercise refuses must not leave a compiled copy behind.
        let mut prepared = self.runtime.prepare_uncached(bytes)?;
        let artifact = prepared.artifact.take();
        let version = self.version.load(Ordering::SeqCst) + 1;
        let module = Module::new(self.runtime.clone(), prepared, version)?;
        if let Some(expected) = expected.filter(|n| *n != module.name()) {
            return Err(LoadError::NameMismatch { expected: expected.to_owned(), found: module.name().to_owned() });
        }
        if !replace && self.get(module.name()).is_some() {
            return Err(LoadError::NameTaken { name: module.name().to_owned() });
        }
        let exercises =
            exercise(&module, &self.settings_for(module.name())).map_err(|e| LoadError::Exercise(Box::new(e)))?;
        self.runtime.cache_artifact(&module.hash, artifact);
        self.version.store(version, Ordering::SeqCst);
        let module = Arc::new(module);
        let old = self.current.write().expect("registry lock").insert(module.name().to_owned(), module.clone());
        let replaced = old.map(|m| m.version);
        tracing::info!(module = module.name(), version, ?replaced, cache_hit = module.cache_hit,
            load_ms = module.load_time.as_secs_f64() * 1e3, "module loaded");
        Ok(Loaded { module, replaced, unchanged: false, exercises })
    }

    /// The version now serving under `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Module>> {
        self.current.read().expect("registry lock").get(name).cloned()
    }

    /// Stop serving `name`; batches holding it still finish.
    pub fn unload(&self, name: &str) -> Option<Arc<Module>> {
        let _one_at_a_time = self.loading.lock().expect("load lock");
        let gone = self.current.write().expect("registry lock").remove(name);
        if let Some(m) = &gone {
            tracing::info!(module = name, version = m.version, "module unloaded");
        }
        gone
    }

    /// Every module now serving, by name.
    pub fn list(&self) -> Vec<Arc<Module>> {
        self.current.read().expect("registry lock").values().cloned().collect()
    }

    /// The last version handed out (0 before any load).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }
}
