//! The emulators on loopback ports, wired to a daemon, and the client settings that reach them:
//! the CRM the config names ([`super::crm`]), Slack and Asana. What the sandbox, the intake
//! load generator and anyone's own script start with.

use super::crm::SandboxCrm;
use super::{IoContext, SandboxError};
use crate::config::{Config, PmSection};
use axum::response::IntoResponse;
use handoff_asana::AsanaEmulator;
use handoff_connector::SecretRef;
use handoff_slack::SlackEmulator;
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How to start the emulators.
#[derive(Clone, Copy, Debug)]
pub struct LocalOptions {
    /// Enforce the vendors' real rate limits (and pace the clients to them).
    pub strict_limits: bool,
    /// HubSpot delivers webhooks for every write to the daemon (off when a load generator is
    /// the only source of webhooks). A polled CRM ignores it.
    pub hubspot_webhooks: bool,
}

/// What the daemon posted to Slack, as the Slack emulator answered it: every new message (in
/// posting order, with its `channel`) and the member of every DM channel it opened. Read
/// incrementally ([`SlackFeed::since`]), so a simulated person reading new DMs does not copy
/// every message of the run each time (a full read holds the emulator's lock, and the daemon's
/// posts wait for it).
#[derive(Debug, Default)]
pub struct SlackFeed {
    posted: std::sync::Mutex<Vec<serde_json::Value>>,
    /// DM channel id → the member's Slack user id (`conversations.open` with one user).
    dm_members: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl SlackFeed {
    /// How many messages were posted so far.
    pub fn len(&self) -> usize {
        self.posted.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether nothing was posted yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The messages posted after the first `from`, as posted (later edits are not here), each
    /// with its `channel`.
    pub fn since(&self, from: usize) -> Vec<serde_json::Value> {
        let posted = self.posted.lock().unwrap_or_else(|p| p.into_inner());
        posted.get(from..).map(<[_]>::to_vec).unwrap_or_default()
    }

    /// The Slack user id of the member of DM channel `channel`, if the daemon opened it.
    pub fn dm_member(&self, channel: &str) -> Option<String> {
        self.dm_members
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(channel)
            .cloned()
    }

    /// Records what a Slack Web API answer says: a posted message (`chat.postMessage`) or an
    /// opened DM (`conversations.open`, whose request named `users`).
    fn record(&self, method: &str, users: Option<&str>, answer: &[u8]) {
        let Ok(answer) = serde_json::from_slice::<serde_json::Value>(answer) else {
            return;
        };
        if answer["ok"] != true {
            return;
        }
        match method {
            "chat.postMessage" => {
                let mut message = answer["message"].clone();
                if !message.is_object() {
                    return;
                }
                message["channel"] = answer["channel"].clone();
                self.posted
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(message);
            }
            "conversations.open" => {
                if let (Some(channel), Some(user)) = (
                    answer["channel"]["id"].as_str(),
                    users.filter(|u| !u.contains(',')),
                ) {
                    self.dm_members
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(channel.to_string(), user.trim().to_string());
                }
            }
            _ => {}
        }
    }
}

/// The `users` a Web API request names (JSON or form body).
fn request_users(body: &[u8]) -> Option<String> {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        return v["users"].as_str().map(str::to_string);
    }
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "users")
        .map(|(_, v)| v.into_owned())
}

/// Running CRM, Slack and Asana emulators.
pub struct LocalVendors {
    pub crm: Arc<dyn SandboxCrm>,
    pub slack: SlackEmulator,
    pub asana: AsanaEmulator,
    /// Messages posted to the Slack emulator ([`LocalVendors::slack_posts`]).
    slack_posts: Arc<AtomicU64>,
    /// What was posted and opened there ([`LocalVendors::slack_feed`]).
    slack_feed: Arc<SlackFeed>,
    slack_url: url::Url,
    asana_url: url::Url,
    slack_config: handoff_slack::EmulatorConfig,
    strict_limits: bool,
}

impl LocalVendors {
    /// Starts the emulators on 127.0.0.1 (any free ports): the CRM `config`'s `crm:` section
    /// names ([`super::crm::start`]), Slack (which posts button clicks to the daemon at
    /// `daemon_url`) and Asana (the config's workspace and team).
    ///
    /// Errors: an emulator cannot listen.
    pub async fn start(
        config: &Config,
        daemon_url: &url::Url,
        options: LocalOptions,
        shutdown: CancellationToken,
    ) -> Result<LocalVendors, SandboxError> {
        let crm = super::crm::start(config, daemon_url, options, shutdown.clone()).await?;
        Self::with_crm(crm, config, daemon_url, options, shutdown).await
    }

    /// [`LocalVendors::start`] with a CRM emulator the caller started.
    pub async fn with_crm(
        crm: Arc<dyn SandboxCrm>,
        config: &Config,
        daemon_url: &url::Url,
        options: LocalOptions,
        shutdown: CancellationToken,
    ) -> Result<LocalVendors, SandboxError> {
        let strict_limits = options.strict_limits;
        let PmSection::Asana(pm) = &config.pm;
        let slack_config = handoff_slack::EmulatorConfig {
            rate_limits: strict_limits,
            interactivity_url: Some(join(daemon_url, "slack/interactivity")),
            ..Default::default()
        };
        let slack = SlackEmulator::new(slack_config.clone());
        let asana = AsanaEmulator::new(handoff_asana::EmulatorConfig {
            rate_limits: strict_limits,
            workspace_gid: pm.workspace_gid.clone(),
            team_gid: pm.team_gid.clone(),
            job_delay_ms: 20,
            ..Default::default()
        });
        let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let start = || "cannot start an emulator".to_string();
        // Slack is served with a counter of answered `chat.postMessage` calls and a feed of
        // what they posted (and of the DMs `conversations.open` opened): the simulated reps and
        // agents read only the new messages, and only when the counter moved.
        let slack_posts = Arc::new(AtomicU64::new(0));
        let slack_feed = Arc::new(SlackFeed::default());
        let counter = slack_posts.clone();
        let feed = slack_feed.clone();
        let router = slack.router().layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let (counter, feed) = (counter.clone(), feed.clone());
                let method = request
                    .uri()
                    .path()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                async move {
                    if method != "chat.postMessage" && method != "conversations.open" {
                        return next.run(request).await;
                    }
                    let (parts, body) = request.into_parts();
                    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
                        return axum::http::StatusCode::BAD_REQUEST.into_response();
                    };
                    let users = request_users(&body);
                    let request = axum::extract::Request::from_parts(parts, body.into());
                    let (parts, answer) = next.run(request).await.into_parts();
                    let Ok(answer) = axum::body::to_bytes(answer, usize::MAX).await else {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
                    };
                    feed.record(&method, users.as_deref(), &answer);
                    if method == "chat.postMessage" {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    axum::response::Response::from_parts(parts, answer.into())
                }
            },
        ));
        let slack_at = handoff_connector::emulator::serve(router, local, shutdown.clone())
            .await
            .doing(start)?;
        let asana_at = asana.start(local, shutdown).await.doing(start)?;
        Ok(LocalVendors {
            crm,
            slack,
            asana,
            slack_posts,
            slack_feed,
            slack_url: handoff_slack::emulator::api_base_url(&slack_at),
            asana_url: asana_at.base_url(),
            slack_config,
            strict_limits,
        })
    }

    /// How many `chat.postMessage` calls the Slack emulator has answered so far (counted once
    /// each response is ready, so the message is visible by the time the count moves).
    pub fn slack_posts(&self) -> Arc<AtomicU64> {
        self.slack_posts.clone()
    }

    /// What the daemon posted to Slack and the DMs it opened, in order ([`SlackFeed`]).
    pub fn slack_feed(&self) -> Arc<SlackFeed> {
        self.slack_feed.clone()
    }

    /// The Slack app's signing secret (it signs interactivity requests).
    pub fn slack_signing_secret(&self) -> &SecretString {
        &self.slack_config.signing_secret
    }

    /// Points `config`'s vendor sections at these emulators: the CRM's
    /// ([`SandboxCrm::configure`]), Slack's and Asana's base URLs and credentials (written as
    /// secret files into `secrets`, mode 0600), and, without strict limits, budgets relaxed as
    /// the emulators enforce none.
    ///
    /// Errors: a secret file cannot be written, or the config names another CRM.
    pub fn configure(&self, config: &mut Config, secrets: &Path) -> Result<(), SandboxError> {
        self.crm.configure(config, secrets)?;
        let relaxed = !self.strict_limits;
        let PmSection::Asana(pm) = &mut config.pm;
        pm.base_url = self.asana_url.clone();
        pm.token = secret_file(secrets, "asana-token", &self.asana.config().token)?;
        pm.job_poll_ms = 20;
        if relaxed {
            pm.requests_per_minute = 1_000_000;
        }
        let sl = &self.slack_config;
        config.slack.base_url = self.slack_url.clone();
        config.slack.bot_token =
            secret_file(secrets, "slack-bot-token", sl.bot_token.expose_secret())?;
        config.slack.signing_secret = secret_file(
            secrets,
            "slack-signing-secret",
            sl.signing_secret.expose_secret(),
        )?;
        if relaxed {
            config.slack.requests_per_minute = 1_000_000;
        }
        Ok(())
    }
}

/// Writes `value` as the secret file `dir/name` (readable only by its owner) and returns the
/// reference a config names it by.
///
/// Errors: the file cannot be written.
pub fn secret_file(dir: &Path, name: &str, value: &str) -> Result<SecretRef, SandboxError> {
    let path = dir.join(name);
    write_secret(&path, value)
        .doing(|| format!("cannot write the secret file {}", path.display()))?;
    Ok(SecretRef::file(path))
}

/// Writes a secret file readable only by its owner.
fn write_secret(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(value.as_bytes())
}

/// `http://ADDR/`.
pub fn base_url(addr: std::net::SocketAddr) -> url::Url {
    format!("http://{addr}/")
        .parse()
        .expect("a socket address forms a URL")
}

/// `base` joined with a relative `path`.
pub fn join(base: &url::Url, path: &str) -> url::Url {
    base.join(path).expect("a relative path joins a base URL")
}

/// Waits until the daemon at `base` answers `/readyz` with 200 (at most 60 s).
pub async fn wait_ready(base: &url::Url) -> Result<(), SandboxError> {
    let url = join(base, "readyz");
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = client.get(url.clone()).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(SandboxError::NotReady)
}
