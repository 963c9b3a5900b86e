//! `handoff sandbox`: the daemon against in-process emulators seeded with real CRM data.
//!
//! 1. Start the HubSpot, Slack and Asana emulators on loopback ports (rate limits relaxed
//!    unless `--strict-limits`), and seed them ([`seed`]).
//! 2. Start the daemon with the bundled config (`src/sandbox/handoff.yaml`, the shipped
//!    mappings, the rule set of `examples/routing.yaml`), pointed at the emulators, on a
//!    simulated clock ([`sim`]): Thursday morning to Monday afternoon, faster than real time,
//!    jumping over stretches where the daemon is idle (nights, the weekend).
//! 3. Replay the Maven opportunities in date order while datablist contacts arrive as leads in
//!    business hours, after hours and on the weekend ([`replay`]); simulated reps act on their
//!    DMs in simulated time ([`reps`]): claim, log a call, change the lead status, reject, or
//!    ignore it (and the SLA steps follow).
//! 4. Show progress from the emulators' state; with `--exit-when-idle`, stop once the
//!    simulated period is over and everything is processed, read the daemon's audit trail,
//!    print a JSON summary with the lead outcomes and the delivery checks ([`report`]), and
//!    exit non-zero if a check failed. `--state-dir DIR` leaves every emulator's objects as
//!    JSON in `DIR/<vendor>/<object>.json` and the daemon's database in `DIR/handoff/`.

pub mod data;
pub mod local;
pub mod replay;
pub mod report;
pub mod reps;
pub mod seed;
pub mod sim;
pub mod smtp_sink;

use crate::clock::{Clock, SimClock};
use crate::config::{self, Loaded};
use crate::daemon::vendors;
use crate::daemon::{self, Listeners};
use crate::mapping::Mapping;
use local::{base_url, wait_ready, LocalOptions, LocalVendors};
use std::io::IsTerminal;
use std::path::PathBuf;
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
    /// Real seconds the simulated arrival sessions take (sets the clock's speed-up: 20
    /// simulated minutes of arrivals in this time; idle stretches are skipped).
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
    #[error("examples/routing.yaml: {0}")]
    Rules(#[from] crate::routing::RoutingError),
    #[error("cannot read the daemon's state after it stopped: {0}")]
    State(#[from] crate::state::StateError),
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
/// The acknowledgement template `handoff.yaml` names (`lead_handoff.after_hours.template`).
const ACK_TEMPLATE: &str = include_str!("../../templates/after-hours-ack.txt");
/// The rule set `handoff.yaml` names (`lead_handoff.rules`), embedded.
const RULES: &str = include_str!("../../examples/routing.yaml");
/// The shipped mappings, embedded (the sandbox runs from any folder).
const MAPPINGS: [(&str, &str); 5] = [
    (
        "mappings/hubspot-contact-to-lead.yaml",
        include_str!("../../mappings/hubspot-contact-to-lead.yaml"),
    ),
    (
        "mappings/hubspot-deal-to-onboarding.yaml",
        include_str!("../../mappings/hubspot-deal-to-onboarding.yaml"),
    ),
    (
        "mappings/hubspot-company-to-account.yaml",
        include_str!("../../mappings/hubspot-company-to-account.yaml"),
    ),
    (
        "mappings/lead-to-hubspot-contact.yaml",
        include_str!("../../mappings/lead-to-hubspot-contact.yaml"),
    ),
    (
        "mappings/onboarding-to-hubspot-ticket.yaml",
        include_str!("../../mappings/onboarding-to-hubspot-ticket.yaml"),
    ),
];

/// The bundled sandbox config and mappings, checked like any config. The rule set its
/// `lead_handoff.rules` names is not compiled here ([`bundled_rules`]; `rules` is `None`), so
/// callers that test flows on this config keep the territory round robin of `teams`.
pub fn bundled_config() -> Result<Loaded, config::ConfigError> {
    let path = PathBuf::from("src/sandbox/handoff.yaml");
    let mut config = config::parse(CONFIG, &path)?;
    let mappings = MAPPINGS
        .iter()
        .map(|(name, text)| Mapping::parse(text, name))
        .collect::<Result<Vec<_>, _>>()
        .map_err(config::ConfigError::from)?;
    if let Some(ack) = config.lead_handoff.after_hours.as_mut() {
        let lead = mappings
            .iter()
            .find(|m| m.name() == config.lead_handoff.mapping.value)
            .ok_or_else(|| config::ConfigError::Invalid {
                path: path.clone(),
                line: 0,
                column: 0,
                field: "lead_handoff.mapping".into(),
                message: "the bundled lead mapping is missing".into(),
            })?;
        config::compile_after_hours(ack, &path, ACK_TEMPLATE, lead.target_fields())?;
    }
    Ok(Loaded {
        path,
        config,
        mappings,
        rules: None,
    })
}

/// The rule set the sandbox routes with (`examples/routing.yaml`, embedded).
pub fn bundled_rules() -> Result<crate::routing::RuleSet, crate::routing::RoutingError> {
    crate::routing::RuleSet::parse(RULES, "examples/routing.yaml")
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
    // The prospects' mail server: after-hours acknowledgements land here.
    let sink = smtp_sink::SmtpSink::start(([127, 0, 0, 1], 0).into(), emulators.clone())
        .await
        .doing(bind)?;
    if let Some(smtp) = loaded.config.smtp.as_mut() {
        smtp.port = Some(sink.addr().port());
    }
    let options = LocalOptions {
        strict_limits: args.strict_limits,
        hubspot_webhooks: true,
    };
    let local =
        LocalVendors::start(&loaded.config, &daemon_url, options, emulators.clone()).await?;
    let (hubspot, slack, asana) = (&local.hubspot, &local.slack, &local.asana);
    let mut world = seed::seed(&data, hubspot, slack, asana);
    let rules = Arc::new(bundled_rules()?);
    loaded.rules = Some(rules.clone());
    seed::add_rule_people(&rules, hubspot, slack, &mut world);
    let world = Arc::new(world);
    loaded.config.public_url = daemon_url.clone();
    loaded.config.state_dir = db_dir.clone();
    local.configure(&mut loaded.config, temp.path())?;
    let vendors = vendors::from_config(&loaded)?;

    let clock = SimClock::new(sim::START_MS, sim::speed_for(args.replay_seconds));
    let stop_daemon = CancellationToken::new();
    let daemon_task = tokio::spawn(daemon::run_with_clock(
        loaded,
        vendors,
        Listeners { public, admin },
        stop_daemon.clone(),
        Arc::new(clock.clone()),
    ));
    let admin_client = crate::admin_client::AdminClient::new(admin_addr, PathBuf::new());
    wait_ready(&daemon_url).await?;

    let stop_replay = CancellationToken::new();
    let counts = Arc::new(replay::ReplayCounts::default());
    let rep_counts = Arc::new(reps::RepCounts::default());
    let jumps = Arc::new(sim::JumpStats::default());
    let replay_task = tokio::spawn(replay::run(
        data.clone(),
        world.clone(),
        hubspot.clone(),
        clock.clone(),
        counts.clone(),
        stop_replay.clone(),
    ));
    let rep_env = reps::RepEnv {
        slack: slack.clone(),
        hubspot: hubspot.clone(),
        hubspot_url: local.hubspot_url(),
        hubspot_token: hubspot.config().token.clone(),
        interactivity_url: local::join(&daemon_url, "slack/interactivity"),
        slack_signing_secret: local.slack_signing_secret().clone(),
        world: world.clone(),
        clock: clock.clone(),
        http: reqwest::Client::new(),
        counts: rep_counts.clone(),
    };
    let rep_emails: Vec<String> = world.slack_users.keys().cloned().collect();
    let driver = tokio::spawn(sim::drive(
        clock.clone(),
        crate::admin_client::AdminClient::new(admin_addr, PathBuf::new()),
        hubspot.clone(),
        reps::Reps::new(rep_env, rep_emails),
        jumps.clone(),
        stop_replay.clone(),
    ));
    // A wait at the end of the simulated period, so the driver jumps up to it.
    let period_over = {
        let clock = clock.clone();
        tokio::spawn(async move { clock.sleep_until_ms(sim::END_MS).await })
    };
    let sim_info = |jumps: &sim::JumpStats, now_ms: i64| report::SimulatedTime {
        start: sim::show(sim::START_MS),
        end: sim::show(now_ms),
        speed: clock.speed(),
        jumps: jumps.jumps.load(std::sync::atomic::Ordering::Relaxed),
        skipped_hours: jumps.skipped_ms.load(std::sync::atomic::Ordering::Relaxed) as f64
            / 3_600_000.0,
    };

    let tty = std::io::stderr().is_terminal();
    let http = reqwest::Client::new();
    let metrics_url = local::join(&daemon_url, "metrics");
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
            let mut s = report::summarize(hubspot, slack, asana, &counts, &status, &origin);
            s.simulated = sim_info(&jumps, clock.now_ms());
            s.reps = rep_counts.totals();
            s.live = report::LiveCounts::fetch(&http, &metrics_url).await;
            if tty {
                eprint!("\r\x1b[2K{}", report::progress_line(&s, &counts));
            } else {
                eprintln!("{}", report::progress_line(&s, &counts));
            }
            last_print = Instant::now();
        }
        if args.exit_when_idle && replay_task.is_finished() && period_over.is_finished() {
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
    let _ = replay_task.await;
    let _ = driver.await;
    period_over.abort();
    let status = admin_client.status().await.unwrap_or_default();
    stop_daemon.cancel();
    daemon_task
        .await
        .map_err(|e| SandboxError::DaemonPanicked(e.to_string()))??;
    let mut summary = report::summarize(hubspot, slack, asana, &counts, &status, &origin);
    summary.simulated = sim_info(&jumps, clock.now_ms());
    summary.reps = rep_counts.totals();
    let store = open_stopped_store(&db_dir).await?;
    summary.add_audit(&store, hubspot, &counts)?;
    if let Some(dir) = &args.state_dir {
        // The RevOps view of the run: `handoff report`'s page.
        let report = crate::report::from_store(&store, None, clock.now_ms())?;
        let page = dir.join("report.html");
        std::fs::write(&page, crate::report::html::render(&report))
            .doing(|| format!("cannot write {}", page.display()))?;
    }
    drop(store);
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

/// Opens the stopped daemon's store (sled releases its lock shortly after the last handle).
async fn open_stopped_store(dir: &std::path::Path) -> Result<crate::state::Store, SandboxError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match crate::state::Store::open(dir) {
            Ok(store) => return Ok(store),
            Err(e) if Instant::now() >= deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
