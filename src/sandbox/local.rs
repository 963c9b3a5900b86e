//! The emulators on loopback ports, wired to a daemon, and the client settings that reach them:
//! the CRM the config names ([`super::crm`]), Slack and Asana. What the sandbox, the intake
//! load generator and anyone's own script start with.

use super::crm::SandboxCrm;
use super::{IoContext, SandboxError};
use crate::config::{Config, PmSection};
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

/// Running CRM, Slack and Asana emulators.
pub struct LocalVendors {
    pub crm: Arc<dyn SandboxCrm>,
    pub slack: SlackEmulator,
    pub asana: AsanaEmulator,
    /// Messages posted to the Slack emulator ([`LocalVendors::slack_posts`]).
    slack_posts: Arc<AtomicU64>,
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
        // Slack is served with a counter of answered `chat.postMessage` calls: the simulated
        // reps read their DMs (a copy of every message) only when it moved.
        let slack_posts = Arc::new(AtomicU64::new(0));
        let counter = slack_posts.clone();
        let router = slack.router().layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let counter = counter.clone();
                let post = request.uri().path().ends_with("/chat.postMessage");
                async move {
                    let response = next.run(request).await;
                    if post {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    response
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
