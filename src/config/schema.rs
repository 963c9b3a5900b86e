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
    /// Directory of the mapping files, relative to this file's folder.
    #[serde(default = "default_mappings_dir")]
    pub mappings_dir: PathBuf,
    #[serde(default)]
    pub log: LogConfig,
    pub hubspot: HubSpotSection,
    pub slack: SlackSection,
    pub asana: AsanaSection,
    pub lead_handoff: LeadHandoffConfig,
    pub closed_won: ClosedWonConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// Which system owns the owner field at each lifecycle stage, and what to do when another
    /// system changes it; see `ownership.rs`. Without it, owner changes are not checked.
    #[serde(default)]
    pub ownership: Option<super::ownership::OwnershipConfig>,
    /// Outgoing email (after-hours acknowledgements); see `smtp.rs`.
    #[serde(default)]
    pub smtp: Option<super::SmtpConfig>,
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

/// A vendor's request budget: `requests` per `window_s` seconds.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateBudget {
    pub requests: u32,
    pub window_s: u64,
}

/// HubSpot (CRM v3, private-app token).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpotSection {
    /// API root, `https://api.hubapi.com` in production.
    #[serde(default = "default_hubspot_url")]
    pub base_url: url::Url,
    /// Private-app access token.
    pub token: SecretRef,
    /// The app's client secret, which signs webhooks (v3).
    pub client_secret: SecretRef,
    /// The portal (hub) id, used in "Open in CRM" links.
    pub portal_id: u64,
    /// Link to a record in the CRM UI; `{portal_id}`, `{object_type_id}` and `{id}` are filled.
    #[serde(default = "default_record_url")]
    pub record_url: String,
    /// Budget of the ten-second bucket (private apps, Professional: 190 per 10 s).
    #[serde(default = "default_hubspot_budget")]
    pub rate: RateBudget,
    /// Polling of the change feed (a backstop for missed webhooks).
    #[serde(default)]
    pub poll: PollConfig,
}

fn default_hubspot_url() -> url::Url {
    "https://api.hubapi.com".parse().expect("literal URL")
}
fn default_record_url() -> String {
    "https://app.hubspot.com/contacts/{portal_id}/record/{object_type_id}/{id}".into()
}
fn default_hubspot_budget() -> RateBudget {
    RateBudget {
        requests: 190,
        window_s: 10,
    }
}

/// When and what to poll.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollConfig {
    /// Cron schedule, six fields with seconds first (e.g. `0 */5 * * * *`: every five minutes).
    #[serde(default = "default_schedule")]
    pub schedule: Spanned<String>,
    /// Object types to poll.
    #[serde(default = "default_poll_objects")]
    pub objects: Vec<String>,
    /// How far before the cursor each poll re-reads, ms (late commits are not skipped).
    #[serde(default = "default_overlap_ms")]
    pub overlap_ms: i64,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            schedule: default_schedule(),
            objects: default_poll_objects(),
            overlap_ms: default_overlap_ms(),
        }
    }
}

fn default_schedule() -> Spanned<String> {
    let here = serde_saphyr::Location::UNKNOWN;
    Spanned::new("0 * * * * *".into(), here, here)
}
fn default_poll_objects() -> Vec<String> {
    vec!["contacts".into(), "deals".into()]
}
fn default_overlap_ms() -> i64 {
    60_000
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

/// Asana (personal access token or service account).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsanaSection {
    #[serde(default = "default_asana_url")]
    pub base_url: url::Url,
    pub token: SecretRef,
    pub workspace_gid: String,
    /// Team that owns onboarding projects.
    pub team_gid: String,
    /// API calls per minute for this token (Asana: 150 on free domains, 1,500 on paid).
    #[serde(default = "default_asana_rate")]
    pub requests_per_minute: u32,
}

fn default_asana_rate() -> u32 {
    1500
}

fn default_asana_url() -> url::Url {
    "https://app.asana.com/api/1.0/"
        .parse()
        .expect("literal URL")
}

/// Marketing → sales: which leads are handed off and to whom.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadHandoffConfig {
    /// Name of the mapping that turns a HubSpot contact into a lead (with its gates).
    pub mapping: Spanned<String>,
    /// Values of the mapped `lifecycle_stage` that mean "sales-ready" (e.g. `MQL`).
    #[serde(default = "default_trigger_stages")]
    pub trigger_stages: Vec<String>,
    /// Sales teams in territory order; the first team whose countries contain the lead's
    /// `country_code` (or `country`) gets it.
    pub teams: Vec<TeamConfig>,
    /// Team for leads whose country no territory lists.
    pub default_team: Spanned<String>,
    /// `hs_lead_status` written when a lead goes back to nurture.
    #[serde(default = "default_nurture_status")]
    pub nurture_lead_status: String,
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
fn default_nurture_status() -> String {
    "UNQUALIFIED".into()
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
    /// Name of the mapping that reads a HubSpot deal.
    pub mapping: Spanned<String>,
    /// `dealstage` values that mean closed-won.
    #[serde(default = "default_won_stages")]
    pub won_stages: Vec<String>,
    /// Customer tiers by deal amount; the first tier whose `min_amount` the amount reaches.
    pub tiers: Vec<TierConfig>,
    /// CSMs by CRM owner email (they need Slack accounts with the same email), assigned in turn.
    pub csm_pool: Vec<String>,
    /// Ticket pipeline and stage of the onboarding ticket (HubSpot's default support pipeline is
    /// `0`, stage `1` = New).
    #[serde(default = "default_ticket_pipeline")]
    pub ticket_pipeline: String,
    #[serde(default = "default_ticket_stage")]
    pub ticket_stage: String,
}

fn default_won_stages() -> Vec<String> {
    vec!["closedwon".into()]
}
fn default_ticket_pipeline() -> String {
    "0".into()
}
fn default_ticket_stage() -> String {
    "1".into()
}

/// A customer tier.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    pub name: String,
    /// Smallest deal amount of the tier, in the deal's currency.
    pub min_amount: f64,
    /// Name of the Asana project template to instantiate.
    pub asana_template: String,
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
