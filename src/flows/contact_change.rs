//! A HubSpot contact changed: is it a lead to hand off, or news about a lead handed off?
//!
//! A contact without a [`super::lead_state::LeadState`] goes to the lead flow
//! ([`super::lead::decide`]). One that has one was handed off already: the change is checked
//! first for an owner change from a system that is not the system of record for the lead's
//! stage ([`super::ownership::check`]: revert, flag or accept), then for a first touch
//! ([`super::first_touch::from_crm`]). A change that is both is decided as an owner change;
//! the write handoff then makes (or the next change) brings the touch to the second check.

use super::{first_touch, lead, lead_state, ownership, Env, FlowError, Flows};
use crate::state::Completion;
use handoff_connector::{Change, Record};

/// Decides a contact change (see the module docs).
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
    if let Some(decided) = ownership::check(flows, env, change, contact, &state).await? {
        return Ok(decided);
    }
    first_touch::from_crm(flows, env, state, contact)
}
