//! "Reject": sales turns a lead down from the Slack DM's `reject_lead` menu with a reason code
//! (not a fit, duplicate, student/competitor, no contact info — the rule set's
//! `sla.reject_reasons`).
//!
//! The menu's option values are `<reason_code>|<record_key>` ([`super::lead::message`]); the
//! server carries the selected option's value as the interaction record's `value`. One saga
//! `reject:<record_key>` (first reject wins):
//! 1. CRM: the update mapping's fields for status `rejected` and `rejection_reason` = the code
//!    (a disqualified status and a custom reason field, as the mapping says);
//! 2. `chat.update` of the DM: who rejected it and why (the controls are gone).
//!
//! In the same commit: the [`super::lead_state::LeadState`] becomes `Rejected` and its pending SLA timers are
//! cancelled; audit `rejected` and `recycled` (by `reject`); counters
//! `handoff_leads_rejected_total{reason}` and `handoff_leads_recycled_total{reason}` (reason
//! codes come from the config, so the labels are bounded). An unknown reason code or a value
//! of another shape is a bad record (dead letter): the menu handoff sent cannot produce it.

use super::claim::{self, OBJECT_TYPE};
use super::lead::message::{parse_lead_ref, REJECT_ACTION};
use super::lead_state::{self, LeadStatus};
use super::writes::LeadUpdate;
use super::{count, sla, Env, FlowError, Flows};
use crate::routing::sla::SlaConfig;
use crate::state::{AuditEntry, Completion, Saga};
use handoff_connector::Record;
use serde_json::json;

/// The `action_id` of the reject menu.
pub const ACTION_ID: &str = REJECT_ACTION;

/// The saga key of a lead's rejection: `reject:<record_key>`.
pub fn saga_key(record_key: &str) -> String {
    format!("reject:{record_key}")
}

/// Decides a `reject_lead` selection (record props as for [`super::claim`], `value` =
/// `<reason_code>|<record_key>`).
pub(super) fn decide(flows: &Flows, env: &Env<'_>, pick: &Record) -> Result<Completion, FlowError> {
    let bad = |reason: String| FlowError::BadRecord {
        record: format!("slack:{OBJECT_TYPE}:{}", pick.id),
        reason,
    };
    let value = pick.prop("value").unwrap_or_default();
    let (code, lead_ref) = value.split_once('|').ok_or_else(|| {
        bad(format!(
            "reject menu value `{value}` is not `<reason>|<record key>`"
        ))
    })?;
    let (lead_key, assignment) = parse_lead_ref(lead_ref);
    let record = claim::lead_record(env, lead_key).ok_or_else(|| {
        bad(format!(
            "reject menu carries `{lead_key}`, not the key of a {} lead",
            env.crm.system()
        ))
    })?;
    let default_sla = SlaConfig::default();
    let sla_cfg = flows.loaded.rules().map_or(&default_sla, |r| r.sla());
    let label = sla_cfg.reject_reasons.get(code).ok_or_else(|| {
        bad(format!(
            "unknown reject reason `{code}` (configured: {})",
            sla_cfg
                .reject_reasons
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let state = lead_state::load(env.store, lead_key)?;
    if let Some(stale) = claim::stale_click(env, pick, lead_ref, assignment, state.as_ref())? {
        return Ok(stale);
    }
    let key = saga_key(lead_key);
    if env.store.saga(&key)?.is_some() {
        return Ok(Completion::default());
    }
    let user = pick.prop("user_id").unwrap_or_default();
    let when = claim::click_time(env.now_ms);
    let write = flows.lead_write(&record, &LeadUpdate::rejected(code))?;
    let steps = claim::answer_steps(
        &key,
        "disposition",
        write,
        pick,
        format!("Lead rejected by <@{user}> at {when}: {label}."),
        format!(
            ":no_entry_sign: Rejected by <@{user}> at {when}: *{label}*. Sent back to nurture."
        ),
    );
    let (owner_email, team) = state.as_ref().map_or((None, None), |s| {
        (Some(s.owner_email.clone()), s.team.clone())
    });
    let audit = vec![
        AuditEntry::new(
            env.now_ms,
            lead_key,
            "rejected",
            format!("rejected in Slack by {user}: {label}"),
            json!({"reason": code, "owner_email": owner_email, "team": team, "slack_user": user}),
        ),
        AuditEntry::new(
            env.now_ms,
            lead_key,
            "recycled",
            format!("back to nurture: rejected ({code})"),
            json!({"reason": code, "by": "reject", "owner_email": owner_email, "team": team}),
        ),
    ];
    metrics::counter!("handoff_leads_rejected_total", "reason" => code.to_string()).increment(1);
    metrics::counter!("handoff_leads_recycled_total", "reason" => code.to_string()).increment(1);
    count("reject", "rejected");
    let (state_entries, cancel_timers) = match state {
        Some(s) => {
            let (entry, cancel) = sla::end(
                s,
                LeadStatus::Rejected {
                    at_ms: env.now_ms,
                    reason: code.to_string(),
                },
            );
            (vec![entry], cancel)
        }
        None => (Vec::new(), Vec::new()),
    };
    Ok(Completion {
        sagas: vec![Saga::new(key, "reject", lead_key, steps, env.now_ms)],
        audit,
        state: state_entries,
        cancel_timers,
        ..Completion::default()
    })
}
