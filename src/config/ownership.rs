//! `ownership:` in `handoff.yaml` — which system owns a lead's owner field at each lifecycle
//! stage, and what handoff does when another system changes it (issue 3 §2).
//!
//! ```yaml
//! ownership:
//!   systems:                       # which HubSpot change sources belong to which system
//!     marketing: [AUTOMATION_PLATFORM, FORM, IMPORT]
//!     crm: [CRM_UI, MOBILE_IOS, MOBILE_ANDROID, SALES]
//!     handoff: [INTEGRATION]       # handoff's own writes (its app id)
//!   system_of_record:              # by lifecycle stage (the mapped lead's lifecycle_stage)
//!     - { stages: [subscriber, lead, MQL], system: handoff }
//!     - { stages: [SQL, opportunity, customer], system: crm }
//!   on_violation: revert           # revert | flag
//! ```
//!
//! Keys:
//! * `systems` — system name → the writers of the owner field that are that system's: the
//!   history entry's source type as the CRM connector reports it (HubSpot: the property
//!   history's `sourceType`, e.g. `CRM_UI` for a rep in the UI, `AUTOMATION_PLATFORM` for a
//!   workflow, `INTEGRATION` for an app's API call such as handoff's own; Salesforce: `USER`),
//!   or a writer's id (Salesforce: the user id of another integration). An id match wins over a
//!   type match. Entries are words (letters, digits, `_`); each belongs to at most one system.
//!   A writer no system lists counts as the system `unknown`. Writes the connector knows are
//!   handoff's own (Salesforce: by its integration user) are never judged.
//! * `system_of_record` — ordered list of `{stages, system}`: at a lead whose mapped
//!   `lifecycle_stage` is in `stages`, only `system` may change the owner. `system` must be a
//!   key of `systems`; a stage may appear in one entry only. Stages no entry lists are not
//!   governed (owner changes there are left alone).
//! * `on_violation` — what to do with an owner change by a system that is not the stage's
//!   system of record: `revert` (default: write the owner of record back to the CRM) or `flag`
//!   (leave the CRM as it is, DM the owner of record's manager). Either way the change is
//!   audited (`owner_change`) and counted (`handoff_owner_changes_total{action, system}`).
//!
//! Shape errors come from serde with the key's line and column; the cross-checks above
//! ([`OwnershipConfig::check`], run by the loader) are reported at the offending value's line
//! and column (`handoff.yaml:LINE:COL: ownership.<field>: …`), so `handoff validate` exits 64
//! on them too.

use super::ConfigError;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::Path;

/// What handoff does with an owner change from a system that is not the stage's system of
/// record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnViolation {
    /// Write the owner of record back to the CRM (saga `owner-revert:<record>:<ms>`).
    #[default]
    Revert,
    /// Leave the CRM as it is; audit, count, and DM the owner of record's manager.
    Flag,
}

impl OnViolation {
    /// `revert` or `flag`.
    pub fn as_str(self) -> &'static str {
        match self {
            OnViolation::Revert => "revert",
            OnViolation::Flag => "flag",
        }
    }
}

/// One `system_of_record` entry: at these stages, this system owns the owner field.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageOwner {
    /// Values of the mapped lead's `lifecycle_stage` (e.g. `MQL`, `SQL`).
    pub stages: Vec<Spanned<String>>,
    /// A key of [`OwnershipConfig::systems`].
    pub system: Spanned<String>,
}

/// The `ownership:` section (see the module docs for every key). [`OwnershipConfig::check`]
/// runs the cross-checks when the config is loaded.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnershipConfig {
    /// System name → the source types and writer ids that are its writes.
    pub systems: BTreeMap<String, Vec<Spanned<String>>>,
    /// Which system owns the owner field, by lifecycle stage (the entry listing the stage).
    pub system_of_record: Vec<StageOwner>,
    /// `revert` (default) or `flag`.
    #[serde(default)]
    pub on_violation: OnViolation,
}

/// The system name for a source type no system lists.
pub const UNKNOWN_SYSTEM: &str = "unknown";

impl OwnershipConfig {
    /// The system a history `sourceType` belongs to ([`UNKNOWN_SYSTEM`] if none).
    pub fn system_of_source(&self, source_type: &str) -> &str {
        self.systems
            .iter()
            .find(|(_, types)| types.iter().any(|t| t.value == source_type))
            .map(|(name, _)| name.as_str())
            .unwrap_or(UNKNOWN_SYSTEM)
    }

    /// The system of a writer: the one listing its `source_id` (a Salesforce user id, a HubSpot
    /// app id), else the one listing its `source_type`, else [`UNKNOWN_SYSTEM`].
    pub fn system_of_writer(&self, source_id: Option<&str>, source_type: &str) -> &str {
        let by_id = source_id.and_then(|id| {
            self.systems
                .iter()
                .find(|(_, entries)| entries.iter().any(|t| t.value == id))
                .map(|(name, _)| name.as_str())
        });
        by_id.unwrap_or_else(|| self.system_of_source(source_type))
    }

    /// The system of record at a lifecycle stage, if the stage is governed.
    pub fn system_of_record(&self, stage: &str) -> Option<&str> {
        self.system_of_record
            .iter()
            .find(|r| r.stages.iter().any(|s| s.value == stage))
            .map(|r| r.system.value.as_str())
    }
}

use super::invalid as at;

impl OwnershipConfig {
    /// The cross-checks serde cannot do (`path` is the config file, for the error): source
    /// types and writer ids are words (letters, digits, `_`) listed under one system each; every `system_of_record`
    /// entry names a system of `systems` and at least one stage; no stage is listed twice.
    ///
    /// Errors: [`ConfigError::Invalid`] at the offending value's line and column.
    pub fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let mut owner_of_source: BTreeMap<&str, &str> = BTreeMap::new();
        for (system, types) in &self.systems {
            let field = format!("ownership.systems.{system}");
            for t in types {
                let ok = !t.value.is_empty()
                    && t.value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    return Err(at(
                        path,
                        t,
                        &field,
                        format!(
                            "`{}` is neither a source type (e.g. CRM_UI, AUTOMATION_PLATFORM, INTEGRATION, USER) nor a writer id (letters and digits)",
                            t.value
                        ),
                    ));
                }
                if let Some(other) = owner_of_source.insert(&t.value, system) {
                    return Err(at(
                        path,
                        t,
                        &field,
                        format!(
                            "source type `{}` is already listed under `{other}`",
                            t.value
                        ),
                    ));
                }
            }
        }
        for (i, rule) in self.system_of_record.iter().enumerate() {
            let field = format!("ownership.system_of_record[{i}]");
            if !self.systems.contains_key(&rule.system.value) {
                return Err(at(
                    path,
                    &rule.system,
                    &format!("{field}.system"),
                    format!(
                        "no system named `{}` in ownership.systems (systems: {})",
                        rule.system.value,
                        self.systems.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        super::check_stage_table(
            path,
            "ownership.system_of_record",
            self.system_of_record
                .iter()
                .map(|r| (&r.system, r.stages.as_slice())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
systems:
  marketing: [AUTOMATION_PLATFORM, FORM, IMPORT]
  crm: [CRM_UI, MOBILE_IOS, MOBILE_ANDROID, SALES]
  handoff: [INTEGRATION]
system_of_record:
  - { stages: [subscriber, lead, MQL], system: handoff }
  - { stages: [SQL, opportunity, customer], system: crm }
on_violation: flag
";

    fn parse(text: &str) -> Result<OwnershipConfig, String> {
        let c: OwnershipConfig = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        c.check(Path::new("handoff.yaml"))
            .map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn the_example_reads_and_answers_by_stage_and_source() {
        let c = parse(EXAMPLE).unwrap();
        assert_eq!(c.on_violation, OnViolation::Flag);
        assert_eq!(c.system_of_record("MQL"), Some("handoff"));
        assert_eq!(c.system_of_record("SQL"), Some("crm"));
        assert_eq!(c.system_of_record("evangelist"), None);
        assert_eq!(c.system_of_source("AUTOMATION_PLATFORM"), "marketing");
        assert_eq!(c.system_of_source("CRM_UI"), "crm");
        assert_eq!(c.system_of_source("INTEGRATION"), "handoff");
        assert_eq!(c.system_of_source("BOT"), UNKNOWN_SYSTEM);
        assert_eq!(c.system_of_writer(Some("nobody"), "CRM_UI"), "crm");
        assert_eq!(c.system_of_writer(None, "BOT"), UNKNOWN_SYSTEM);
        let default = parse(&EXAMPLE.replace("on_violation: flag\n", "")).unwrap();
        assert_eq!(default.on_violation, OnViolation::Revert);
    }

    #[test]
    fn cross_check_errors_name_the_line_column_and_field() {
        let err = parse(&EXAMPLE.replace("system: crm", "system: sales")).unwrap_err();
        assert!(err.starts_with("handoff.yaml:7:"), "{err}");
        assert!(
            err.contains("ownership.system_of_record[1].system")
                && err.contains("`sales`")
                && err.contains("(systems: crm, handoff, marketing)"),
            "{err}"
        );
        let err = parse(&EXAMPLE.replace("[SQL, opportunity", "[MQL, opportunity")).unwrap_err();
        assert!(
            err.starts_with("handoff.yaml:7:") && err.contains("stage `MQL`"),
            "{err}"
        );
        let err =
            parse(&EXAMPLE.replace("handoff: [INTEGRATION]", "handoff: [CRM_UI]")).unwrap_err();
        assert!(
            err.starts_with("handoff.yaml:4:") && err.contains("already listed under `crm`"),
            "{err}"
        );
        let err = parse(&EXAMPLE.replace(", FORM,", ", web form,")).unwrap_err();
        assert!(
            err.starts_with("handoff.yaml:2:") && err.contains("`web form`"),
            "{err}"
        );
        let err =
            parse(&EXAMPLE.replace("on_violation: flag", "on_violation: ignore")).unwrap_err();
        assert!(err.contains("ignore"), "{err}");
    }

    #[test]
    fn in_the_full_config_errors_point_at_the_value() {
        // The bundled config without its own `ownership:` block.
        let mut in_block = false;
        let bundled: String = include_str!("../sandbox/handoff.yaml")
            .lines()
            .filter(|l| {
                if l.starts_with("ownership:") {
                    in_block = true;
                } else if in_block && !l.starts_with(' ') && !l.is_empty() {
                    in_block = false;
                }
                !in_block
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let section: String = EXAMPLE
            .replace("system: crm", "system: sales")
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect();
        let text = format!("{bundled}\nownership:\n{section}");
        let err = crate::config::parse(&text, Path::new("handoff.yaml"))
            .unwrap_err()
            .to_string();
        let line = text
            .lines()
            .position(|l| l.contains("system: sales"))
            .unwrap()
            + 1;
        let column = text.lines().nth(line - 1).unwrap().find("sales").unwrap() + 1;
        assert!(
            err.starts_with(&format!(
                "handoff.yaml:{line}:{column}: ownership.system_of_record[1].system: no system named `sales`"
            )),
            "{err}"
        );
        let ok = text.replace("system: sales", "system: crm");
        let config = crate::config::parse(&ok, Path::new("handoff.yaml")).unwrap();
        assert!(config.ownership.is_some());
    }
}
