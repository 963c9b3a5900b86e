//! Shared set-up for the Slack connector's integration tests: an emulator on 127.0.0.1:0 and a
//! client pointed at it with short retry delays.
#![allow(dead_code)]

use handoff_connector::emulator::Running;
use handoff_connector::{ClientConfig, VendorClient};
use handoff_slack::emulator::api_base_url;
use handoff_slack::{EmulatorConfig, SlackClient, SlackEmulator};
use secrecy::SecretString;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "xoxb-test-token";
pub const SIGNING_SECRET: &str = "test-signing-secret";

pub struct Env {
    pub emulator: SlackEmulator,
    pub running: Running,
    pub shutdown: CancellationToken,
    pub client: SlackClient,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn emulator_config() -> EmulatorConfig {
    EmulatorConfig {
        bot_token: SecretString::from(TOKEN),
        signing_secret: SecretString::from(SIGNING_SECRET),
        team_id: "T0TEST0001".into(),
        rate_limits: true,
        interactivity_url: None,
    }
}

/// A client for `base` with `token`, 3 retries from 10 ms.
pub fn client(base: url::Url, token: &str) -> SlackClient {
    let mut cfg = ClientConfig::new(base, SecretString::from(token));
    cfg.requests_per_window = 1000;
    cfg.window = Duration::from_secs(1);
    cfg.max_retries = 3;
    cfg.min_delay = Duration::from_millis(10);
    cfg.max_delay = Duration::from_millis(50);
    cfg.timeout = Duration::from_secs(5);
    SlackClient::from_vendor_client(VendorClient::new("slack", cfg).unwrap())
}

pub async fn start(config: EmulatorConfig) -> Env {
    let emulator = SlackEmulator::new(config);
    let shutdown = CancellationToken::new();
    let running = emulator
        .start("127.0.0.1:0".parse().unwrap(), shutdown.clone())
        .await
        .unwrap();
    let client = client(api_base_url(&running), TOKEN);
    Env {
        emulator,
        running,
        shutdown,
        client,
    }
}

impl Env {
    pub fn api(&self, method: &str) -> url::Url {
        api_base_url(&self.running).join(method).unwrap()
    }
}
