//! One loaded version of a module: its compiled form, its description, its
//! stats, and a pool of live instances. A caller holding an `Arc<Module>`
//! keeps that version alive, which is how a batch in flight finishes on the
//! version it started with while the registry already serves a newer one.

use super::wit::module as wm;
use super::error::{Capability, FailureKind, GuestError, LoadError};
use super::instance::{CallFailure, Instance};
use super::runtime::{Compiled, Runtime};
use super::stats::ModuleStats;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a module says about itself (`describe`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Description {
    pub name: String,
    pub version: String,
    pub capabilities: Vec<Capability>,
    pub entities: Vec<String>,
    pub summary: String,
}

impl Description {
    pub fn has(&self, c: Capability) -> bool {
        self.capabilities.contains(&c)
    }
}

pub struct Module {
    pub description: Description,
    /// The registry's version counter: increases with every load or swap.
    pub version: u64,
    pub hash: String,
    pub size: usize,
    pub cache_hit: bool,
    /// Compile time, or time to load from cache.
    pub load_time: Duration,
    pub imports: Vec<String>,
    pub stats: ModuleStats,
    runtime: Arc<Runtime>,
    prepared: Compiled,
    /// Idle instances. A worker takes one per call and gives it back unless
    /// the call killed it, so there is one per concurrent worker, never one
    /// per row, and a dead one is never reused.
    pool: Mutex<Vec<Instance>>,
}

/// Distinct bindings an instance may collect before it is retired.
pub const MAX_BINDINGS_PER_INSTANCE: usize = 256;

/// Bind slots: which capability a guest handle belongs to.
pub(crate) const SLOT_COMPARATOR: u8 = 0;
pub(crate) const SLOT_TAGGER: u8 = 1;
pub(crate) const SLOT_POLICY: u8 = 2;

impl Module {
    /// Instantiate once and ask the module who it is: the load-time exercise.
    pub fn new(runtime: Arc<Runtime>, prepared: Compiled, version: u64) -> Result<Self, LoadError> {
        let mut instance = Instance::new(&runtime.engine, &runtime.ticker, &prepared.pre, &runtime.limits, "(loading)").map_err(|f| {
            // Export names are checked before; export *types* only here. A
            // mismatch means another version of the contract.
            if f.detail.contains("type mismatch") {
                LoadError::WrongInterface { detail: f.detail }
            } else {
                LoadError::Instantiate { detail: format!("{}: {}", f.kind, f.detail) }
            }
        })?;
        let d = instance
            .call(&runtime.limits, |p, s| p.movex_plugin_module().call_describe(s).map(Ok))
            .map_err(|f| {
                LoadError::Describe(Box::new(GuestError {
                    module: "(unnamed)".into(),
                    version,
                    capability: Capability::Describe,
                    key: None,
                    kind: f.kind,
                    detail: f.detail,
                }))
            })?;
        let description = Description {
            capabilities: d
                .capabilities
                .iter()
                .map(|c| match c {
                    wm::Capability::Comparator => Capability::Comparator,
                    wm::Capability::Tagger => Capability::Tagger,
                    wm::Capability::Policy => Capability::Policy,
                })
                .collect(),
            name: d.name,
            version: d.version,
            entities: d.entities,
            summary: d.summary,
        };
        check_description(&description)?;
        let module = Module {
            version,
            hash: prepared.hash.clone(),
            size: prepared.size,
            cache_hit: prepared.cache_hit,
            load_time: prepared.load_time,
            imports: prepared.imports.clone(),
            stats: ModuleStats::default(),
            description,
            runtime,
            prepared,
            pool: Mutex::new(Vec::new()),
        };
        // The instance that answered `describe` is warm: keep it. It was made
        // before the name was known, so its log lines say "(loading)"; new
        // instances carry the name.
        module.stats.instance_created();
        module.stats.call();
        module.pool.lock().expect("pool lock").push(instance);
        Ok(module)
    }

    pub fn name(&self) -> &str {
        &self.description.name
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Run `f` on an idle instance (or a new one). The instance goes back to
    /// the pool unless the call killed it.
    pub(crate) fn with_instance<R>(
        &self,
        capability: Capability,
        f: impl FnOnce(&mut Instance) -> Result<R, CallFailure>,
    ) -> Result<R, GuestError> {
        let pooled = self.pool.lock().expect("pool lock").pop();
        let mut instance = match pooled {
            Some(i) => i,
            None => {
                let made = Instance::new(&self.runtime.engine, &self.runtime.ticker, &self.prepared.pre, &self.runtime.limits, self.name());
                self.stats.instance_created();
                made.map_err(|f| self.error(capability, None, f))?
            }
        };
        self.stats.call();
        match f(&mut instance) {
            Ok(r) => {
                // Each binding holds guest memory and the contract has no
                // unbind: an instance that collected many is retired.
                if instance.bindings() <= MAX_BINDINGS_PER_INSTANCE {
                    self.pool.lock().expect("pool lock").push(instance);
                }
                Ok(r)
            }
            Err(f) => {
                if !f.kind.kills_instance() {
                    self.pool.lock().expect("pool lock").push(instance);
                }
                self.stats.failure(f.kind);
                Err(self.error(capability, None, f))
            }
        }
    }

    pub(crate) fn error(&self, capability: Capability, key: Option<String>, f: CallFailure) -> GuestError {
        GuestError {
            module: self.name().to_owned(),
            version: self.version,
            capability,
            key,
            kind: f.kind,
            detail: f.detail,
        }
    }

    /// Fail fast, with a clear error, when asked for a capability the module
    /// does not describe.
    pub(crate) fn require(&self, capability: Capability) -> Result<(), GuestError> {
        if self.description.has(capability) {
            return Ok(());
        }
        Err(GuestError {
            module: self.name().to_owned(),
            version: self.version,
            capability,
            key: None,
            kind: FailureKind::Refused,
            detail: format!("the module is not a {capability} (it describes {:?})", self.description.capabilities),
        })
    }

}

fn check_description(d: &Description) -> Result<(), LoadError> {
    let ok_name = !d.name.is_empty()
        && d.name.len() <= 64
        && d.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if !ok_name {
        return Err(LoadError::BadDescription {
            detail: format!("name {:?}: use 1-64 of a-z, 0-9, '-', '_', '.'", d.name),
        });
    }
    if d.capabilities.is_empty() {
        return Err(LoadError::BadDescription { detail: "it lists no capabilities".into() });
    }
    Ok(())
}
