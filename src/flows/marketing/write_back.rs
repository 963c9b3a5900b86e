//! The loop back to marketing: what became of a lead in the sales CRM is written to its contact
//! in the marketing CRM, so marketing's reports see it.
//!
//! * A sales lead whose mapped `lifecycle_stage` is one of `marketing.write_back_stages`
//!   (default `SQL`, `opportunity`, `customer`, in funnel order) moves the contact's stage
//!   forward to it, never back: a contact at that stage or a later one of the list is left.
//! * A sales lead whose mapped `lead_status` is one of `marketing.disqualified_statuses`
//!   (default `UNQUALIFIED`) writes status `rejected` with the lead's mapped `rejection_reason`,
//!   or status `nurture` with its `nurture_reason` (an SLA recycle), else `rejected` with
//!   `disqualified`.
//!
//! Both go through `marketing.update_mapping` (fields `lifecycle_stage`, `status`,
//! `rejection_reason`, `nurture_reason` of handoff's lead update), as saga `stage-writeback:<contact>:<what>`:
//! once per contact and stage (or disqualification). Each is audited `stage_written_back` on
//! the contact.

use super::super::writes::LeadUpdate;
use super::super::{field, Env, FlowError, Flows};
use crate::config::marketing::MarketingConfig;
use crate::state::{AuditEntry, Completion, Saga};
use handoff_connector::{IdempotencyKey, RecordKey};
use serde_json::{json, Map, Value};

/// The reason written when the sales CRM gives none.
pub const DEFAULT_DISQUALIFICATION: &str = "disqualified";

/// The write-back saga for `contact` (its marketing mapping's view: `marketing_lead`) from the
/// sales lead `sales_lead` (its lead mapping's view), if anything is to be written.
pub(super) fn write_back(
    flows: &Flows,
    env: &Env<'_>,
    cfg: &MarketingConfig,
    contact: &RecordKey,
    marketing_lead: &Map<String, Value>,
    sales_lead: &Map<String, Value>,
    sales_record: &RecordKey,
) -> Result<Option<Completion>, FlowError> {
    let status = field(sales_lead, "lead_status").unwrap_or("");
    let (what, update, words) = if cfg.disqualified_statuses.iter().any(|s| s == status) {
        // Rejected by sales, or sent back to nurture (an SLA recycle), with its reason.
        let (update, reason) = match (
            field(sales_lead, "rejection_reason"),
            field(sales_lead, "nurture_reason"),
        ) {
            (Some(r), _) => (LeadUpdate::rejected(r), r),
            (None, Some(n)) => (LeadUpdate::nurture(n), n),
            (None, None) => (
                LeadUpdate::rejected(DEFAULT_DISQUALIFICATION),
                DEFAULT_DISQUALIFICATION,
            ),
        };
        (
            "disqualified".to_string(),
            update,
            format!("disqualified in {} ({reason})", sales_record.system),
        )
    } else {
        let Some(stage) = field(sales_lead, "lifecycle_stage").filter(|s| {
            moves_forward(
                &cfg.write_back_stages,
                field(marketing_lead, "lifecycle_stage"),
                s,
            )
        }) else {
            return Ok(None);
        };
        (
            stage.to_string(),
            LeadUpdate::stage(stage),
            format!("lifecycle stage {stage}, as in {}", sales_record.system),
        )
    };
    let record_key = contact.to_string();
    let key = format!("stage-writeback:{record_key}:{what}");
    if env.store.saga(&key)?.is_some() {
        return Ok(None);
    }
    let write = flows.marketing_write(contact, &update)?;
    let saga = Saga::new(
        key.clone(),
        "lead_handoff",
        &record_key,
        vec![(
            IdempotencyKey::new(format!("{key}:write")),
            "write_back",
            write.to_json(),
        )],
        env.now_ms,
    );
    let audit = AuditEntry::new(
        env.now_ms,
        &record_key,
        "stage_written_back",
        format!("{words}: {sales_record}"),
        json!({"update": update, "sales_record": sales_record.to_string()}),
    );
    metrics::counter!("handoff_stage_writebacks_total").increment(1);
    Ok(Some(Completion {
        sagas: vec![saga],
        audit: vec![audit],
        ..Completion::default()
    }))
}

/// Whether moving a contact from stage `from` to `to` goes forward in `order` (the write-back
/// stages, in funnel order): `to` is in it, and `from` is not, or is earlier.
pub(super) fn moves_forward(order: &[String], from: Option<&str>, to: &str) -> bool {
    let at = |s: &str| order.iter().position(|o| o == s);
    match (from.and_then(at), at(to)) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(f), Some(t)) => t > f,
    }
}

#[cfg(test)]
mod tests {
    use super::moves_forward;

    #[test]
    fn stages_move_forward_only() {
        let order: Vec<String> = ["SQL", "opportunity", "customer"]
            .map(String::from)
            .to_vec();
        assert!(moves_forward(&order, Some("MQL"), "SQL"));
        assert!(moves_forward(&order, None, "opportunity"));
        assert!(moves_forward(&order, Some("SQL"), "customer"));
        assert!(
            !moves_forward(&order, Some("customer"), "SQL"),
            "never back"
        );
        assert!(!moves_forward(&order, Some("SQL"), "SQL"), "already there");
        assert!(
            !moves_forward(&order, Some("lead"), "MQL"),
            "not a write-back stage"
        );
    }
}
