//! How handoff reaches one Asana organization: API root, personal access token, the workspace and
//! team onboarding projects live in, the rate budget and how long to wait for instantiation jobs.
//!
//! Unknown keys are refused when deserialising, so a typo never silently falls back to a
//! default.

use handoff_connector::{ClientConfig, ConnectorError};
use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;

/// Asana's API root (`servers` in `asana_oas.yaml`), with the trailing slash relative paths need.
pub const DEFAULT_BASE_URL: &str = "https://app.asana.com/api/1.0/";

/// Requests per minute per token on paid Asana domains (NOTES §4.2; free domains get 150).
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 1_500;

/// Settings for [`crate::AsanaClient`].
///
/// Deserialisable on its own (e.g. from YAML); the daemon may instead build it with
/// [`AsanaConfig::new`] from its own config section and secret store.
///
/// ```yaml
/// personal_access_token: "2/1200…"     # a secret: prefer injecting it
/// workspace_gid: "1200000000000001"
/// team_gid: "1200000000000002"
/// requests_per_minute: 1500            # optional
/// job_poll_interval_ms: 500            # optional
/// job_timeout_s: 120                   # optional
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsanaConfig {
    /// API root; default [`DEFAULT_BASE_URL`]. Point it at an emulator's `http://127.0.0.1:PORT/`
    /// in tests and the sandbox. A missing trailing slash is added.
    #[serde(default = "default_base_url")]
    pub base_url: url::Url,
    /// Personal access token (or OAuth access token), sent as `Authorization: Bearer`. Never
    /// printed by `Debug`.
    pub personal_access_token: SecretString,
    /// Workspace (organization) gid the onboarding projects belong to.
    pub workspace_gid: String,
    /// Team gid onboarding projects are instantiated in and looked up by name.
    pub team_gid: String,
    /// Request budget per minute for this token (Asana: 1,500 paid, 150 free).
    #[serde(default = "default_requests_per_minute")]
    pub requests_per_minute: u32,
    /// Delay between two `GET /jobs/{gid}` polls while an instantiation runs, in milliseconds.
    #[serde(default = "default_job_poll_interval_ms")]
    pub job_poll_interval_ms: u64,
    /// How long to wait for an instantiation job to succeed before giving up, in seconds.
    #[serde(default = "default_job_timeout_s")]
    pub job_timeout_s: u64,
}

fn default_base_url() -> url::Url {
    DEFAULT_BASE_URL.parse().expect("default Asana URL parses")
}
fn default_requests_per_minute() -> u32 {
    DEFAULT_REQUESTS_PER_MINUTE
}
fn default_job_poll_interval_ms() -> u64 {
    500
}
fn default_job_timeout_s() -> u64 {
    120
}

impl std::fmt::Debug for AsanaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsanaConfig")
            .field("base_url", &self.base_url.as_str())
            .field("personal_access_token", &"[redacted]")
            .field("workspace_gid", &self.workspace_gid)
            .field("team_gid", &self.team_gid)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("job_poll_interval_ms", &self.job_poll_interval_ms)
            .field("job_timeout_s", &self.job_timeout_s)
            .finish()
    }
}

impl AsanaConfig {
    /// A config with every optional setting at its default.
    pub fn new(
        base_url: url::Url,
        personal_access_token: SecretString,
        workspace_gid: impl Into<String>,
        team_gid: impl Into<String>,
    ) -> Self {
        Self {
            base_url,
            personal_access_token,
            workspace_gid: workspace_gid.into(),
            team_gid: team_gid.into(),
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            job_poll_interval_ms: default_job_poll_interval_ms(),
            job_timeout_s: default_job_timeout_s(),
        }
    }

    /// Delay between job polls.
    pub fn job_poll_interval(&self) -> Duration {
        Duration::from_millis(self.job_poll_interval_ms.max(1))
    }

    /// Longest wait for one instantiation job.
    pub fn job_timeout(&self) -> Duration {
        Duration::from_secs(self.job_timeout_s)
    }

    /// The [`ClientConfig`] for the shared paced, retrying client: the budget per 60 s window
    /// and the core's retry defaults. Errors with [`ConnectorError::Config`] when the base URL
    /// cannot carry a path (e.g. `mailto:`).
    pub fn client_config(&self) -> Result<ClientConfig, ConnectorError> {
        let mut base = self.base_url.clone();
        if base.cannot_be_a_base() {
            return Err(ConnectorError::Config {
                vendor: crate::VENDOR,
                reason: format!("base_url {base} cannot hold API paths"),
            });
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut config = ClientConfig::new(base, self.personal_access_token.clone());
        config.requests_per_window = self.requests_per_minute;
        config.window = Duration::from_secs(60);
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in_and_unknown_keys_are_refused() {
        let cfg: AsanaConfig = serde_json::from_value(serde_json::json!({
            "personal_access_token": "2/secret-pat",
            "workspace_gid": "1",
            "team_gid": "2",
        }))
        .unwrap();
        assert_eq!(cfg.base_url.as_str(), DEFAULT_BASE_URL);
        assert_eq!(cfg.requests_per_minute, 1_500);
        assert_eq!(cfg.job_timeout(), Duration::from_secs(120));
        assert!(!format!("{cfg:?}").contains("secret-pat"));

        let typo = serde_json::from_value::<AsanaConfig>(serde_json::json!({
            "personal_access_token": "x", "workspace_gid": "1", "team_gid": "2", "team": "3",
        }));
        assert!(typo.is_err());
    }

    #[test]
    fn base_url_gains_a_trailing_slash() {
        let cfg = AsanaConfig::new(
            "https://app.asana.com/api/1.0".parse().unwrap(),
            SecretString::from("t"),
            "1",
            "2",
        );
        let client = cfg.client_config().unwrap();
        assert_eq!(client.base_url.as_str(), "https://app.asana.com/api/1.0/");
        assert_eq!(client.window, Duration::from_secs(60));
    }
}
