//! The lead flow's routing by rules (`lead_handoff.rules`): route with the engine, then either
//! defer (nobody available) or name the owner of record and start the SLA.
//!
//! Inputs besides the lead (flow state, written by the daemon's refresher; missing = none):
//! - `routing:load` ([`LOAD_KEY`]): a [`LoadSnapshot`] for least-loaded pools;
//! - `routing:out_of_office` ([`OUT_OF_OFFICE_KEY`]): `{"reps": [...], "taken_ms": N}` (a bare
//!   JSON array of emails is accepted too), reps marked away in the CRM now.
//!
//! The routing state ([`ROUTING_STATE_KEY`]) is written with the decision. A routed lead gets
//! its [`LeadState`] (assignment 1, `Open`) and, when an SLA policy matches, the SLA timers of
//! assignment 1 (see [`crate::flows::sla`]), all in the same commit as the lead saga.

use super::super::lead_state::{LeadState, LeadStatus};
use super::super::owners::{Owner, OwnerDirectory};
use super::super::{after_hours, count, deferred, sla, Env, FlowError, Flows};
use crate::routing::{Decision, LoadSnapshot, Outcome, RouteContext, RoutingState, RuleSet};
use crate::state::{AuditEntry, Completion, Timer};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// The flow-state key of the routing engine's [`RoutingState`].
pub const ROUTING_STATE_KEY: &str = "routing:state";

/// The flow-state key of the latest [`LoadSnapshot`] (written by the daemon's refresher).
pub const LOAD_KEY: &str = "routing:load";

/// The flow-state key of the reps away now per the CRM (written by the daemon's refresher).
pub const OUT_OF_OFFICE_KEY: &str = "routing:out_of_office";

/// Day counts older than this many days are pruned from the routing state.
const KEEP_COUNT_DAYS: i64 = 8;

/// A rules-engine decision and the routing state to write with it.
pub(crate) struct RulesRoute {
    pub decision: Decision,
    /// `(ROUTING_STATE_KEY, state after the decision's updates)`.
    pub state: (String, Value),
}

/// The [`RouteContext`] of a decision: the matched account's owner, the CRM inputs from flow
/// state, and the reps to exclude (lowercase emails).
pub(crate) fn context(
    env: &Env<'_>,
    account_owner: Option<String>,
    exclude: BTreeSet<String>,
) -> Result<RouteContext, FlowError> {
    let load = env
        .store
        .get_json::<Value>(LOAD_KEY)?
        .and_then(|v| match serde_json::from_value::<LoadSnapshot>(v) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(key = LOAD_KEY, error = %e, "load snapshot unreadable; routing without it");
                None
            }
        });
    let out_of_office = match env.store.get_json::<Value>(OUT_OF_OFFICE_KEY)? {
        Some(Value::Array(reps)) => emails(&reps),
        Some(Value::Object(o)) => o
            .get("reps")
            .and_then(Value::as_array)
            .map(|r| emails(r))
            .unwrap_or_default(),
        _ => BTreeSet::new(),
    };
    Ok(RouteContext {
        account_owner,
        load,
        out_of_office,
        exclude,
    })
}

fn emails(values: &[Value]) -> BTreeSet<String> {
    values
        .iter()
        .filter_map(Value::as_str)
        .map(|s| s.trim().to_ascii_lowercase())
        .collect()
}

/// Routes `lead` with the configured rules at `env.now_ms`.
pub(crate) fn route(
    rules: &RuleSet,
    env: &Env<'_>,
    lead: &Map<String, Value>,
    ctx: &RouteContext,
    record_key: &str,
) -> Result<RulesRoute, FlowError> {
    route_with_state(rules, env, lead, ctx, record_key, ROUTING_STATE_KEY)
}

/// [`route`] with the routing state kept under `state_key` (another rule set's rotations and
/// caps: the case rules keep theirs apart from the lead rules').
pub(crate) fn route_with_state(
    rules: &RuleSet,
    env: &Env<'_>,
    lead: &Map<String, Value>,
    ctx: &RouteContext,
    record_key: &str,
    state_key: &str,
) -> Result<RulesRoute, FlowError> {
    let now = jiff::Timestamp::from_millisecond(env.now_ms).map_err(|e| FlowError::BadRecord {
        record: record_key.to_string(),
        reason: format!("decision time {} ms is out of range: {e}", env.now_ms),
    })?;
    let mut state: RoutingState = env.store.get_json(state_key)?.unwrap_or_default();
    let decision = crate::routing::route(rules, &Value::Object(lead.clone()), ctx, &state, now);
    state.apply(&decision.updates);
    state.prune_counts(now, KEEP_COUNT_DAYS);
    let state = serde_json::to_value(&state).unwrap_or(Value::Null);
    Ok(RulesRoute {
        decision,
        state: (state_key.to_string(), state),
    })
}

/// What routing by rules decided.
pub(super) enum Branch {
    /// Nobody available: the completion to commit (audit, routing state, deferral timer).
    Deferred(Completion),
    /// An owner of record.
    Routed(Routed),
}

/// A lead routed by rules.
pub(super) struct Routed {
    pub owner: Owner,
    /// The route in words (DM context line).
    pub words: String,
    /// Routing state and the new [`LeadState`].
    pub state: Vec<(String, Value)>,
    /// SLA timers of assignment 1.
    pub timers: Vec<Timer>,
    /// Timers made moot (a deferral scheduled earlier).
    pub cancel_timers: Vec<String>,
}

/// The identity of the lead being decided.
pub(crate) struct LeadRef<'a> {
    pub record_key: &'a str,
    pub record_id: &'a str,
    pub lead: &'a Map<String, Value>,
    /// When the lead became sales-ready, UTC ms (its arrival, even if it was deferred).
    pub received_ms: i64,
}

/// Routes the lead by `rules`; pushes the `deferred` or `routed` audit entry onto `audit`.
pub(super) fn decide(
    flows: &Flows,
    rules: &RuleSet,
    env: &Env<'_>,
    owners: &OwnerDirectory,
    it: LeadRef<'_>,
    account_owner: Option<String>,
    audit: &mut Vec<AuditEntry>,
) -> Result<Branch, FlowError> {
    let record_key = it.record_key;
    let ctx = context(env, account_owner, BTreeSet::new())?;
    let routed = route(rules, env, it.lead, &ctx, record_key)?;
    let decision = routed.decision;
    let explain = serde_json::to_value(&decision.explain).unwrap_or(Value::Null);
    let Some(owner_ref) = decision.owner.clone() else {
        // Deferred: nobody is available; decide again at the pool's next opening.
        let until = match &decision.outcome {
            Outcome::Deferred { until_utc } => *until_utc,
            _ => jiff::Timestamp::from_millisecond(env.now_ms).unwrap_or_default(),
        };
        let timer = deferred::timer(record_key, it.record_id, until, env.now_ms);
        audit.push(AuditEntry::new(
            env.now_ms,
            record_key,
            "deferred",
            format!(
                "deferred until {until} by rule {}: nobody available",
                decision.rule
            ),
            json!({
                "until_utc": until.to_string(),
                "until_ms": timer.due_ms,
                "rule": decision.rule,
                "timer": timer.key,
                "explain": explain,
            }),
        ));
        // After hours: acknowledge the prospect now (once per lead, ever); the owner's DM waits
        // for the opening.
        let mut sagas = Vec::new();
        if let Some((team, opens)) = after_hours::deferred_team(rules, &decision, until) {
            if env
                .store
                .saga(&after_hours::saga_key(record_key))?
                .is_none()
            {
                if let Some((saga, entry)) = after_hours::ack_saga(
                    flows,
                    record_key,
                    it.record_id,
                    it.lead,
                    &team,
                    opens,
                    env.now_ms,
                ) {
                    sagas.push(saga);
                    audit.push(entry);
                }
            }
        }
        count("lead_handoff", "deferred");
        return Ok(Branch::Deferred(Completion {
            sagas,
            audit: std::mem::take(audit),
            state: vec![routed.state],
            timers: vec![timer],
            ..Completion::default()
        }));
    };
    let owner = owners.by_email(&owner_ref.email).cloned().ok_or_else(|| {
        FlowError::Config(format!(
            "routing rule {} routes to {} but the CRM has no owner with that email",
            decision.rule, owner_ref.email
        ))
    })?;
    let (words, reason) = match &decision.outcome {
        Outcome::Fallback { reason } => (
            format!("rule {} ({reason})", decision.rule),
            Some(reason.clone()),
        ),
        _ => (format!("rule {}", decision.rule), None),
    };
    let lead_state = new_lead_state(
        rules,
        &owner,
        &it,
        owner_ref.team.clone(),
        1,
        it.received_ms,
        env.now_ms,
    );
    let (lead_state, timers) = sla::start(rules, it.lead, lead_state, env.now_ms);
    audit.push(AuditEntry::new(
        env.now_ms,
        record_key,
        "routed",
        format!("owner {} ({}) by {words}", owner.name, owner.email),
        json!({
            "owner_id": owner.id,
            "owner_email": owner.email,
            "rule": decision.rule,
            "team": lead_state.team,
            "manager_email": lead_state.manager_email,
            "policy": lead_state.policy,
            "sla_due_ms": lead_state.sla_due_ms,
            "received_ms": lead_state.received_ms,
            "assignment": lead_state.assignments,
            "outcome": decision.outcome,
            "reason": reason,
            "owner_kind": owner_ref.kind,
            "explain": explain,
        }),
    ));
    Ok(Branch::Routed(Routed {
        owner,
        words,
        state: vec![routed.state, lead_state.entry()],
        timers,
        // A deferral scheduled earlier is moot once the lead has an owner.
        cancel_timers: vec![deferred::timer_key(record_key)],
    }))
}

/// A fresh, `Open` lead of record for `owner` (assignment `assignment`, assigned at
/// `assigned_ms`); the manager is the owner's group manager in `rules`. No SLA yet (see
/// [`sla::start`]).
pub(crate) fn new_lead_state(
    rules: &RuleSet,
    owner: &Owner,
    it: &LeadRef<'_>,
    team: Option<String>,
    assignment: u32,
    received_ms: i64,
    assigned_ms: i64,
) -> LeadState {
    let team = team.or_else(|| rules.team_of(&owner.email).map(|t| t.name.clone()));
    LeadState {
        record_key: it.record_key.to_string(),
        record_id: it.record_id.to_string(),
        owner_id: owner.id.clone(),
        owner_email: owner.email.clone(),
        team,
        manager_email: rules.manager_of(&owner.email).map(str::to_string),
        received_ms,
        assigned_ms,
        policy: None,
        sla_due_ms: None,
        assignments: assignment,
        status: LeadStatus::Open,
    }
}
