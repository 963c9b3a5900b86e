//! The shape of `handoff.yaml`: every key, its default and its unit. Serde reads it strictly
//! (`deny_unknown_fields`); [`super::load`] checks what serde cannot (references, schedules).

use super::SecretRef;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::net::SocketAddr;
use std::path::PathBuf;

/// `handoff.yaml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds (webhooks, Slack interactivity, health, metrics).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Address of the admin API the CLI reads while the daemon runs (`status`, `audit`,
    /// `dead-letters`). Keep it on loopback.
    #[serde(default = "default_admin_listen")]
    pub admin_listen: SocketAddr,
    /// The public base URL vendors post webhooks to (HubSpot signs the full URL).
    pub public_url: url::Url,
    /// Directory of the sled database (systemd `StateDirectory=`).
    pub state_dir: PathBuf,
    /// The state store's tuning.
    #[serde(default)]
    pub state: StateConfig,
    /// Directory of the mapping files, relative to this file's folder.
    #[serde(default = "default_mappings_dir")]
    pub mappings_dir: PathBuf,
    #[serde(default)]
    pub log: LogConfig,
    /// The CRM (`type: hubspot`), its credentials, budgets and change sources; see
    /// `connectors.rs`.
    pub crm: super::CrmSection,
    /// The project-management tool onboarding projects are made in (`type: asana`).
    pub pm: super::PmSection,
    pub slack: SlackSection,
    pub lead_handoff: LeadHandoffConfig,
    pub closed_won: ClosedWonConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// Reconciling what the CRM says changed with what handoff received.
    #[serde(default)]
    pub completeness: CompletenessConfig,
    /// Bounds on the public and admin listeners' connections.
    #[serde(default)]
    pub connections: ConnectionsConfig,
    /// Which system owns the owner field at each lifecycle stage, and what to do when another
    /// system changes it; see `ownership.rs`. Without it, owner changes are not checked.
    #[serde(default)]
    pub ownership: Option<super::ownership::OwnershipConfig>,
    /// A marketing CRM in front of `crm` (HubSpot before Salesforce); see `marketing.rs`.
    #[serde(default)]
    pub marketing: Option<super::marketing::MarketingConfig>,
    /// Support's case handoffs (bot → agent, L1 → L2); see `cases.rs`. Without it, cases
    /// are not routed.
    #[serde(default)]
    pub cases: Option<super::cases::CasesConfig>,
    /// Outgoing email (after-hours acknowledgements); see `smtp.rs`.
    #[serde(default)]
    pub smtp: Option<super::SmtpConfig>,
}

/// `completeness:` — the check no webhook or poll can make on itself: did handoff receive
/// every change the CRM made? Every `every_s`, for each polled object, the closed window
/// `[t − settle_s − every_s, t − settle_s)` is reconciled: the CRM's count of records last
/// modified in it against the records handoff received with their last modification in it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletenessConfig {
    /// Window length and period, s (default 3600; 0 turns the check off). Keep it under
    /// `delivery.dedupe_retention_h`, whose keys it counts.
    #[serde(default = "default_completeness_every_s")]
    pub every_s: u64,
    /// How long before now a window closes, s (default 600: late commits and webhook retries
    /// settle first).
    #[serde(default = "default_completeness_settle_s")]
    pub settle_s: u64,
    /// Re-read a window the CRM counts more records in than handoff received (a window
    /// replay; effects already applied are skipped). Default false: report only.
    #[serde(default)]
    pub replay_missing: bool,
    /// Consecutive failed polls after which a feed counts as stalled (default 3).
    #[serde(default = "default_stalled_after")]
    pub stalled_after_polls: u32,
}

impl Default for CompletenessConfig {
    fn default() -> Self {
        Self {
            every_s: default_completeness_every_s(),
            settle_s: default_completeness_settle_s(),
            replay_missing: false,
            stalled_after_polls: default_stalled_after(),
        }
    }
}

fn default_completeness_every_s() -> u64 {
    3600
}
fn default_completeness_settle_s() -> u64 {
    600
}
fn default_stalled_after() -> u32 {
    3
}

/// `state:` — the state store (sled) in `state_dir`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// sled's page cache, MiB (default 16). sled's own default is 1 GiB, which a backlog of a
    /// million events fills; what does not fit is read from disk (the OS page cache).
    #[serde(default = "default_cache_mb")]
    pub cache_mb: u64,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            cache_mb: default_cache_mb(),
        }
    }
}

fn default_cache_mb() -> u64 {
    16
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:8080".parse().expect("literal address")
}
fn default_admin_listen() -> SocketAddr {
    "127.0.0.1:9465".parse().expect("literal address")
}
fn default_mappings_dir() -> PathBuf {
    PathBuf::from("mappings")
}

/// Log output.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` for people, `json` for journald/ingest.
    #[serde(default = "default_log_format")]
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `handoff=debug,info`; `RUST_LOG` overrides it.
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: default_log_format(),
            level: default_log_level(),
        }
    }
}

fn default_log_format() -> LogFormat {
    LogFormat::Text
}
fn default_log_level() -> String {
    "info".into()
}

/// Log format.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

/// Slack (bot token, signing secret).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSection {
    #[serde(default = "default_slack_url")]
    pub base_url: url::Url,
    pub bot_token: SecretRef,
    /// Verifies interactivity requests (`X-Slack-Signature`).
    pub signing_secret: SecretRef,
    /// Web API calls per minute for this app (Slack Tier 3 methods allow about 50; Tier 4
    /// about 100; `chat.postMessage` about one per second per channel).
    #[serde(default = "default_slack_rate")]
    pub requests_per_minute: u32,
}

fn default_slack_rate() -> u32 {
    50
}

fn default_slack_url() -> url::Url {
    "https://slack.com/api/".parse().expect("literal URL")
}

/// Marketing → sales: which leads are handed off and to whom.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadHandoffConfig {
    /// Name of the mapping that turns the CRM's lead record (HubSpot contact, Salesforce Lead)
    /// into a handoff lead, with its gates. It also names the fields flows read: `owner_id`,
    /// `lead_status`, `lifecycle_stage`, `last_contacted_at`, `converted`, `email`, …
    pub mapping: Spanned<String>,
    /// Name of the outbound mapping that turns handoff's lead update (`owner_id`, `status`:
    /// `assigned` | `working` | `rejected` | `nurture`, `nurture_reason`, `rejection_reason`)
    /// into CRM field writes on the lead record.
    pub update_mapping: Spanned<String>,
    /// Name of the mapping that turns a CRM account (HubSpot company, Salesforce Account) into
    /// the account index entry (`name`, `domain`, `owner_id`) leads are matched against.
    pub account_mapping: Spanned<String>,
    /// Name of the mapping that turns a CRM activity (a Salesforce Task or Event) into a first
    /// touch (`lead_id`, `at`, `type`); none for a CRM whose lead mapping reads
    /// `last_contacted_at` instead (HubSpot).
    #[serde(default)]
    pub activity_mapping: Option<Spanned<String>>,
    /// Values of the mapped `lifecycle_stage` that mean "sales-ready" (e.g. `MQL`).
    #[serde(default = "default_trigger_stages")]
    pub trigger_stages: Vec<String>,
    /// Sales teams in territory order; the first team whose countries contain the lead's
    /// `country_code` (or `country`) gets it.
    pub teams: Vec<TeamConfig>,
    /// Team for leads whose country no territory lists.
    pub default_team: Spanned<String>,
    /// Optional routing rules file (see `examples/routing.yaml`), relative to this file's
    /// folder. When set, the rules engine routes leads (with business hours and deferral)
    /// instead of `teams`/`default_team` territory round robin.
    #[serde(default)]
    pub rules: Option<Spanned<PathBuf>>,
    /// What the daemon reads from the CRM for the rules (load per rep, out of office), and how
    /// often; see `routing_inputs.rs`.
    #[serde(default)]
    pub routing_inputs: super::routing_inputs::RoutingInputsConfig,
    /// Acknowledgement email to a prospect whose lead arrives while its team is closed (needs
    /// `smtp`); see `smtp.rs`.
    #[serde(default)]
    pub after_hours: Option<super::AfterHoursConfig>,
}

fn default_trigger_stages() -> Vec<String> {
    vec!["MQL".into()]
}

/// One sales team.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    pub name: String,
    /// Members by CRM owner email; round robin follows this order.
    pub members: Vec<String>,
    /// ISO 3166-1 alpha-2 codes (or country names) of the team's territory.
    #[serde(default)]
    pub countries: Vec<String>,
}

/// Sales → customer success: what happens when a deal is won.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedWonConfig {
    /// Name of the mapping that reads the CRM's deal (HubSpot deal, Salesforce Opportunity).
    /// Its `won` field (`true`/`false`) says whether the deal is closed-won; its gates must
    /// pass for the deal to be onboarded.
    pub mapping: Spanned<String>,
    /// Name of the outbound mapping that turns the onboarding case handoff writes (`subject`,
    /// `description`, `owner_id`, `tier`, `customer`, and the mapped deal under `deal.`) into
    /// the CRM case's fields (HubSpot ticket, Salesforce Case).
    pub case_mapping: Spanned<String>,
    /// Customer tiers by deal amount; the first tier whose `min_amount` the amount reaches.
    pub tiers: Vec<TierConfig>,
    /// CSMs by CRM owner email (they need Slack accounts with the same email), assigned in turn.
    pub csm_pool: Vec<String>,
}

/// A customer tier.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    pub name: String,
    /// Smallest deal amount of the tier, in the deal's currency.
    pub min_amount: f64,
    /// Name of the PM tool's project template to create the onboarding project from
    /// (`asana_template` is accepted as the older name).
    #[serde(alias = "asana_template")]
    pub project_template: String,
}

/// Delivery tuning.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Inbox entries processed per worker round.
    #[serde(default = "default_worker_batch")]
    pub worker_batch: usize,
    /// Sagas executed concurrently.
    #[serde(default = "default_concurrency")]
    pub executor_concurrency: usize,
    /// Attempts before a change or saga goes to dead letters.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// How long dedupe keys are remembered, hours.
    #[serde(default = "default_dedupe_hours")]
    pub dedupe_retention_h: u64,
    /// Grace period for in-flight work at shutdown, seconds.
    #[serde(default = "default_grace")]
    pub shutdown_grace_s: u64,
}

/// `connections:` — bounds on each listener (public, admin): see `daemon/listener.rs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsConfig {
    /// Open connections per listener at most; more are closed unanswered (default 1024).
    #[serde(default = "default_max_open")]
    pub max_open: usize,
    /// Seconds to receive a request's headers (default 10): slow senders are cut off.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_s: u64,
    /// Seconds to receive a request's body (default 30); a body late past it is answered 400.
    #[serde(default = "default_body_timeout")]
    pub body_timeout_s: u64,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        Self {
            max_open: default_max_open(),
            header_timeout_s: default_header_timeout(),
            body_timeout_s: default_body_timeout(),
        }
    }
}

fn default_max_open() -> usize {
    1024
}
fn default_header_timeout() -> u64 {
    10
}
fn default_body_timeout() -> u64 {
    30
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            worker_batch: default_worker_batch(),
            executor_concurrency: default_concurrency(),
            max_attempts: default_max_attempts(),
            dedupe_retention_h: default_dedupe_hours(),
            shutdown_grace_s: default_grace(),
        }
    }
}

fn default_worker_batch() -> usize {
    200
}
fn default_concurrency() -> usize {
    16
}
fn default_max_attempts() -> u32 {
    8
}
fn default_dedupe_hours() -> u64 {
    24 * 7
}
fn default_grace() -> u64 {
    20
}
