//! CRM writes, in handoff's words: flows say *what* changes about a lead ([`LeadUpdate`]) or
//! which case to open ([`CaseDraft`]), and the admin's outbound mappings
//! (`lead_handoff.update_mapping`, `closed_won.case_mapping`) say which CRM fields that means.
//! The field names are computed when the decision is made and stored in the saga's action, so
//! a replayed saga performs exactly the write that was decided.
//!
//! The lead update a mapping reads:
//!
//! | field | value |
//! | --- | --- |
//! | `owner_id` | the CRM owner id handoff assigns (absent: the owner is not written) |
//! | `status` | `assigned` (a new owner), `working` (claimed), `rejected`, `nurture` (back to marketing) |
//! | `nurture_reason` | the reason code of a gate failure or a recycle (`invalid_phone`, `sla_expired`) |
//! | `rejection_reason` | the reason code sales picked (`not_a_fit`) |
//! | `lifecycle_stage` | a stage the sales CRM reached, written back to a marketing CRM (`SQL`, `opportunity`, `customer`) |
//!
//! The case draft: `subject`, `description`, `owner_id` (the CSM), `tier`, `customer`, and
//! `deal` (the deal mapping's output, e.g. `deal.amount`, `deal.product`).

use super::{FlowError, Flows};
use crate::outbox::Action;
use handoff_connector::{Fields, RecordKey};
use serde::Serialize;

/// What handoff changes about a lead (see the module docs).
#[derive(Clone, Debug, Default, Serialize)]
pub struct LeadUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<LeadStatusWord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nurture_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle_stage: Option<String>,
}

/// handoff's lead statuses, which the update mapping maps to the CRM's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatusWord {
    /// A new owner was assigned (the CRM's "new" or "open, not contacted" status).
    Assigned,
    /// The owner claimed it.
    Working,
    /// Sales rejected it.
    Rejected,
    /// Back to marketing (a gate failed, or the SLA ran out).
    Nurture,
}

impl LeadUpdate {
    /// Assign `owner_id` as a new owner (status `assigned`).
    pub fn assign(owner_id: &str) -> Self {
        Self {
            owner_id: Some(owner_id.to_string()),
            status: Some(LeadStatusWord::Assigned),
            ..Self::default()
        }
    }

    /// Only the owner (a reassignment or a revert: the status stays as the rep left it).
    pub fn owner(owner_id: &str) -> Self {
        Self {
            owner_id: Some(owner_id.to_string()),
            ..Self::default()
        }
    }

    /// Only a status.
    pub fn status(status: LeadStatusWord) -> Self {
        Self {
            status: Some(status),
            ..Self::default()
        }
    }

    /// Back to nurture with `reason`.
    pub fn nurture(reason: &str) -> Self {
        Self {
            status: Some(LeadStatusWord::Nurture),
            nurture_reason: Some(reason.to_string()),
            ..Self::default()
        }
    }

    /// Only a lifecycle stage (written back to a marketing CRM).
    pub fn stage(stage: &str) -> Self {
        Self {
            lifecycle_stage: Some(stage.to_string()),
            ..Self::default()
        }
    }

    /// Rejected by sales with `reason`.
    pub fn rejected(reason: &str) -> Self {
        Self {
            status: Some(LeadStatusWord::Rejected),
            rejection_reason: Some(reason.to_string()),
            ..Self::default()
        }
    }
}

/// What handoff changes about a support case (`cases.update_mapping` maps it): `owner_id`
/// (the agent), `status` (`accepted` on Accept, `escalated` when it goes to L2).
#[derive(Clone, Debug, Default, Serialize)]
pub struct CaseUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The onboarding case handoff opens for a won deal (see the module docs).
#[derive(Clone, Debug, Serialize)]
pub struct CaseDraft {
    pub subject: String,
    pub description: String,
    pub owner_id: String,
    pub tier: String,
    pub customer: String,
    /// The deal mapping's output.
    pub deal: serde_json::Map<String, serde_json::Value>,
}

impl Flows {
    /// The action that writes `update` to the lead `record`: the update mapping's fields.
    ///
    /// Errors: [`FlowError::Config`] when the mapping's gates refuse the update or it maps to
    /// no field at all (the mapping cannot express what handoff decided).
    pub(crate) fn lead_write(
        &self,
        record: &RecordKey,
        update: &LeadUpdate,
    ) -> Result<Action, FlowError> {
        let name = &self.loaded.config.lead_handoff.update_mapping.value;
        let fields = self.outbound(name, update)?;
        Ok(Action::CrmUpdate {
            record: record.clone(),
            fields,
        })
    }

    /// The fields of the onboarding case `draft` (the case mapping's output).
    pub(crate) fn case_fields(&self, draft: &CaseDraft) -> Result<Fields, FlowError> {
        self.outbound(&self.loaded.config.closed_won.case_mapping.value, draft)
    }

    /// The action that writes `update` to the support case `record`: the fields of
    /// `cases.update_mapping`.
    ///
    /// Errors: as [`Flows::lead_write`]; [`FlowError::Config`] without a `cases` section.
    pub(crate) fn case_write(
        &self,
        record: &RecordKey,
        update: &CaseUpdate,
    ) -> Result<Action, FlowError> {
        let cases = self
            .loaded
            .config
            .cases
            .as_ref()
            .ok_or_else(|| FlowError::Config("a case write without a cases section".into()))?;
        let fields = self.outbound(&cases.update_mapping.value, update)?;
        Ok(Action::CrmUpdate {
            record: record.clone(),
            fields,
        })
    }

    /// The action that writes `update` to the marketing CRM's contact `record`: the fields of
    /// `marketing.update_mapping`.
    ///
    /// Errors: as [`Flows::lead_write`]; [`FlowError::Config`] without a `marketing` section.
    pub(crate) fn marketing_write(
        &self,
        record: &RecordKey,
        update: &LeadUpdate,
    ) -> Result<Action, FlowError> {
        let marketing = self.loaded.config.marketing.as_ref().ok_or_else(|| {
            FlowError::Config("a marketing CRM write without a marketing section".into())
        })?;
        let fields = self.outbound(&marketing.update_mapping.value, update)?;
        Ok(Action::CrmUpdate {
            record: record.clone(),
            fields,
        })
    }

    fn outbound(&self, mapping: &str, doc: &impl Serialize) -> Result<Fields, FlowError> {
        let input = serde_json::to_value(doc).unwrap_or_default();
        let outcome = self.loaded.mapping(mapping).apply(&input);
        if let Some(failed) = outcome.first_failure() {
            return Err(FlowError::Config(format!(
                "outbound mapping `{mapping}` refused {input}: gate {} failed ({})",
                failed.gate, failed.detail
            )));
        }
        if outcome.record.is_empty() {
            return Err(FlowError::Config(format!(
                "outbound mapping `{mapping}` maps {input} to no CRM field"
            )));
        }
        Ok(outcome.record)
    }
}
