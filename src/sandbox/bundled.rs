//! The sandbox's bundled configs, embedded in the binary with the files they name (the shipped
//! mappings, the acknowledgement template, the rule set of `examples/routing.yaml`), so the
//! sandbox runs from any folder: `src/sandbox/handoff.yaml` for HubSpot,
//! `src/sandbox/handoff-salesforce.yaml` for Salesforce, and
//! `src/sandbox/handoff-hubspot-salesforce.yaml` for HubSpot in front of Salesforce (the
//! Salesforce config plus a `marketing:` section, and `cases:` with the shipped case mappings
//! and the support team's rule set `src/sandbox/support-routing.yaml`). All are checked like
//! any config.

use super::crm::CrmChoice;
use crate::config::{self, Loaded};
use crate::mapping::Mapping;
use std::path::PathBuf;

/// The HubSpot config (`src/sandbox/handoff.yaml`).
const HUBSPOT: &str = include_str!("handoff.yaml");
/// The Salesforce config (`src/sandbox/handoff-salesforce.yaml`).
const SALESFORCE: &str = include_str!("handoff-salesforce.yaml");
/// The two-CRM config (`src/sandbox/handoff-hubspot-salesforce.yaml`).
const HUBSPOT_SALESFORCE: &str = include_str!("handoff-hubspot-salesforce.yaml");
/// The acknowledgement template both configs name (`lead_handoff.after_hours.template`).
const ACK_TEMPLATE: &str = include_str!("../../templates/after-hours-ack.txt");
/// The rule set both configs name (`lead_handoff.rules`).
const RULES: &str = include_str!("../../examples/routing.yaml");
/// The support team's rule set the two-CRM config names (`cases.rules`).
const SUPPORT_RULES: &str = include_str!("support-routing.yaml");
/// Where [`SUPPORT_RULES`] is in the repository (its origin in errors).
pub const SUPPORT_RULES_FILE: &str = "src/sandbox/support-routing.yaml";

/// The shipped HubSpot mappings, embedded.
const HUBSPOT_MAPPINGS: [(&str, &str); 5] = [
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

/// The shipped Salesforce mappings, embedded.
const SALESFORCE_MAPPINGS: [(&str, &str); 6] = [
    (
        "mappings/salesforce-lead-to-lead.yaml",
        include_str!("../../mappings/salesforce-lead-to-lead.yaml"),
    ),
    (
        "mappings/salesforce-opportunity-to-onboarding.yaml",
        include_str!("../../mappings/salesforce-opportunity-to-onboarding.yaml"),
    ),
    (
        "mappings/salesforce-account-to-account.yaml",
        include_str!("../../mappings/salesforce-account-to-account.yaml"),
    ),
    (
        "mappings/salesforce-task-to-activity.yaml",
        include_str!("../../mappings/salesforce-task-to-activity.yaml"),
    ),
    (
        "mappings/lead-to-salesforce-lead.yaml",
        include_str!("../../mappings/lead-to-salesforce-lead.yaml"),
    ),
    (
        "mappings/onboarding-to-salesforce-case.yaml",
        include_str!("../../mappings/onboarding-to-salesforce-case.yaml"),
    ),
];

/// The shipped mappings of a marketing HubSpot in front of Salesforce (`marketing:`), embedded.
const MARKETING_HUBSPOT_MAPPINGS: [(&str, &str); 3] = [
    (
        "mappings/hubspot-contact-to-lead.yaml",
        include_str!("../../mappings/hubspot-contact-to-lead.yaml"),
    ),
    (
        "mappings/hubspot-contact-to-salesforce-lead.yaml",
        include_str!("../../mappings/hubspot-contact-to-salesforce-lead.yaml"),
    ),
    (
        "mappings/lead-to-hubspot-contact.yaml",
        include_str!("../../mappings/lead-to-hubspot-contact.yaml"),
    ),
];

/// The shipped mappings of support's case handoffs on Salesforce (`cases:`), embedded.
const SALESFORCE_CASE_MAPPINGS: [(&str, &str); 2] = [
    (
        "mappings/salesforce-case-to-case.yaml",
        include_str!("../../mappings/salesforce-case-to-case.yaml"),
    ),
    (
        "mappings/case-to-salesforce-case.yaml",
        include_str!("../../mappings/case-to-salesforce-case.yaml"),
    ),
];

/// The embedded mapping files the sandbox on `crm` loads.
fn mapping_files(crm: CrmChoice) -> Vec<(&'static str, &'static str)> {
    match crm {
        CrmChoice::Hubspot => HUBSPOT_MAPPINGS.to_vec(),
        CrmChoice::Salesforce => SALESFORCE_MAPPINGS.to_vec(),
        CrmChoice::HubspotSalesforce => SALESFORCE_MAPPINGS
            .into_iter()
            .chain(MARKETING_HUBSPOT_MAPPINGS)
            .chain(SALESFORCE_CASE_MAPPINGS)
            .collect(),
    }
}

/// The shipped mapping `name` (`hubspot-contact-to-lead`), embedded, if the sandbox bundles
/// it.
///
/// Errors: the embedded file does not parse (a broken build).
pub fn bundled_mapping(name: &str) -> Result<Option<Mapping>, config::ConfigError> {
    let file = format!("mappings/{name}.yaml");
    HUBSPOT_MAPPINGS
        .iter()
        .chain(SALESFORCE_MAPPINGS.iter())
        .chain(MARKETING_HUBSPOT_MAPPINGS.iter())
        .chain(SALESFORCE_CASE_MAPPINGS.iter())
        .find(|(path, _)| *path == file)
        .map(|(path, text)| Mapping::parse(text, path).map_err(config::ConfigError::from))
        .transpose()
}

/// The bundled HubSpot sandbox config and mappings, checked like any config. The rule set its
/// `lead_handoff.rules` names is not compiled here ([`bundled_rules`]; `rules` is `None`), so
/// callers that test flows on this config keep the territory round robin of `teams`.
pub fn bundled_config() -> Result<Loaded, config::ConfigError> {
    bundled_config_for(CrmChoice::Hubspot)
}

/// The bundled config of the sandbox on `crm`, as [`bundled_config`] describes. With a
/// `cases:` section (two CRMs), the support rule set it names is compiled in
/// ([`bundled_support_rules`]), so the case flow runs.
///
/// Errors: the embedded config, a mapping, the acknowledgement template or the support rule
/// set does not check (a broken build).
pub fn bundled_config_for(crm: CrmChoice) -> Result<Loaded, config::ConfigError> {
    let (file, text) = match crm {
        CrmChoice::Hubspot => ("src/sandbox/handoff.yaml", HUBSPOT),
        CrmChoice::Salesforce => ("src/sandbox/handoff-salesforce.yaml", SALESFORCE),
        CrmChoice::HubspotSalesforce => (
            "src/sandbox/handoff-hubspot-salesforce.yaml",
            HUBSPOT_SALESFORCE,
        ),
    };
    let files = mapping_files(crm);
    let path = PathBuf::from(file);
    let mut config = config::parse(text, &path)?;
    let mappings = files
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
    let case_rules = match &config.cases {
        Some(cases) => Some(std::sync::Arc::new(bundled_support_rules().map_err(
            |e| config::ConfigError::Invalid {
                path: path.clone(),
                line: cases.rules.referenced.line(),
                column: cases.rules.referenced.column(),
                field: "cases.rules".into(),
                message: e.to_string(),
            },
        )?)),
        None => None,
    };
    Ok(Loaded::new(path, config, mappings, None).with_case_rules(case_rules))
}

/// The rule set the sandbox routes with (`examples/routing.yaml`, embedded).
pub fn bundled_rules() -> Result<crate::routing::RuleSet, crate::routing::RoutingError> {
    crate::routing::RuleSet::parse(RULES, "examples/routing.yaml")
}

/// The support team's rule set the two-CRM sandbox routes cases with
/// (`src/sandbox/support-routing.yaml`, embedded).
pub fn bundled_support_rules() -> Result<crate::routing::RuleSet, crate::routing::RoutingError> {
    crate::routing::RuleSet::parse(SUPPORT_RULES, SUPPORT_RULES_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_salesforce_config_validates_from_the_repository_and_matches_the_hubspot_one() {
        // What `handoff validate --config src/sandbox/handoff-salesforce.yaml` does (secrets
        // are env references, read only with --secrets).
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sandbox/handoff-salesforce.yaml");
        let loaded = config::load(&path).unwrap();
        let c = &loaded.config;
        assert_eq!(c.crm.system(), "salesforce");
        let poll = handoff_connector::ChangeSource::poll(c.crm.changes()).unwrap();
        assert_eq!(poll.objects, ["Account", "Lead", "Opportunity", "Task"]);
        assert!(!handoff_connector::ChangeSource::webhook(c.crm.changes()));
        assert!(loaded.rules.is_some());
        assert!(c.lead_handoff.routing_inputs.out_of_office.is_none());
        assert_eq!(
            c.lead_handoff.routing_inputs.open_statuses,
            ["Open - Not Contacted", "Working - Contacted"]
        );
        let ownership = c.ownership.as_ref().unwrap();
        assert_eq!(ownership.system_of_writer(Some("005x"), "USER"), "crm");
        assert_eq!(ownership.system_of_record("MQL"), Some("handoff"));

        // The embedded copy is the same file with the same mappings, and shares the HubSpot
        // config's teams, tiers, CSM pool and delivery settings.
        let embedded = bundled_config_for(CrmChoice::Salesforce).unwrap();
        let hubspot = bundled_config().unwrap();
        let names = |l: &Loaded| {
            let mut n: Vec<String> = l.mappings.iter().map(|m| m.name().to_string()).collect();
            n.sort();
            n
        };
        let used = [
            &c.lead_handoff.mapping.value,
            &c.lead_handoff.update_mapping.value,
            &c.lead_handoff.account_mapping.value,
            &c.closed_won.mapping.value,
            &c.closed_won.case_mapping.value,
        ];
        for name in used {
            assert!(names(&embedded).contains(name), "{name} is not embedded");
        }
        let e = &embedded.config;
        let h = &hubspot.config;
        let teams = |c: &config::Config| {
            c.lead_handoff
                .teams
                .iter()
                .map(|t| (t.name.clone(), t.members.clone(), t.countries.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(teams(e), teams(h));
        assert_eq!(e.closed_won.csm_pool, h.closed_won.csm_pool);
        assert_eq!(e.closed_won.tiers.len(), h.closed_won.tiers.len());
        assert_eq!(e.delivery.worker_batch, h.delivery.worker_batch);
        let from = |c: &config::Config| c.smtp.as_ref().map(|s| s.from.value.clone());
        assert_eq!(from(e), from(h));
        assert!(e.lead_handoff.after_hours.is_some());
    }

    /// The file's lines after its opening comment.
    fn body(text: &str) -> Vec<&str> {
        text.lines().skip_while(|l| l.starts_with('#')).collect()
    }

    #[test]
    fn the_two_crm_config_validates_and_is_the_salesforce_one_plus_a_marketing_section() {
        // What `handoff validate --config src/sandbox/handoff-hubspot-salesforce.yaml` does.
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/sandbox/handoff-hubspot-salesforce.yaml");
        let loaded = config::load(&path).unwrap();
        let c = &loaded.config;
        assert_eq!(c.crm.system(), "salesforce");
        let m = c.marketing.as_ref().expect("a marketing section");
        assert_eq!(m.crm.system(), "hubspot");
        assert!(handoff_connector::ChangeSource::webhook(m.crm.changes()));
        let poll = handoff_connector::ChangeSource::poll(m.crm.changes()).unwrap();
        assert_eq!(poll.objects, ["contacts"]);
        assert_eq!(m.lead_mapping.value, "hubspot-contact-to-lead");
        assert_eq!(
            m.sales_lead_mapping.value,
            "hubspot-contact-to-salesforce-lead"
        );
        assert_eq!(m.update_mapping.value, "lead-to-hubspot-contact");
        use config::marketing::CrmRole;
        for stage in ["subscriber", "lead"] {
            assert_eq!(
                m.owner_of_record(stage),
                Some(CrmRole::Marketing),
                "{stage}"
            );
        }
        for stage in ["MQL", "SQL", "opportunity", "customer"] {
            assert_eq!(m.owner_of_record(stage), Some(CrmRole::Sales), "{stage}");
        }

        // Support's case handoffs: Cases polled, the case mappings, the support rule set.
        let poll = handoff_connector::ChangeSource::poll(c.crm.changes()).unwrap();
        assert_eq!(
            poll.objects,
            ["Account", "Lead", "Opportunity", "Task", "Case"]
        );
        let cases = c.cases.as_ref().expect("a cases section");
        assert_eq!(cases.mapping.value, "salesforce-case-to-case");
        assert_eq!(cases.update_mapping.value, "case-to-salesforce-case");
        assert_eq!(cases.accepted_status.as_deref(), Some("accepted"));
        assert_eq!(cases.escalate_when.statuses, ["Escalated"]);
        assert_eq!(cases.escalate_when.flag.as_deref(), Some("escalated"));
        assert!(cases.is_bot_origin("Chat") && cases.is_bot_origin("social media"));
        let support = loaded.case_rules().expect("the support rule set");
        assert_eq!(support.fallback_owner(), "nadia.haddad@example.com");

        // Line for line the Salesforce config, with the marketing section (and its comment)
        // between `crm:` and `pm:`, the cases section (and its comment) before `delivery:`,
        // and Case among the polled objects.
        let sf = body(SALESFORCE);
        let two = body(HUBSPOT_SALESFORCE);
        let start = two
            .iter()
            .position(|l| l.starts_with("# The marketing CRM"))
            .unwrap();
        let end = two.iter().position(|l| l.starts_with("pm:")).unwrap();
        assert!(two[start..end].contains(&"marketing:"));
        let cases_start = two
            .iter()
            .position(|l| l.starts_with("# Support's handoffs"))
            .unwrap();
        let cases_end = two.iter().position(|l| l.starts_with("delivery:")).unwrap();
        assert!(two[cases_start..cases_end].contains(&"cases:"));
        let polled = "        objects: [Account, Lead, Opportunity, Task]";
        let without: Vec<&str> = two[..start]
            .iter()
            .chain(&two[end..cases_start])
            .chain(&two[cases_end..])
            .map(|l| {
                if l.starts_with("        objects: [Account, Lead, Opportunity, Task, Case]") {
                    polled
                } else {
                    l
                }
            })
            .collect();
        assert_eq!(without, sf);

        // The embedded copy carries every mapping the config names.
        let embedded = bundled_config_for(CrmChoice::HubspotSalesforce).unwrap();
        assert!(embedded.config.marketing.is_some());
        assert!(embedded.config.cases.is_some());
        let embedded_support = embedded
            .case_rules()
            .expect("the embedded support rule set");
        assert_eq!(embedded_support.name(), support.name());
        assert_eq!(embedded_support.teams().len(), support.teams().len());
        let names: Vec<&str> = embedded.mappings.iter().map(|m| m.name()).collect();
        for name in [
            &c.lead_handoff.mapping.value,
            &c.lead_handoff.update_mapping.value,
            &c.lead_handoff.account_mapping.value,
            &c.closed_won.mapping.value,
            &c.closed_won.case_mapping.value,
            &m.lead_mapping.value,
            &m.sales_lead_mapping.value,
            &m.update_mapping.value,
            &cases.mapping.value,
            &cases.update_mapping.value,
        ] {
            assert!(names.contains(&name.as_str()), "{name} is not embedded");
        }
        assert!(bundled_mapping("hubspot-contact-to-lead")
            .unwrap()
            .is_some());
        assert!(bundled_mapping("no-such-mapping").unwrap().is_none());
    }
}
