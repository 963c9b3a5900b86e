//! `SlackConfig`: where the Slack Web API is, the bot's credentials and its request budget.
//!
//! Read from handoff's YAML config (`slack:` section) with serde; unknown keys are refused so a
//! typo never silently falls back to a default. Secrets are [`SecretString`]s: `Debug` prints
//! them as `[REDACTED]` and they never reach logs.

use handoff_connector::{ClientConfig, ConnectorError};
use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;

/// The Slack API root handoff talks to by default (every Web API method is `<base>/<method>`).
pub const DEFAULT_BASE_URL: &str = "https://slack.com/api/";

/// How to reach one Slack workspace as handoff's bot.
///
/// ```yaml
/// slack:
///   bot_token: ${SLACK_BOT_TOKEN}      # xoxb-…
///   signing_secret: ${SLACK_SIGNING_SECRET}
///   requests_per_minute: 50
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Web API root, ending in `/api/`. Default `https://slack.com/api/`; point it at an
    /// emulator's `http://127.0.0.1:PORT/api/` in tests and the sandbox.
    #[serde(default = "default_base_url")]
    pub base_url: url::Url,
    /// Bot user OAuth token (`xoxb-…`), sent as `Authorization: Bearer`. Scopes handoff needs:
    /// `users:read.email`, `im:write`, `chat:write`, `im:history`.
    pub bot_token: SecretString,
    /// The app's signing secret, for verifying interactivity requests (`X-Slack-Signature`,
    /// <https://api.slack.com/docs/verifying-requests-from-slack>).
    pub signing_secret: SecretString,
    /// Requests per minute handoff allows itself across all methods. Default 50: Slack's Tier 3
    /// (`users.lookupByEmail`, `conversations.open`, `conversations.history`, `chat.update`),
    /// the tightest tier handoff uses (<https://api.slack.com/docs/rate-limits>).
    #[serde(default = "default_requests_per_minute")]
    pub requests_per_minute: u32,
    /// Retries after the first attempt for 429s, 5xx, timeouts and retryable `ok:false` codes.
    /// Default 5.
    #[serde(default = "default_max_retries")]
    pub max_retries: usize,
    /// Per-request timeout in seconds. Default 30.
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
    /// How far (seconds) an interactivity request's `X-Slack-Request-Timestamp` may be from now
    /// before it is refused as a replay. Default 300 (Slack's recommended 5 minutes).
    #[serde(default = "default_signature_window_s")]
    pub signature_window_s: i64,
}

fn default_base_url() -> url::Url {
    DEFAULT_BASE_URL
        .parse()
        .expect("default Slack base URL parses")
}
fn default_requests_per_minute() -> u32 {
    50
}
fn default_max_retries() -> usize {
    5
}
fn default_timeout_s() -> u64 {
    30
}
fn default_signature_window_s() -> i64 {
    crate::signature::DEFAULT_WINDOW_S
}

impl SlackConfig {
    /// A config with every default, for the given credentials.
    pub fn new(bot_token: SecretString, signing_secret: SecretString) -> Self {
        Self {
            base_url: default_base_url(),
            bot_token,
            signing_secret,
            requests_per_minute: default_requests_per_minute(),
            max_retries: default_max_retries(),
            timeout_s: default_timeout_s(),
            signature_window_s: default_signature_window_s(),
        }
    }

    /// The same config pointed at another API root (an emulator's `…/api/`).
    pub fn with_base_url(mut self, base_url: url::Url) -> Self {
        self.base_url = base_url;
        self
    }

    /// The [`ClientConfig`] for handoff's paced, retrying client. Errors with
    /// [`ConnectorError::Config`] when the base URL cannot take relative method names (it must
    /// end in `/`).
    pub fn client_config(&self) -> Result<ClientConfig, ConnectorError> {
        if !self.base_url.path().ends_with('/') {
            return Err(ConnectorError::Config {
                vendor: crate::VENDOR,
                reason: format!("base_url {} must end with '/'", self.base_url),
            });
        }
        let mut cfg = ClientConfig::new(self.base_url.clone(), self.bot_token.clone());
        cfg.requests_per_window = self.requests_per_minute;
        cfg.window = Duration::from_secs(60);
        cfg.max_retries = self.max_retries;
        cfg.timeout = Duration::from_secs(self.timeout_s);
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in_and_secrets_stay_hidden() {
        let cfg: SlackConfig = serde_json::from_str(
            r#"{"bot_token":"xoxb-top-secret","signing_secret":"shh-signing"}"#,
        )
        .unwrap();
        assert_eq!(cfg.base_url.as_str(), DEFAULT_BASE_URL);
        assert_eq!(cfg.requests_per_minute, 50);
        assert_eq!(cfg.signature_window_s, 300);
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("top-secret") && !debug.contains("shh-signing"));
        let client = cfg.client_config().unwrap();
        assert_eq!(client.window, Duration::from_secs(60));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<SlackConfig>(
            r#"{"bot_token":"x","signing_secret":"y","bot_tokn":"z"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("bot_tokn"));
    }

    #[test]
    fn base_url_without_trailing_slash_is_a_config_error() {
        let cfg = SlackConfig::new("x".into(), "y".into())
            .with_base_url("http://127.0.0.1:1/api".parse().unwrap());
        assert!(matches!(
            cfg.client_config(),
            Err(ConnectorError::Config { .. })
        ));
    }
}
