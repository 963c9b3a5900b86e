//! Choosing the agent for a case, with the routing engine and the case rules (`cases.rules`).
//!
//! The rules see the mapped case plus `support_tier` (`L1` or `L2`) and `account_tier`, so
//! skills are conditions (`when: [{field: product, in: [...]}, {field: language, equals:
//! de}]`) and the L2 pool is a rule on `support_tier: L2`. Business hours, out of office,
//! caps and least loaded apply as for leads; least loaded counts the open cases handoff gave
//! each agent ([`LOAD_KEY`]). The routing state (rotations, caps) is kept under
//! [`STATE_KEY`], apart from the lead rules'.
//!
//! A customer in a chat does not wait for an opening: where the lead rules would defer, a case
//! goes to the rule set's fallback owner, with the reason recorded.

use super::super::lead::rules_route;
use super::super::owners::Owner;
use super::super::{Env, FlowError, Flows};
use super::state::{CaseState, Tier};
use crate::routing::{LoadSnapshot, Outcome, RuleSet};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// The flow-state key of the case rules' routing state.
pub const STATE_KEY: &str = "routing:cases";

/// The flow-state key of the open cases per agent ([`LoadSnapshot`] JSON), kept by the case
/// flow as it assigns and closes cases.
pub const LOAD_KEY: &str = "cases:load";

/// An agent chosen for a case.
pub(super) struct Chosen {
    pub owner: Owner,
    /// The deciding rule and, for a fallback, why.
    pub words: String,
    pub team: Option<String>,
    /// The agent's group manager (the pool's lead).
    pub manager: Option<String>,
    /// Flow state to write with the decision (routing state).
    pub state: (String, Value),
    /// The audit detail of the decision (`rule`, `outcome`, `reason` of a fallback,
    /// `explain`).
    pub detail: Value,
}

/// The case as the rules see it: `case` plus `support_tier` and `account_tier`.
pub(super) fn rule_input(
    case: &Map<String, Value>,
    tier: Tier,
    account_tier: Option<&str>,
) -> Map<String, Value> {
    let mut input = case.clone();
    input.insert("support_tier".into(), json!(tier.as_str()));
    if let Some(t) = account_tier {
        input.insert("account_tier".into(), json!(t));
    }
    input
}

/// Routes `case` (the [`rule_input`]) to an agent, never to anyone who had it before in the
/// same tier (`st.previous_agents`, the current agent).
///
/// Errors: [`FlowError::Config`] when the chosen agent is not a CRM owner.
pub(super) fn choose(
    flows: &Flows,
    rules: &RuleSet,
    env: &Env<'_>,
    case: &Map<String, Value>,
    st: &CaseState,
    same_tier: bool,
) -> Result<Chosen, FlowError> {
    let mut exclude: BTreeSet<String> = BTreeSet::new();
    if same_tier {
        exclude.extend(st.previous_agents.iter().cloned());
        exclude.extend(st.agent_email.iter().cloned());
    }
    let mut ctx = rules_route::context(env, None, exclude)?;
    ctx.load = env.store.get_json::<LoadSnapshot>(LOAD_KEY)?;
    let routed = rules_route::route_with_state(rules, env, case, &ctx, &st.record_key, STATE_KEY)?;
    let decision = routed.decision;
    let (email, team, words, fallback_reason) = match (&decision.owner, &decision.outcome) {
        (Some(o), Outcome::Fallback { reason }) => (
            o.email.clone(),
            o.team.clone(),
            format!("rule {} ({reason})", decision.rule),
            Some(reason.clone()),
        ),
        (Some(o), _) => (
            o.email.clone(),
            o.team.clone(),
            format!("rule {}", decision.rule),
            None,
        ),
        (None, outcome) => {
            let until = match outcome {
                Outcome::Deferred { until_utc } => until_utc.to_string(),
                _ => "later".into(),
            };
            let reason = format!(
                "nobody available in rule {} until {until}; a case is not deferred",
                decision.rule
            );
            (
                rules.fallback_owner().to_string(),
                None,
                format!("fallback ({reason})"),
                Some(reason),
            )
        }
    };
    let owners = flows.owners.read().unwrap_or_else(|p| p.into_inner());
    let owner = owners.by_email(&email).cloned().ok_or_else(|| {
        FlowError::Config(format!(
            "case rule {} routes to {email} but the CRM has no owner with that email",
            decision.rule
        ))
    })?;
    drop(owners);
    let team = team.or_else(|| rules.team_of(&owner.email).map(|t| t.name.clone()));
    let detail = json!({
        "rule": decision.rule,
        "outcome": decision.outcome,
        "reason": fallback_reason,
        "explain": decision.explain,
    });
    Ok(Chosen {
        manager: rules.manager_of(&owner.email).map(str::to_string),
        owner,
        words,
        team,
        state: routed.state,
        detail,
    })
}

/// The open-case load after `add` gets one more case and `remove` (if any) one less: the
/// [`LOAD_KEY`] entry to write.
pub(super) fn load_entry(
    env: &Env<'_>,
    add: Option<&str>,
    remove: Option<&str>,
) -> Result<(String, Value), FlowError> {
    let now = jiff::Timestamp::from_millisecond(env.now_ms).unwrap_or_default();
    let mut load = env
        .store
        .get_json::<LoadSnapshot>(LOAD_KEY)?
        .unwrap_or(LoadSnapshot {
            as_of: now,
            open_leads: Default::default(),
        });
    load.as_of = now;
    if let Some(r) = remove {
        if let Some(n) = load.open_leads.get_mut(&r.to_ascii_lowercase()) {
            *n = n.saturating_sub(1);
        }
    }
    if let Some(a) = add {
        *load.open_leads.entry(a.to_ascii_lowercase()).or_insert(0) += 1;
    }
    Ok((
        LOAD_KEY.to_string(),
        serde_json::to_value(&load).unwrap_or(Value::Null),
    ))
}
