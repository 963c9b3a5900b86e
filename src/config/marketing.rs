//! `marketing:` in `handoff.yaml` — a marketing CRM in front of the sales CRM (`crm:`), the
//! most common B2B stack: HubSpot for marketing automation, Salesforce for sales.
//!
//! ```yaml
//! marketing:
//!   crm:                                  # the marketing CRM: the same keys as `crm:`
//!     type: hubspot
//!     ...
//!   lead_mapping: hubspot-contact-to-lead                 # its contact → handoff lead (stage, email, owner_id, gates)
//!   sales_lead_mapping: hubspot-contact-to-salesforce-lead # its contact → the sales CRM's new Lead
//!   update_mapping: lead-to-hubspot-contact               # handoff's lead update → its contact (the mirrored owner)
//!   handoff_stages: [MQL]                 # (default) stages at which a contact goes to sales
//!   owner_of_record:                      # which CRM owns the owner field, by stage
//!     - { stages: [subscriber, lead], crm: marketing }
//!     - { stages: [MQL, SQL, opportunity, customer], crm: sales }
//!   on_violation: revert                  # (default) an owner change in the marketing CRM at a
//!                                         # sales stage: revert (write the sales owner back over
//!                                         # it) or flag (leave it, DM the sales owner's manager)
//!   write_back_stages: [SQL, opportunity, customer]   # (default) sales stages written back, in order
//!   disqualified_statuses: [UNQUALIFIED]  # (default) sales lead statuses written back as rejected
//!   won_stage: customer                   # (default) written back to a won deal's contacts
//! ```
//!
//! What follows from it (`src/flows/marketing.rs`): a contact of the marketing CRM whose mapped
//! `lifecycle_stage` is a handoff stage, and whose gates pass, is matched in the sales CRM by
//! email (an open Lead, else a Contact) and becomes a Lead there only when nothing matches,
//! once (an upsert on the handoff's idempotency key). Routing happens once, in the sales CRM's
//! lead flow. At a stage the sales CRM owns, the contact's owner in the marketing CRM follows
//! the sales record's owner (the owner of the same email): a change the sales CRM makes is
//! mirrored, one made in the marketing CRM is written back over. At a stage the marketing CRM
//! owns, handoff leaves its owner alone. What became of the lead in sales (its stage moving
//! forward, a disqualification) is written back to the contact.
//!
//! Checked at load: the marketing CRM is another vendor than `crm:`; each mapping exists and
//! reads or writes the CRM it should; `owner_of_record` lists each stage once and at least one
//! stage per entry.

use super::{ConfigError, CrmSection};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::Path;

/// Which of the two CRMs an `owner_of_record` entry gives the owner field to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrmRole {
    /// The `marketing.crm` section's CRM.
    Marketing,
    /// The `crm` section's CRM.
    Sales,
}

/// One `owner_of_record` entry: at these stages, this CRM owns the owner field.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageCrm {
    /// Values of the marketing lead mapping's `lifecycle_stage` (e.g. `MQL`).
    pub stages: Vec<Spanned<String>>,
    pub crm: Spanned<CrmRole>,
}

/// The `marketing:` section (see the module docs).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketingConfig {
    /// The marketing CRM, its credentials and change sources (the keys of `crm:`).
    pub crm: CrmSection,
    /// Inbound mapping: the marketing CRM's contact → a handoff lead (`email`,
    /// `lifecycle_stage`, `owner_id`, and the gates a lead must pass before it goes to sales).
    pub lead_mapping: Spanned<String>,
    /// The marketing CRM's contact → the fields of the Lead created in the sales CRM (vendor
    /// field names of the sales CRM, picklist values in its spelling).
    pub sales_lead_mapping: Spanned<String>,
    /// Outbound mapping: handoff's lead update (`owner_id`) → the marketing CRM's contact.
    pub update_mapping: Spanned<String>,
    /// Stages of the mapped `lifecycle_stage` at which a contact goes to sales (default `MQL`).
    #[serde(default = "default_handoff_stages")]
    pub handoff_stages: Vec<String>,
    /// Which CRM owns the owner field, by stage; stages no entry lists are not governed.
    pub owner_of_record: Vec<StageCrm>,
    /// What an owner change made in the marketing CRM at a stage the sales CRM owns gets:
    /// `revert` (default) or `flag`.
    #[serde(default)]
    pub on_violation: super::ownership::OnViolation,
    /// Stages of the sales CRM's mapped lead written back to the contact, in funnel order
    /// (only forward); default `SQL`, `opportunity`, `customer`.
    #[serde(default = "default_write_back_stages")]
    pub write_back_stages: Vec<String>,
    /// Values of the sales CRM's mapped `lead_status` that mean "disqualified by sales",
    /// written back as status `rejected` (default `UNQUALIFIED`).
    #[serde(default = "default_disqualified_statuses")]
    pub disqualified_statuses: Vec<String>,
    /// The stage written back to the contacts of a deal won in the sales CRM (default
    /// `customer`); it should be the last of `write_back_stages`.
    #[serde(default = "default_won_stage")]
    pub won_stage: String,
}

fn default_won_stage() -> String {
    "customer".into()
}

fn default_write_back_stages() -> Vec<String> {
    ["SQL", "opportunity", "customer"]
        .map(String::from)
        .to_vec()
}

fn default_disqualified_statuses() -> Vec<String> {
    vec!["UNQUALIFIED".into()]
}

fn default_handoff_stages() -> Vec<String> {
    vec!["MQL".into()]
}

impl MarketingConfig {
    /// The CRM that owns the owner field at `stage`, if the stage is governed.
    pub fn owner_of_record(&self, stage: &str) -> Option<CrmRole> {
        self.owner_of_record
            .iter()
            .find(|e| e.stages.iter().any(|s| s.value == stage))
            .map(|e| e.crm.value)
    }

    /// Whether a contact at `stage` goes to sales.
    pub fn hands_off_at(&self, stage: &str) -> bool {
        self.handoff_stages.iter().any(|s| s == stage)
    }

    /// The checks serde cannot do (`sales` is the `crm:` section; `path` the config file).
    ///
    /// Errors: [`ConfigError::Invalid`] at the offending value: the same vendor twice, an
    /// `owner_of_record` entry without stages, a stage listed twice.
    pub fn check(&self, sales: &CrmSection, path: &Path) -> Result<(), ConfigError> {
        if self.crm.system() == sales.system() {
            return Err(ConfigError::Section {
                path: path.to_path_buf(),
                field: "marketing.crm.type".into(),
                message: format!(
                    "the marketing CRM is {}, the same as crm.type: a marketing CRM is another vendor than the sales CRM",
                    sales.system()
                ),
            });
        }
        super::check_stage_table(
            path,
            "marketing.owner_of_record",
            self.owner_of_record
                .iter()
                .map(|e| (&e.crm, e.stages.as_slice())),
        )
    }
}
