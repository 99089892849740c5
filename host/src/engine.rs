//! The engine: everything a migration's work shares, built once from the
//! config and handed down — the config itself, the state store, the module
//! registry (with its start-up warm-up), and a reading connection pool to
//! each database. The validator holds an `Arc<Engine>`; the migration
//! (scheduler, auto-migrate) holds the same one, and repair reaches it
//! through the validator it runs; each owns only its own state.
//!
//! The double-write pool is not here: it is the application's write path,
//! with its own connections sized by `[pool]`, and sits below the config
//! (a library user builds one without a config file).

use crate::config::Config;
use crate::db::Db;
use crate::store::Store;
use crate::wasm::{self, Registry, Runtime, RuntimeConfig};
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::Duration;

pub struct Engine {
    pub config: Arc<Config>,
    pub store: Store,
    /// Modules by name, hot-swapped by the control plane.
    pub modules: Arc<Registry>,
    /// What loading `[modules] dir` at start-up did, for `/health`.
    pub warmup: wasm::Warmup,
    pub source: Db,
    pub destination: Db,
}

impl Engine {
    /// Open everything the config names, connecting to both databases now:
    /// fails with what is wrong and what to do (`movex validate`, `movex
    /// repair`).
    pub async fn open(config: Config) -> Result<Arc<Engine>> {
        let store = Store::open(&config.state.url).await?;
        Engine::open_with(Arc::new(config), store, true).await
    }

    /// Open with a state store already open. `eager` connects to both
    /// databases now; otherwise on first use, so a server can start (and
    /// report a database as down) while one is unreachable.
    pub async fn open_with(config: Arc<Config>, store: Store, eager: bool) -> Result<Arc<Engine>> {
        let cache_dir = config.modules.cache_dir.clone().or_else(|| Some(config.modules.dir.join(".cache")));
        let runtime = Runtime::new(RuntimeConfig { limits: config.sandbox.clone(), cache_dir })?;
        let modules = Arc::new(Registry::new(runtime));
        for (name, settings) in &config.modules.settings {
            modules.set_settings(name, settings.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        }
        let warmup = wasm::warm_up(&modules, &config.modules.dir)
            .with_context(|| format!("loading modules from {} ([modules] dir)", config.modules.dir.display()))?;
        // Validation reads each side three ways at once per table; a copy
        // holds two source transactions per table (one chunk written, the
        // next read ahead).
        let max = (config.validation.concurrency as u32 * 3).max(config.copy.tables_at_once as u32 * 2 + 1).max(4);
        let (source, destination) = if eager {
            tokio::try_join!(Db::connect(&config.source.url, "source", max), Db::connect(&config.destination.url, "destination", max))?
        } else {
            let timeout = Duration::from_millis(config.pool.connect_timeout_ms);
            (Db::lazy(&config.source.url, "source", max, timeout)?, Db::lazy(&config.destination.url, "destination", max, timeout)?)
        };
        Ok(Arc::new(Engine { config, store, modules, warmup, source, destination }))
    }

    /// The settings `[modules.settings.<name>]` gives module `name`.
    pub fn settings(&self, name: &str) -> Vec<(String, String)> {
        self.config.modules.settings.get(name).map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
    }
}
