//! The SLA's reassignment step: after the current owner's breach, route the lead again without
//! its current and previous owners, give it to the new owner (CRM owner write, DM with the
//! lead's controls) and start a new SLA window (assignment + 1). See the parent module.

use super::super::lead::message;
use super::super::lead::rules_route::{self, LeadRef};
use super::super::lead_state::LeadState;
use super::super::writes::LeadUpdate;
use super::super::{count, Env, FlowError, Flows};
use super::{lead_key, previous_owners_key, recycle, start, step_metric, timer_keys, utc};
use crate::routing::sla::SlaPolicy;
use crate::routing::RuleSet;
use crate::state::{AuditEntry, Completion, Saga, Timer};
use handoff_connector::IdempotencyKey;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// Reassigns the open lead `state` whose reassignment timer fired (see the module docs);
/// `lead` is the lead as the lead mapping reads it from the CRM now.
pub(super) fn reassign(
    flows: &Flows,
    rules: &RuleSet,
    env: &Env<'_>,
    state: LeadState,
    lead: &Map<String, Value>,
    policy: &SlaPolicy,
    timer: &Timer,
) -> Result<Completion, FlowError> {
    let record = lead_key(&state)?;
    let mut previous: Vec<String> = env
        .store
        .get_json(&previous_owners_key(&state.record_key))?
        .unwrap_or_default();
    let exclude: BTreeSet<String> = previous
        .iter()
        .cloned()
        .chain([state.owner_email.clone()])
        .collect();
    let ctx = rules_route::context(env, None, exclude.clone())?;
    let routed = rules_route::route(rules, env, lead, &ctx, &state.record_key)?;
    let owners = flows.owners.read().unwrap_or_else(|p| p.into_inner());
    let next = routed
        .decision
        .owner
        .as_ref()
        .filter(|o| !exclude.contains(&o.email))
        .and_then(|o| {
            owners
                .by_email(&o.email)
                .cloned()
                .map(|owner| (owner, o.team.clone()))
        });
    drop(owners);
    let Some((owner, team)) = next else {
        // Nobody else can take it: recycle now rather than leave it waiting.
        let mut c = recycle(flows, env, state, &policy.recycle_reason, timer)?;
        if let Some(a) = c.audit.first_mut() {
            a.message = format!("{} — nobody else to reassign to", a.message);
        }
        return Ok(c);
    };
    let it = LeadRef {
        record_key: &state.record_key,
        record_id: &state.record_id,
        lead,
        received_ms: state.received_ms,
    };
    let assignment = state.assignments + 1;
    let mut next_state = rules_route::new_lead_state(
        rules,
        &owner,
        &it,
        team,
        assignment,
        state.received_ms,
        env.now_ms,
    );
    next_state.policy = Some(policy.name.clone());
    let (next_state, timers) = start(rules, lead, next_state, env.now_ms);
    previous.push(state.owner_email.clone());

    let key = timer.key.clone();
    let write = flows.lead_write(&record, &LeadUpdate::owner(&owner.id))?;
    let url = env.crm.record_url(&record);
    let why = format!(
        "Reassigned to you: no first touch from {} within the SLA (policy {}). First touch due {}.",
        state.owner_email,
        policy.name,
        utc(next_state.sla_due_ms)
    );
    let (text, blocks) = message::owner_message(
        lead,
        &message::lead_ref(&state.record_key, assignment),
        &url,
        &why,
        rules.sla(),
    );
    let saga = Saga::new(
        key.clone(),
        "sla",
        &state.record_key,
        vec![
            (
                IdempotencyKey::new(format!("{key}:owner")),
                "assign_owner",
                write.to_json(),
            ),
            super::super::dm_step(&key, "notify_owner", &owner.email, text, blocks),
        ],
        env.now_ms,
    );
    step_metric("reassign");
    count("sla", "reassigned");
    let audit = AuditEntry::new(
        env.now_ms,
        &state.record_key,
        "sla_reassigned",
        format!(
            "reassigned from {} to {} ({} {}) after the SLA breach",
            state.owner_email, owner.email, owner.name, routed.decision.rule
        ),
        json!({
            "from_owner_email": state.owner_email,
            "to_owner_email": owner.email,
            "team": next_state.team,
            "policy": policy.name,
            "assignment": assignment,
            "rule": routed.decision.rule,
            "sla_due_ms": next_state.sla_due_ms,
        }),
    );
    Ok(Completion {
        sagas: vec![saga],
        audit: vec![audit],
        state: vec![
            routed.state,
            next_state.entry(),
            (previous_owners_key(&state.record_key), json!(previous)),
        ],
        timers,
        cancel_timers: timer_keys(&state.record_key, state.assignments),
    })
}
