//! The three emulators on loopback ports, wired to a daemon, and the client settings that reach
//! them: what the sandbox, the intake load generator and anyone's own script start with.

use super::{IoContext, SandboxError};
use crate::config::Config;
use crate::daemon::vendors::VendorSettings;
use crate::flows::Links;
use handoff_asana::{AsanaConfig, AsanaEmulator};
use handoff_connector::emulator::Running;
use handoff_hubspot::{HubSpotConfig, HubSpotEmulator};
use handoff_slack::{SlackConfig, SlackEmulator};
use secrecy::SecretString;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How to start the emulators.
#[derive(Clone, Copy, Debug)]
pub struct LocalOptions {
    /// Enforce the vendors' real rate limits (and pace the clients to them).
    pub strict_limits: bool,
    /// HubSpot delivers webhooks for every write to the daemon (off when a load generator is
    /// the only source of webhooks).
    pub hubspot_webhooks: bool,
}

/// Running HubSpot, Slack and Asana emulators.
pub struct LocalVendors {
    pub hubspot: HubSpotEmulator,
    pub slack: SlackEmulator,
    pub asana: AsanaEmulator,
    hubspot_at: Running,
    slack_at: Running,
    asana_at: Running,
    slack_config: handoff_slack::EmulatorConfig,
    strict_limits: bool,
}

impl LocalVendors {
    /// Starts the emulators on 127.0.0.1 (any free ports). HubSpot delivers webhooks to, and
    /// Slack posts button clicks to, the daemon at `daemon_url`; Asana uses the config's
    /// workspace and team.
    pub async fn start(
        config: &Config,
        daemon_url: &url::Url,
        options: LocalOptions,
        shutdown: CancellationToken,
    ) -> Result<LocalVendors, SandboxError> {
        let strict_limits = options.strict_limits;
        let hubspot = HubSpotEmulator::new(handoff_hubspot::EmulatorConfig {
            rate_limits: strict_limits,
            portal_id: config.hubspot.portal_id,
            webhook_target: options
                .hubspot_webhooks
                .then(|| join(daemon_url, "webhooks/hubspot")),
            ..Default::default()
        });
        let slack_config = handoff_slack::EmulatorConfig {
            rate_limits: strict_limits,
            interactivity_url: Some(join(daemon_url, "slack/interactivity")),
            ..Default::default()
        };
        let slack = SlackEmulator::new(slack_config.clone());
        let asana = AsanaEmulator::new(handoff_asana::EmulatorConfig {
            rate_limits: strict_limits,
            workspace_gid: config.asana.workspace_gid.clone(),
            team_gid: config.asana.team_gid.clone(),
            job_delay_ms: 20,
            ..Default::default()
        });
        let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let start = || "cannot start an emulator".to_string();
        let hubspot_at = hubspot.start(local, shutdown.clone()).await.doing(start)?;
        let slack_at = slack.start(local, shutdown.clone()).await.doing(start)?;
        let asana_at = asana.start(local, shutdown).await.doing(start)?;
        Ok(LocalVendors {
            hubspot,
            slack,
            asana,
            hubspot_at,
            slack_at,
            asana_at,
            slack_config,
            strict_limits,
        })
    }

    /// The HubSpot emulator's API root.
    pub fn hubspot_url(&self) -> url::Url {
        self.hubspot_at.base_url()
    }

    /// The Slack app's signing secret (it signs interactivity requests).
    pub fn slack_signing_secret(&self) -> &SecretString {
        &self.slack_config.signing_secret
    }

    /// The HubSpot app's client secret (it signs the webhooks).
    pub fn hubspot_client_secret(&self) -> String {
        self.hubspot.config().client_secret.clone()
    }

    /// Client settings for a daemon using these emulators. Without strict limits the clients'
    /// pacing is relaxed too, since the emulators do not enforce any.
    pub fn settings(&self, config: &Config) -> VendorSettings {
        let hs = self.hubspot.config();
        let mut hubspot = HubSpotConfig::new(
            self.hubspot_at.base_url(),
            SecretString::from(hs.token.clone()),
            SecretString::from(hs.client_secret.clone()),
        );
        let sl = &self.slack_config;
        let mut slack = SlackConfig::new(sl.bot_token.clone(), sl.signing_secret.clone())
            .with_base_url(handoff_slack::emulator::api_base_url(&self.slack_at));
        let mut asana = AsanaConfig::new(
            self.asana_at.base_url(),
            SecretString::from(self.asana.config().token.clone()),
            config.asana.workspace_gid.clone(),
            config.asana.team_gid.clone(),
        );
        asana.job_poll_interval_ms = 20;
        if !self.strict_limits {
            hubspot.requests_per_window = 100_000;
            hubspot.search_requests_per_second = 1_000;
            slack.requests_per_minute = 1_000_000;
            asana.requests_per_minute = 1_000_000;
        }
        VendorSettings {
            hubspot,
            slack,
            asana,
            links: Links {
                record_url: config.hubspot.record_url.clone(),
                portal_id: config.hubspot.portal_id,
            },
        }
    }
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
