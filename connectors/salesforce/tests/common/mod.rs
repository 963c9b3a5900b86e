//! Shared test harness: an emulated org on 127.0.0.1:0 and a connector configured for it.
#![allow(dead_code)]

use handoff_salesforce::emulator::{EmulatorConfig, SalesforceEmulator, TEST_PRIVATE_KEY_PEM};
use handoff_salesforce::{ClientSettings, Grant, SalesforceClient, SalesforceCrm, SalesforceFeed};
use secrecy::SecretString;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A running emulator; stops when dropped.
pub struct Harness {
    pub emu: SalesforceEmulator,
    pub base_url: url::Url,
    pub shutdown: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Harness {
    pub async fn start(config: EmulatorConfig) -> Self {
        let emu = SalesforceEmulator::new(config);
        let shutdown = CancellationToken::new();
        let running = emu
            .start("127.0.0.1:0".parse().unwrap(), shutdown.clone())
            .await
            .expect("emulator starts");
        Self {
            emu,
            base_url: running.base_url(),
            shutdown,
        }
    }

    pub async fn default() -> Self {
        Self::start(EmulatorConfig::default()).await
    }

    /// Client settings for this org, with budgets loose enough for tests.
    pub fn settings(&self) -> ClientSettings {
        let mut s = ClientSettings::new(self.base_url.clone());
        s.requests_per_second = 10_000;
        s.max_retries = 2;
        s
    }

    /// The audience the emulator accepts for itself: its base URL without the slash.
    pub fn audience(&self) -> String {
        self.base_url.as_str().trim_end_matches('/').to_string()
    }

    /// A JWT grant with `key_pem` for `username`.
    pub fn jwt(&self, key_pem: &str, username: &str) -> Grant {
        Grant::jwt(
            SecretString::from(self.emu.config().client_id.clone()),
            username,
            &SecretString::from(key_pem.to_string()),
            self.audience(),
        )
        .expect("the key parses")
    }

    /// The JWT grant of the integration user with the trusted test key.
    pub fn grant(&self) -> Grant {
        self.jwt(TEST_PRIVATE_KEY_PEM, &self.emu.config().username.clone())
    }

    pub fn client_with(&self, settings: &ClientSettings) -> SalesforceClient {
        SalesforceClient::new(settings, self.grant()).expect("client builds")
    }

    pub fn client(&self) -> SalesforceClient {
        self.client_with(&self.settings())
    }

    pub fn crm(&self) -> SalesforceCrm {
        SalesforceCrm::new(
            self.client(),
            BTreeMap::new(),
            None,
            "Handoff_Idempotency_Key__c",
        )
    }

    pub fn feed(&self, overlap: Duration) -> SalesforceFeed {
        SalesforceFeed::new(
            self.client(),
            BTreeMap::new(),
            overlap.as_millis() as i64,
            2000,
        )
    }

    /// An access token fetched outside the connector (refresh-token grant), for raw calls.
    pub async fn raw_token(&self) -> String {
        let cfg = self.emu.config();
        let answer: Value = reqwest::Client::new()
            .post(format!("{}services/oauth2/token", self.base_url))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", cfg.client_id.as_str()),
                (
                    "client_secret",
                    cfg.client_secret.as_deref().unwrap_or_default(),
                ),
                ("refresh_token", cfg.refresh_token.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"].as_str().unwrap().to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path.trim_start_matches('/'))
    }
}

/// A JSON object literal as a field map.
pub fn fields(v: Value) -> Map<String, Value> {
    v.as_object().expect("object literal").clone()
}

/// A minimal valid Lead.
pub fn lead(last: &str, owner: &str, status: &str) -> Map<String, Value> {
    fields(serde_json::json!({
        "LastName": last, "Company": format!("{last} Inc"), "Status": status,
        "Email": format!("{}@example.com", last.to_lowercase()), "OwnerId": owner
    }))
}
