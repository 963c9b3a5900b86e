//! The daemon's configuration file (`handoff.yaml`): where to listen, where state lives, how to
//! reach each vendor, and the flows' business rules (teams, territories, tiers, CSM pool).
//!
//! Loading is strict: unknown keys are errors, every reference (team, mapping, cron schedule)
//! is checked, and each error names the file, line, column and field, so `handoff validate`
//! and `handoff run` fail with exit code 64 before anything binds. Secrets are never in the
//! file: it names an environment variable or a file (systemd `LoadCredential=`) to read them
//! from, and they are held as `secrecy::SecretString` (never printed).
//!
//! The keys are in `schema.rs`, secret references in `secret.rs`; this module loads and checks.

pub mod cases;
mod connectors;
pub mod marketing;
pub mod ownership;
pub mod routing_inputs;
mod schema;
mod smtp;
pub mod version;

pub use connectors::{lead_record, CrmSection, FieldsByObject, PmSection, CRM_TYPES, PM_TYPES};
pub use handoff_connector::SecretRef;
pub use schema::*;
pub use smtp::{
    compile_after_hours, AckTemplate, AfterHoursConfig, RenderedAck, SmtpConfig, SmtpTls,
    TemplateError, ACK_EXTRA_PLACEHOLDERS,
};

use serde_saphyr::Spanned;
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
    /// A whole section is inconsistent with another (no single line to point at).
    #[error("{path}: {field}: {message}")]
    Section {
        path: PathBuf,
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

/// Reads the secret `r` names; errors name the config file and `field`, never the value.
pub fn secret(
    r: &SecretRef,
    config: &Path,
    field: &str,
) -> Result<secrecy::SecretString, ConfigError> {
    r.resolve().map_err(|e| ConfigError::Secret {
        path: config.to_path_buf(),
        field: field.to_string(),
        message: e.to_string(),
    })
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
    /// The compiled `cases.rules`, when `cases:` is configured.
    pub case_rules: Option<std::sync::Arc<crate::routing::RuleSet>>,
    /// [`Loaded::fields_by_object`], worked out once: the worker asks for it on every change.
    fields: FieldsByObject,
}

impl Loaded {
    /// A checked config with its mappings and rules; works out the fields to read once.
    pub fn new(
        path: PathBuf,
        config: Config,
        mappings: Vec<crate::mapping::Mapping>,
        rules: Option<std::sync::Arc<crate::routing::RuleSet>>,
    ) -> Self {
        let fields = read_fields(&config, &mappings);
        Self {
            path,
            config,
            mappings,
            rules,
            case_rules: None,
            fields,
        }
    }

    /// The same, with the compiled `cases.rules`.
    pub fn with_case_rules(
        mut self,
        case_rules: Option<std::sync::Arc<crate::routing::RuleSet>>,
    ) -> Self {
        self.case_rules = case_rules;
        self
    }

    /// The routing rules for cases (`cases.rules`), when `cases:` is configured.
    pub fn case_rules(&self) -> Option<&crate::routing::RuleSet> {
        self.case_rules.as_deref()
    }

    /// The routing rules of `lead_handoff.rules`, when configured (compiled at [`load`]).
    pub fn rules(&self) -> Option<&crate::routing::RuleSet> {
        self.rules.as_deref()
    }

    /// The fields to read from the CRM, by object: every `properties.<field>` the inbound
    /// mappings (lead, account, activity, deal) read from that object. The connectors read
    /// these (plus what they need themselves) on every poll and read.
    pub fn fields_by_object(&self) -> &FieldsByObject {
        &self.fields
    }

    /// [`Loaded::fields_by_object`] of one object (empty: no mapping reads it).
    pub fn fields_for(&self, object: &str) -> &[String] {
        self.fields
            .get(object)
            .map(Vec::as_slice)
            .unwrap_or_default()
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
    let lead_mapping = mappings
        .iter()
        .find(|m| m.name() == config.lead_handoff.mapping.value);
    let lead_fields: Vec<String> = lead_mapping
        .map(|m| m.target_fields().map(str::to_string).collect())
        .unwrap_or_default();
    smtp::load_after_hours(&mut config, path, lead_fields.iter().map(String::as_str))?;
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
    let mut case_rules = None;
    if let Some(cases) = &mut config.cases {
        if cases.rules.value.is_relative() {
            let base = path.parent().unwrap_or(Path::new("."));
            cases.rules.value = base.join(&cases.rules.value);
        }
        let set = crate::routing::RuleSet::load(&cases.rules.value)
            .map_err(|e| routing_error_at(path, &cases.rules, "cases.rules", e))?;
        case_rules = Some(std::sync::Arc::new(set));
    }
    Ok(Loaded::new(path.to_path_buf(), config, mappings, rule_set).with_case_rules(case_rules))
}

/// The fields the inbound mappings the config names read, by source object.
fn read_fields(c: &Config, mappings: &[crate::mapping::Mapping]) -> FieldsByObject {
    let mut names = vec![
        &c.lead_handoff.mapping,
        &c.lead_handoff.account_mapping,
        &c.closed_won.mapping,
    ];
    names.extend(c.lead_handoff.activity_mapping.as_ref());
    if let Some(m) = &c.marketing {
        names.push(&m.lead_mapping);
        names.push(&m.sales_lead_mapping);
    }
    if let Some(cases) = &c.cases {
        names.push(&cases.mapping);
    }
    let mut out = FieldsByObject::new();
    for name in names {
        let Some(m) = mappings.iter().find(|m| m.name() == name.value) else {
            continue;
        };
        let fields: &mut Vec<String> = out.entry(m.source().object.clone()).or_default();
        for f in m.source_fields() {
            if !fields.contains(&f) {
                fields.push(f);
            }
        }
    }
    out
}

/// Parses and checks the file's own rules (not the mappings, not secrets).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    refuse_earlier_sections(text, path)?;
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

/// Top-level sections of earlier releases, read only to say where they moved.
#[derive(serde::Deserialize)]
struct EarlierSections {
    hubspot: Option<Spanned<serde::de::IgnoredAny>>,
    asana: Option<Spanned<serde::de::IgnoredAny>>,
}

/// Refuses a config with `hubspot:` (now `crm:` with `type: hubspot`) or `asana:` (now `pm:`
/// with `type: asana`) at the top level, naming the line, before the missing `crm:` or `pm:`
/// would hide the reason. Text that is not a YAML mapping is left to the full parse to report.
fn refuse_earlier_sections(text: &str, path: &Path) -> Result<(), ConfigError> {
    let Ok(earlier) = serde_saphyr::from_str::<EarlierSections>(text) else {
        return Ok(());
    };
    for (moved, old, new) in [
        (earlier.hubspot, "hubspot", "crm:` with `type: hubspot"),
        (earlier.asana, "asana", "pm:` with `type: asana"),
    ] {
        if let Some(at) = moved {
            return Err(invalid(
                path,
                &at,
                old,
                format!("`{old}:` moved: write `{new}` as its first key (see the README, Configuration)"),
            ));
        }
    }
    Ok(())
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

/// The stage lists of a by-stage table (`ownership.system_of_record`,
/// `marketing.owner_of_record`, named `table`): each entry lists at least one stage, and no
/// stage is in two entries. `entries` gives, per entry, the node to point at when it has no
/// stages, and its stages.
///
/// Errors: [`ConfigError::Invalid`] at the empty entry or the repeated stage.
fn check_stage_table<'a, T: 'a>(
    path: &Path,
    table: &str,
    entries: impl IntoIterator<Item = (&'a Spanned<T>, &'a [Spanned<String>])>,
) -> Result<(), ConfigError> {
    let mut seen: std::collections::BTreeMap<&str, usize> = Default::default();
    for (i, (node, stages)) in entries.into_iter().enumerate() {
        let field = format!("{table}[{i}].stages");
        if stages.is_empty() {
            return Err(invalid(
                path,
                node,
                &field,
                "list at least one lifecycle stage".into(),
            ));
        }
        for stage in stages {
            if let Some(first) = seen.insert(&stage.value, i) {
                return Err(invalid(
                    path,
                    stage,
                    &field,
                    format!("stage `{}` is already in {table}[{first}]", stage.value),
                ));
            }
        }
    }
    Ok(())
}

/// A rules file error as a config error: at the rules file's line and column when the error
/// comes from its text, else at the config's `lead_handoff.rules` key.
fn routing_error(
    path: &Path,
    at: &Spanned<PathBuf>,
    err: crate::routing::RoutingError,
) -> ConfigError {
    routing_error_at(path, at, "lead_handoff.rules", err)
}

/// [`routing_error`] for the rules file named by config key `key`.
fn routing_error_at(
    path: &Path,
    at: &Spanned<PathBuf>,
    key: &str,
    err: crate::routing::RoutingError,
) -> ConfigError {
    match err.position() {
        Some(pos) => ConfigError::Invalid {
            path: PathBuf::from(&pos.origin),
            line: pos.line,
            column: pos.column,
            field: if pos.path.is_empty() {
                key.to_string()
            } else {
                pos.path.clone()
            },
            message: match &err {
                crate::routing::RoutingError::Syntax { message, .. }
                | crate::routing::RoutingError::Invalid { message, .. } => message.clone(),
                other => other.to_string(),
            },
        },
        None => invalid(path, at, key, err.to_string()),
    }
}

fn check(c: &Config, path: &Path) -> Result<(), ConfigError> {
    if let Some(poll) = handoff_connector::ChangeSource::poll(c.crm.changes()) {
        let schedule = &poll.schedule;
        if let Err(e) = schedule.value.parse::<cron::Schedule>() {
            return Err(invalid(
                path,
                schedule,
                "crm.changes.poll.schedule",
                format!(
                    "`{}` is not a cron schedule (six fields, seconds first, e.g. `0 */5 * * * *`): {e}",
                    schedule.value
                ),
            ));
        }
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
    if let Some(ownership) = &c.ownership {
        ownership.check(path)?;
    }
    if let Some(marketing) = &c.marketing {
        marketing.check(&c.crm, path)?;
    }
    if let Some(cases) = &c.cases {
        cases.check(path)?;
    }
    if !c.admin_listen.ip().is_loopback() {
        return Err(ConfigError::Section {
            path: path.to_path_buf(),
            field: "admin_listen".into(),
            message: format!(
                "{} is not a loopback address: the admin API has no authentication, so it listens on 127.0.0.1 or [::1] only (put a proxy with authentication in front to reach it from elsewhere)",
                c.admin_listen
            ),
        });
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
    let lead = &c.lead_handoff;
    let sales = ("crm.type", c.crm.system());
    let mut names = vec![
        ("lead_handoff.mapping", &lead.mapping, sales),
        ("lead_handoff.update_mapping", &lead.update_mapping, sales),
        ("lead_handoff.account_mapping", &lead.account_mapping, sales),
        ("closed_won.mapping", &c.closed_won.mapping, sales),
        ("closed_won.case_mapping", &c.closed_won.case_mapping, sales),
    ];
    if let Some(activity) = &lead.activity_mapping {
        names.push(("lead_handoff.activity_mapping", activity, sales));
    }
    if let Some(m) = &c.marketing {
        let marketing = ("marketing.crm.type", m.crm.system());
        names.push(("marketing.lead_mapping", &m.lead_mapping, marketing));
        names.push((
            "marketing.sales_lead_mapping",
            &m.sales_lead_mapping,
            marketing,
        ));
        names.push(("marketing.update_mapping", &m.update_mapping, marketing));
    }
    if let Some(cases) = &c.cases {
        names.push(("cases.mapping", &cases.mapping, sales));
        names.push(("cases.update_mapping", &cases.update_mapping, sales));
    }
    for (field, name, (crm_field, system)) in names {
        if let Some(m) = mappings.iter().find(|m| m.name() == name.value) {
            let outbound = field.ends_with("update_mapping") || field.ends_with("case_mapping");
            let (side, reads) = if outbound {
                ("writes", m.target())
            } else {
                ("reads", m.source())
            };
            if reads.system != system {
                return Err(invalid(
                    path,
                    name,
                    field,
                    format!(
                        "mapping `{}` {side} {} records, but {crm_field} is {system}",
                        name.value, reads.system
                    ),
                ));
            }
            if field == "marketing.sales_lead_mapping" && m.target().system != c.crm.system() {
                return Err(invalid(
                    path,
                    name,
                    field,
                    format!(
                        "mapping `{}` writes {} records, but crm.type is {}",
                        name.value,
                        m.target().system,
                        c.crm.system()
                    ),
                ));
            }
        }
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

    const BUNDLED: &str = include_str!("../sandbox/handoff.yaml");

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("handoff.yaml"))
            .expect_err("config should be refused")
            .to_string()
    }

    #[test]
    fn a_config_of_an_earlier_release_is_told_where_its_sections_moved() {
        let text = "public_url: https://h.example.com/\nstate_dir: /tmp/h\nhubspot:\n  token: { env: T }\n  portal_id: 1\n";
        let err = parse_err(text);
        assert!(err.starts_with("handoff.yaml:4:3: hubspot: "), "{err}");
        assert!(
            err.contains("`hubspot:` moved: write `crm:` with `type: hubspot`"),
            "{err}"
        );
        let err = parse_err("asana:\n  token: { env: T }\n");
        assert!(
            err.contains("`asana:` moved: write `pm:` with `type: asana`"),
            "{err}"
        );
    }

    #[test]
    fn salesforce_settings_out_of_range_are_refused_at_load_naming_the_field() {
        const SALESFORCE: &str = include_str!("../sandbox/handoff-salesforce.yaml");
        parse(SALESFORCE, Path::new("handoff.yaml")).unwrap();
        let text = SALESFORCE.replace(
            "  requests_per_second: 20\n",
            "  requests_per_second: 20\n  daily_api_share: 1.5\n",
        );
        let err = parse_err(&text);
        assert!(err.starts_with("handoff.yaml:"), "{err}");
        assert!(
            err.contains("crm.daily_api_share: must be above 0 and at most 1"),
            "{err}"
        );
        let text = SALESFORCE.replace("  changes:\n", "  changes:\n    - webhook\n");
        assert!(parse_err(&text).contains("crm.organization_id: required with `webhook`"));
    }

    #[test]
    fn a_change_source_list_that_turns_intake_off_or_polls_twice_is_refused() {
        let empty = BUNDLED.replace(
            &BUNDLED[BUNDLED.find("  changes:").unwrap()..BUNDLED.find("pm:").unwrap()],
            "  changes: []\n",
        );
        let err = parse_err(&empty);
        assert!(err.contains("crm.changes: no change source"), "{err}");
        let twice = BUNDLED.replace(
            "  changes:\n",
            "  changes:\n    - poll: { objects: [deals] }\n",
        );
        let err = parse_err(&twice);
        assert!(err.contains("may each appear once"), "{err}");
    }

    /// The Salesforce sandbox config with the bundled HubSpot `crm:` section in front as
    /// `marketing:`, then `owner_of_record` (YAML, indented two spaces) and `extra` keys.
    fn two_crms(marketing_crm: &str, owner_of_record: &str) -> String {
        const SALESFORCE: &str = include_str!("../sandbox/handoff-salesforce.yaml");
        let crm = &BUNDLED[BUNDLED.find("crm:").unwrap()..BUNDLED.find("pm:").unwrap()];
        let crm = crm.replace("type: hubspot", &format!("type: {marketing_crm}"));
        let mut section = String::from("marketing:\n");
        for line in crm.lines() {
            section.push_str(&format!("  {line}\n"));
        }
        section.push_str(
            "  lead_mapping: hubspot-contact-to-lead\n  sales_lead_mapping: hubspot-contact-to-salesforce-lead\n  update_mapping: lead-to-hubspot-contact\n  owner_of_record:\n",
        );
        section.push_str(owner_of_record);
        let at = SALESFORCE.find("pm:").unwrap();
        format!("{}{section}{}", &SALESFORCE[..at], &SALESFORCE[at..])
    }

    const OWNERS: &str = "    - { stages: [subscriber, lead], crm: marketing }\n    - { stages: [MQL, SQL], crm: sales }\n";

    #[test]
    fn a_marketing_crm_in_front_of_the_sales_crm_is_read_and_checked() {
        let c = parse(&two_crms("hubspot", OWNERS), Path::new("handoff.yaml")).unwrap();
        let m = c.marketing.as_ref().unwrap();
        assert_eq!((m.crm.system(), c.crm.system()), ("hubspot", "salesforce"));
        assert_eq!(m.handoff_stages, ["MQL"]);
        use marketing::CrmRole;
        assert_eq!(m.owner_of_record("lead"), Some(CrmRole::Marketing));
        assert_eq!(m.owner_of_record("SQL"), Some(CrmRole::Sales));
        assert_eq!(m.owner_of_record("customer"), None);

        let err = parse_err(&two_crms("salesforce", OWNERS));
        assert!(err.contains("marketing.crm"), "{err}");
        let twice = OWNERS.replace("[MQL, SQL]", "[MQL, lead]");
        let err = parse_err(&two_crms("hubspot", &twice));
        assert!(err.starts_with("handoff.yaml:"), "{err}");
        assert!(
            err.contains("marketing.owner_of_record[1].stages: stage `lead` is already in marketing.owner_of_record[0]"),
            "{err}"
        );
        let unknown = OWNERS.replace("crm: sales", "crm: support");
        assert!(parse_err(&two_crms("hubspot", &unknown)).contains("support"));
    }

    #[test]
    fn a_marketing_mapping_for_the_wrong_crm_is_refused_at_load() {
        let dir = tempfile::tempdir().unwrap();
        // Paths relative to src/sandbox/ (mappings, templates), made absolute.
        let root = format!("{}/", env!("CARGO_MANIFEST_DIR"));
        let text = two_crms("hubspot", OWNERS).replace("../../", &root);
        let path = dir.path().join("handoff.yaml");
        std::fs::write(&path, &text).unwrap();
        load(&path).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            &path,
            text.replace(
                "update_mapping: lead-to-hubspot-contact",
                "update_mapping: lead-to-salesforce-lead",
            ),
        )
        .unwrap();
        let err = load(&path)
            .expect_err("a marketing write to the sales CRM")
            .to_string();
        assert!(
            err.contains("marketing.update_mapping: mapping `lead-to-salesforce-lead` writes salesforce records, but marketing.crm.type is hubspot"),
            "{err}"
        );
    }

    #[test]
    fn an_admin_api_off_the_loopback_is_refused() {
        let open = BUNDLED.replace("admin_listen: 127.0.0.1:0", "admin_listen: 0.0.0.0:9465");
        assert_ne!(open, BUNDLED);
        let err = parse_err(&open);
        assert!(
            err.contains("admin_listen: 0.0.0.0:9465 is not a loopback address"),
            "{err}"
        );
        let v6 = BUNDLED.replace("admin_listen: 127.0.0.1:0", "admin_listen: \"[::1]:9465\"");
        parse(&v6, Path::new("handoff.yaml")).unwrap();
    }

    #[test]
    fn the_bundled_sandbox_config_parses() {
        let c = parse(BUNDLED, Path::new("handoff.yaml")).unwrap();
        assert_eq!(c.lead_handoff.teams.len(), 3);
        assert_eq!(c.closed_won.tiers.len(), 3);
        let poll = handoff_connector::ChangeSource::poll(c.crm.changes()).unwrap();
        assert_eq!(poll.objects, ["companies", "contacts", "deals"]);
        assert_eq!(
            c.crm.system(),
            c.lead_handoff.mapping.value.split('-').next().unwrap()
        );
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
                "handoff.yaml:{line}:3: crm.portal: unknown field `portal`"
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
        assert!(err.contains("crm.changes.poll.schedule"), "{err}");
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
        let r = SecretRef::env("HANDOFF_TEST_SURELY_UNSET_VAR");
        let err = secret(&r, Path::new("handoff.yaml"), "crm.token")
            .unwrap_err()
            .to_string();
        assert!(err.contains("HANDOFF_TEST_SURELY_UNSET_VAR") && err.contains("crm.token"));
        let both = SecretRef {
            env: Some("A".into()),
            file: Some("/x".into()),
        };
        assert!(secret(&both, Path::new("h.yaml"), "slack.bot_token").is_err());
    }
}
