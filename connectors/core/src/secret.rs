//! Secrets in config files: a config names where a secret is (an environment variable or a
//! file, e.g. a systemd `LoadCredential=` credential), never the secret itself.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

/// Where a secret comes from: exactly one of `env` or `file`.
///
/// ```yaml
/// token: { env: HUBSPOT_TOKEN }
/// private_key: { file: /run/credentials/handoff.service/salesforce-key.pem }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Name of an environment variable holding the secret.
    pub env: Option<String>,
    /// Path of a file holding the secret (trailing whitespace trimmed), e.g.
    /// `/run/credentials/handoff.service/hubspot-token` under systemd `LoadCredential=`.
    pub file: Option<PathBuf>,
}

/// Why a secret could not be read. The message names the variable or file, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SecretError(pub String);

impl SecretRef {
    /// A reference to the environment variable `var`.
    pub fn env(var: impl Into<String>) -> Self {
        Self {
            env: Some(var.into()),
            file: None,
        }
    }

    /// A reference to the file at `path`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            env: None,
            file: Some(path.into()),
        }
    }

    /// Reads the secret.
    ///
    /// Errors: the variable is unset, the file cannot be read, or both or neither of `env` and
    /// `file` are given.
    pub fn resolve(&self) -> Result<SecretString, SecretError> {
        match (&self.env, &self.file) {
            (Some(var), None) => std::env::var(var)
                .map(SecretString::from)
                .map_err(|_| SecretError(format!("environment variable {var} is not set"))),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map(|s| SecretString::from(s.trim_end().to_string()))
                .map_err(|e| SecretError(format!("cannot read {}: {e}", file.display()))),
            _ => Err(SecretError("give exactly one of `env` or `file`".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_file_secret_loses_its_trailing_newline_and_errors_name_no_value() {
        let dir = std::env::temp_dir().join(format!("handoff-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "s3cret-value\n").unwrap();
        let got = SecretRef::file(&path).resolve().unwrap();
        assert_eq!(got.expose_secret(), "s3cret-value");
        let missing = SecretRef::file(dir.join("nope")).resolve().unwrap_err();
        assert!(missing.0.contains("nope") && !missing.0.contains("s3cret"));
        let both = SecretRef {
            env: Some("X".into()),
            file: Some(path),
        };
        assert!(both.resolve().is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
