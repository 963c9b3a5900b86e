//! The daemon's configuration file (`handoff.yaml`): where to listen, where state lives, how to
//! reach each vendor, and the flows' business rules (teams, territories, tiers, CSM pool).
//!
//! Loading is strict: unknown keys are errors, every reference (team, mapping, cron schedule)
//! is checked, and each error names the file, line, column and field, so `handoff validate`
//! and `handoff run` fail with exit code 64 before anything binds. Secrets are never in the
//! file: it names an environment variable or a file (systemd `LoadCredential=`) to read them
//! from, and they are held as [`SecretString`] (never printed).

use secrecy::SecretString;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A configuration error, always naming where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<serde_saphyr::Error>,
    },
    #[error("{path}:{line}:{column}: {field}: {message}")]
    Invalid {
        path: PathBuf,
        line: u64,
        column: u64,
        field: String,
        message: String,
    },
    #[error("{path}: {field}: {message}")]
    Secret {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error(transparent)]
    Mapping(#[from] crate::mapping::MappingError),
}

/// Where a secret comes from. Exactly one of `env` or `file`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Name of an environment variable holding the secret.
    pub env: Option<String>,
    /// Path of a file holding the secret (trailing newline trimmed), e.g.
    /// `/run/credentials/handoff.service/hubspot-token` under systemd `LoadCredential=`.
    pub file: Option<PathBuf>,
}

impl SecretRef {
    /// Reads the secret. Errors name the variable or file, never the value.
    pub fn resolve(&self, config: &Path, field: &str) -> Result<SecretString, ConfigError> {
        let err = |message: String| ConfigError::Secret {
            path: config.to_path_buf(),
            field: field.to_string(),
            message,
        };
        match (&self.env, &self.file) {
            (Some(var), None) => std::env::var(var)
                .map(SecretString::from)
                .map_err(|_| err(format!("environment variable {var} is not set"))),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map(|s| SecretString::from(s.trim_end().to_string()))
                .map_err(|e| err(format!("cannot read {}: {e}", file.display()))),
            _ => Err(err("give exactly one of `env` or `file`".into())),
        }
    }
}

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

/// A loaded, checked configuration with its mappings.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The file it came from.
    pub path: PathBuf,
    pub config: Config,
    /// Mappings from `mappings_dir`, by name.
    pub mappings: Vec<crate::mapping::Mapping>,
    /// The compiled `lead_handoff.rules`, when configured.
    pub rules: Option<std::sync::Arc<crate::routing::RuleSet>>,
}

impl Loaded {
    /// The routing rules of `lead_handoff.rules`, when configured (compiled at [`load`]).
    pub fn rules(&self) -> Option<&crate::routing::RuleSet> {
        self.rules.as_deref()
    }

    /// The mapping named `name` (checked to exist at load).
    pub fn mapping(&self, name: &str) -> &crate::mapping::Mapping {
        self.mappings
            .iter()
            .find(|m| m.name() == name)
            .expect("mapping references are checked at load")
    }
}

/// Reads, parses and checks `path` and the mappings it names.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut config = parse(&text, path)?;
    if config.mappings_dir.is_relative() {
        let base = path.parent().unwrap_or(Path::new("."));
        config.mappings_dir = base.join(&config.mappings_dir);
    }
    if config.state_dir.is_relative() {
        let base = path.parent().unwrap_or(Path::new("."));
        config.state_dir = base.join(&config.state_dir);
    }
    let mappings = crate::mapping::load_dir(&config.mappings_dir)?;
    check_mappings(&config, &mappings, path)?;
    let mut rule_set = None;
    if let Some(rules) = &mut config.lead_handoff.rules {
        if rules.value.is_relative() {
            let base = path.parent().unwrap_or(Path::new("."));
            rules.value = base.join(&rules.value);
        }
        let set = crate::routing::RuleSet::load(&rules.value)
            .map_err(|e| routing_error(path, rules, e))?;
        rule_set = Some(std::sync::Arc::new(set));
    }
    Ok(Loaded {
        path: path.to_path_buf(),
        config,
        mappings,
        rules: rule_set,
    })
}

/// Parses and checks the file's own rules (not the mappings, not secrets).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut field = None;
    let options = serde_saphyr::options! { with_snippet: false };
    let config: Config =
        serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
            serde_path_to_error::deserialize(de).map_err(|err| {
                field = Some(err.path().to_string());
                err.into_inner()
            })
        })
        .map_err(|source| syntax_error(path, source, field.as_deref()))?;
    check(&config, path)?;
    Ok(config)
}

/// A YAML or shape error (syntax, unknown key, wrong type) as `file:line:column: field: message`.
fn syntax_error(path: &Path, err: serde_saphyr::Error, field: Option<&str>) -> ConfigError {
    use serde_saphyr::MessageFormatter;
    let Some(at) = err.location() else {
        return ConfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(err),
        };
    };
    // `Spanned` values show up as an extra `.value` segment in serde paths; no config key is
    // named `value`, so drop them. `.` is serde_path_to_error's name for the document root.
    let field = field
        .unwrap_or(".")
        .replace(".value", "")
        .trim_start_matches('.')
        .to_string();
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line: at.line(),
        column: at.column(),
        field: if field.is_empty() {
            "(top level)".into()
        } else {
            field
        },
        message: serde_saphyr::UserMessageFormatter
            .format_message(&err)
            .to_string(),
    }
}

fn invalid<T>(path: &Path, at: &Spanned<T>, field: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line: at.referenced.line(),
        column: at.referenced.column(),
        field: field.to_string(),
        message,
    }
}

/// A rules file error as a config error: at the rules file's line and column when the error
/// comes from its text, else at the config's `lead_handoff.rules` key.
fn routing_error(
    path: &Path,
    at: &Spanned<PathBuf>,
    err: crate::routing::RoutingError,
) -> ConfigError {
    match err.position() {
        Some(pos) => ConfigError::Invalid {
            path: PathBuf::from(&pos.origin),
            line: pos.line,
            column: pos.column,
            field: if pos.path.is_empty() {
                "lead_handoff.rules".to_string()
            } else {
                pos.path.clone()
            },
            message: match &err {
                crate::routing::RoutingError::Syntax { message, .. }
                | crate::routing::RoutingError::Invalid { message, .. } => message.clone(),
                other => other.to_string(),
            },
        },
        None => invalid(path, at, "lead_handoff.rules", err.to_string()),
    }
}

fn check(c: &Config, path: &Path) -> Result<(), ConfigError> {
    let schedule = &c.hubspot.poll.schedule;
    if let Err(e) = schedule.value.parse::<cron::Schedule>() {
        return Err(invalid(
            path,
            schedule,
            "hubspot.poll.schedule",
            format!(
                "`{}` is not a cron schedule (six fields, seconds first, e.g. `0 */5 * * * *`): {e}",
                schedule.value
            ),
        ));
    }
    let lead = &c.lead_handoff;
    let default_team = &lead.default_team;
    if !lead.teams.iter().any(|t| t.name == default_team.value) {
        return Err(invalid(
            path,
            default_team,
            "lead_handoff.default_team",
            format!(
                "no team named `{}` in lead_handoff.teams (teams: {})",
                default_team.value,
                lead.teams
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    for t in &lead.teams {
        if t.members.is_empty() {
            return Err(invalid(
                path,
                default_team,
                &format!("lead_handoff.teams[{}].members", t.name),
                "a team needs at least one member".into(),
            ));
        }
    }
    let won = &c.closed_won;
    if won.tiers.is_empty() || won.csm_pool.is_empty() {
        return Err(invalid(
            path,
            &won.mapping,
            "closed_won",
            "closed_won needs at least one tier and one CSM in csm_pool".into(),
        ));
    }
    Ok(())
}

fn check_mappings(
    c: &Config,
    mappings: &[crate::mapping::Mapping],
    path: &Path,
) -> Result<(), ConfigError> {
    for (field, name) in [
        ("lead_handoff.mapping", &c.lead_handoff.mapping),
        ("closed_won.mapping", &c.closed_won.mapping),
    ] {
        if !mappings.iter().any(|m| m.name() == name.value) {
            return Err(invalid(
                path,
                name,
                field,
                format!(
                    "no mapping named `{}` in {} (found: {})",
                    name.value,
                    c.mappings_dir.display(),
                    mappings
                        .iter()
                        .map(|m| m.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUNDLED: &str = include_str!("sandbox/handoff.yaml");

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("handoff.yaml"))
            .expect_err("config should be refused")
            .to_string()
    }

    #[test]
    fn the_bundled_sandbox_config_parses() {
        let c = parse(BUNDLED, Path::new("handoff.yaml")).unwrap();
        assert_eq!(c.lead_handoff.teams.len(), 3);
        assert_eq!(c.closed_won.tiers.len(), 3);
        assert_eq!(c.hubspot.poll.objects, ["companies", "contacts", "deals"]);
    }

    #[test]
    fn unknown_keys_name_the_file_and_line() {
        let text = BUNDLED.replace("  portal_id: 62515", "  portal_id: 62515\n  portal: 1");
        let err = parse_err(&text);
        assert!(err.starts_with("handoff.yaml"), "{err}");
        let line = BUNDLED
            .lines()
            .position(|l| l.starts_with("  portal_id"))
            .unwrap()
            + 2;
        assert!(
            err.starts_with(&format!(
                "handoff.yaml:{line}:3: hubspot.portal: unknown field `portal`"
            )),
            "{err}"
        );
    }

    #[test]
    fn a_bad_cron_schedule_names_line_column_and_field() {
        let text = BUNDLED.replace("\"*/15 * * * * *\"", "\"every minute\"");
        let err = parse_err(&text);
        let line = BUNDLED
            .lines()
            .position(|l| l.contains("schedule:"))
            .unwrap()
            + 1;
        assert!(err.starts_with(&format!("handoff.yaml:{line}:")), "{err}");
        assert!(err.contains("hubspot.poll.schedule"), "{err}");
        assert!(err.contains("every minute"), "{err}");
    }

    #[test]
    fn a_default_team_that_does_not_exist_is_refused_with_the_choices() {
        let text = BUNDLED.replace("default_team: Central", "default_team: North");
        let err = parse_err(&text);
        assert!(err.contains("lead_handoff.default_team"), "{err}");
        assert!(
            err.contains("`North`") && err.contains("(teams: Central, East, West)"),
            "{err}"
        );
    }

    #[test]
    fn secrets_name_the_variable_never_a_value() {
        let r = SecretRef {
            env: Some("HANDOFF_TEST_SURELY_UNSET_VAR".into()),
            file: None,
        };
        let err = r
            .resolve(Path::new("handoff.yaml"), "hubspot.token")
            .unwrap_err()
            .to_string();
        assert!(err.contains("HANDOFF_TEST_SURELY_UNSET_VAR") && err.contains("hubspot.token"));
        let both = SecretRef {
            env: Some("A".into()),
            file: Some("/x".into()),
        };
        assert!(both
            .resolve(Path::new("h.yaml"), "slack.bot_token")
            .is_err());
    }
}
