//! `SlackEmulator`: an axum emulator of the Slack Web API methods handoff calls, plus emulated
//! button clicks, for tests, benchmarks and `handoff sandbox`.
//!
//! Serves `GET|POST /api/<method>` for `auth.test`, `users.lookupByEmail`,
//! `conversations.open`, `chat.postMessage`, `chat.update` and `conversations.history` with
//! Slack's JSON shapes, `ok:false` error codes, cursor paging and per-method rate limits (429 +
//! `Retry-After`), plus signed interactions to the app: [`SlackEmulator::click`] (a button) and
//! [`SlackEmulator::select_option`] (a `static_select` choice). Point a [`crate::SlackConfig`]
//! at `<running.base_url()>api/`
//! ([`api_base_url`]).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use handoff_slack::{EmulatorConfig, SlackEmulator};
//! let emulator = SlackEmulator::new(EmulatorConfig::default());
//! let rep = emulator.add_user("ana@example.com", "Ana Rep");
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let running = emulator.start("127.0.0.1:0".parse().unwrap(), shutdown.clone()).await?;
//! let base = handoff_slack::emulator::api_base_url(&running); // http://127.0.0.1:PORT/api/
//! # let _ = (rep, base); Ok(()) }
//! ```

mod click;
mod methods;
mod params;
pub mod rate;
mod server;
mod workspace;

pub use server::METHODS;

use crate::signature;
use handoff_connector::emulator::{serve, write_state_file, Faults, Running};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;
use workspace::Workspace;

/// How the emulated workspace is set up.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// The only bot token the emulator accepts (`Authorization: Bearer …`).
    pub bot_token: SecretString,
    /// The app's signing secret; clicks are signed with it.
    pub signing_secret: SecretString,
    /// The workspace id, `T…`.
    pub team_id: String,
    /// Enforce per-method rate limits (default true; the sandbox may turn them off).
    pub rate_limits: bool,
    /// Where [`SlackEmulator::click`] POSTs `block_actions` payloads (the app's
    /// interactivity Request URL).
    pub interactivity_url: Option<url::Url>,
}

impl Default for EmulatorConfig {
    /// Sandbox values: token `xoxb-handoff-emulator`, signing secret
    /// `handoff-emulator-signing-secret`, team `T0HANDOFF1`, rate limits on, no interactivity URL.
    fn default() -> Self {
        Self {
            bot_token: SecretString::from("xoxb-handoff-emulator"),
            signing_secret: SecretString::from("handoff-emulator-signing-secret"),
            team_id: "T0HANDOFF1".into(),
            rate_limits: true,
            interactivity_url: None,
        }
    }
}

/// Why an emulator helper call failed.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("no interactivity_url is configured")]
    NoInteractivityUrl,
    #[error("no message with ts {ts} in channel {channel}")]
    MessageNotFound { channel: String, ts: String },
    #[error("the message has no element with action_id {0}")]
    ActionNotFound(String),
    #[error("no workspace member {0}")]
    UnknownUser(String),
    #[error("the static_select {action_id} has no option with value {value}")]
    OptionNotFound { action_id: String, value: String },
    #[error("delivering the interaction failed: {0}")]
    Delivery(String),
}

pub(crate) struct Inner {
    config: EmulatorConfig,
    workspace: Mutex<Workspace>,
    faults: Faults,
    rate: rate::RateLimits,
    http: reqwest::Client,
}

/// The emulator. Cheap to clone: clones share the workspace.
#[derive(Clone)]
pub struct SlackEmulator {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for SlackEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackEmulator")
            .field("team_id", &self.inner.config.team_id)
            .finish_non_exhaustive()
    }
}

/// `http://ADDR/api/`, the base URL a [`crate::SlackConfig`] needs for a running emulator.
pub fn api_base_url(running: &Running) -> url::Url {
    running
        .base_url()
        .join("api/")
        .expect("api/ joins a base URL")
}

impl SlackEmulator {
    pub fn new(config: EmulatorConfig) -> Self {
        let rate = rate::RateLimits::new(config.rate_limits);
        Self {
            inner: Arc::new(Inner {
                workspace: Mutex::new(Workspace::new(config.team_id.clone())),
                config,
                faults: Faults::default(),
                rate,
                http: reqwest::Client::new(),
            }),
        }
    }

    pub(crate) fn workspace(&self) -> MutexGuard<'_, Workspace> {
        self.inner
            .workspace
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a workspace member; returns their user id (`U0…`). Adding the same email again
    /// (any case) returns the existing id.
    pub fn add_user(&self, email: &str, real_name: &str) -> String {
        self.workspace().add_member(email, real_name)
    }

    /// Every message, in posting order, as the API returns it plus its `channel`.
    pub fn messages(&self) -> Vec<Value> {
        self.workspace().messages_with_channel()
    }

    /// The messages in the bot's DM with the member whose email is `email` (empty when there is
    /// no such member or DM).
    pub fn dm_messages_for(&self, email: &str) -> Vec<Value> {
        let ws = self.workspace();
        let Some(channel) = ws
            .member_by_email(email)
            .and_then(|m| ws.dm_of(&m.id))
            .map(str::to_string)
        else {
            return Vec::new();
        };
        ws.messages_with_channel()
            .into_iter()
            .filter(|m| m["channel"] == channel.as_str())
            .collect()
    }

    /// Emulates member `user_id` clicking the element `action_id` on message `ts` in `channel`:
    /// POSTs a signed `block_actions` payload (form field `payload`) to the configured
    /// `interactivity_url` and returns the receiver's HTTP status.
    pub async fn click(
        &self,
        channel: &str,
        ts: &str,
        action_id: &str,
        user_id: &str,
    ) -> Result<StatusCode, EmulatorError> {
        self.interact(channel, ts, action_id, user_id, None).await
    }

    /// Emulates member `user_id` choosing the option whose `value` is `value` in the
    /// `static_select` `action_id` on message `ts` in `channel`: POSTs the signed
    /// `block_actions` payload (`actions[0].type = "static_select"`, `selected_option: {text,
    /// value}`) to the `interactivity_url` and returns the receiver's HTTP status.
    pub async fn select_option(
        &self,
        channel: &str,
        ts: &str,
        action_id: &str,
        value: &str,
        user_id: &str,
    ) -> Result<StatusCode, EmulatorError> {
        self.interact(channel, ts, action_id, user_id, Some(value))
            .await
    }

    async fn interact(
        &self,
        channel: &str,
        ts: &str,
        action_id: &str,
        user_id: &str,
        selected: Option<&str>,
    ) -> Result<StatusCode, EmulatorError> {
        let url = self
            .inner
            .config
            .interactivity_url
            .clone()
            .ok_or(EmulatorError::NoInteractivityUrl)?;
        let payload = {
            let mut ws = self.workspace();
            let member = ws
                .member(user_id)
                .cloned()
                .ok_or_else(|| EmulatorError::UnknownUser(user_id.to_string()))?;
            click::block_actions_payload(&mut ws, channel, ts, action_id, &member, selected)?
        };
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        let now_s = handoff_connector::now_ms() / 1000;
        let sig = signature::sign(&self.inner.config.signing_secret, now_s, body.as_bytes());
        let response = self
            .inner
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(
                reqwest::header::USER_AGENT,
                "Slackbot 1.0 (+https://api.slack.com/robots)",
            )
            .header(signature::SIGNATURE_HEADER, sig)
            .header(signature::TIMESTAMP_HEADER, now_s.to_string())
            .body(body)
            .send()
            .await
            .map_err(|e| EmulatorError::Delivery(e.to_string()))?;
        Ok(response.status())
    }

    /// Writes `dir/slack/messages.json` ([`SlackEmulator::messages`]) and `dir/slack/users.json`
    /// (members as `users.lookupByEmail` returns them).
    pub fn write_state(&self, dir: &Path) -> std::io::Result<()> {
        let (messages, users) = {
            let ws = self.workspace();
            let users: Vec<Value> = ws.members.iter().map(|m| ws.user_json(m)).collect();
            (ws.messages_with_channel(), users)
        };
        write_state_file(dir, crate::VENDOR, "messages", &messages)?;
        write_state_file(dir, crate::VENDOR, "users", &users)?;
        Ok(())
    }

    /// Injected failures, served before anything else on the next requests.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Turns rate limiting on or off.
    pub fn set_rate_limits(&self, on: bool) {
        self.inner.rate.set_enabled(on);
    }

    /// The axum router (`/api/{method}`), for embedding.
    pub fn router(&self) -> axum::Router {
        server::router(self.clone())
    }

    /// Binds `addr` (port 0 for any) and serves until `shutdown` is cancelled.
    pub async fn start(
        &self,
        addr: SocketAddr,
        shutdown: CancellationToken,
    ) -> std::io::Result<Running> {
        serve(self.router(), addr, shutdown).await
    }
}
