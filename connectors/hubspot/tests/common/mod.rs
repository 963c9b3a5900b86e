//! Shared test harness: an emulator on 127.0.0.1:0 and a client configured for it.
#![allow(dead_code)]

use handoff_hubspot::emulator::{EmulatorConfig, HubSpotEmulator};
use handoff_hubspot::{HubSpotClient, HubSpotConfig};
use secrecy::SecretString;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

/// A running emulator; stops when dropped.
pub struct Harness {
    pub emu: HubSpotEmulator,
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
        let emu = HubSpotEmulator::new(config);
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

    /// An emulator without rate limits (bulk tests).
    pub async fn unlimited() -> Self {
        Self::start(EmulatorConfig {
            rate_limits: false,
            ..EmulatorConfig::default()
        })
        .await
    }

    /// Connector config pointing at this emulator, with budgets loose enough for tests.
    pub fn config(&self) -> HubSpotConfig {
        let mut cfg = HubSpotConfig::new(
            self.base_url.clone(),
            SecretString::from(self.emu.config().token.clone()),
            SecretString::from(self.emu.config().client_secret.clone()),
        );
        cfg.search_requests_per_second = 1_000;
        cfg.requests_per_window = 10_000;
        cfg
    }

    pub fn client(&self) -> HubSpotClient {
        HubSpotClient::new(&self.config()).expect("client builds")
    }

    /// `GET`/`POST` with the emulator's token, outside the connector client.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::new()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path.trim_start_matches('/'))
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.emu.config().token)
    }
}

/// A JSON object literal as a property map.
pub fn props(v: Value) -> Map<String, Value> {
    v.as_object().expect("object literal").clone()
}

/// Webhook events an in-test receiver got, in arrival order.
pub type Events = std::sync::Arc<std::sync::Mutex<Vec<Value>>>;

/// An emulator delivering webhooks to an in-test receiver; returns the harness and the events.
pub async fn with_receiver() -> (Harness, Events) {
    let events: Events = Events::default();
    let router = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |axum::extract::State(ev): axum::extract::State<Events>,
                 axum::Json(batch): axum::Json<Vec<Value>>| async move {
                    ev.lock().unwrap().extend(batch);
                    axum::http::StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(events.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let harness = Harness::start(EmulatorConfig {
        rate_limits: false,
        webhook_target: Some(format!("http://{addr}/hook").parse().unwrap()),
        ..EmulatorConfig::default()
    })
    .await;
    (harness, events)
}
