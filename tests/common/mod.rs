//! Shared harness for the black-box daemon tests (`tests/daemon_*.rs`, `tests/cli_*.rs`).
//!
//! Starts the CRM (HubSpot or Salesforce, [`Options::crm`]), Slack and Asana emulators in the
//! test process on `127.0.0.1:0`, seeds a small sales organisation (three territory teams and a
//! CSM pool, each member a CRM owner — with HubSpot, also a HubSpot user who is `available`; one
//! Asana template per tier), writes a
//! `handoff.yaml` pointing at them, and runs the daemon either in-process
//! ([`TestEnv::start_in_process`]) or as a child process of the `handoff` binary
//! ([`TestEnv::start_child`]). Assertions read the emulators' state and the admin API; every
//! wait polls a condition against a deadline.
#![allow(dead_code)]

mod crm;
#[allow(unused_imports)]
pub use crm::{text, CrmHandle};

/// Runs the scenario `async fn $name(crm: CrmKind)` against each CRM, as the tests
/// `$name::hubspot` and `$name::salesforce`: one set of black-box tests, not copies.
#[macro_export]
macro_rules! on_each_crm {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn hubspot() {
                super::$name($crate::common::CrmKind::HubSpot).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn salesforce() {
                super::$name($crate::common::CrmKind::Salesforce).await
            }
        }
    )+};
}

use handoff::daemon::vendors;
use handoff::daemon::{self, Listeners};
use handoff_asana::AsanaEmulator;
use handoff_hubspot::emulator::Availability;
use handoff_hubspot::HubSpotEmulator;
use handoff_salesforce::emulator::SalesforceEmulator;
use handoff_slack::SlackEmulator;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// West team (territory US, CA, ...), in round-robin order.
pub const WEST: [&str; 3] = [
    "wendy.west@example.com",
    "walt.west@example.com",
    "wanda.west@example.com",
];
/// East team (territory GB, DE, ...).
pub const EAST: [&str; 2] = ["erin.east@example.com", "ed.east@example.com"];
/// Central team (territory JP, IN, ...; also the default team).
pub const CENTRAL: [&str; 2] = ["cleo.central@example.com", "cal.central@example.com"];
/// The CSM pool.
pub const CSMS: [&str; 2] = ["cara.csm@example.com", "cody.csm@example.com"];
/// Asana templates per tier (Enterprise ≥ 5000, Growth ≥ 1000, Starter ≥ 0).
pub const ENTERPRISE: &str = "Onboarding — Enterprise";
pub const GROWTH: &str = "Onboarding — Growth";
pub const STARTER: &str = "Onboarding — Starter";

/// The secret files the daemon reads (in the test's folder, `secrets/<name>`).
pub const SECRET_FILES: [&str; 8] = [
    "hubspot-token",
    "hubspot-client-secret",
    "slack-bot-token",
    "slack-signing-secret",
    "asana-token",
    "salesforce-client-id",
    "salesforce-key.pem",
    "salesforce-unused",
];

/// The CRM a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrmKind {
    HubSpot,
    Salesforce,
}

impl CrmKind {
    /// The system name in record keys.
    pub fn system(self) -> &'static str {
        match self {
            CrmKind::HubSpot => "hubspot",
            CrmKind::Salesforce => "salesforce",
        }
    }
}

/// Custom fields the Salesforce org has (those the shipped Salesforce mappings name): the
/// sandbox's list, so tests and the sandbox run the same org.
pub use handoff::sandbox::crm::salesforce::CUSTOM_FIELDS as SALESFORCE_CUSTOM_FIELDS;

/// West is open every day around the clock (UTC), so business time is calendar time here and
/// the test can pick any instant; the business-time arithmetic has its own tests in
/// `routing::sla`.
pub const WEST_SLA_RULES: &str = r#"name: sla-test
teams:
  - name: West
    time_zone: UTC
    hours: { days: [mon, tue, wed, thu, fri, sat, sun], open: "00:00", close: "23:59" }
    groups:
      - { manager: cleo.central@example.com, reps: [wendy.west@example.com, walt.west@example.com] }
rules:
  - { name: everyone, strategy: round_robin, pool: { team: West } }
fallback: { owner: cal.central@example.com }
sla:
  policies:
    - name: demo_request
      first_touch: 10m
      clock: business
      remind_at: 0.5
      reassign_after: 10m
      max_reassignments: 1
      recycle_after: 30m
      recycle_reason: sla_expired
"#;

/// A poll schedule that never fires during a test (midnight on 1 January).
pub const POLL_NEVER: &str = "0 0 0 1 1 *";

/// The repository's `mappings/` folder.
pub fn mappings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings")
}

/// Polls `check` every 50 ms until it returns true or `within` passes; returns the last answer.
pub async fn wait_until<F: FnMut() -> bool>(within: Duration, mut check: F) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free loopback port (bound and released; good enough for a child process to take).
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr")
}

/// What a test wants of its environment.
#[derive(Clone, Debug)]
pub struct Options {
    /// The daemon's cron poll schedule (six fields).
    pub poll_schedule: String,
    /// Put a recording proxy between the HubSpot emulator's webhooks and the daemon.
    pub webhook_proxy: bool,
    /// The CRM the daemon speaks to. Salesforce changes come by polling, every second unless
    /// `poll_schedule` says otherwise.
    pub crm: CrmKind,
    /// `delivery.max_attempts`: tries before a failing change or step is dead-lettered.
    pub max_attempts: u32,
    /// HubSpot as the marketing CRM in front of Salesforce (`crm` must be Salesforce): the
    /// `marketing:` section, and every owner a HubSpot owner too (same email).
    pub marketing: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            poll_schedule: POLL_NEVER.into(),
            webhook_proxy: false,
            crm: CrmKind::HubSpot,
            max_attempts: 8,
            marketing: false,
        }
    }
}

impl Options {
    /// The defaults, against `crm`.
    pub fn on(crm: CrmKind) -> Self {
        Self {
            crm,
            ..Self::default()
        }
    }
}

/// Counts what the webhook proxy saw (evidence that deliveries failed and were retried).
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Delivery requests received from the emulator.
    pub requests: AtomicU64,
    /// Requests whose events had `attemptNumber > 0` (HubSpot retried the batch).
    pub retried_requests: AtomicU64,
    /// Requests the daemon could not take (down: connection refused or reset, or paused).
    pub failed_forwards: AtomicU64,
    /// While true, the proxy answers 503 without forwarding (HubSpot will retry).
    pub paused: std::sync::atomic::AtomicBool,
}

/// The seeded emulators and the ids tests need.
pub struct TestEnv {
    /// The CRM the daemon is configured for.
    pub crm: CrmKind,
    pub hubspot: HubSpotEmulator,
    /// The Salesforce org (started, and seeded only when `crm` is Salesforce).
    pub salesforce: SalesforceEmulator,
    pub salesforce_url: url::Url,
    pub slack: SlackEmulator,
    pub asana: AsanaEmulator,
    pub hubspot_url: url::Url,
    pub slack_api_url: url::Url,
    pub asana_url: url::Url,
    /// Owner email → CRM owner id (HubSpot owner id, Salesforce User id).
    pub owner_ids: HashMap<String, String>,
    /// Owner email → HubSpot owner id, with [`Options::marketing`].
    pub marketing_owner_ids: HashMap<String, String>,
    /// Email → Slack user id.
    pub slack_ids: HashMap<String, String>,
    /// Where the daemon serves webhooks (`http://127.0.0.1:PORT/`).
    pub daemon_url: url::Url,
    /// The base URL vendors post to (the proxy's when there is one).
    pub public_url: url::Url,
    pub admin_addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub proxy: Arc<ProxyStats>,
    pub http: reqwest::Client,
    listeners: Option<Listeners>,
    emulators: CancellationToken,
    daemon_stop: CancellationToken,
    daemon_task: Option<tokio::task::JoinHandle<Result<(), daemon::DaemonError>>>,
    child: Option<Child>,
    /// Child daemon starts so far.
    pub child_starts: u32,
    /// The clock an in-process daemon decides on (`None`: the wall clock). Set it before
    /// [`TestEnv::start_in_process`] to drive SLA and after-hours timers from the test.
    pub clock: Option<Arc<dyn handoff::clock::Clock>>,
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.daemon_stop.cancel();
        self.emulators.cancel();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl TestEnv {
    /// Binds the daemon's listeners (so its URL is known), starts and seeds the emulators, and
    /// writes `handoff.yaml` into a temporary folder. The daemon is not started yet.
    pub async fn new(opts: Options) -> TestEnv {
        let public = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let daemon_url: url::Url = format!("http://{}/", public.local_addr().unwrap())
            .parse()
            .unwrap();
        let admin_addr = admin.local_addr().unwrap();
        let emulators = CancellationToken::new();
        let proxy = Arc::new(ProxyStats::default());
        let public_url = if opts.webhook_proxy {
            start_proxy(daemon_url.clone(), proxy.clone(), emulators.clone()).await
        } else {
            daemon_url.clone()
        };

        let hubspot = HubSpotEmulator::new(handoff_hubspot::EmulatorConfig {
            rate_limits: false,
            webhook_target: Some(public_url.join("webhooks/hubspot").unwrap()),
            ..Default::default()
        });
        let slack = SlackEmulator::new(handoff_slack::EmulatorConfig {
            rate_limits: false,
            interactivity_url: Some(daemon_url.join("slack/interactivity").unwrap()),
            ..Default::default()
        });
        let asana = AsanaEmulator::new(handoff_asana::EmulatorConfig {
            rate_limits: false,
            job_delay_ms: 20,
            ..Default::default()
        });
        let salesforce = SalesforceEmulator::new(Default::default());
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let hs = hubspot.start(local, emulators.clone()).await.unwrap();
        let sf = salesforce.start(local, emulators.clone()).await.unwrap();
        let sl = slack.start(local, emulators.clone()).await.unwrap();
        let asn = asana.start(local, emulators.clone()).await.unwrap();

        let mut owner_ids = HashMap::new();
        let mut marketing_owner_ids = HashMap::new();
        let mut slack_ids = HashMap::new();
        for (team, members) in [
            ("West", &WEST[..]),
            ("East", &EAST[..]),
            ("Central", &CENTRAL[..]),
            ("Customer Success", &CSMS[..]),
        ] {
            for email in members {
                let first = email.split('.').next().unwrap();
                let id = match opts.crm {
                    CrmKind::HubSpot => {
                        let id = hubspot.add_owner(email, first, team, Some(team));
                        // Each owner is a HubSpot user too (users object, same email), available.
                        hubspot.add_user(email, first, team, Availability::Available);
                        id
                    }
                    CrmKind::Salesforce => salesforce.add_user(email, first, team),
                };
                if opts.marketing {
                    let id = hubspot.add_owner(email, first, team, Some(team));
                    marketing_owner_ids.insert(email.to_string(), id);
                }
                owner_ids.insert(email.to_string(), id);
                slack_ids.insert(email.to_string(), slack.add_user(email, first));
            }
        }
        for (name, extra) in [
            (ENTERPRISE, vec!["Security review"]),
            (GROWTH, vec!["Integration plan"]),
            (STARTER, vec![]),
        ] {
            let mut tasks = vec!["Kickoff call"];
            tasks.extend(extra);
            asana.add_template(name, vec![("Kickoff", tasks)]);
        }

        if opts.crm == CrmKind::Salesforce {
            for (object, field) in SALESFORCE_CUSTOM_FIELDS {
                salesforce.add_field(object, field).unwrap();
            }
        }
        let dir = tempfile::TempDir::new().unwrap();
        let env = TestEnv {
            crm: opts.crm,
            salesforce_url: sf.base_url(),
            salesforce,
            hubspot_url: hs.base_url(),
            slack_api_url: handoff_slack::emulator::api_base_url(&sl),
            asana_url: asn.base_url(),
            hubspot,
            slack,
            asana,
            owner_ids,
            marketing_owner_ids,
            slack_ids,
            daemon_url,
            public_url,
            admin_addr,
            config_path: dir.path().join("handoff.yaml"),
            dir,
            proxy,
            http: reqwest::Client::new(),
            listeners: Some(Listeners { public, admin }),
            emulators,
            daemon_stop: CancellationToken::new(),
            daemon_task: None,
            child: None,
            child_starts: 0,
            clock: None,
        };
        env.write_secrets();
        std::fs::write(&env.config_path, env.config_yaml(&opts)).unwrap();
        env
    }

    /// Writes the emulators' credentials as the daemon's secret files (`secrets/<name>`).
    fn write_secrets(&self) {
        use secrecy::ExposeSecret;
        let dir = self.dir.path().join("secrets");
        std::fs::create_dir_all(&dir).unwrap();
        let hs = self.hubspot.config();
        let sl = handoff_slack::EmulatorConfig::default();
        let values = [
            hs.token.clone(),
            hs.client_secret.clone(),
            sl.bot_token.expose_secret().to_string(),
            sl.signing_secret.expose_secret().to_string(),
            self.asana.config().token.clone(),
            self.salesforce.config().client_id.clone(),
            handoff_salesforce::emulator::TEST_PRIVATE_KEY_PEM.to_string(),
            String::new(),
        ];
        for (name, value) in SECRET_FILES.iter().zip(values) {
            std::fs::write(dir.join(name), value).unwrap();
        }
    }

    /// The `crm:` section of the config: the emulator of [`Options::crm`], relaxed budgets;
    /// then, with [`Options::marketing`], the `marketing:` section (HubSpot in front).
    fn crm_section(&self, opts: &Options) -> String {
        let mut out = self.crm_section_of(self.crm, opts, "[companies, contacts, deals]");
        if opts.marketing {
            let hubspot = self.crm_section_of(CrmKind::HubSpot, opts, "[contacts]");
            out.push_str("marketing:\n");
            for line in hubspot.lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
            out.push_str(
                "  lead_mapping: hubspot-contact-to-lead
  sales_lead_mapping: hubspot-contact-to-salesforce-lead
  update_mapping: lead-to-hubspot-contact
  owner_of_record:
    - { stages: [subscriber, lead], crm: marketing }
    - { stages: [MQL, SQL, opportunity, customer], crm: sales }
",
            );
        }
        out
    }

    /// The `crm:` section for `kind`'s emulator (HubSpot polls `hubspot_objects`).
    fn crm_section_of(&self, kind: CrmKind, opts: &Options, hubspot_objects: &str) -> String {
        let secrets = self.dir.path().join("secrets");
        let secrets = secrets.display();
        match kind {
            CrmKind::HubSpot => format!(
                r#"crm:
  type: hubspot
  base_url: {hs}
  token: {{ file: {secrets}/hubspot-token }}
  client_secret: {{ file: {secrets}/hubspot-client-secret }}
  portal_id: {portal}
  rate: {{ requests: 100000, window_s: 10 }}
  search_per_second: 1000
  changes:
    - webhook
    - poll:
        schedule: "{schedule}"
        objects: {hubspot_objects}
"#,
                hs = self.hubspot_url,
                portal = self.hubspot.config().portal_id,
                schedule = opts.poll_schedule,
            ),
            CrmKind::Salesforce => format!(
                r#"crm:
  type: salesforce
  login_url: {sf}
  auth:
    jwt:
      client_id: {{ file: {secrets}/salesforce-client-id }}
      username: {user}
      private_key: {{ file: {secrets}/salesforce-key.pem }}
  requests_per_second: 100000
  limit_wait_s: 1
  changes:
    - poll:
        schedule: "{schedule}"
        objects: [Account, Lead, Opportunity, Task]
        overlap_ms: 5000
"#,
                sf = self.salesforce_url,
                user = self.salesforce.config().username,
                schedule = if opts.poll_schedule == POLL_NEVER {
                    "* * * * * *"
                } else {
                    opts.poll_schedule.as_str()
                },
            ),
        }
    }

    /// The daemon's `handoff.yaml` for this environment.
    pub fn config_yaml(&self, opts: &Options) -> String {
        let team = |members: &[&str]| {
            members
                .iter()
                .map(|m| format!("        - {m}\n"))
                .collect::<String>()
        };
        let asana = self.asana.config();
        format!(
            r#"listen: {listen}
admin_listen: {admin}
public_url: {public}
state_dir: state
mappings_dir: {mappings}
log: {{ format: text, level: warn }}
{crm}pm:
  type: asana
  base_url: {asn}
  token: {{ file: {secrets}/asana-token }}
  workspace_gid: "{ws}"
  team_gid: "{team_gid}"
  requests_per_minute: 1000000
  job_poll_ms: 20
slack:
  base_url: {sl}
  bot_token: {{ file: {secrets}/slack-bot-token }}
  signing_secret: {{ file: {secrets}/slack-signing-secret }}
  requests_per_minute: 1000000
lead_handoff:
{lead_mappings}  trigger_stages: [MQL]
  default_team: Central
  teams:
    - name: West
      members:
{west}      countries: [US, CA, MX, BR]
    - name: East
      members:
{east}      countries: [GB, DE, FR, NL]
    - name: Central
      members:
{central}      countries: [JP, IN, AU]
closed_won:
{deal_mappings}  tiers:
    - {{ name: Enterprise, min_amount: 5000, project_template: "{ENTERPRISE}" }}
    - {{ name: Growth, min_amount: 1000, project_template: "{GROWTH}" }}
    - {{ name: Starter, min_amount: 0, project_template: "{STARTER}" }}
  csm_pool:
{csms}delivery:
  worker_batch: 200
  executor_concurrency: 16
  max_attempts: {max_attempts}
  shutdown_grace_s: 2
"#,
            listen = self.daemon_url.host_str().unwrap().to_string()
                + ":"
                + &self.daemon_url.port().unwrap().to_string(),
            admin = self.admin_addr,
            max_attempts = opts.max_attempts,
            public = self.public_url,
            mappings = mappings_dir().display(),
            crm = self.crm_section(opts),
            lead_mappings = match self.crm {
                CrmKind::HubSpot => "  mapping: hubspot-contact-to-lead\n  update_mapping: lead-to-hubspot-contact\n  account_mapping: hubspot-company-to-account\n",
                CrmKind::Salesforce => "  mapping: salesforce-lead-to-lead\n  update_mapping: lead-to-salesforce-lead\n  account_mapping: salesforce-account-to-account\n  activity_mapping: salesforce-task-to-activity\n",
            },
            deal_mappings = match self.crm {
                CrmKind::HubSpot => "  mapping: hubspot-deal-to-onboarding\n  case_mapping: onboarding-to-hubspot-ticket\n",
                CrmKind::Salesforce => "  mapping: salesforce-opportunity-to-onboarding\n  case_mapping: onboarding-to-salesforce-case\n",
            },
            secrets = self.dir.path().join("secrets").display(),
            sl = self.slack_api_url,
            asn = self.asana_url,
            ws = asana.workspace_gid,
            team_gid = asana.team_gid,
            west = team(&WEST),
            east = team(&EAST),
            central = team(&CENTRAL),
            csms = CSMS
                .iter()
                .map(|m| format!("    - {m}\n"))
                .collect::<String>(),
        )
    }

    /// Makes the daemon route with the rule set `rules` (written as `routing.yaml` beside the
    /// config and named in `lead_handoff.rules`), adding `lead_handoff_extra` (indented YAML
    /// lines of `lead_handoff`, e.g. `"  routing_inputs: { refresh_s: 60 }\n"`). Call it before
    /// the daemon starts.
    pub fn use_rules(&self, rules: &str, lead_handoff_extra: &str) {
        std::fs::write(self.dir.path().join("routing.yaml"), rules).unwrap();
        let config = std::fs::read_to_string(&self.config_path).unwrap();
        let with_rules = config.replacen(
            "  default_team: Central\n",
            &format!("  default_team: Central\n  rules: routing.yaml\n{lead_handoff_extra}"),
            1,
        );
        assert_ne!(
            config, with_rules,
            "the test config has lead_handoff.default_team"
        );
        std::fs::write(&self.config_path, with_rules).unwrap();
    }

    /// Turns the case flow on (Salesforce only): `rules` is written as `support.yaml` beside
    /// the config and named in a `cases:` section with the shipped Case mappings and
    /// `cases_extra` (indented YAML lines of `cases`); Cases join the polled objects. Call it
    /// before the daemon starts.
    pub fn use_cases(&self, rules: &str, cases_extra: &str) {
        assert_eq!(
            self.crm,
            CrmKind::Salesforce,
            "cases run on Salesforce here"
        );
        std::fs::write(self.dir.path().join("support.yaml"), rules).unwrap();
        let config = std::fs::read_to_string(&self.config_path).unwrap();
        let polled = config.replacen(
            "objects: [Account, Lead, Opportunity, Task]",
            "objects: [Account, Lead, Opportunity, Task, Case]",
            1,
        );
        assert_ne!(config, polled, "the test config polls Salesforce objects");
        let with_cases = format!(
            "{polled}cases:\n  mapping: salesforce-case-to-case\n  update_mapping: case-to-salesforce-case\n  rules: support.yaml\n{cases_extra}"
        );
        std::fs::write(&self.config_path, with_cases).unwrap();
    }

    /// Starts the daemon in this process on the pre-bound listeners and waits for `/readyz`.
    pub async fn start_in_process(&mut self) {
        if let Err(e) = self.try_start_in_process().await {
            panic!("{e}");
        }
    }

    /// [`TestEnv::start_in_process`], returning why the daemon stopped before it was ready.
    async fn try_start_in_process(&mut self) -> Result<(), String> {
        let loaded = handoff::config::load(&self.config_path).expect("test config loads");
        let vendors = vendors::from_config(&loaded).expect("vendors build");
        let listeners = self.listeners.take().expect("daemon started once");
        let clock = self
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(handoff::clock::SystemClock));
        self.daemon_task = Some(tokio::spawn(daemon::run_with_clock(
            loaded,
            vendors,
            listeners,
            self.daemon_stop.clone(),
            clock,
        )));
        self.wait_ready(Duration::from_secs(30)).await
    }

    /// Stops the in-process daemon cleanly, binds its listeners again on the same addresses
    /// and starts it again on the same state (a restart: the same database, clock and config).
    pub async fn restart_in_process(&mut self) {
        self.stop_in_process().await;
        self.daemon_stop = CancellationToken::new();
        let public_addr: SocketAddr = format!(
            "{}:{}",
            self.daemon_url.host_str().unwrap(),
            self.daemon_url.port().unwrap()
        )
        .parse()
        .unwrap();
        // sled releases its file lock only once the stopped daemon's last handle (and sled's
        // own flusher thread) let go, a moment after the task ends: a start that finds the
        // store still locked is tried again.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.listeners = Some(Listeners {
                public: tokio::net::TcpListener::bind(public_addr).await.unwrap(),
                admin: tokio::net::TcpListener::bind(self.admin_addr)
                    .await
                    .unwrap(),
            });
            match self.try_start_in_process().await {
                Ok(()) => return,
                Err(e) if e.contains("lock") && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Stops the in-process daemon cleanly and waits for it.
    pub async fn stop_in_process(&mut self) {
        self.daemon_stop.cancel();
        if let Some(t) = self.daemon_task.take() {
            t.await.expect("daemon task").expect("daemon stops cleanly");
        }
    }

    /// A `handoff` command (its secrets are the config's secret files).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_handoff"));
        cmd.env_remove("RUST_LOG").env_remove("HANDOFF_CONFIG");
        cmd
    }

    /// Starts `handoff run --config …` as a child process on the configured ports (releasing
    /// the pre-bound listeners first) and waits for `/readyz`. Logs go to `daemon.log`.
    pub async fn start_child(&mut self) {
        self.listeners = None;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .unwrap();
        let child = self
            .command()
            .arg("run")
            .arg("--config")
            .arg(&self.config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn handoff run");
        self.child = Some(child);
        self.child_starts += 1;
        if let Err(e) = self.wait_ready(Duration::from_secs(60)).await {
            panic!("{e}");
        }
    }

    /// SIGKILLs the child daemon (`Child::kill` sends SIGKILL on unix) and reaps it.
    pub fn kill_child(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL the daemon");
            c.wait().expect("reap the daemon");
        }
    }

    /// The child daemon's process id, while one runs.
    pub fn child_pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The child daemon's log so far (for failure messages).
    pub fn child_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    async fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let url = self.daemon_url.join("readyz").unwrap();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(r) = self.http.get(url.clone()).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("daemon exited early ({status}):\n{}", self.child_log());
                }
            }
            if self.daemon_task.as_ref().is_some_and(|t| t.is_finished()) {
                let result = self.daemon_task.take().unwrap().await;
                return Err(format!(
                    "the in-process daemon stopped before it was ready: {result:?}"
                ));
            }
            assert!(
                Instant::now() < deadline,
                "daemon not ready in {within:?}\n{}",
                self.child_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // ---- admin API ----------------------------------------------------------------------

    /// `GET /admin/status`.
    pub async fn status(&self) -> handoff::state::StatusReport {
        self.admin_get("/admin/status").await
    }

    /// `GET /admin/audit/{record}`: the entries (`event`, `message`, `detail`).
    pub async fn audit(&self, record: &str) -> Vec<Value> {
        let v: Value = self.admin_get(&format!("/admin/audit/{record}")).await;
        v["entries"].as_array().cloned().unwrap_or_default()
    }

    /// Audit entries of `record` whose `event` is `event`.
    pub async fn audit_events(&self, record: &str, event: &str) -> Vec<Value> {
        self.audit(record)
            .await
            .into_iter()
            .filter(|e| e["event"] == event)
            .collect()
    }

    /// Waits until `record` has an audit entry `event` (at most `within`); returns them all.
    pub async fn wait_audit(&self, record: &str, event: &str, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let found = self.audit_events(record, event).await;
            if !found.is_empty() || Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET /admin/dead-letters`.
    pub async fn dead_letters(&self) -> Vec<Value> {
        self.admin_get("/admin/dead-letters").await
    }

    /// Replays every dead letter of `record` through the admin API; returns how many.
    pub async fn replay_dead_letters_of(&self, record: &str) -> usize {
        let mut replayed = 0;
        for letter in self
            .dead_letters()
            .await
            .iter()
            .filter(|l| l["record_key"] == record)
        {
            let id = letter["id"].as_u64().unwrap();
            let r = self
                .http
                .post(format!(
                    "http://{}/admin/dead-letters/{id}/replay",
                    self.admin_addr
                ))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "replay: {}", r.status());
            replayed += 1;
        }
        replayed
    }

    /// Waits until the dead letters include one for `record`; returns them all.
    pub async fn wait_dead_letter(&self, record: &str, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let letters = self.dead_letters().await;
            if letters.iter().any(|l| l["record_key"] == record) {
                return letters;
            }
            assert!(
                Instant::now() < deadline,
                "no dead letter for {record}: {letters:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `GET /metrics` on the public listener.
    pub async fn metrics_text(&self) -> String {
        let url = self.daemon_url.join("metrics").unwrap();
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn admin_get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let url = format!("http://{}{path}", self.admin_addr);
        let r = self.http.get(&url).send().await.expect("admin API answers");
        assert!(r.status().is_success(), "{url}: {}", r.status());
        r.json().await.expect("admin API JSON")
    }

    /// Waits until the daemon has nothing left to do: no webhook pending in the emulator, empty
    /// inbox, only parked sagas in the outbox, for `quiet` in a row. Panics after `within`.
    /// Salesforce changes arrive by polling every second, so its quiet is at least 2.5 s (two
    /// polls that found nothing new).
    pub async fn wait_idle(&self, within: Duration, quiet: Duration) {
        let quiet = match self.crm {
            CrmKind::HubSpot => quiet,
            CrmKind::Salesforce => quiet.max(Duration::from_millis(2500)),
        };
        let deadline = Instant::now() + within;
        let mut since: Option<Instant> = None;
        loop {
            let s = self.status().await;
            let idle = self.hubspot.pending_webhooks() == 0
                && s.inbox_depth == 0
                && s.outbox_depth == s.parked_sagas;
            since = if idle {
                since.or(Some(Instant::now()))
            } else {
                None
            };
            if since.is_some_and(|t| t.elapsed() >= quiet) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "daemon not idle within {within:?}: {s:?}, webhooks pending {}",
                self.hubspot.pending_webhooks()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // ---- emulator state helpers ---------------------------------------------------------

    /// Creates an MQL contact with consent and a valid US phone; `extra` overrides or adds
    /// properties (a `null` value removes one). Returns its id.
    pub fn create_lead(&self, email: &str, extra: Value) -> String {
        let mut p = props(json!({
            "email": email,
            "firstname": "Ana",
            "lastname": "Lima",
            "company": "Northwind Traders",
            "country": "United States",
            "phone": "+1 212 736 5000",
            "lifecyclestage": "marketingqualifiedlead",
            "hs_legal_basis": "Legitimate interest – prospect/lead",
        }));
        for (k, v) in props(extra) {
            if v.is_null() {
                p.remove(&k);
            } else {
                p.insert(k, v);
            }
        }
        self.hubspot.create_object("contacts", p)
    }

    /// A HubSpot record (`contacts`, `deals`, …) as the API returns it.
    pub fn record(&self, object_type: &str, id: &str) -> Value {
        self.hubspot
            .get(object_type, id)
            .unwrap_or_else(|| panic!("no {object_type} {id}"))
    }

    /// A property of a HubSpot record, if set and non-empty.
    pub fn prop(&self, object_type: &str, id: &str, name: &str) -> Option<String> {
        prop(&self.record(object_type, id), name)
    }

    /// Slack messages whose metadata carries idempotency key `key`.
    pub fn messages_with_key(&self, key: &str) -> Vec<Value> {
        self.slack
            .messages()
            .into_iter()
            .filter(|m| metadata_key(m) == Some(key))
            .collect()
    }

    /// The owner email of a HubSpot owner id.
    pub fn owner_email(&self, id: &str) -> Option<String> {
        self.owner_ids
            .iter()
            .find(|(_, v)| v.as_str() == id)
            .map(|(k, _)| k.clone())
    }
}

/// A JSON object as a property map.
pub fn props(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A property of a record JSON, if set and non-empty.
pub fn prop(record: &Value, name: &str) -> Option<String> {
    record["properties"][name]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// Ids of `to` records associated with a record JSON.
pub fn assoc_ids(record: &Value, to: &str) -> Vec<String> {
    record["associations"][to]["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The handoff idempotency key in a Slack message's metadata.
pub fn metadata_key(m: &Value) -> Option<&str> {
    m["metadata"]["event_payload"]["idempotency_key"].as_str()
}

/// Whether a Slack message has a button with `action_id`.
pub fn has_button(m: &Value, action_id: &str) -> bool {
    m["blocks"].as_array().is_some_and(|blocks| {
        blocks.iter().any(|b| {
            b["elements"]
                .as_array()
                .is_some_and(|els| els.iter().any(|e| e["action_id"] == action_id))
        })
    })
}

/// A forwarding proxy for webhook deliveries: counts requests, retries (`attemptNumber > 0`)
/// and deliveries the daemon could not take (answered 503 so the emulator retries). Returns
/// its base URL.
async fn start_proxy(
    target: url::Url,
    stats: Arc<ProxyStats>,
    stop: CancellationToken,
) -> url::Url {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode, Uri};
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let handler = move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let (http, stats, target) = (http.clone(), stats.clone(), target.clone());
        async move {
            stats.requests.fetch_add(1, Ordering::SeqCst);
            let retried = serde_json::from_slice::<Vec<Value>>(&body)
                .map(|events| {
                    events
                        .iter()
                        .any(|e| e["attemptNumber"].as_u64().unwrap_or(0) > 0)
                })
                .unwrap_or(false);
            if retried {
                stats.retried_requests.fetch_add(1, Ordering::SeqCst);
            }
            if stats.paused.load(Ordering::SeqCst) {
                stats.failed_forwards.fetch_add(1, Ordering::SeqCst);
                return StatusCode::SERVICE_UNAVAILABLE;
            }
            let url = target.join(uri.path().trim_start_matches('/')).unwrap();
            let mut req = http.post(url).body(body.to_vec());
            for (k, v) in headers.iter() {
                if k.as_str().starts_with("x-") || k == "content-type" {
                    req = req.header(k.as_str(), v.as_bytes());
                }
            }
            match req.send().await {
                Ok(r) => StatusCode::from_u16(r.status().as_u16()).unwrap(),
                Err(_) => {
                    stats.failed_forwards.fetch_add(1, Ordering::SeqCst);
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }
    };
    let router = axum::Router::new().fallback(handler);
    let running = handoff_connector::emulator::serve(router, "127.0.0.1:0".parse().unwrap(), stop)
        .await
        .unwrap();
    running.base_url()
}
