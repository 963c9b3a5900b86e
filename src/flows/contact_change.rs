//! A CRM lead changed: is it a lead to hand off, or news about a lead handed off?
//!
//! A lead without a [`super::lead_state::LeadState`] goes to the lead flow
//! ([`super::lead::decide`]). One that has one was handed off already: the change is checked
//! first for a conversion (the lead mapping's `converted` is true: the lead record became a
//! contact, an account and a deal, and is read-only from then on), then for an owner change
//! from a system that is not the system of record for the lead's stage
//! ([`super::ownership::check`]: revert, flag or accept), then for a first touch
//! ([`super::first_touch::from_crm`]). A change that is both an owner change and a touch is
//! decided as an owner change; the write handoff then makes (or the next change) brings the
//! touch to the second check.

use super::lead_state::{LeadState, LeadStatus};
use super::{first_touch, flag, lead, lead_state, ownership, sla, Env, FlowError, Flows};
use crate::state::{AuditEntry, Completion};
use handoff_connector::{Change, Record};
use serde_json::json;

/// Decides a lead change (see the module docs).
pub(super) async fn decide(
    flows: &Flows,
    env: &Env<'_>,
    change: &Change,
    contact: &Record,
) -> Result<Completion, FlowError> {
    let record_key = change.record_key();
    let Some(state) = lead_state::load(env.store, &record_key)? else {
        return lead::decide(flows, env, change, contact);
    };
    let mapped = flows.map_lead(contact);
    if flag(&mapped.record, "converted") {
        return Ok(converted(env, state));
    }
    if let Some(decided) = ownership::check(flows, env, change, &mapped.record, &state).await? {
        return Ok(decided);
    }
    first_touch::from_crm(flows, env, state, &mapped.record)
}

/// A lead converted in the CRM while handoff tracked it: an open lead stops its SLA (the
/// pending timers are cancelled, the lead of record becomes `Converted`), and the conversion
/// is audited once. Nothing is written to the CRM: a converted lead is read-only.
pub(super) fn converted(env: &Env<'_>, state: LeadState) -> Completion {
    if !state.is_open() {
        return Completion::default();
    }
    let audit = AuditEntry::new(
        env.now_ms,
        &state.record_key,
        "converted",
        format!(
            "converted in the CRM while waiting for a first touch (owner {}): the SLA stops",
            state.owner_email
        ),
        json!({
            "owner_email": state.owner_email,
            "team": state.team,
            "assignment": state.assignments,
            "policy": state.policy,
        }),
    );
    super::count("lead_handoff", "converted");
    let (entry, cancel_timers) = sla::end(state, LeadStatus::Converted { at_ms: env.now_ms });
    Completion {
        audit: vec![audit],
        state: vec![entry],
        cancel_timers,
        ..Completion::default()
    }
}
