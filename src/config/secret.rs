//! Secrets in the config: the file names where a secret is (an environment variable or a file,
//! e.g. a systemd `LoadCredential=` credential), never the secret itself.

use super::ConfigError;
use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where a secret comes from. Exactly one of `env` or `file`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Name of an environment variable holding the secret.
    pub env: Option<String>,
    /// Path of a file holding the secret (trailing newline trimmed), e.g.
    /// `/run/credentials/handoff.service/hubspot-token` under systemd `LoadCredential=`.
    pub file: Option<PathBuf>,
}

impl SecretRef {
    /// Reads the secret. Errors name the variable or file, never the value.
    pub fn resolve(&self, config: &Path, field: &str) -> Result<SecretString, ConfigError> {
        let err = |message: String| ConfigError::Secret {
            path: config.to_path_buf(),
            field: field.to_string(),
            message,
        };
        match (&self.env, &self.file) {
            (Some(var), None) => std::env::var(var)
                .map(SecretString::from)
                .map_err(|_| err(format!("environment variable {var} is not set"))),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map(|s| SecretString::from(s.trim_end().to_string()))
                .map_err(|e| err(format!("cannot read {}: {e}", file.display()))),
            _ => Err(err("give exactly one of `env` or `file`".into())),
        }
    }
}
