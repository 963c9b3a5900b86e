//! `cases:` in `handoff.yaml` — support's handoffs: a bot (or chat channel) hands a case to a
//! live agent, and tier 1 (L1) hands a case to tier 2 (L2) with a written handoff note.
//!
//! ```yaml
//! cases:
//!   mapping: salesforce-case-to-case      # the CRM's case → handoff's case fields (below)
//!   update_mapping: case-to-salesforce-case  # handoff's case update (owner_id, status) → the CRM's case
//!   rules: routing/support.yaml           # a routing rule set (the lead rules' language); its
//!                                         # conditions see the case's fields plus `support_tier`
//!                                         # (L1 | L2) and `account_tier`; its `sla.policies` are
//!                                         # the first-response SLAs (by priority)
//!   bot_origins: [Chat, Social media]     # mapped `origin` values of bot conversations (default)
//!   accepted_status: working              # case update status written on Accept (optional)
//!   closed_statuses: [Closed]             # mapped `status` values of a closed case (default)
//!   escalate_when:                        # any one makes an L1 case go to L2
//!     statuses: [Escalated]               # mapped `status` values set by the L1 agent
//!     flag: escalated                     # a mapped boolean field (Salesforce IsEscalated)
//!     reopen_count: 2                     # mapped `reopen_count` at least this
//!     age: { Critical: 2h, High: 8h }     # open this long in L1 (business hours of the L1
//!                                         # owner's team), by mapped `priority`
//!   note_last_messages: 3                 # customer messages quoted in the handoff note
//! ```
//!
//! The case mapping's output fields handoff reads: `subject`, `description`, `status`,
//! `priority`, `origin`, `type`, `product`, `language`, `escalated`, `reopen_count`,
//! `owner_id`, `account_id`, `contact_email`, `handoff_key` (set on the cases handoff opens
//! itself, such as onboarding cases: those are left alone); any other field is passed to the
//! routing rules as it is.
//!
//! What follows (`src/flows/cases/`): a new case from a bot origin, or with a chatbot
//! transcript, is routed by the rules with `support_tier: L1` and offered to the agent in a
//! Slack DM ("Accept", "Open in CRM"); Accept writes the owner and the accepted status and is
//! the first response. An L1 case meeting an escalation condition is routed with
//! `support_tier: L2`, its owner written, a handoff note added to the case, and the L2 agent
//! gets one DM with the note. The first-response SLA of the policy matching the case reminds
//! the owner, escalates to the pool's manager, and reassigns.
//!
//! Checked at load: the mappings exist and read or write the CRM's case object; the rules
//! file compiles; escalation ages are durations (`30m`, `8h`).

use super::ConfigError;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `cases:` section (see the module docs).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasesConfig {
    /// Inbound mapping: the CRM's case (Salesforce `Case`, HubSpot `tickets`) → handoff's case.
    pub mapping: Spanned<String>,
    /// Outbound mapping: handoff's case update (`owner_id`, `status`) → the CRM's case fields.
    pub update_mapping: Spanned<String>,
    /// The routing rule set for cases, relative to the config file's folder.
    pub rules: Spanned<PathBuf>,
    /// Mapped `origin` values that make a case a bot conversation (compared without case).
    #[serde(default = "default_bot_origins")]
    pub bot_origins: Vec<String>,
    /// The case update `status` written with the owner on Accept (the update mapping maps it),
    /// if any.
    #[serde(default)]
    pub accepted_status: Option<String>,
    /// Mapped `status` values of a closed case (compared without case).
    #[serde(default = "default_closed_statuses")]
    pub closed_statuses: Vec<String>,
    /// When an L1 case goes to L2.
    #[serde(default)]
    pub escalate_when: EscalateWhen,
    /// How many of the customer's last messages the handoff note quotes (default 3).
    #[serde(default = "default_last_messages")]
    pub note_last_messages: usize,
}

/// `escalate_when:`: any one condition escalates an L1 case.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalateWhen {
    /// Mapped `status` values the L1 agent sets to escalate (compared without case).
    #[serde(default)]
    pub statuses: Vec<String>,
    /// A mapped field that, when a true flag (`true`, `1`, `yes`), escalates.
    #[serde(default)]
    pub flag: Option<String>,
    /// Mapped `reopen_count` at or above this escalates.
    #[serde(default)]
    pub reopen_count: Option<u32>,
    /// Mapped `priority` → how long the case may stay in L1 (`<n>m`, `<n>h`; business time of
    /// the L1 owner's team).
    #[serde(default)]
    pub age: BTreeMap<String, Spanned<String>>,
}

fn default_bot_origins() -> Vec<String> {
    vec!["Chat".into(), "Social media".into()]
}

fn default_closed_statuses() -> Vec<String> {
    vec!["Closed".into()]
}

fn default_last_messages() -> usize {
    3
}

impl CasesConfig {
    /// Whether a mapped `origin` is a bot conversation's.
    pub fn is_bot_origin(&self, origin: &str) -> bool {
        self.bot_origins
            .iter()
            .any(|o| o.trim().eq_ignore_ascii_case(origin.trim()))
    }

    /// Whether a mapped `status` closes the case.
    pub fn is_closed(&self, status: &str) -> bool {
        self.closed_statuses
            .iter()
            .any(|s| s.trim().eq_ignore_ascii_case(status.trim()))
    }

    /// How long a case of mapped `priority` may stay in L1, ms, if limited.
    pub fn max_l1_age_ms(&self, priority: &str) -> Option<i64> {
        self.escalate_when
            .age
            .iter()
            .find(|(p, _)| p.trim().eq_ignore_ascii_case(priority.trim()))
            .and_then(|(_, d)| crate::routing::sla::parse_duration_ms(&d.value))
    }

    /// The checks serde cannot do (`path`: the config file).
    ///
    /// Errors: [`ConfigError::Invalid`] at an escalation age that is not a duration.
    pub fn check(&self, path: &Path) -> Result<(), ConfigError> {
        for (priority, age) in &self.escalate_when.age {
            if crate::routing::sla::parse_duration_ms(&age.value).is_none_or(|ms| ms <= 0) {
                return Err(super::invalid(
                    path,
                    age,
                    &format!("cases.escalate_when.age.{priority}"),
                    format!(
                        "`{}` is not a duration: write `<n>s`, `<n>m` or `<n>h`",
                        age.value
                    ),
                ));
            }
        }
        Ok(())
    }
}
