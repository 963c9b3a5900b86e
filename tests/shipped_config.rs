//! The shipped production example (`systemd/handoff.yaml`) is a config the daemon accepts, it
//! names mappings that ship in `mappings/`, and it agrees with the shipped unit
//! (`systemd/handoff.service`): every secret file is a `LoadCredential=` of the unit, the state
//! directory is the unit's `StateDirectory=`, and the unit waits longer than the shutdown grace.

use std::path::{Path, PathBuf};

use handoff::config::{self, Config, CrmSection, LogFormat, PmSection, SecretRef};
use handoff::mapping::{load_dir, Mapping};

/// Where systemd puts `LoadCredential=` files for `handoff.service`.
const CREDENTIALS: &str = "/run/credentials/handoff.service/";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn config_text() -> String {
    std::fs::read_to_string(repo("systemd/handoff.yaml")).expect("systemd/handoff.yaml exists")
}

fn shipped_config() -> Config {
    config::parse(&config_text(), Path::new("systemd/handoff.yaml"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn unit_text() -> String {
    std::fs::read_to_string(repo("systemd/handoff.service"))
        .expect("systemd/handoff.service exists")
}

/// Values of `key=` lines in the unit, in order (comments skipped).
fn unit_values(key: &str) -> Vec<String> {
    let prefix = format!("{key}=");
    unit_text()
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .collect()
}

/// Every secret of the config, by field name.
fn secrets(c: &Config) -> Vec<(&'static str, &SecretRef)> {
    let CrmSection::HubSpot(crm) = &c.crm else {
        panic!("the shipped example names HubSpot as its CRM")
    };
    let PmSection::Asana(pm) = &c.pm;
    vec![
        ("crm.token", &crm.token),
        ("crm.client_secret", &crm.client_secret),
        ("slack.bot_token", &c.slack.bot_token),
        ("slack.signing_secret", &c.slack.signing_secret),
        ("pm.token", &pm.token),
    ]
}

/// A copy of the shipped config in a temporary folder, with `mappings_dir` pointing at the
/// repository's `mappings/` and every credential path moved under `credentials` (if given).
fn relocated_copy(dir: &Path, credentials: Option<&Path>) -> PathBuf {
    let mut text = String::new();
    for line in config_text().lines() {
        if line.starts_with("mappings_dir:") {
            text.push_str(&format!("mappings_dir: {}\n", repo("mappings").display()));
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    if let Some(creds) = credentials {
        text = text.replace(CREDENTIALS, &format!("{}/", creds.display()));
    }
    let path = dir.join("handoff.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn shipped_config_parses_with_production_settings() {
    let c = shipped_config();
    assert_eq!(c.state_dir, Path::new("/var/lib/handoff"));
    assert_eq!(c.mappings_dir, Path::new("/etc/handoff/mappings"));
    assert!(
        c.listen.ip().is_loopback(),
        "public listener stays behind a proxy"
    );
    assert!(
        c.admin_listen.ip().is_loopback(),
        "admin API must not be exposed"
    );
    assert_eq!(
        c.public_url.scheme(),
        "https",
        "HubSpot posts webhooks to https only"
    );
    assert_eq!(c.log.format, LogFormat::Json);
    let CrmSection::HubSpot(crm) = &c.crm else {
        panic!("the shipped example names HubSpot as its CRM")
    };
    let PmSection::Asana(pm) = &c.pm;
    assert_eq!(crm.base_url.as_str(), "https://api.hubapi.com/");
    assert_eq!(c.slack.base_url.as_str(), "https://slack.com/api/");
    assert_eq!(pm.base_url.as_str(), "https://app.asana.com/api/1.0/");
    for (field, secret) in secrets(&c) {
        assert!(
            secret.env.is_none(),
            "{field}: production secrets come from credential files"
        );
        let file = secret
            .file
            .as_ref()
            .unwrap_or_else(|| panic!("{field} has no file"));
        assert!(
            file.starts_with(CREDENTIALS),
            "{field}: {} is not a systemd credential",
            file.display()
        );
    }
}

#[test]
fn config_mapping_names_exist_in_shipped_mappings() {
    let c = shipped_config();
    let mappings = load_dir(&repo("mappings")).unwrap_or_else(|e| panic!("{e}"));
    let by_name = |name: &str| -> &Mapping {
        mappings
            .iter()
            .find(|m| m.name() == name)
            .unwrap_or_else(|| {
                panic!(
                    "no shipped mapping named {name}; found {:?}",
                    mappings.iter().map(Mapping::name).collect::<Vec<_>>()
                )
            })
    };
    let lead = by_name(&c.lead_handoff.mapping.value);
    assert_eq!(
        (lead.source().system.as_str(), lead.source().object.as_str()),
        ("hubspot", "contacts")
    );
    let won = by_name(&c.closed_won.mapping.value);
    assert_eq!(
        (won.source().system.as_str(), won.source().object.as_str()),
        ("hubspot", "deals")
    );
    // The lead flow reads these mapped fields (routing and gates).
    for field in [
        "email",
        "company",
        "country",
        "country_code",
        "lifecycle_stage",
    ] {
        assert!(
            lead.target_fields().any(|f| f == field),
            "lead mapping has no `{field}`"
        );
    }
}

#[test]
fn shipped_config_loads_and_resolves_secrets_from_credential_files() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    let c = shipped_config();
    for (field, secret) in secrets(&c) {
        let name = secret.file.as_ref().unwrap().file_name().unwrap();
        std::fs::write(creds.join(name), format!("test-value-of-{field}\n")).unwrap();
    }
    let path = relocated_copy(dir.path(), Some(&creds));

    let loaded = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = loaded.mappings.iter().map(Mapping::name).collect();
    for named in [
        &loaded.config.lead_handoff.mapping,
        &loaded.config.lead_handoff.update_mapping,
        &loaded.config.lead_handoff.account_mapping,
        &loaded.config.closed_won.mapping,
        &loaded.config.closed_won.case_mapping,
    ] {
        assert!(names.contains(&named.value.as_str()), "{}", named.value);
    }
    for (field, secret) in secrets(&loaded.config) {
        let value = config::secret(secret, &path, field).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&value),
            format!("test-value-of-{field}"),
            "trailing newline is trimmed"
        );
    }
    // What `handoff validate --secrets` does: build every vendor client from the config.
    if let Err(e) = handoff::daemon::vendors::from_config(&loaded) {
        panic!("{e}");
    }
}

#[test]
fn missing_credential_names_the_field_and_file_not_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("no-credentials");
    std::fs::create_dir(&empty).unwrap();
    let path = relocated_copy(dir.path(), Some(&empty));
    let loaded = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let err = match handoff::daemon::vendors::from_config(&loaded) {
        Ok(_) => panic!("secrets resolved from an empty folder"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(": crm.token: "), "{err}");
    assert!(err.contains("hubspot-token"), "{err}");
    assert!(
        !err.contains("misconfigured"),
        "says what to fix, once: {err}"
    );
}

#[test]
fn unit_and_config_agree() {
    let c = shipped_config();
    assert_eq!(unit_values("Type"), ["notify"]);
    assert_eq!(
        unit_values("ExecStart"),
        ["/usr/local/bin/handoff run --config /etc/handoff/handoff.yaml"]
    );
    assert_eq!(unit_values("StateDirectory"), ["handoff"]);
    assert_eq!(
        Path::new("/var/lib").join(&unit_values("StateDirectory")[0]),
        c.state_dir
    );

    // Every secret file is a credential of the unit, and the unit loads nothing unused.
    let mut loaded: Vec<String> = unit_values("LoadCredential")
        .iter()
        .map(|v| v.split(':').next().unwrap().to_string())
        .collect();
    loaded.sort();
    let mut wanted: Vec<String> = secrets(&c)
        .iter()
        .map(|(_, s)| {
            let file = s.file.as_ref().unwrap();
            file.strip_prefix(CREDENTIALS)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    wanted.sort();
    assert_eq!(loaded, wanted);

    // systemd must wait longer than the daemon's own drain before it sends SIGKILL.
    let stop = unit_values("TimeoutStopSec");
    assert_eq!(stop.len(), 1);
    let stop_s: u64 = stop[0]
        .trim_end_matches('s')
        .parse()
        .expect("TimeoutStopSec in seconds");
    assert!(
        stop_s > c.delivery.shutdown_grace_s + 10,
        "TimeoutStopSec={stop_s} leaves no room after shutdown_grace_s={}",
        c.delivery.shutdown_grace_s
    );
}

/// The Salesforce example (`systemd/handoff-salesforce.yaml`) loads with the shipped mappings,
/// names Salesforce mappings only, reads its secrets from systemd credential files, and its
/// connectors build from them (what `handoff validate --secrets` does).
#[test]
fn the_salesforce_example_loads_and_builds_its_connectors_from_credential_files() {
    let text = std::fs::read_to_string(repo("systemd/handoff-salesforce.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    let values = [
        ("salesforce-client-id", "3MVG9example.consumer.key"),
        (
            "salesforce-jwt-key",
            handoff_salesforce::emulator::TEST_PRIVATE_KEY_PEM,
        ),
        ("slack-bot-token", "xoxb-test"),
        ("slack-signing-secret", "s"),
        ("asana-token", "a"),
    ];
    for (name, value) in values {
        std::fs::write(creds.join(name), value).unwrap();
    }
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("mappings_dir:") {
                format!("mappings_dir: {}\n", repo("mappings").display())
            } else {
                format!("{l}\n")
            }
        })
        .collect::<String>()
        .replace(CREDENTIALS, &format!("{}/", creds.display()));
    let path = dir.path().join("handoff.yaml");
    std::fs::write(&path, &text).unwrap();
    let loaded = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.config.crm.system(), "salesforce");
    for named in [
        &loaded.config.lead_handoff.mapping,
        &loaded.config.lead_handoff.update_mapping,
        &loaded.config.lead_handoff.account_mapping,
        &loaded.config.closed_won.mapping,
        &loaded.config.closed_won.case_mapping,
    ] {
        assert!(named.value.contains("salesforce"), "{}", named.value);
    }
    let fields = loaded.fields_by_object();
    assert!(fields["Lead"].contains(&"OwnerId".to_string()));
    assert!(fields["Task"].contains(&"WhoId".to_string()));
    let original = std::fs::read_to_string(repo("systemd/handoff-salesforce.yaml")).unwrap();
    assert!(
        !original.contains("{ env:"),
        "production secrets come from credential files"
    );
    if let Err(e) = handoff::daemon::vendors::from_config(&loaded) {
        panic!("{e}");
    }

    // Its credential files are the unit's, with the hubspot-* lines swapped for the commented
    // Salesforce ones the unit shows.
    let mut named: Vec<&str> = original
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split(CREDENTIALS).skip(1))
        .map(|rest| {
            rest.split(|c: char| c.is_whitespace() || c == '}')
                .next()
                .unwrap()
        })
        .collect();
    named.sort();
    let unit = unit_text();
    let mut swapped: Vec<&str> = unit
        .lines()
        .filter_map(|l| {
            l.strip_prefix("LoadCredential=")
                .filter(|v| !v.starts_with("hubspot-"))
                .or_else(|| l.strip_prefix("#LoadCredential="))
        })
        .map(|v| v.split(':').next().unwrap())
        .collect();
    swapped.sort();
    assert_eq!(named, swapped);
}

#[test]
fn a_cases_section_loads_with_the_shipped_case_mappings_and_the_example_support_rules() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(repo("systemd/handoff-salesforce.yaml")).unwrap();
    let base = base
        .lines()
        .map(|l| {
            if l.starts_with("mappings_dir:") {
                format!("mappings_dir: {}\n", repo("mappings").display())
            } else {
                format!("{l}\n")
            }
        })
        .collect::<String>();
    let section = |age: &str| {
        format!(
            "cases:\n  mapping: salesforce-case-to-case\n  update_mapping: case-to-salesforce-case\n  rules: {}\n  accepted_status: accepted\n  escalate_when:\n    statuses: [Escalated]\n    flag: escalated\n    reopen_count: 2\n    age: {{ Critical: {age} }}\n",
            repo("examples/support-routing.yaml").display()
        )
    };
    let path = dir.path().join("handoff.yaml");
    std::fs::write(&path, format!("{base}{}", section("2h"))).unwrap();
    let loaded = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let cases = loaded.config.cases.as_ref().unwrap();
    assert_eq!(cases.max_l1_age_ms("critical"), Some(2 * 3_600_000));
    assert!(cases.is_bot_origin("social media"));
    let rules = loaded.case_rules().expect("the case rules are compiled");
    assert_eq!(rules.name(), "support-routing");
    assert!(loaded.fields_by_object()["Case"].contains(&"IsEscalated".to_string()));

    // A bad age names the file, line and field.
    std::fs::write(&path, format!("{base}{}", section("soon"))).unwrap();
    let err = config::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("handoff.yaml:") && err.contains("cases.escalate_when.age.Critical"),
        "{err}"
    );
    // A mapping of the wrong CRM is refused.
    std::fs::write(
        &path,
        format!("{base}{}", section("2h")).replace(
            "update_mapping: case-to-salesforce-case",
            "update_mapping: onboarding-to-hubspot-ticket",
        ),
    )
    .unwrap();
    let err = config::load(&path).unwrap_err().to_string();
    assert!(err.contains("cases.update_mapping"), "{err}");
}

#[test]
fn the_readme_case_routing_rule_set_compiles() {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let from = readme
        .find("A case-routing rule set")
        .expect("the README shows a case-routing rule set");
    let block = &readme[from..];
    let start = block.find("```yaml\n").unwrap() + "```yaml\n".len();
    let end = start + block[start..].find("```").unwrap();
    let rules = handoff::routing::RuleSet::parse(&block[start..end], "README.md")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rules.name(), "support-routing");
    assert_eq!(rules.sla().policies.len(), 2);
}
