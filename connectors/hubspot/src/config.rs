//! How handoff reaches one HubSpot portal: the `hubspot:` section of the daemon's config.
//!
//! Defaults follow HubSpot's published limits for private apps on Professional
//! (`vendor-specs/NOTES.md` §1.2): 190 requests per 10 s per app, and CRM search's own budget
//! of 4 requests per second per token (search is exempt from the 10-second bucket).

use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The HubSpot connector's settings.
///
/// Deserialised from YAML/JSON with unknown fields refused, e.g.
///
/// ```yaml
/// base_url: https://api.hubapi.com/
/// token: pat-na1-...            # private-app access token
/// client_secret: ...            # the app's client secret (webhook v3 signatures)
/// properties:
///   contacts: [email, firstname, lastname, lifecyclestage, hubspot_owner_id]
/// ```
///
/// Secrets are [`SecretString`]s: `Debug` prints them redacted.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpotConfig {
    /// API root; `https://api.hubapi.com/` in production, the emulator's URL in tests.
    #[serde(default = "default_base_url")]
    pub base_url: url::Url,
    /// Private-app access token, sent as `Authorization: Bearer …`.
    pub token: SecretString,
    /// The app's client secret, the key of webhook v3 signatures (`X-HubSpot-Signature-v3`).
    pub client_secret: SecretString,
    /// Requests allowed per rate window (default 190: private app, Professional).
    #[serde(default = "default_requests_per_window")]
    pub requests_per_window: u32,
    /// The rate window, in milliseconds (default 10,000: HubSpot's ten-second bucket).
    #[serde(default = "default_rate_window_ms")]
    pub rate_window_ms: u64,
    /// CRM search requests allowed per second (default 4); search has its own budget.
    #[serde(default = "default_search_per_second")]
    pub search_requests_per_second: u32,
    /// How far before the stored cursor each poll re-reads, in milliseconds (default 60,000),
    /// so records whose modification became searchable late are not skipped.
    #[serde(default = "default_overlap_ms")]
    pub poll_overlap_ms: i64,
    /// The most changes one poll returns before answering `more: true` (default 1,000).
    #[serde(default = "default_max_changes")]
    pub max_changes_per_poll: usize,
    /// Retries after the first attempt for a failed call (429, 5xx, timeouts; default 5).
    #[serde(default = "default_max_retries")]
    pub max_retries: usize,
    /// Per-request timeout, in milliseconds (default 30,000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Properties to read per object type (`contacts`, `companies`, `deals`, `tickets`), in
    /// addition to `hs_object_id`, `createdate` and the modified-date property, which the feed
    /// always reads. A type not listed reads HubSpot's default properties plus those.
    #[serde(default)]
    pub properties: BTreeMap<String, Vec<String>>,
}

fn default_base_url() -> url::Url {
    url::Url::parse("https://api.hubapi.com/").expect("static URL parses")
}
fn default_requests_per_window() -> u32 {
    190
}
fn default_rate_window_ms() -> u64 {
    10_000
}
fn default_search_per_second() -> u32 {
    4
}
fn default_overlap_ms() -> i64 {
    60_000
}
fn default_max_changes() -> usize {
    1_000
}
fn default_max_retries() -> usize {
    5
}
fn default_timeout_ms() -> u64 {
    30_000
}

impl HubSpotConfig {
    /// A config with every default, for `base_url` and the two secrets.
    pub fn new(base_url: url::Url, token: SecretString, client_secret: SecretString) -> Self {
        Self {
            base_url,
            token,
            client_secret,
            requests_per_window: default_requests_per_window(),
            rate_window_ms: default_rate_window_ms(),
            search_requests_per_second: default_search_per_second(),
            poll_overlap_ms: default_overlap_ms(),
            max_changes_per_poll: default_max_changes(),
            max_retries: default_max_retries(),
            timeout_ms: default_timeout_ms(),
            properties: BTreeMap::new(),
        }
    }

    /// The properties configured for `object_type` (empty when none are).
    pub fn properties_for(&self, object_type: &str) -> &[String] {
        self.properties
            .get(object_type)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_unknown_fields_are_refused() {
        let cfg: HubSpotConfig = serde_json::from_value(serde_json::json!({
            "token": "pat-na1-secret-token",
            "client_secret": "shh-client-secret",
            "properties": {"contacts": ["email"]}
        }))
        .unwrap();
        assert_eq!(cfg.requests_per_window, 190);
        assert_eq!(cfg.rate_window_ms, 10_000);
        assert_eq!(cfg.search_requests_per_second, 4);
        assert_eq!(cfg.poll_overlap_ms, 60_000);
        assert_eq!(cfg.base_url.as_str(), "https://api.hubapi.com/");
        assert_eq!(cfg.properties_for("contacts"), ["email".to_string()]);
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("secret-token") && !debug.contains("shh-client"));

        let err = serde_json::from_value::<HubSpotConfig>(serde_json::json!({
            "token": "t", "client_secret": "s", "api_key": "x"
        }))
        .unwrap_err();
        assert!(err.to_string().contains("api_key"), "{err}");
    }
}
