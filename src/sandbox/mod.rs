//! `handoff sandbox`: the daemon against in-process emulators seeded with real CRM data.
//!
//! 1. Start the HubSpot, Slack and Asana emulators on loopback ports (rate limits relaxed
//!    unless `--strict-limits`), and seed them ([`seed`]).
//! 2. Start the daemon with the bundled config (`src/sandbox/handoff.yaml`, the shipped
//!    mappings), pointed at the emulators.
//! 3. Replay the Maven opportunities in date order while datablist contacts arrive as leads
//!    ([`replay`]); simulated reps click "Claim lead" on most DMs.
//! 4. Show progress from the emulators' state; with `--exit-when-idle`, stop once everything
//!    is processed, print a JSON summary with the delivery checks ([`report`]), and exit
//!    non-zero if a check failed. `--state-dir DIR` leaves every emulator's objects as JSON in
//!    `DIR/<vendor>/<object>.json` and the daemon's database in `DIR/handoff/`.

pub mod data;
pub mod replay;
pub mod report;
pub mod seed;

use crate::config::{self, Loaded};
use crate::daemon::vendors::{self, VendorSettings};
use crate::daemon::{self, Listeners};
use crate::flows::Links;
use crate::mapping::Mapping;
use handoff_asana::{AsanaConfig, AsanaEmulator};
use handoff_hubspot::{HubSpotConfig, HubSpotEmulator};
use handoff_slack::{SlackConfig, SlackEmulator};
use secrecy::SecretString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// `handoff sandbox` options.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Dataset folder with `maven-crm/` and `datablist-customers/` (default: the embedded
    /// subset of 1,500 opportunities and 1,500 contacts).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Leave the emulators' final state as JSON files (and the daemon's database) here.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Stop when the replay is processed and print a JSON summary.
    #[arg(long)]
    pub exit_when_idle: bool,
    /// How long the replay of the whole period takes, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub replay_seconds: f64,
    /// Enforce the vendors' real rate limits in the emulators (slow: HubSpot allows 190
    /// requests per 10 s).
    #[arg(long)]
    pub strict_limits: bool,
}

/// Why the sandbox (or a standalone emulator) could not run.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Data(#[from] data::DataError),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Mapping(#[from] crate::mapping::MappingError),
    #[error(transparent)]
    Vendor(#[from] handoff_connector::ConnectorError),
    #[error(transparent)]
    Daemon(#[from] crate::daemon::DaemonError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("emulator: {0}")]
    Emulator(String),
    #[error("the daemon did not become ready within 60 s (see its log above)")]
    NotReady,
    #[error("the daemon task stopped abnormally: {0}")]
    DaemonPanicked(String),
}

/// Attaches what was being done to an I/O error.
pub(crate) trait IoContext<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, SandboxError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, SandboxError> {
        self.map_err(|source| SandboxError::Io {
            what: what(),
            source,
        })
    }
}

const CONFIG: &str = include_str!("handoff.yaml");
const MAPPINGS: [(&str, &str); 2] = [
    (
        "mappings/hubspot-contact-to-lead.yaml",
        include_str!("../../mappings/hubspot-contact-to-lead.yaml"),
    ),
    (
        "mappings/hubspot-deal-to-onboarding.yaml",
        include_str!("../../mappings/hubspot-deal-to-onboarding.yaml"),
    ),
];

/// The bundled sandbox config and mappings, checked like any config.
pub fn bundled_config() -> Result<Loaded, config::ConfigError> {
    let path = PathBuf::from("src/sandbox/handoff.yaml");
    let config = config::parse(CONFIG, &path)?;
    let mappings = MAPPINGS
        .iter()
        .map(|(name, text)| Mapping::parse(text, name))
        .collect::<Result<Vec<_>, _>>()
        .map_err(config::ConfigError::from)?;
    Ok(Loaded {
        path,
        config,
        mappings,
    })
}

/// Runs the sandbox; returns the final summary.
pub async fn run(args: SandboxArgs) -> Result<report::Summary, SandboxError> {
    let started = Instant::now();
    let data = Arc::new(match &args.data {
        Some(dir) => data::Dataset::from_dir(dir)?,
        None => data::Dataset::embedded()?,
    });
    let mut loaded = bundled_config()?;
    crate::daemon::telemetry::init_logs(&loaded.config.log);

    let temp = tempfile::TempDir::new().doing(|| "cannot create a temporary folder".into())?;
    let state_root = args
        .state_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let db_dir = state_root.join("handoff");
    if db_dir.exists() {
        std::fs::remove_dir_all(&db_dir).doing(|| format!("cannot clear {}", db_dir.display()))?;
    }
    std::fs::create_dir_all(&state_root)
        .doing(|| format!("cannot create {}", state_root.display()))?;

    // The daemon's listeners first: the emulators need its address.
    let bind = || "cannot bind a loopback port".to_string();
    let public = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .doing(bind)?;
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .doing(bind)?;
    let daemon_url = base_url(public.local_addr().doing(bind)?);
    let admin_addr = admin.local_addr().doing(bind)?;

    let cfg = loaded.config.clone();
    let emulators = CancellationToken::new();
    let hubspot = HubSpotEmulator::new(handoff_hubspot::EmulatorConfig {
        rate_limits: args.strict_limits,
        portal_id: cfg.hubspot.portal_id,
        webhook_target: Some(join(&daemon_url, "webhooks/hubspot")),
        ..Default::default()
    });
    let slack_emulator_cfg = handoff_slack::EmulatorConfig {
        rate_limits: args.strict_limits,
        interactivity_url: Some(join(&daemon_url, "slack/interactivity")),
        ..Default::default()
    };
    let slack = SlackEmulator::new(slack_emulator_cfg.clone());
    let asana = AsanaEmulator::new(handoff_asana::EmulatorConfig {
        rate_limits: args.strict_limits,
        workspace_gid: cfg.asana.workspace_gid.clone(),
        team_gid: cfg.asana.team_gid.clone(),
        job_delay_ms: 20,
        ..Default::default()
    });
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let start = || "cannot start an emulator".to_string();
    let hubspot_at = hubspot.start(local, emulators.clone()).await.doing(start)?;
    let slack_at = slack.start(local, emulators.clone()).await.doing(start)?;
    let asana_at = asana.start(local, emulators.clone()).await.doing(start)?;
    let world = Arc::new(seed::seed(&data, &hubspot, &slack, &asana));

    loaded.config.public_url = daemon_url.clone();
    loaded.config.state_dir = db_dir;
    let hs = hubspot.config();
    let mut hubspot_cfg = HubSpotConfig::new(
        hubspot_at.base_url(),
        SecretString::from(hs.token.clone()),
        SecretString::from(hs.client_secret.clone()),
    );
    if !args.strict_limits {
        // The emulator does not enforce limits here, so neither does the client's pacing.
        hubspot_cfg.requests_per_window = 100_000;
        hubspot_cfg.search_requests_per_second = 1_000;
    }
    let sl = &slack_emulator_cfg;
    let mut slack_cfg = SlackConfig::new(sl.bot_token.clone(), sl.signing_secret.clone())
        .with_base_url(handoff_slack::emulator::api_base_url(&slack_at));
    let mut asana_cfg = AsanaConfig::new(
        asana_at.base_url(),
        SecretString::from(asana.config().token.clone()),
        cfg.asana.workspace_gid.clone(),
        cfg.asana.team_gid.clone(),
    );
    asana_cfg.job_poll_interval_ms = 20;
    if !args.strict_limits {
        slack_cfg.requests_per_minute = 1_000_000;
        asana_cfg.requests_per_minute = 1_000_000;
    }
    let vendors = vendors::build(VendorSettings {
        hubspot: hubspot_cfg,
        slack: slack_cfg,
        asana: asana_cfg,
        links: Links {
            record_url: cfg.hubspot.record_url.clone(),
            portal_id: cfg.hubspot.portal_id,
        },
    })?;

    let stop_daemon = CancellationToken::new();
    let daemon_task = tokio::spawn(daemon::run(
        loaded,
        vendors,
        Listeners { public, admin },
        stop_daemon.clone(),
    ));
    let admin_client = crate::admin_client::AdminClient::new(admin_addr, PathBuf::new());
    wait_ready(&daemon_url).await?;

    let stop_replay = CancellationToken::new();
    let counts = Arc::new(replay::ReplayCounts::default());
    let clicks = Arc::new(AtomicU64::new(0));
    let replay_task = tokio::spawn(replay::run(
        data.clone(),
        world.clone(),
        hubspot.clone(),
        args.replay_seconds,
        counts.clone(),
        stop_replay.clone(),
    ));
    let clicker = tokio::spawn(replay::click_claims(
        slack.clone(),
        world.clone(),
        clicks,
        stop_replay.clone(),
    ));

    let tty = std::io::stderr().is_terminal();
    let mut last_print = Instant::now();
    let mut idle_rounds = 0;
    let origin = data.origin.clone();
    let summary = loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = tokio::signal::ctrl_c() => { eprintln!(); break None; }
        }
        let status = admin_client.status().await.unwrap_or_default();
        // A summary snapshots every object in the emulators (holding their locks), so the
        // progress view takes one every couple of seconds, not at every idle check.
        let every = if tty {
            Duration::from_secs(2)
        } else {
            Duration::from_secs(10)
        };
        if last_print.elapsed() >= every {
            let s = report::summarize(&hubspot, &slack, &asana, &counts, &status, &origin);
            if tty {
                eprint!("\r\x1b[2K{}", report::progress_line(&s, &counts));
            } else {
                eprintln!("{}", report::progress_line(&s, &counts));
            }
            last_print = Instant::now();
        }
        if args.exit_when_idle && replay_task.is_finished() {
            let quiet = status.inbox_depth == 0
                && status.outbox_depth == status.parked_sagas
                && hubspot.pending_webhooks() == 0;
            idle_rounds = if quiet { idle_rounds + 1 } else { 0 };
            // Quiet for 3 s: the last webhooks, polls and claim clicks have settled.
            if idle_rounds >= 6 {
                break Some(());
            }
        }
    };
    if tty {
        eprintln!();
    }
    let _ = summary;
    stop_replay.cancel();
    let _ = clicker.await;
    let _ = replay_task.await;
    let status = admin_client.status().await.unwrap_or_default();
    stop_daemon.cancel();
    daemon_task
        .await
        .map_err(|e| SandboxError::DaemonPanicked(e.to_string()))??;
    let mut summary = report::summarize(&hubspot, &slack, &asana, &counts, &status, &origin);
    summary.elapsed_s = started.elapsed().as_secs_f64();
    if let Some(dir) = &args.state_dir {
        let what = || format!("cannot write emulator state to {}", dir.display());
        hubspot.write_state(dir).doing(what)?;
        slack.write_state(dir).doing(what)?;
        asana.write_state(dir).doing(what)?;
        eprintln!("emulator state written to {}", dir.display());
    }
    emulators.cancel();
    println!(
        "{}",
        serde_json::to_string_pretty(&summary).expect("summaries serialise")
    );
    Ok(summary)
}

fn base_url(addr: std::net::SocketAddr) -> url::Url {
    format!("http://{addr}/")
        .parse()
        .expect("a socket address forms a URL")
}

fn join(base: &url::Url, path: &str) -> url::Url {
    base.join(path).expect("a relative path joins a base URL")
}

async fn wait_ready(base: &url::Url) -> Result<(), SandboxError> {
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
