//! The three emulators on loopback ports, wired to a daemon, and the client settings that reach
//! them: what the sandbox, the intake load generator and anyone's own script start with.

use super::{IoContext, SandboxError};
use crate::config::{Config, CrmSection, PmSection};
use handoff_asana::AsanaEmulator;
use handoff_connector::emulator::Running;
use handoff_connector::SecretRef;
use handoff_hubspot::HubSpotEmulator;
use handoff_slack::SlackEmulator;
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;
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
        let CrmSection::HubSpot(crm) = &config.crm else {
            return Err(SandboxError::Emulator(
                "the sandbox's config must name crm.type hubspot here".into(),
            ));
        };
        let PmSection::Asana(pm) = &config.pm;
        let hubspot = HubSpotEmulator::new(handoff_hubspot::EmulatorConfig {
            rate_limits: strict_limits,
            portal_id: crm.portal_id,
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
            workspace_gid: pm.workspace_gid.clone(),
            team_gid: pm.team_gid.clone(),
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

    /// Points `config`'s vendor sections at these emulators: base URLs, the emulators'
    /// credentials (written as secret files into `secrets`, mode 0600), and, without strict
    /// limits, budgets relaxed as the emulators enforce none.
    ///
    /// Errors: a secret file cannot be written.
    pub fn configure(&self, config: &mut Config, secrets: &Path) -> Result<(), SandboxError> {
        let secret = |name: &str, value: &str| -> Result<SecretRef, SandboxError> {
            let path = secrets.join(name);
            write_secret(&path, value)
                .doing(|| format!("cannot write the secret file {}", path.display()))?;
            Ok(SecretRef::file(path))
        };
        let relaxed = !self.strict_limits;
        let hs = self.hubspot.config();
        let CrmSection::HubSpot(crm) = &mut config.crm else {
            return Err(SandboxError::Emulator(
                "the sandbox's config must name crm.type hubspot here".into(),
            ));
        };
        crm.base_url = self.hubspot_at.base_url();
        crm.token = secret("hubspot-token", &hs.token)?;
        crm.client_secret = secret("hubspot-client-secret", &hs.client_secret)?;
        if relaxed {
            crm.rate.requests = 100_000;
            crm.search_per_second = 1_000;
        }
        let PmSection::Asana(pm) = &mut config.pm;
        pm.base_url = self.asana_at.base_url();
        pm.token = secret("asana-token", &self.asana.config().token)?;
        pm.job_poll_ms = 20;
        if relaxed {
            pm.requests_per_minute = 1_000_000;
        }
        let sl = &self.slack_config;
        config.slack.base_url = handoff_slack::emulator::api_base_url(&self.slack_at);
        config.slack.bot_token = secret("slack-bot-token", sl.bot_token.expose_secret())?;
        config.slack.signing_secret =
            secret("slack-signing-secret", sl.signing_secret.expose_secret())?;
        if relaxed {
            config.slack.requests_per_minute = 1_000_000;
        }
        Ok(())
    }
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
