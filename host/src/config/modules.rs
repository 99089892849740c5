//! `[modules]`: where the wasm modules (comparators, taggers, policies) are
//! loaded from at start, where their compiled form is cached, and the
//! settings each is given by name.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Modules {
    /// `.wasm` files loaded (warm-up) at start.
    pub dir: PathBuf,
    /// Where compiled modules are cached; defaults to `<dir>/.cache`.
    pub cache_dir: Option<PathBuf>,
    /// Settings per module name, given when it is bound (and exercised).
    pub settings: BTreeMap<String, BTreeMap<String, String>>,
}

impl Default for Modules {
    fn default() -> Self {
        Modules { dir: "modules".into(), cache_dir: None, settings: BTreeMap::new() }
    }
}
