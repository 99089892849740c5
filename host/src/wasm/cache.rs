//! Precompiled artifacts on disk, keyed by the module's content hash and the
//! engine's compatibility hash, so a restart deserializes (sub-millisecond)
//! instead of compiling (up to seconds). Only artifacts this cache wrote are
//! ever deserialized: `Component::deserialize*` trusts its input.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use wasmtime::Engine;

#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    /// Engine compatibility (wasmtime version, target, settings) plus movex's
    /// own version, which fixes the componentizer and the contract.
    engine_key: String,
}

/// A `Hasher` over SHA-256, so `precompile_compatibility_hash` gives the same
/// key in every process (std's `DefaultHasher` is seeded per process).
struct StableHasher(Sha256);

impl Hasher for StableHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        let d = self.0.clone().finalize();
        u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
    }
}

impl ArtifactCache {
    pub fn new(dir: impl Into<PathBuf>, engine: &Engine) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        let mut h = StableHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        Ok(Self { dir, engine_key: format!("{:016x}", h.finish()) })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the artifact for a module with this content hash lives.
    pub fn path_for(&self, content_hash: &str) -> PathBuf {
        self.dir.join(format!("{content_hash}-{}.cwasm", self.engine_key))
    }

    /// Write atomically (temp file + rename) so a crash never leaves a torn
    /// artifact that a later start would trust.
    pub fn store(&self, content_hash: &str, artifact: &[u8]) -> std::io::Result<PathBuf> {
        let path = self.path_for(content_hash);
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(artifact)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(path)
    }
}

/// Hex SHA-256 of a module's bytes: its identity in the cache and in /health.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
