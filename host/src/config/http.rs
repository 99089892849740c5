//! `[http]`: the control plane's address, its bearer token (from the
//! environment, a file or the config) and the largest module upload.

use serde::Deserialize;
use std::path::PathBuf;

/// `[http]`: the control plane.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// Loopback by default; another address needs a token.
    pub listen: String,
    /// Bearer token for mutating routes, module upload and the routes that
    /// answer with row data (`/discrepancies`, ...). `MOVEX_TOKEN`
    /// overrides it; `token_file` reads it from a file.
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    /// Largest module upload, in bytes.
    pub max_upload_bytes: usize,
}

impl Default for Http {
    fn default() -> Self {
        Http { listen: "127.0.0.1:8080".into(), token: None, token_file: None, max_upload_bytes: 16 << 20 }
    }
}

impl Http {
    /// The token in force: `MOVEX_TOKEN`, else `token_file`, else `token`.
    pub fn resolved_token(&self) -> Result<Option<String>, String> {
        if let Ok(t) = std::env::var("MOVEX_TOKEN")
            && !t.trim().is_empty()
        {
            return Ok(Some(t.trim().to_owned()));
        }
        if let Some(f) = &self.token_file {
            let t = std::fs::read_to_string(f).map_err(|e| format!("[http] token_file {}: {e}", f.display()))?;
            return Ok(Some(t.trim().to_owned()).filter(|t| !t.is_empty()));
        }
        Ok(self.token.clone().filter(|t| !t.is_empty()))
    }
}
