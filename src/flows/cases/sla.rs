//! The first-response SLA of a case, and its age limit in L1.
//!
//! The case rules' `sla.policies` (the lead rules' language, `when` on the case's fields,
//! typically `priority`) give each assignment a first-response window on the agent's team
//! calendar. Durable timers, keyed `case-sla:<record_key>:<assignment>:<step>`:
//!
//! | step | timer kind | action |
//! | --- | --- | --- |
//! | `reminder` | `case_sla_reminder` | DM to the agent |
//! | `breach` | `case_sla_breach` | DM to the pool's lead (the agent's group manager) |
//! | `reassign` | `case_sla_reassign` | route again in the same tier without the agents who had it, a new DM (and for L2 the owner write), a new window |
//!
//! Before acting, a timer reads the case's comments: an owner's public comment since the
//! assignment is the first response and ends the SLA. A timer of an earlier assignment, or of
//! a case answered or closed, does nothing.
//!
//! The L1 age limit (`cases.escalate_when.age`, by priority) is the timer `case-age:<key>`
//! (kind `case_age`), on the L1 agent's team calendar (the rule set's first team while the
//! case has no agent); when it fires on a case still in L1, open and never escalated, the case
//! is escalated with the reason "open <age> in L1".

use super::state::{CaseState, Tier};
use super::{count, escalate_case, map_case, offer, route, Env, FlowError, Flows};
use crate::config::cases::CasesConfig;
use crate::routing::sla::AfterBreach;
use crate::routing::RuleSet;
use crate::state::{AuditEntry, Completion, Saga, Timer};
use handoff_connector::RecordKey;
use serde_json::{json, Map, Value};

/// Timer kinds of the first-response steps, with their step names.
pub const STEPS: [(&str, &str); 3] = [
    ("reminder", "case_sla_reminder"),
    ("breach", "case_sla_breach"),
    ("reassign", "case_sla_reassign"),
];

/// Timer kind of the L1 age limit.
pub const KIND_AGE: &str = "case_age";

/// Whether a timer kind is the case flow's.
pub fn is_case_kind(kind: &str) -> bool {
    kind == KIND_AGE || STEPS.iter().any(|(_, k)| *k == kind)
}

/// `case-sla:<record_key>:<assignment>:<step>`.
pub fn timer_key(record_key: &str, assignment: u32, step: &str) -> String {
    format!("case-sla:{record_key}:{assignment}:{step}")
}

/// `case-age:<record_key>`.
pub fn age_key(record_key: &str) -> String {
    format!("case-age:{record_key}")
}

/// Every timer of the case's current assignment, and its age timer.
pub fn all_timer_keys(st: &CaseState) -> Vec<String> {
    let mut keys: Vec<String> = STEPS
        .iter()
        .map(|(step, _)| timer_key(&st.record_key, st.assignments, step))
        .collect();
    keys.push(age_key(&st.record_key));
    keys
}

fn sla_keys(st: &CaseState) -> Vec<String> {
    STEPS
        .iter()
        .map(|(step, _)| timer_key(&st.record_key, st.assignments, step))
        .collect()
}

/// Starts the first-response SLA of `st`'s current assignment: the policy matching `case`
/// (the rules' input), its due time in `st`, and its timers.
pub(super) fn start(
    rules: &RuleSet,
    case: &Map<String, Value>,
    st: &mut CaseState,
    now_ms: i64,
) -> Vec<Timer> {
    let Some(policy) = rules.sla().policy_for(&Value::Object(case.clone())) else {
        return Vec::new();
    };
    let cal = st
        .agent_email
        .as_deref()
        .and_then(|a| rules.team_of(a))
        .map(|t| &t.calendar);
    let assigned =
        jiff::Timestamp::from_millisecond(st.assigned_ms.unwrap_or(now_ms)).unwrap_or_default();
    let schedule = policy.schedule(cal, assigned, st.sla_reassignments + 1);
    st.policy = Some(policy.name.clone());
    st.sla_due_ms = Some(schedule.due.as_millisecond());
    let mut at = vec![
        ("reminder", schedule.reminder),
        ("breach", Some(schedule.due)),
    ];
    if let Some((AfterBreach::Reassign, t)) = schedule.after_breach {
        at.push(("reassign", Some(t)));
    }
    at.into_iter()
        .filter_map(|(step, t)| t.map(|t| (step, t)))
        .map(|(step, t)| Timer {
            key: timer_key(&st.record_key, st.assignments, step),
            due_ms: t.as_millisecond(),
            kind: STEPS
                .iter()
                .find(|(s, _)| *s == step)
                .map_or(step, |(_, k)| k)
                .to_string(),
            record_key: st.record_key.clone(),
            payload: json!({"assignment": st.assignments, "policy": policy.name}),
            created_ms: now_ms,
        })
        .collect()
}

/// The L1 age timer of a new case, when its priority has an age limit.
pub(super) fn age_timer(
    cfg: &CasesConfig,
    rules: &RuleSet,
    st: &CaseState,
    now_ms: i64,
) -> Option<Timer> {
    let ms = cfg.max_l1_age_ms(&st.priority)?;
    let cal = st
        .agent_email
        .as_deref()
        .and_then(|a| rules.team_of(a))
        .or_else(|| rules.teams().first())
        .map(|t| &t.calendar);
    let from = jiff::Timestamp::from_millisecond(st.opened_ms).unwrap_or_default();
    let due = match cal {
        Some(cal) => crate::routing::business_time::add_business(cal, from, ms),
        None => jiff::Timestamp::from_millisecond(st.opened_ms + ms).unwrap_or_default(),
    };
    Some(Timer {
        key: age_key(&st.record_key),
        due_ms: due.as_millisecond(),
        kind: KIND_AGE.into(),
        record_key: st.record_key.clone(),
        payload: json!({"priority": st.priority, "age_ms": ms}),
        created_ms: now_ms,
    })
}

/// Looks for the first response among the case's comments: a public comment by the agent
/// since the assignment. When found, `st` records it and the SLA timers are cancelled.
pub(super) async fn response_from_comments(
    env: &Env<'_>,
    key: &RecordKey,
    st: &mut CaseState,
) -> Result<Completion, FlowError> {
    let (Some(agent), Some(since)) = (st.agent_id.clone(), st.assigned_ms) else {
        return Ok(Completion::default());
    };
    let comments = env.crm.case_comments(key).await?;
    let Some(c) = comments
        .iter()
        .find(|c| c.public && c.author_id.as_deref() == Some(&agent) && c.created_ms >= since)
    else {
        return Ok(Completion::default());
    };
    Ok(responded(env, st, c.created_ms, "comment"))
}

/// `st`'s current assignment got its first response at `at_ms` by `by`: recorded, audited
/// `case_first_response`, SLA timers cancelled.
pub(super) fn responded(env: &Env<'_>, st: &mut CaseState, at_ms: i64, by: &str) -> Completion {
    st.first_response_ms = Some(at_ms);
    st.first_response_by = Some(by.to_string());
    let waited = at_ms - st.assigned_ms.unwrap_or(at_ms);
    count("cases", "first_response");
    Completion {
        audit: vec![AuditEntry::new(
            env.now_ms,
            &st.record_key,
            "case_first_response",
            format!(
                "first response by {by} after {} ({})",
                super::note::duration_words(waited),
                st.tier.as_str()
            ),
            json!({
                "by": by,
                "at_ms": at_ms,
                "waited_ms": waited,
                "tier": st.tier,
                "priority": st.priority,
                "agent_email": st.agent_email,
                "policy": st.policy,
                "within_sla": st.sla_due_ms.is_none_or(|due| at_ms <= due),
            }),
        )],
        cancel_timers: sla_keys(st),
        ..Completion::default()
    }
}

/// Handles a fired case timer (see the module docs).
pub(crate) async fn on_timer(
    flows: &Flows,
    env: &Env<'_>,
    timer: Timer,
) -> Result<Completion, FlowError> {
    let Some((cfg, rules)) = super::configured(flows) else {
        return Ok(Completion::default());
    };
    let Some(mut st) = super::state::load(env.store, &timer.record_key)? else {
        return Ok(Completion::default());
    };
    let prior = st.clone();
    let Ok(key) = timer.record_key.parse::<RecordKey>() else {
        return Ok(Completion::default());
    };
    if st.closed_ms.is_some() {
        return Ok(Completion::default());
    }
    if timer.kind == KIND_AGE {
        if st.tier != Tier::L1 || st.escalations > 0 {
            return Ok(Completion::default());
        }
        let Some(record) = env.read(flows, &key).await? else {
            return Ok(Completion::default());
        };
        let case = map_case(flows, cfg, &record);
        let age = timer.payload["age_ms"].as_i64().unwrap_or(0);
        let reason = format!(
            "open {} in L1 at priority {}",
            super::note::duration_words(age),
            st.priority
        );
        let done = escalate_case(flows, env, rules, cfg, &key, &case, &mut st, &reason).await?;
        return Ok(super::finish(done, Some(&prior), &st));
    }
    let assignment = timer.payload["assignment"].as_u64().unwrap_or(0) as u32;
    if assignment != st.assignments || !st.awaits_response() {
        return Ok(Completion::default());
    }
    let answered = response_from_comments(env, &key, &mut st).await?;
    if st.first_response_ms.is_some() {
        return Ok(super::finish(answered, Some(&prior), &st));
    }
    let step = STEPS
        .iter()
        .find(|(_, k)| *k == timer.kind)
        .map_or("", |(s, _)| *s);
    let done = match step {
        "reminder" | "breach" => notify(env, &st, &timer, step)?,
        "reassign" => reassign(flows, env, rules, &key, &mut st).await?,
        _ => Completion::default(),
    };
    Ok(super::finish(done, Some(&prior), &st))
}

/// The reminder DM to the agent, or the breach DM to the pool's lead (the agent's manager;
/// the agent when the team names none).
fn notify(
    env: &Env<'_>,
    st: &CaseState,
    timer: &Timer,
    step: &str,
) -> Result<Completion, FlowError> {
    if env.store.saga(&timer.key)?.is_some() {
        return Ok(Completion::default());
    }
    let agent = st.agent_email.clone().unwrap_or_default();
    let due = st.sla_due_ms.map(super::note::utc).unwrap_or_default();
    let (to, text) = if step == "reminder" {
        (
            agent.clone(),
            format!(
                ":hourglass: First response due by {due} on {} case {} ({}).",
                st.tier.as_str(),
                st.record_key,
                st.priority
            ),
        )
    } else {
        (
            st.manager_email.clone().unwrap_or_else(|| agent.clone()),
            format!(
                ":rotating_light: {agent} has not answered {} case {} ({}); the first response was due by {due}.",
                st.tier.as_str(),
                st.record_key,
                st.priority
            ),
        )
    };
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": text}}]);
    count(
        "case_sla",
        if step == "reminder" {
            "reminder"
        } else {
            "breach"
        },
    );
    Ok(Completion {
        sagas: vec![Saga::new(
            timer.key.clone(),
            "case_sla",
            &st.record_key,
            vec![super::super::dm_step(
                &timer.key,
                step,
                &to,
                text.clone(),
                blocks,
            )],
            env.now_ms,
        )],
        audit: vec![AuditEntry::new(
            env.now_ms,
            &st.record_key,
            if step == "reminder" {
                "case_sla_reminder"
            } else {
                "case_sla_breached"
            },
            text,
            json!({"to": to, "assignment": st.assignments, "sla_due_ms": st.sla_due_ms}),
        )],
        ..Completion::default()
    })
}

/// The agent missed the first response: route again in the same tier without them.
async fn reassign(
    flows: &Flows,
    env: &Env<'_>,
    rules: &RuleSet,
    key: &RecordKey,
    st: &mut CaseState,
) -> Result<Completion, FlowError> {
    let Some(record) = env.read(flows, key).await? else {
        return Ok(Completion::default());
    };
    let Some((cfg, _)) = super::configured(flows) else {
        return Ok(Completion::default());
    };
    let case = map_case(flows, cfg, &record);
    let cancel = sla_keys(st);
    st.sla_reassignments += 1;
    count("case_sla", "reassign");
    let mut done = match st.tier {
        Tier::L1 => {
            let turns = super::offer_turns(env, key).await?;
            offer(flows, env, rules, key, &case, st, &turns).await?
        }
        Tier::L2 => reassign_l2(flows, env, rules, key, &case, st).await?,
    };
    done.cancel_timers.extend(cancel);
    Ok(done)
}

/// An L2 reassignment: the owner write and a DM pointing at the handoff note on the case.
async fn reassign_l2(
    flows: &Flows,
    env: &Env<'_>,
    rules: &RuleSet,
    key: &RecordKey,
    case: &Map<String, Value>,
    st: &mut CaseState,
) -> Result<Completion, FlowError> {
    let input = route::rule_input(case, Tier::L2, None);
    let chosen = route::choose(flows, rules, env, &input, st, true)?;
    let previous = st.agent_email.clone();
    st.assign(&chosen.owner.email, &chosen.owner.id, env.now_ms);
    let mut done = super::assignment_parts(
        rules,
        env,
        &input,
        st,
        &chosen,
        previous.as_deref(),
        "case_reassigned",
    )?;
    let saga_key = format!("case-reassign:{}@{}", st.record_key, st.assignments);
    let why = format!(
        "Why you: {} ({} did not answer in time).",
        chosen.words,
        previous.as_deref().unwrap_or("the previous agent")
    );
    let (text, blocks) = super::agent_dm(
        env,
        key,
        st,
        case,
        &[],
        Some("The handoff note is on the case (Open in CRM)."),
        &super::message::AccountSummary::default(),
        &why,
    );
    let update = super::super::writes::CaseUpdate {
        owner_id: Some(chosen.owner.id.clone()),
        status: None,
    };
    done.sagas.push(Saga::new(
        saga_key.clone(),
        "case_handoff",
        &st.record_key,
        vec![
            super::owner_step(flows, &saga_key, key, &update)?,
            super::super::dm_step(&saga_key, "notify_agent", &chosen.owner.email, text, blocks),
        ],
        env.now_ms,
    ));
    Ok(done)
}
