//! `handoff sandbox`: the daemon against in-process emulators seeded with real CRM data.
//!
//! 1. Start the CRM (`--crm hubspot`, the default, `--crm salesforce`, or both with
//!    `--crm hubspot+salesforce`: HubSpot for marketing in front of Salesforce for sales),
//!    Slack and Asana emulators on loopback ports (rate limits relaxed unless
//!    `--strict-limits`), and seed them ([`seed`]). Everything that depends on the CRM is
//!    behind [`crm::SandboxCrm`].
//! 2. Start the daemon with the CRM's bundled config ([`bundled`]: `src/sandbox/handoff.yaml`,
//!    `src/sandbox/handoff-salesforce.yaml` or `src/sandbox/handoff-hubspot-salesforce.yaml`,
//!    the shipped mappings, the rule set of
//!    `examples/routing.yaml`), pointed at the emulators, on a simulated clock ([`sim`]):
//!    Thursday morning to Monday afternoon, faster than real time, jumping over stretches where
//!    the daemon is idle (nights, the weekend).
//! 3. Replay the Maven opportunities in date order while datablist contacts arrive as leads in
//!    business hours, after hours and on the weekend ([`replay`]); simulated reps act on their
//!    DMs in simulated time ([`reps`]): claim, log a call, change the lead status, reject, or
//!    ignore it (and the SLA steps follow). On two CRMs, with `cases:`, the support tickets
//!    arrive as Salesforce Cases too, bot conversations with a chat transcript, and a simulated
//!    support team accepts offers, escalates and closes cases ([`support`]).
//! 4. Show progress from the emulators' state; with `--exit-when-idle`, stop once the
//!    simulated period is over and everything is processed, read the daemon's audit trail,
//!    print a JSON summary with the lead outcomes and the delivery checks ([`report`]; on two
//!    CRMs the checks across them and the support case checks too), and exit non-zero if a
//!    check failed. `--state-dir DIR` leaves every emulator's objects as
//!    JSON in `DIR/<vendor>/<object>.json` and the daemon's database in `DIR/handoff/`.

pub mod bundled;
pub mod crm;
pub mod data;
pub mod local;
pub mod replay;
pub mod report;
pub mod reps;
pub mod seed;
pub mod sim;
pub mod smtp_sink;
pub mod support;

pub use bundled::{bundled_config, bundled_config_for, bundled_rules};
pub use crm::CrmChoice;

use crate::clock::{Clock, SimClock};
use crate::config;
use crate::daemon::vendors;
use crate::daemon::{self, Listeners};
use local::{base_url, wait_ready, LocalOptions, LocalVendors};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// `handoff sandbox` options.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// The CRM to run against: its emulator, the bundled config for it
    /// (`src/sandbox/handoff.yaml`, `src/sandbox/handoff-salesforce.yaml`,
    /// `src/sandbox/handoff-hubspot-salesforce.yaml`) and its mappings. `hubspot+salesforce`:
    /// HubSpot for marketing in front of Salesforce for sales.
    #[arg(long, value_enum, default_value_t = CrmChoice::Hubspot)]
    pub crm: CrmChoice,
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
    /// requests per 10 s; Salesforce keeps its daily allocation of 100,000 calls and handoff
    /// its pace of 20 per second).
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

/// Runs the sandbox on `--data` (or the embedded subset); returns the final summary (also
/// printed as JSON on stdout with `--exit-when-idle` or after Ctrl-C).
///
/// Errors: the data or a bundled file cannot be read, an emulator or the daemon cannot start,
/// or the daemon stops abnormally.
pub async fn run(args: SandboxArgs) -> Result<report::Summary, SandboxError> {
    let data = match &args.data {
        Some(dir) => data::Dataset::from_dir(dir)?,
        None => data::Dataset::embedded()?,
    };
    run_with(args, data).await
}

/// [`run`] on `data` (`args.data` is not read).
pub async fn run_with(
    args: SandboxArgs,
    data: data::Dataset,
) -> Result<report::Summary, SandboxError> {
    let started = Instant::now();
    let data = Arc::new(data);
    let mut loaded = bundled_config_for(args.crm)?;
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
    let (crm, slack, asana) = (&local.crm, &local.slack, &local.asana);
    let probe = handoff_connector::Person::default();
    if config::lead_record(crm.arrival_system(), &probe).is_none() {
        return Err(SandboxError::Emulator(format!(
            "no lead record shape for the CRM {}",
            crm.arrival_system()
        )));
    }
    // The simulated clock starts now, so what the CRM stamps while seeding is simulated time.
    let clock = SimClock::new(sim::START_MS, sim::speed_for(args.replay_seconds));
    crm.follow_clock(&clock);
    let mut world = seed::seed(&data, crm.as_ref(), slack, asana);
    let rules = Arc::new(bundled_rules()?);
    loaded.rules = Some(rules.clone());
    seed::add_rule_people(&rules, crm.as_ref(), slack, &mut world);
    // Support's case handoffs, where the config has them and the CRM has support cases.
    let case_rules = loaded
        .case_rules
        .clone()
        .filter(|_| crm.support().is_some());
    if let Some(case_rules) = &case_rules {
        seed::seed_support(crm.as_ref(), slack, &mut world);
        seed::add_rule_people(case_rules, crm.as_ref(), slack, &mut world);
    }
    let cases_config = loaded.config.cases.clone();
    let world = Arc::new(world);
    loaded.config.public_url = daemon_url.clone();
    loaded.config.state_dir = db_dir.clone();
    local.configure(&mut loaded.config, temp.path())?;
    let vendors = vendors::from_config(&loaded)?;

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
    let support = match (cases_config, &case_rules) {
        (Some(cases), Some(rules)) => support::Support::new(
            crm.clone(),
            data.clone(),
            world.clone(),
            rules,
            cases,
            clock.clone(),
            slack.clone(),
            stop_replay.clone(),
        )
        .map(Arc::new),
        _ => None,
    };
    let counts = Arc::new(replay::ReplayCounts::default());
    let rep_counts = Arc::new(reps::RepCounts::default());
    let jumps = Arc::new(sim::JumpStats::default());
    let replay_task = tokio::spawn(replay::run(
        data.clone(),
        world.clone(),
        crm.clone(),
        clock.clone(),
        counts.clone(),
        stop_replay.clone(),
        support.clone(),
    ));
    let rep_env = reps::RepEnv {
        slack: slack.clone(),
        slack_posts: local.slack_posts(),
        slack_feed: local.slack_feed(),
        crm: crm.clone(),
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
        crm.clone(),
        reps::Reps::new(rep_env, rep_emails).with_support(support.clone()),
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
            let mut s = report::summarize(crm.as_ref(), slack, asana, &counts, &status, &origin);
            s.simulated = sim_info(&jumps, clock.now_ms());
            s.reps = rep_counts.totals();
            s.live = report::LiveCounts::fetch(&http, &metrics_url).await;
            let mut line = report::progress_line(&s, &counts);
            if let Some(support) = &support {
                line.push_str(" | ");
                line.push_str(&support.progress());
            }
            if tty {
                eprint!("\r\x1b[2K{line}");
            } else {
                eprintln!("{line}");
            }
            last_print = Instant::now();
        }
        if args.exit_when_idle && replay_task.is_finished() && period_over.is_finished() {
            let quiet = sim::idle(&status, crm.as_ref(), true);
            idle_rounds = if quiet { idle_rounds + 1 } else { 0 };
            // Quiet for 3 s: the last webhooks, polls (echoes of handoff's own writes included)
            // and claim clicks have settled.
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
    let mut summary = report::summarize(crm.as_ref(), slack, asana, &counts, &status, &origin);
    summary.simulated = sim_info(&jumps, clock.now_ms());
    summary.reps = rep_counts.totals();
    let store = open_stopped_store(&db_dir).await?;
    summary.add_audit(&store, crm.as_ref(), &counts)?;
    summary.add_two_crms(&store, crm.as_ref(), &counts)?;
    summary.add_cases(
        &store,
        crm.as_ref(),
        slack,
        support.as_deref(),
        data.tickets.len(),
    )?;
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
        crm.write_state(dir).doing(what)?;
        slack.write_state(dir).doing(what)?;
        asana.write_state(dir).doing(what)?;
        eprintln!("emulator state written to {}", dir.display());
    }
    if let Some((used, allocation)) = crm.api_usage() {
        eprintln!(
            "{} API calls: {used} of the daily allocation of {allocation}",
            crm.system()
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Every agent and account of the embedded data, with its first `deals` opportunities,
    /// `leads` contacts and `tickets` support tickets.
    fn slice(deals: usize, leads: usize, tickets: usize) -> data::Dataset {
        let mut d = data::Dataset::embedded().unwrap();
        d.opportunities.truncate(deals);
        d.customers.truncate(leads);
        d.tickets.truncate(tickets);
        d
    }

    /// A short run on `crm` that exits when idle and leaves its state in `out`.
    fn small_run(crm: CrmChoice, out: &tempfile::TempDir) -> SandboxArgs {
        SandboxArgs {
            crm,
            data: None,
            state_dir: Some(out.path().to_path_buf()),
            exit_when_idle: true,
            replay_seconds: 2.0,
            strict_limits: false,
        }
    }

    fn read(path: &std::path::Path) -> Vec<Value> {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_salesforce_run_hands_off_every_lead_and_won_deal_exactly_once() {
        let out = tempfile::TempDir::new().unwrap();
        let args = small_run(CrmChoice::Salesforce, &out);
        // The slice leaves some accounts without opportunities: Salesforce gives them to their
        // creator, the org's admin, who is in Slack too (no dead letter for their leads).
        let s = run_with(args, slice(80, 80, 40)).await.unwrap();
        assert!(s.checks.ok, "{:?}", s.checks);
        // No support cases without `cases:`.
        assert!(s.cases.is_none() && s.checks.cases.is_none());
        assert_eq!(s.leads_received, 80);
        assert!(s.leads_routed > 0 && s.leads_nurtured > 0, "{s:?}");
        assert_eq!(s.routing.routed + s.routing.nurtured, 80, "{:?}", s.routing);
        assert!(s.deals_won > 0);
        assert_eq!(s.onboarding_tickets, s.deals_won);
        assert_eq!(s.asana_projects, s.deals_won);
        assert_eq!(s.dead_letters, 0);

        // What the org holds agrees: one Case per won Opportunity, routed leads owned by Users.
        let dir = out.path().join("salesforce");
        let won: Vec<String> = read(&dir.join("Opportunity.json"))
            .iter()
            .filter(|o| o["IsWon"] == true)
            .filter_map(|o| o["Id"].as_str().map(String::from))
            .collect();
        assert_eq!(won.len(), s.deals_won);
        let cases = read(&dir.join("Case.json"));
        for id in &won {
            let key = format!("onboarding:salesforce:Opportunity:{id}:");
            let n = cases
                .iter()
                .filter(|c| {
                    c["Handoff_Idempotency_Key__c"]
                        .as_str()
                        .is_some_and(|k| k.starts_with(&key))
                })
                .count();
            assert_eq!(n, 1, "cases of {id}");
        }
        let leads = read(&dir.join("Lead.json"));
        let by_users = leads
            .iter()
            .filter(|l| l["Handoff_Nurture_Reason__c"].is_null())
            .filter(|l| l["OwnerId"].as_str().is_some_and(|o| o.starts_with("005")))
            .count();
        assert_eq!(by_users, s.leads_routed);
        for f in ["User.json", "Account.json", "Task.json", "Contact.json"] {
            assert!(dir.join(f).exists(), "{f}");
        }
        assert!(out.path().join("report.html").exists());
        assert!(out.path().join("slack/messages.json").exists());
        assert!(out.path().join("asana/projects.json").exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_two_crm_run_makes_each_qualified_contact_one_salesforce_lead_owned_alike() {
        let out = tempfile::TempDir::new().unwrap();
        let args = small_run(CrmChoice::HubspotSalesforce, &out);
        let s = run_with(args, slice(80, 80, 40)).await.unwrap();
        assert!(s.checks.ok, "{:?}", s.checks);
        let two = s.checks.two_crms.as_ref().expect("the two-CRM checks");
        assert!(two.pass(), "{two:?}");
        // Support's cases: one per ticket, the bot ones offered, some escalated with a note.
        let cases = s.checks.cases.as_ref().expect("the case checks");
        assert!(cases.pass(), "{cases:?}");
        let c = s.cases.as_ref().expect("the case counts");
        assert_eq!(
            (c.tickets, c.cases_created, c.opened),
            (40, 40, 40),
            "{c:?}"
        );
        assert!(
            c.bot_cases > 0 && c.opened_as_bot as u64 == c.bot_cases,
            "{c:?}"
        );
        assert_eq!(c.offered_cases as u64, c.bot_cases, "{c:?}");
        assert!(c.accepted_l1 > 0 && c.escalations > 0, "{c:?}");
        assert_eq!(c.handoff_notes, c.escalations, "{c:?}");
        assert_eq!(
            c.matched_to_accounts, 0,
            "the tickets' emails are example.com"
        );
        let m = s.marketing.as_ref().expect("the two-CRM counts");
        assert_eq!(s.leads_received, 80);
        assert_eq!(m.contacts, 80);
        assert!(m.qualified > 0 && m.qualified < 80, "{m:?}");
        // Each qualified contact became one Lead, routed, owned by the same person in both.
        assert_eq!(m.sales_leads, m.qualified, "{m:?}");
        assert_eq!(m.audit_promoted, m.qualified, "{m:?}");
        assert_eq!(m.sales_leads_owned, m.sales_leads, "{m:?}");
        assert_eq!(m.contacts_owned_as_in_sales, m.qualified, "{m:?}");
        assert!(m.audit_owners_mirrored.get("sales").is_some_and(|n| *n > 0));
        let nurtured: usize = m.nurtured_in_marketing.values().sum();
        assert_eq!(m.qualified + nurtured, 80, "{m:?}");
        assert_eq!(s.leads_routed + s.leads_nurtured, 80, "{s:?}");
        assert!(s.routing.routed > 0 && s.routing.routed <= m.qualified);
        assert!(s.deals_won > 0);
        assert_eq!(s.onboarding_tickets, s.deals_won);
        assert_eq!(s.asana_projects, s.deals_won);
        assert_eq!(s.dead_letters, 0);

        // Both CRMs' state is left, and agrees: a Salesforce Lead per qualified contact's
        // email, the contacts at Salesforce's owner.
        let hubspot = out.path().join("hubspot");
        let salesforce = out.path().join("salesforce");
        let contacts = read(&hubspot.join("contacts.json"));
        let leads = read(&salesforce.join("Lead.json"));
        assert_eq!(contacts.len(), 80);
        assert_eq!(leads.len(), m.sales_leads);
        let owners = read(&hubspot.join("owners.json"));
        let users = read(&salesforce.join("User.json"));
        let email_of = |list: &[Value], id_key: &str, email_key: &str, id: &Value| {
            list.iter()
                .find(|o| &o[id_key] == id)
                .and_then(|o| o[email_key].as_str())
                .map(str::to_lowercase)
        };
        for lead in &leads {
            let email = lead["Email"].as_str().unwrap().to_lowercase();
            let contact = contacts
                .iter()
                .find(|c| {
                    c["properties"]["email"].as_str().map(str::to_lowercase) == Some(email.clone())
                })
                .expect("the Lead's contact");
            let hubspot_owner = email_of(
                &owners,
                "id",
                "email",
                &contact["properties"]["hubspot_owner_id"],
            );
            let salesforce_owner = email_of(&users, "Id", "Email", &lead["OwnerId"]);
            assert!(salesforce_owner.is_some(), "{lead}");
            assert_eq!(hubspot_owner, salesforce_owner, "{email}");
        }
        for f in ["Opportunity.json", "Case.json", "Task.json"] {
            assert!(salesforce.join(f).exists(), "{f}");
        }
        // Case.json holds the onboarding cases and the support cases (those with an Origin).
        let all_cases = read(&salesforce.join("Case.json"));
        let support = all_cases.iter().filter(|c| c["Origin"].is_string()).count();
        assert_eq!(support, c.cases_created);
        assert_eq!(all_cases.len() - support, s.onboarding_tickets);
    }
}
