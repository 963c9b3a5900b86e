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
pub mod local;
pub mod replay;
pub mod report;
pub mod seed;

use crate::config::{self, Loaded};
use crate::daemon::vendors;
use crate::daemon::{self, Listeners};
use crate::mapping::Mapping;
use local::{base_url, wait_ready, LocalOptions, LocalVendors};
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
        rules: None,
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

    let emulators = CancellationToken::new();
    let options = LocalOptions {
        strict_limits: args.strict_limits,
        hubspot_webhooks: true,
    };
    let local =
        LocalVendors::start(&loaded.config, &daemon_url, options, emulators.clone()).await?;
    let (hubspot, slack, asana) = (&local.hubspot, &local.slack, &local.asana);
    let world = Arc::new(seed::seed(&data, hubspot, slack, asana));
    loaded.config.public_url = daemon_url.clone();
    loaded.config.state_dir = db_dir;
    let vendors = vendors::build(local.settings(&loaded.config))?;

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
            let s = report::summarize(hubspot, slack, asana, &counts, &status, &origin);
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
    let mut summary = report::summarize(hubspot, slack, asana, &counts, &status, &origin);
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
