//! First touch: the moment a handed-off lead stops waiting (speed-to-lead ends, the SLA stops).
//!
//! A first touch is a Claim click in Slack (`by: "claim"`, see [`super::claim`]) or, from the
//! CRM (see [`super::contact_change`]), read through the lead mapping:
//! - `activity`: the lead's `last_contacted_at` (a CRM field that moves when a call, email or
//!   meeting is logged on the lead) is later than the current owner's `assigned_ms`; the touch
//!   time is that value;
//! - `activity`, from an activity record ([`from_activity`]: a logged call or email whose
//!   mapped `lead_id` is the lead), created after `assigned_ms`; the touch time is its `at`;
//! - `status`: the lead's `lead_status` is one of the rule set's `sla.first_touch_statuses`,
//!   counted only once handoff's own owner write of the current assignment is done (before it,
//!   the CRM still shows the status the lead had before the handoff); the touch time is the
//!   decision time.
//!
//! handoff's own status on assignment (`assigned`) is not a first-touch status, and its
//! `working` after a claim finds the lead already `Touched`: neither counts twice.
//!
//! [`touch`] marks the [`LeadState`] `Touched`, cancels the pending SLA timers of the current
//! assignment, audits `first_touch` (with `met` and the business time elapsed in the team's
//! hours) and counts `handoff_first_touch_total{by, met}`.

use super::lead_state::{LeadState, LeadStatus};
use super::{sla, Env, FlowError, Flows};
use crate::routing::sla::{business_ms_between, SlaConfig};
use crate::state::{AuditEntry, Completion, StepStatus};
use handoff_connector::time::parse_ms;
use handoff_connector::{ObjectKind, Record};
use serde_json::{json, Map, Value};

/// The completion of a first touch of the open lead `state` by `by` (`claim`, `activity`,
/// `status`) at `touched_ms` (UTC ms), decided at `env.now_ms`.
pub(crate) fn touch(
    flows: &Flows,
    env: &Env<'_>,
    state: LeadState,
    by: &'static str,
    touched_ms: i64,
) -> Completion {
    let calendar = flows.loaded.rules().and_then(|r| {
        r.team_of(&state.owner_email)
            .or_else(|| {
                r.teams()
                    .iter()
                    .find(|t| Some(&t.name) == state.team.as_ref())
            })
            .map(|t| &t.calendar)
    });
    let ts = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or_default();
    let business_elapsed_ms =
        calendar.map(|c| business_ms_between(c, ts(state.received_ms), ts(touched_ms)));
    let met = state.sla_due_ms.is_none_or(|due| touched_ms <= due);
    let elapsed_ms = touched_ms - state.received_ms;
    metrics::counter!("handoff_first_touch_total", "by" => by, "met" => if met { "true" } else { "false" })
        .increment(1);
    super::count("first_touch", by);
    let audit = AuditEntry::new(
        env.now_ms,
        &state.record_key,
        "first_touch",
        format!(
            "first touch by {by} after {}s{}",
            elapsed_ms / 1000,
            match (state.sla_due_ms, met) {
                (None, _) => String::new(),
                (Some(_), true) => " (SLA met)".into(),
                (Some(_), false) => " (SLA missed)".into(),
            }
        ),
        json!({
            "owner_email": state.owner_email,
            "team": state.team,
            "by": by,
            "received_ms": state.received_ms,
            "touched_ms": touched_ms,
            "elapsed_ms": elapsed_ms,
            "business_elapsed_ms": business_elapsed_ms,
            "policy": state.policy,
            "sla_due_ms": state.sla_due_ms,
            "met": met,
        }),
    );
    let (entry, cancel_timers) = sla::end(
        state,
        LeadStatus::Touched {
            at_ms: touched_ms,
            by: by.to_string(),
        },
    );
    Completion {
        audit: vec![audit],
        state: vec![entry],
        cancel_timers,
        ..Completion::default()
    }
}

/// Whether the lead change shows a first touch of the open lead `state` (`lead` is the lead
/// mapping's output); the completion when it does, an empty one when not.
pub(crate) fn from_crm(
    flows: &Flows,
    env: &Env<'_>,
    state: LeadState,
    lead: &Map<String, Value>,
) -> Result<Completion, FlowError> {
    if !state.is_open() {
        return Ok(Completion::default());
    }
    if let Some(at) = super::field(lead, "last_contacted_at")
        .and_then(parse_ms)
        .filter(|at| *at > state.assigned_ms)
    {
        return Ok(touch(flows, env, state, "activity", at));
    }
    let default_sla = SlaConfig::default();
    let sla_cfg = flows.loaded.rules().map_or(&default_sla, |r| r.sla());
    let status = super::field(lead, "lead_status").unwrap_or_default();
    if sla_cfg.is_first_touch_status(status) && owner_write_done(env, &state)? {
        return Ok(touch(flows, env, state, "status", env.now_ms));
    }
    Ok(Completion::default())
}

/// A CRM activity (a logged call, email or meeting) changed: through
/// `lead_handoff.activity_mapping` it names the lead (`lead_id`) and when it happened (`at`);
/// one on an open lead after its owner was assigned is a first touch (`activity`). Without an
/// activity mapping, or for an activity on no tracked lead, nothing happens.
pub(crate) fn from_activity(
    flows: &Flows,
    env: &Env<'_>,
    activity: &Record,
) -> Result<Completion, FlowError> {
    let Some(mapping) = &flows.loaded.config.lead_handoff.activity_mapping else {
        return Ok(Completion::default());
    };
    let mapped = flows
        .loaded
        .mapping(&mapping.value)
        .apply(&activity.to_json());
    let Some(lead) =
        super::field(&mapped.record, "lead_id").and_then(|id| env.crm.key(ObjectKind::Lead, id))
    else {
        return Ok(Completion::default());
    };
    let Some(state) = super::lead_state::load(env.store, &lead.to_string())? else {
        return Ok(Completion::default());
    };
    let at = super::field(&mapped.record, "at").and_then(parse_ms);
    match at {
        Some(at) if state.is_open() && at > state.assigned_ms => {
            Ok(touch(flows, env, state, "activity", at))
        }
        _ => Ok(Completion::default()),
    }
}

/// Whether handoff's owner write of the current assignment has been applied in the CRM.
fn owner_write_done(env: &Env<'_>, state: &LeadState) -> Result<bool, FlowError> {
    let key = sla::assignment_saga_key(&state.record_key, state.assignments);
    Ok(env.store.saga(&key)?.is_some_and(|s| {
        s.steps
            .iter()
            .any(|st| st.name == "assign_owner" && st.status == StepStatus::Done)
    }))
}
