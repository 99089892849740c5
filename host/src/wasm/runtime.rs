//! The one wasm engine and everything shared by all modules: the linker (the
//! sandbox's only imports), the epoch ticker that bounds CPU per call
//! (`ticker.rs`), the compile thread that keeps compilation off the
//! validation workers, and the load pipeline: detect → componentize →
//! check imports → compile or load from cache → check exports.

use super::wit::{Plugin, PluginPre};
use super::cache::{ArtifactCache, content_hash};
use super::error::LoadError;
use super::instance::StoreState;
use super::limits::Limits;
use super::ticker::Ticker;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

/// Imports the sandbox provides. Anything else is refused at load.
pub const ALLOWED_IMPORTS: [&str; 2] = ["movex:plugin/host@0.3.0", "movex:plugin/types@0.3.0"];

/// How the runtime is set up.
#[derive(Clone, Debug, Default)]
pub struct RuntimeConfig {
    pub limits: Limits,
    /// Where precompiled artifacts are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
}

/// A module compiled (or loaded from cache) and checked against the contract,
/// not yet instantiated.
pub struct Compiled {
    pub(crate) pre: PluginPre<StoreState>,
    pub hash: String,
    pub size: usize,
    /// Whether the artifact came from the on-disk cache.
    pub cache_hit: bool,
    /// Time to compile, or to load the cached artifact.
    pub load_time: Duration,
    pub imports: Vec<String>,
    /// The compiled artifact, not cached yet: the registry caches it once
    /// the module has passed its load-time exercise ([`Runtime::cache_artifact`]).
    pub(crate) artifact: Option<Vec<u8>>,
}

type Job = Box<dyn FnOnce() + Send>;

pub struct Runtime {
    pub(crate) engine: Engine,
    linker: Linker<StoreState>,
    pub(crate) limits: Limits,
    cache: Option<ArtifactCache>,
    /// Compile jobs go to one low-priority thread: compiling on the caller's
    /// thread starved validation workers on 2 cores (p99 4 ms -> 38 ms).
    /// A `Mutex` because `mpsc::Sender` is not `Sync` on its own.
    compile_jobs: Mutex<mpsc::Sender<Job>>,
    /// Advances the epoch while guest calls run; stopped on drop.
    pub(crate) ticker: Arc<Ticker>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker.stop();
    }
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Arc<Self>> {
        let limits = config.limits;
        limits.validate().map_err(|e| anyhow::anyhow!("sandbox limits: {e}"))?;
        // wasmtime's `parallel-compilation` feature is left off: one module
        // compiles on one (low-priority) thread.
        let mut wc = Config::new();
        wc.epoch_interruption(true)
            .consume_fuel(limits.fuel_per_call.is_some())
            .max_wasm_stack(limits.max_stack_bytes)
            .wasm_component_model(true);
        let engine = Engine::new(&wc).map_err(|e| anyhow::anyhow!("creating the wasm engine: {e:#}"))?;

        let mut linker = Linker::new(&engine);
        Plugin::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("linking the host interface: {e:#}"))?;

        let cache = match config.cache_dir {
            Some(dir) => Some(
                ArtifactCache::new(&dir, &engine)
                    .map_err(|e| anyhow::anyhow!("module cache {}: {e}", dir.display()))?,
            ),
            None => None,
        };

        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("movex-compile".into()).spawn(move || {
            lower_priority();
            for job in rx {
                // A panic in a job (a parser bug on hostile input) must not
                // take the compile thread down with it: the job's caller sees
                // its reply channel close and reports the module as refused.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        })?;

        let ticker = Ticker::start(engine.clone(), limits.epoch_tick)?;

        Ok(Arc::new(Runtime { engine, linker, limits, cache, compile_jobs: Mutex::new(tx), ticker }))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Run `f` on the compile thread and wait for it; `None` if it panicked.
    fn on_compile_thread<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> Option<R> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.compile_jobs.lock().expect("compile queue lock").send(job).expect("compile thread is alive");
        rx.recv().ok()
    }

    /// Check and compile a module (a component, or a core module built with
    /// the guest SDK, which is componentized first), and cache its artifact.
    /// Never instantiates, so never exercises: for warming the cache with a
    /// module known to be good. Loading goes through the registry, which
    /// caches only what its exercise accepts.
    pub fn prepare(&self, bytes: &[u8]) -> Result<Compiled, LoadError> {
        let mut prepared = self.prepare_uncached(bytes)?;
        let artifact = prepared.artifact.take();
        self.cache_artifact(&prepared.hash, artifact);
        Ok(prepared)
    }

    /// Cache a compiled artifact under the module's content hash (nothing
    /// when there is no cache or the artifact came from it). A module
    /// refused later must never reach this: the cache would keep it.
    pub(crate) fn cache_artifact(&self, hash: &str, artifact: Option<Vec<u8>>) {
        if let (Some(cache), Some(artifact)) = (&self.cache, artifact)
            && let Err(e) = cache.store(hash, &artifact)
        {
            tracing::warn!(dir = %cache.dir().display(), "could not cache a compiled module: {e}");
        }
    }

    /// As [`Runtime::prepare`], holding the artifact in the `Compiled` module instead
    /// of caching it.
    pub(crate) fn prepare_uncached(&self, bytes: &[u8]) -> Result<Compiled, LoadError> {
        let started = Instant::now();
        let hash = content_hash(bytes);
        let is_component = wasmparser::Parser::is_component(bytes);
        if !is_component && !wasmparser::Parser::is_core_wasm(bytes) {
            let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
            return Err(LoadError::NotWasm {
                detail: format!("{} bytes starting {}; a wasm file starts 00 61 73 6d", bytes.len(), head.join(" ")),
            });
        }

        // A core module's imports are checked before anything is compiled: a
        // refused module costs no compile and leaves nothing in the cache.
        if !is_component {
            check_imports(&core_imports(bytes)?)?;
        }

        let cached = self.cache.as_ref().map(|c| c.path_for(&hash)).filter(|p| p.is_file());
        let mut component = None;
        if let Some(path) = &cached {
            // Read, not `deserialize_file`: that one mmaps the file, and a file
            // truncated in place while a module uses it kills the process with
            // SIGBUS. A copy costs ~0.1 ms and the host never crashes.
            // SAFETY: only artifacts this cache wrote are in it, keyed by the
            // engine's compatibility hash, so they match this engine.
            match std::fs::read(path).map_err(wasmtime::Error::new).and_then(|a| unsafe { Component::deserialize(&self.engine, a) }) {
                Ok(c) => component = Some(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "discarding unreadable cached artifact: {e:#}");
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        let cache_hit = component.is_some();
        let (component, artifact) = match component {
            Some(c) => (c, None),
            None => {
                let (engine, bytes, cache) = (self.engine.clone(), bytes.to_vec(), self.cache.is_some());
                self.on_compile_thread(move || compile(&engine, &bytes, is_component, cache))
                    .unwrap_or_else(|| Err(LoadError::Compile {
                        detail: "the compiler crashed on this input (see the log); the file is malformed".into(),
                    }))?
            }
        };
        let load_time = started.elapsed();

        let imports: Vec<String> =
            component.component_type().imports(&self.engine).map(|(name, _)| name.to_owned()).collect();
        check_imports(&imports)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(PluginPre::new)
            .map_err(|e| LoadError::WrongInterface { detail: format!("{e:#}") })?;

        Ok(Compiled { pre, hash, size: bytes.len(), cache_hit, load_time, imports, artifact })
    }
}

/// Nice 10 for the compile thread: validation workers (nice 0) win the CPU,
/// but an upload during a busy validation still compiles in seconds, which
/// nice 19 (about 1.5% of a core against one busy thread) would not.
/// Best effort: a lower priority is a courtesy, not a requirement.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread; no memory is shared.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

/// Refuse any import outside the allowlist, naming the first.
fn check_imports(imports: &[String]) -> Result<(), LoadError> {
    let forbidden: Vec<&String> = imports.iter().filter(|i| !ALLOWED_IMPORTS.contains(&i.as_str())).collect();
    let Some(first) = forbidden.first() else { return Ok(()) };
    let more = match forbidden.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    Err(LoadError::ForbiddenImport { import: format!("{first}{more}"), allowed: ALLOWED_IMPORTS.join(", ") })
}

/// A core module's imports, by import module name (`env`,
/// `wasi_snapshot_preview1`, `movex:plugin/host@0.3.0`), each named
/// `module::field` when it is refused.
fn core_imports(bytes: &[u8]) -> Result<Vec<String>, LoadError> {
    let invalid = |e: wasmparser::BinaryReaderError| LoadError::NotWasm { detail: format!("invalid wasm: {e}") };
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let wasmparser::Payload::ImportSection(section) = payload.map_err(invalid)? {
            for import in section.into_imports() {
                let import = import.map_err(invalid)?;
                if ALLOWED_IMPORTS.contains(&import.module) {
                    names.push(import.module.to_owned());
                } else {
                    names.push(format!("{}::{}", import.module, import.name));
                }
            }
        }
    }
    Ok(names)
}

/// Validate, componentize (core modules) and compile. With a cache, also
/// serialize the artifact; the caller stores it once the module is accepted.
fn compile(engine: &Engine, bytes: &[u8], is_component: bool, cache: bool) -> Result<(Component, Option<Vec<u8>>), LoadError> {
    // Validate first: the componentizer and compiler then only see well-formed
    // wasm, and a malformed file gets the validator's precise message.
    let mut validator = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all());
    validator.validate_all(bytes).map_err(|e| LoadError::NotWasm { detail: format!("invalid wasm: {e}") })?;
    let componentized;
    let component_bytes = if is_component {
        bytes
    } else {
        componentized = wit_component::ComponentEncoder::default()
            .module(bytes)
            .and_then(|e| e.validate(true).encode())
            .map_err(|e| LoadError::NotAModule { detail: format!("{e:#}") })?;
        &componentized[..]
    };
    let compile_err = |e: wasmtime::Error| LoadError::Compile { detail: format!("{e:#}") };
    if !cache {
        return Ok((Component::new(engine, component_bytes).map_err(compile_err)?, None));
    }
    let artifact = engine.precompile_component(component_bytes).map_err(compile_err)?;
    // SAFETY: the artifact was produced just now by this engine.
    let component = unsafe { Component::deserialize(engine, &artifact) }.map_err(compile_err)?;
    Ok((component, Some(artifact)))
}
