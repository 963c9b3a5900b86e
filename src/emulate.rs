//! `handoff emulate <vendor>`: one vendor's emulator, standalone, for a daemon, a test or a
//! user's own script to point at. With `--data DIR` it is seeded like the sandbox (CRM owners
//! and accounts, Slack users, Asana templates); with `--state-dir DIR` it writes its objects as
//! JSON files there on request (`kill -USR1 <pid>`, or `POST /_emulator/dump` except on
//! Salesforce) and when it stops (Ctrl-C or SIGTERM).
//!
//! With `--webhook-target URL` (HubSpot only) the HubSpot emulator POSTs signed webhooks for
//! every create and update there, as HubSpot's webhooks API does (`vendor-specs/NOTES.md`
//! §1.1): JSON arrays of up to 100 events, signed v3 with the app's client secret
//! (`--client-secret`), retried on HubSpot's schedule (10 retries over up to 24 hours;
//! [`handoff_hubspot::emulator::WebhookRetry::HUBSPOT`]) unless `--webhook-retry-scale`
//! shortens it.
//!
//! It prints the base URL and what a client needs: a bearer token (HubSpot, Slack, Asana), or
//! for Salesforce the login URL, the connected app's client id, the integration user's
//! username and the path of the JWT private key (the emulator's test key, written to a file
//! readable only by its owner, removed when the emulator stops).

use crate::sandbox::crm::hubspot::HubSpotSandbox;
use crate::sandbox::crm::salesforce::SalesforceSandbox;
use crate::sandbox::crm::SandboxCrm;
use crate::sandbox::local::LocalOptions;
use crate::sandbox::{data::Dataset, seed, IoContext, SandboxError};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use handoff_hubspot::emulator::{EmulatorConfig, HubSpotEmulator, WebhookRetry};
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The path of the state-dump endpoint every emulator but Salesforce's serves.
pub const DUMP_PATH: &str = "/_emulator/dump";

/// Which emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Vendor {
    Hubspot,
    Salesforce,
    Slack,
    Asana,
}

impl Vendor {
    /// The vendor's name on the command line and in state folders.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Hubspot => "hubspot",
            Vendor::Salesforce => "salesforce",
            Vendor::Slack => "slack",
            Vendor::Asana => "asana",
        }
    }

    /// Whether `--webhook-target` applies. Only HubSpot's emulator delivers webhooks on its
    /// own (the webhooks API, NOTES §1.1). Salesforce has no webhooks (NOTES §2.1): its push
    /// notifications are Outbound Messages, unsigned SOAP that the daemon accepts at
    /// `webhooks/salesforce` (`handoff_salesforce::outbound`) but the emulator does not send
    /// yet, so a Salesforce target would need its own flag and payloads. The Slack emulator
    /// posts interactivity payloads only when a test clicks through its Rust API, and the Asana
    /// emulator sends no webhooks (Asana's handshake and signature, NOTES §4.1, are not
    /// emulated).
    pub fn delivers_webhooks(self) -> bool {
        matches!(self, Vendor::Hubspot)
    }
}

/// `--webhook-target` and what goes with it (HubSpot only).
#[derive(Clone)]
pub struct WebhookOptions {
    /// Where deliveries are POSTed. The v3 signature covers the full URL, so it must be the URL
    /// the receiver believes it is reached at (for handoff: its `public_url` followed by
    /// `webhooks/hubspot`).
    pub target: url::Url,
    /// The HubSpot app's client secret, which signs deliveries; `None`: the emulator's default
    /// (printed at start).
    pub client_secret: Option<String>,
    /// Multiplies the waits of HubSpot's retry schedule (1: HubSpot's; 0.001 runs its day in
    /// about a minute). Between 0 and 1.
    pub retry_scale: f64,
}

impl std::fmt::Debug for WebhookOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookOptions")
            .field("target", &self.target.as_str())
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("retry_scale", &self.retry_scale)
            .finish()
    }
}

/// What `handoff emulate` serves.
#[derive(Clone, Debug)]
pub struct Options {
    pub vendor: Vendor,
    /// Where to listen (port 0: any free one).
    pub listen: SocketAddr,
    /// Dataset folder to seed from (the sandbox's data layout).
    pub data: Option<PathBuf>,
    /// Where state files are written.
    pub state_dir: Option<PathBuf>,
    /// Webhook delivery (HubSpot only).
    pub webhooks: Option<WebhookOptions>,
}

/// A command line `handoff emulate` refuses before starting anything (the CLI exits 64).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(
        "--webhook-target: the {0} emulator sends no webhooks; only `handoff emulate hubspot` \
         supports --webhook-target"
    )]
    NoWebhooks(&'static str),
    #[error("--webhook-retry-scale must be a number from 0 to 1, not {0}")]
    RetryScale(f64),
}

impl Options {
    /// Refuses options that do not fit the vendor.
    pub fn check(&self) -> Result<(), UsageError> {
        if let Some(w) = &self.webhooks {
            if !self.vendor.delivers_webhooks() {
                return Err(UsageError::NoWebhooks(self.vendor.name()));
            }
            if !(0.0..=1.0).contains(&w.retry_scale) {
                return Err(UsageError::RetryScale(w.retry_scale));
            }
        }
        Ok(())
    }
}

/// Writes a vendor's state files into a folder; returns their paths (none for Salesforce,
/// whose writer does not report them).
type StateWriter = Arc<dyn Fn(&Path) -> std::io::Result<Vec<PathBuf>> + Send + Sync>;

/// A running standalone emulator. It serves until the shutdown token given to [`start`] is
/// cancelled.
pub struct Emulator {
    vendor: Vendor,
    base_url: url::Url,
    token: Option<String>,
    hubspot: Option<HubSpotEmulator>,
    salesforce: Option<SalesforceSandbox>,
    state_dir: Option<PathBuf>,
    write: StateWriter,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Salesforce's key file lives as long as the emulator.
    keys: tempfile::TempDir,
}

impl Emulator {
    /// The API's base URL.
    pub fn base_url(&self) -> &url::Url {
        &self.base_url
    }

    /// The bearer token the API accepts (not Salesforce: it issues tokens at its login URL).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The HubSpot emulator, when that is the vendor (its Rust control API).
    pub fn hubspot(&self) -> Option<&HubSpotEmulator> {
        self.hubspot.as_ref()
    }

    /// Writes the state files into `--state-dir` and returns their paths (none for
    /// Salesforce); `Ok(None)` without a `--state-dir`.
    ///
    /// Errors: a file cannot be written.
    pub fn write_state(&self) -> Result<Option<Vec<PathBuf>>, SandboxError> {
        let Some(dir) = &self.state_dir else {
            return Ok(None);
        };
        let paths =
            (self.write)(dir).doing(|| format!("cannot write state to {}", dir.display()))?;
        Ok(Some(paths))
    }

    /// What a client needs, as the lines `handoff emulate` prints (the first is the
    /// "listening on" line).
    fn banner(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "{:?} emulator listening on {}",
            self.vendor, self.base_url
        )];
        if let Some(sf) = &self.salesforce {
            let config = sf.emulator().config();
            let key = self
                .keys
                .path()
                .join(crate::sandbox::crm::salesforce::PRIVATE_KEY_FILE);
            lines.push(format!("login_url: {}", self.base_url));
            lines.push(format!("client id (JWT iss): {}", config.client_id));
            lines.push(format!(
                "integration username (JWT sub): {}",
                config.username
            ));
            lines.push(format!(
                "JWT private key: the emulator's test key (for tests and sandboxes only), written to {}",
                key.display()
            ));
        }
        if let Some(token) = &self.token {
            lines.push(format!("bearer token: {token}"));
        }
        let config = self.hubspot.as_ref().map(|h| h.config());
        if let Some((target, config)) =
            config.and_then(|c| c.webhook_target.as_ref().map(|t| (t, c)))
        {
            let retry = config.webhook_retry;
            let total: Duration = retry.delays().iter().sum();
            let longest = if retry.jitter { total * 2 } else { total };
            // The emulator's own secret is printed like its token; one given is not echoed.
            let secret = if config.client_secret == EmulatorConfig::default().client_secret {
                format!("the client secret {}", config.client_secret)
            } else {
                "the given --client-secret".to_string()
            };
            lines.push(format!(
                "webhooks: POST {target}, signed with {secret}; a failed delivery is retried up \
                 to {} times over {} to {}",
                retry.max_retries,
                human(total),
                human(longest),
            ));
        }
        lines
    }
}

/// A wait as people read it: `850 ms`, `43 s`, `12 min`, `11.9 h`.
fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{} ms", d.as_millis())
    } else if secs < 120.0 {
        format!("{secs:.0} s")
    } else if secs < 7200.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

/// Starts the emulator `options` describe (call [`Options::check`] first): seeds it, serves
/// it on `options.listen` with `POST /_emulator/dump` (not Salesforce) and, for HubSpot with
/// a webhook target, delivers webhooks in the background; everything stops when `shutdown` is
/// cancelled.
///
/// Errors: the dataset cannot be read, or it cannot listen.
pub async fn start(
    options: Options,
    shutdown: CancellationToken,
) -> Result<Emulator, SandboxError> {
    let Options {
        vendor,
        listen,
        data,
        state_dir,
        webhooks,
    } = options;
    let sandbox_options = LocalOptions {
        strict_limits: false,
        hubspot_webhooks: false,
    };
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let dataset = data.as_deref().map(Dataset::from_dir).transpose()?;
    let slack = handoff_slack::SlackEmulator::new(Default::default());
    let asana = handoff_asana::AsanaEmulator::new(Default::default());
    let hubspot = HubSpotEmulator::new(hubspot_config(webhooks.as_ref()));

    // The CRM the dataset seeds: Salesforce's org when that is the vendor (served on `listen`),
    // else the HubSpot portal, served on a loopback port of its own only so seeding has a CRM
    // to write to (it shares its state with the one served on `listen`; for HubSpot this also
    // starts the webhook deliverer).
    let mut salesforce = None;
    let crm: Option<Box<dyn SandboxCrm>> = match vendor {
        Vendor::Salesforce => {
            let sf =
                SalesforceSandbox::start(listen, Vec::new(), sandbox_options, shutdown.clone())
                    .await?;
            salesforce = Some(sf.clone());
            Some(Box::new(sf))
        }
        _ if dataset.is_some() => Some(Box::new(
            HubSpotSandbox::serve(hubspot.clone(), loopback, false, shutdown.clone()).await?,
        )),
        Vendor::Hubspot => {
            hubspot.spawn_webhook_delivery(shutdown.clone());
            None
        }
        Vendor::Slack | Vendor::Asana => None,
    };
    if let (Some(dataset), Some(crm)) = (&dataset, &crm) {
        seed::seed(dataset, crm.as_ref(), &slack, &asana);
    }

    let write: StateWriter = match vendor {
        Vendor::Hubspot => {
            let hubspot = hubspot.clone();
            Arc::new(move |dir| hubspot.write_state_files(dir))
        }
        Vendor::Salesforce => {
            let crm: Arc<dyn SandboxCrm> = Arc::from(crm.expect("Salesforce is the CRM"));
            Arc::new(move |dir| crm.write_state(dir).map(|()| Vec::new()))
        }
        Vendor::Slack => {
            let slack = slack.clone();
            Arc::new(move |dir| {
                slack.write_state(dir)?;
                // The files `SlackEmulator::write_state` documents.
                let folder = dir.join(handoff_slack::VENDOR);
                Ok(vec![
                    folder.join("messages.json"),
                    folder.join("users.json"),
                ])
            })
        }
        Vendor::Asana => {
            let asana = asana.clone();
            Arc::new(move |dir| asana.write_state(dir))
        }
    };

    let api = match vendor {
        Vendor::Hubspot => Some(hubspot.router()),
        Vendor::Slack => Some(slack.router()),
        Vendor::Asana => Some(asana.router()),
        Vendor::Salesforce => None,
    };
    let (base_url, task) = match (api, &salesforce) {
        (Some(api), _) => {
            let control = dump_router(state_dir.clone(), write.clone());
            let running = handoff_connector::emulator::serve(control.merge(api), listen, shutdown)
                .await
                .doing(|| format!("cannot listen on {listen}"))?;
            (running.base_url(), running.task)
        }
        (None, Some(sf)) => {
            // Served by `SalesforceSandbox::start`; a task that ends with the emulator.
            let task = tokio::spawn(async move {
                shutdown.cancelled().await;
                Ok(())
            });
            (sf.base_url().clone(), task)
        }
        (None, None) => unreachable!("every vendor but Salesforce has a router"),
    };
    let keys = tempfile::TempDir::new().doing(|| "cannot create a temporary folder".into())?;
    if let Some(sf) = &salesforce {
        sf.write_credentials(keys.path())?;
    }
    let token = match vendor {
        Vendor::Hubspot => Some(hubspot.config().token.clone()),
        Vendor::Slack => Some("xoxb-handoff-emulator".to_string()),
        Vendor::Asana => Some(asana.config().token.clone()),
        Vendor::Salesforce => None,
    };
    Ok(Emulator {
        vendor,
        base_url,
        token,
        hubspot: (vendor == Vendor::Hubspot).then_some(hubspot),
        salesforce,
        state_dir,
        write,
        task,
        keys,
    })
}

/// The HubSpot portal's configuration: the emulator's defaults, plus the webhook target,
/// client secret and HubSpot's retry schedule (scaled) when webhooks are asked for.
fn hubspot_config(webhooks: Option<&WebhookOptions>) -> EmulatorConfig {
    let defaults = EmulatorConfig::default();
    match webhooks {
        None => defaults,
        Some(w) => EmulatorConfig {
            webhook_target: Some(w.target.clone()),
            client_secret: w
                .client_secret
                .clone()
                .unwrap_or_else(|| defaults.client_secret.clone()),
            webhook_retry: WebhookRetry::HUBSPOT.scaled(w.retry_scale),
            ..defaults
        },
    }
}

/// `POST /_emulator/dump`: writes the state files into `--state-dir` and answers 200 with
/// `{"paths": [...]}`; 409 without a `--state-dir`, 500 when a file cannot be written.
fn dump_router(state_dir: Option<PathBuf>, write: StateWriter) -> axum::Router {
    let dump = move || {
        let (state_dir, write) = (state_dir.clone(), write.clone());
        async move {
            let Some(dir) = state_dir else {
                return (
                    StatusCode::CONFLICT,
                    axum::Json(json!({"error": "no --state-dir was given; nothing written"})),
                )
                    .into_response();
            };
            match tokio::task::spawn_blocking(move || write(&dir).map(|p| (dir, p))).await {
                Ok(Ok((dir, paths))) => {
                    println!("state written to {}", dir.display());
                    axum::Json(json!({ "paths": paths })).into_response()
                }
                Ok(Err(e)) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({"error": format!("cannot write state: {e}")})),
                )
                    .into_response(),
                Err(e) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({"error": format!("state writer failed: {e}")})),
                )
                    .into_response(),
            }
        }
    };
    axum::Router::new().route(DUMP_PATH, axum::routing::post(dump))
}

/// Serves the emulator until a signal arrives (call [`Options::check`] first).
pub async fn run(options: Options) -> Result<(), SandboxError> {
    let shutdown = CancellationToken::new();
    // Installed before anything is printed, so a script may signal as soon as it reads the
    // "listening on" line.
    let mut dump = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
        .doing(|| "cannot install the SIGUSR1 handler".into())?;
    tokio::spawn(crate::daemon::signals(shutdown.clone()));
    let mut emulator = start(options, shutdown.clone()).await?;
    for line in emulator.banner() {
        println!("{line}");
    }
    let written = |emulator: &Emulator| {
        let dir = emulator.state_dir.as_deref().unwrap_or(Path::new(""));
        println!("state written to {}", dir.display());
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = dump.recv() => match emulator.write_state()? {
                Some(_) => written(&emulator),
                None => eprintln!("SIGUSR1: no --state-dir given, nothing written"),
            },
        }
    }
    let _ = (&mut emulator.task).await;
    if emulator.write_state()?.is_some() {
        written(&emulator);
    }
    Ok(())
}
