//! Speed-to-lead SLA steps: what happens when a lead waits for its first touch.
//!
//! When a lead is routed by rules and an SLA policy matches it ([`crate::routing::sla`]),
//! [`start`] puts the SLA due time in its [`LeadState`] and returns durable timers, keyed
//! `sla:<record_key>:<assignment>:<step>`, committed with the decision:
//!
//! | step       | timer kind       | when                              | action |
//! |------------|------------------|-----------------------------------|--------|
//! | `reminder` | `sla_reminder`   | `remind_at` share of the window   | DM to the owner |
//! | `breach`   | `sla_breach`     | the SLA is due                    | escalation DM to the owner's manager (`sla_breached`) |
//! | `reassign` | `sla_reassign`   | `reassign_after` past the breach  | route again without the current and previous owners, CRM owner write, DM to the new owner, a new SLA window (assignment + 1) |
//! | `recycle`  | `sla_recycle`    | `recycle_after` past the last owner's breach | the update mapping's fields for status `nurture`, `nurture_reason` = `recycle_reason` |
//!
//! The payload carries the assignment number. A fired timer acts only if the lead is still
//! `Open` and on that assignment ([`on_timer`]); anything else is stale and does nothing, so a
//! first touch, a reject or a reassignment needs no race-free cancellation (it cancels the
//! pending timers anyway). Each action is a saga keyed by the timer key: a timer change
//! processed twice (a crash before the inbox entry was removed) adds no second saga, and the
//! LeadState/audit are written in the same commit.
//!
//! A reassignment routes like a new lead (the matched account's owner is not consulted), so
//! the rule set's usual fallbacks apply when every eligible rep is excluded or away (queue
//! owner, manager, the global fallback owner). Only when that owner had the lead before too
//! (or is not a CRM owner) is nobody left: the lead is recycled at once with the policy's
//! `recycle_reason`. Previous owners are kept in flow state `lead-owners:<record_key>`.
//!
//! Counters: `handoff_sla_steps_total{step}`, `handoff_leads_recycled_total{reason}`.

mod reassign;

use super::lead_state::{self, LeadState, LeadStatus};
use super::writes::LeadUpdate;
use super::{contact_change, count, flag, Env, FlowError, Flows};
use crate::routing::sla::AfterBreach;
use crate::routing::RuleSet;
use crate::state::{AuditEntry, Completion, Saga, Timer};
use handoff_connector::{IdempotencyKey, RecordKey};
use serde_json::{json, Map, Value};

/// Timer kind of the reminder to the owner.
pub const KIND_REMINDER: &str = "sla_reminder";
/// Timer kind of the breach (escalation to the manager).
pub const KIND_BREACH: &str = "sla_breach";
/// Timer kind of the reassignment.
pub const KIND_REASSIGN: &str = "sla_reassign";
/// Timer kind of the recycle to nurture.
pub const KIND_RECYCLE: &str = "sla_recycle";

/// The steps, in order: `(step name, timer kind)`.
pub const STEPS: [(&str, &str); 4] = [
    ("reminder", KIND_REMINDER),
    ("breach", KIND_BREACH),
    ("reassign", KIND_REASSIGN),
    ("recycle", KIND_RECYCLE),
];

/// Whether a timer kind is an SLA step's.
pub fn is_sla_kind(kind: &str) -> bool {
    STEPS.iter().any(|(_, k)| *k == kind)
}

/// The timer key of `step` of assignment `assignment`: `sla:<record_key>:<assignment>:<step>`.
pub fn timer_key(record_key: &str, assignment: u32, step: &str) -> String {
    format!("sla:{record_key}:{assignment}:{step}")
}

/// Every SLA timer key of an assignment (to cancel them).
pub fn timer_keys(record_key: &str, assignment: u32) -> Vec<String> {
    STEPS
        .iter()
        .map(|(step, _)| timer_key(record_key, assignment, step))
        .collect()
}

/// Ends the SLA of the lead of record `state`: it takes `status` (touched, converted,
/// rejected), and every timer of its current assignment is to be cancelled. Returns the lead
/// of record's entry and those timer keys, for a [`Completion`]'s `state` and
/// `cancel_timers`.
pub(crate) fn end(state: LeadState, status: LeadStatus) -> ((String, Value), Vec<String>) {
    let cancel = timer_keys(&state.record_key, state.assignments);
    let state = LeadState { status, ..state };
    (state.entry(), cancel)
}

/// The flow-state key of the owners a lead had before its current owner (JSON array of
/// emails): `lead-owners:<record_key>`.
pub fn previous_owners_key(record_key: &str) -> String {
    format!("lead-owners:{record_key}")
}

/// The saga whose `assign_owner` step gives the lead to the owner of `assignment`: the lead
/// saga for the first, the previous assignment's reassignment saga after that.
pub fn assignment_saga_key(record_key: &str, assignment: u32) -> String {
    if assignment <= 1 {
        super::lead::saga_key(record_key)
    } else {
        timer_key(record_key, assignment - 1, "reassign")
    }
}

/// Starts the SLA of `state`'s current assignment (assigned at `state.assigned_ms`): the
/// policy is `state.policy` when set (a reassignment keeps it), else the first policy
/// matching the mapped `lead`. Returns the state with `policy` and `sla_due_ms` filled, and
/// the step timers (none without a policy).
pub(crate) fn start(
    rules: &RuleSet,
    lead: &Map<String, Value>,
    mut state: LeadState,
    now_ms: i64,
) -> (LeadState, Vec<Timer>) {
    let sla = rules.sla();
    let policy = match &state.policy {
        Some(name) => sla.policy(name),
        None => sla.policy_for(&Value::Object(lead.clone())),
    };
    let Some(policy) = policy else {
        state.policy = None;
        state.sla_due_ms = None;
        return (state, Vec::new());
    };
    let cal = rules.team_of(&state.owner_email).map(|t| &t.calendar);
    let assigned = jiff::Timestamp::from_millisecond(state.assigned_ms).unwrap_or_default();
    let schedule = policy.schedule(cal, assigned, state.assignments);
    state.policy = Some(policy.name.clone());
    state.sla_due_ms = Some(schedule.due.as_millisecond());
    let mut at = vec![
        ("reminder", schedule.reminder),
        ("breach", Some(schedule.due)),
    ];
    match schedule.after_breach {
        Some((AfterBreach::Reassign, t)) => at.push(("reassign", Some(t))),
        Some((AfterBreach::Recycle, t)) => at.push(("recycle", Some(t))),
        None => {}
    }
    let timers = at
        .into_iter()
        .filter_map(|(step, t)| t.map(|t| (step, t)))
        .map(|(step, t)| Timer {
            key: timer_key(&state.record_key, state.assignments, step),
            due_ms: t.as_millisecond(),
            kind: STEPS
                .iter()
                .find(|(s, _)| *s == step)
                .map_or(step, |(_, k)| k)
                .to_string(),
            record_key: state.record_key.clone(),
            payload: json!({
                "assignment": state.assignments,
                "record_id": state.record_id,
                "policy": policy.name,
            }),
            created_ms: now_ms,
        })
        .collect();
    (state, timers)
}

/// Handles a fired SLA timer (see the module docs).
pub(super) async fn on_timer(
    flows: &Flows,
    env: &Env<'_>,
    timer: Timer,
) -> Result<Completion, FlowError> {
    let Some(state) = lead_state::load(env.store, &timer.record_key)? else {
        return Ok(Completion::default());
    };
    let assignment = timer.payload.get("assignment").and_then(Value::as_u64);
    if !state.is_open() || assignment != Some(u64::from(state.assignments)) {
        return Ok(Completion::default());
    }
    if env.store.saga(&timer.key)?.is_some() {
        return Ok(Completion::default());
    }
    let Some(rules) = flows.loaded.rules() else {
        return Ok(Completion::default());
    };
    let Some(policy) = state.policy.as_deref().and_then(|p| rules.sla().policy(p)) else {
        // The policy is gone from the config since the lead was assigned: nothing to enforce.
        return Ok(Completion::default());
    };
    match timer.kind.as_str() {
        KIND_REMINDER => Ok(remind(env, &state, &timer)),
        KIND_BREACH => Ok(breach(env, &state, &timer)),
        kind @ (KIND_REASSIGN | KIND_RECYCLE) => {
            // Both write to the lead, so read it first: the CRM may have converted it (a
            // converted lead is read-only) before a poll brought that change in.
            let record = lead_key(&state)?;
            let Some(found) = env.read(flows, &record).await? else {
                return Ok(Completion::default());
            };
            let lead = flows.map_lead(&found).record;
            if flag(&lead, "converted") {
                return Ok(contact_change::converted(env, state));
            }
            if kind == KIND_REASSIGN {
                reassign::reassign(flows, rules, env, state, &lead, policy, &timer)
            } else {
                recycle(flows, env, state, &policy.recycle_reason, &timer)
            }
        }
        _ => Ok(Completion::default()),
    }
}

pub(super) fn step_metric(step: &'static str) {
    metrics::counter!("handoff_sla_steps_total", "step" => step).increment(1);
}

pub(super) fn utc(ms: Option<i64>) -> String {
    ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "?".into())
}

/// A one-DM saga keyed by the timer key.
fn dm_saga(
    env: &Env<'_>,
    timer: &Timer,
    step: &str,
    email: &str,
    text: String,
    blocks: Value,
) -> Saga {
    Saga::new(
        timer.key.clone(),
        "sla",
        &timer.record_key,
        vec![super::dm_step(&timer.key, step, email, text, blocks)],
        env.now_ms,
    )
}

/// The lead's "Open in CRM" link.
fn lead_url(env: &Env<'_>, state: &LeadState) -> String {
    state
        .key()
        .map(|k| env.crm.record_url(&k))
        .unwrap_or_default()
}

fn remind(env: &Env<'_>, state: &LeadState, timer: &Timer) -> Completion {
    let url = lead_url(env, state);
    let due = utc(state.sla_due_ms);
    let text = format!(
        "Reminder: a lead assigned to you waits for a first touch (due {due}). Claim it when you reach out."
    );
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!(":alarm_clock: *Reminder:* your lead waits for a first touch — due *{due}* (policy {}).", state.policy.as_deref().unwrap_or("?"))}},
        {"type": "actions", "block_id": "lead_actions", "elements": [
            {"type": "button", "action_id": "claim_lead", "style": "primary", "text": {"type": "plain_text", "text": "Claim lead"}, "value": state.record_key},
            {"type": "button", "action_id": "open_in_crm", "text": {"type": "plain_text", "text": "Open in CRM"}, "url": url}
        ]}
    ]);
    step_metric("reminder");
    count("sla", "reminder");
    Completion {
        sagas: vec![dm_saga(
            env,
            timer,
            "remind_owner",
            &state.owner_email,
            text,
            blocks,
        )],
        audit: vec![AuditEntry::new(
            env.now_ms,
            &state.record_key,
            "sla_reminder",
            format!("reminded {} (first touch due {due})", state.owner_email),
            json!({
                "owner_email": state.owner_email,
                "team": state.team,
                "policy": state.policy,
                "due_ms": state.sla_due_ms,
            }),
        )],
        ..Completion::default()
    }
}

fn breach(env: &Env<'_>, state: &LeadState, timer: &Timer) -> Completion {
    let url = lead_url(env, state);
    let due = utc(state.sla_due_ms);
    let sagas = match &state.manager_email {
        Some(manager) => {
            let text = format!(
                "SLA breached: a lead assigned to {} was not touched by {due}.",
                state.owner_email
            );
            let blocks = json!([
                {"type": "section", "text": {"type": "mrkdwn", "text": format!(":rotating_light: *SLA breached:* the lead assigned to {} (team {}) had no first touch by *{due}* (policy {}).", state.owner_email, state.team.as_deref().unwrap_or("none"), state.policy.as_deref().unwrap_or("?"))}},
                {"type": "actions", "block_id": "escalation_actions", "elements": [
                    {"type": "button", "action_id": "open_in_crm", "text": {"type": "plain_text", "text": "Open in CRM"}, "url": url}
                ]}
            ]);
            vec![dm_saga(
                env,
                timer,
                "escalate_to_manager",
                manager,
                text,
                blocks,
            )]
        }
        None => Vec::new(),
    };
    step_metric("breach");
    count("sla", "breached");
    Completion {
        sagas,
        audit: vec![AuditEntry::new(
            env.now_ms,
            &state.record_key,
            "sla_breached",
            format!(
                "no first touch by {due}: escalated to {}",
                state
                    .manager_email
                    .as_deref()
                    .unwrap_or("nobody (no manager known)")
            ),
            json!({
                "owner_email": state.owner_email,
                "manager_email": state.manager_email,
                "team": state.team,
                "policy": state.policy,
                "due_ms": state.sla_due_ms,
            }),
        )],
        ..Completion::default()
    }
}

/// Recycles the lead to nurture with `reason` (by the SLA).
///
/// Errors: [`FlowError::BadRecord`] when the lead of record's key is unreadable;
/// [`FlowError::Config`] when the update mapping cannot express the write.
pub(super) fn recycle(
    flows: &Flows,
    env: &Env<'_>,
    state: LeadState,
    reason: &str,
    timer: &Timer,
) -> Result<Completion, FlowError> {
    let record = lead_key(&state)?;
    let write = flows.lead_write(&record, &LeadUpdate::nurture(reason))?;
    let key = timer_key(&state.record_key, state.assignments, "recycle");
    let saga = Saga::new(
        key.clone(),
        "sla",
        &state.record_key,
        vec![(
            IdempotencyKey::new(format!("{key}:status")),
            "recycle",
            write.to_json(),
        )],
        env.now_ms,
    );
    step_metric("recycle");
    count("sla", "recycled");
    metrics::counter!("handoff_leads_recycled_total", "reason" => reason.to_string()).increment(1);
    let audit = AuditEntry::new(
        env.now_ms,
        &state.record_key,
        "recycled",
        format!("back to nurture: {reason} (no first touch, SLA expired)"),
        json!({"reason": reason, "by": "sla", "owner_email": state.owner_email, "team": state.team}),
    );
    let cancel_timers = timer_keys(&state.record_key, state.assignments)
        .into_iter()
        .filter(|k| *k != timer.key)
        .collect();
    let state = LeadState {
        status: LeadStatus::Recycled {
            at_ms: env.now_ms,
            reason: reason.to_string(),
        },
        ..state
    };
    Ok(Completion {
        sagas: vec![saga],
        audit: vec![audit],
        state: vec![state.entry()],
        cancel_timers,
        ..Completion::default()
    })
}

/// The lead of record's key, typed.
pub(super) fn lead_key(state: &LeadState) -> Result<RecordKey, FlowError> {
    state.key().ok_or_else(|| FlowError::BadRecord {
        record: state.record_key.clone(),
        reason: "the lead of record's key is not system:object:id".into(),
    })
}
