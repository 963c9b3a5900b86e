//! Support's handoffs (`cases:` in `handoff.yaml`): a bot hands a conversation to a live
//! agent, and tier 1 hands a case to tier 2 with a written handoff note, so the customer never
//! repeats themselves.
//!
//! Every change of a CRM case (the CRM's case or ticket object) comes here with the case
//! read fresh and mapped by `cases.mapping`; handoff keeps a [`CaseState`] per case.
//!
//! | what | when | sagas (keys) |
//! | --- | --- | --- |
//! | offer to an L1 agent | a new case from a bot origin, or with a chat transcript | `case-offer:<case>@<n>`: DM with intent, last turns, account summary, "Accept", "Open in CRM" |
//! | escalation to L2 | an escalation condition starts to hold (status, flag, reopen count), or the case's L1 age runs out | `case-escalation:<case>:<n>`: owner and status write, the handoff note on the case, one DM with the note |
//! | Accept | the agent clicks it ([`accept`]) | `case-accept:<case>@<n>`: owner (and accepted status) write, DM edit |
//! | first-response SLA | the policy of the case rules matching the case ([`sla`]) | reminder, escalation DM to the pool's lead, reassignment |
//!
//! First response is the Accept click, or the owner's first public comment on the case after
//! the assignment (read while the clock runs). An escalation fires on the edge: a condition
//! that keeps holding escalates once; it must stop holding before it can escalate again, and
//! each escalation gets its own note ([`note`]), never two for one.

pub mod accept;
pub mod message;
pub mod note;
mod route;
pub mod sla;
pub mod state;

pub use state::{CaseState, Tier};

use super::{count, field, flag, Env, FlowError, Flows};
use crate::config::cases::CasesConfig;
use crate::outbox::Action;
use crate::routing::RuleSet;
use crate::state::{AuditEntry, Completion, Saga};
use handoff_connector::{Change, Conversation, IdempotencyKey, ObjectKind, Record, RecordKey};
use message::{AccountSummary, CaseMessage};
use serde_json::{json, Map, Value};

/// The last chat turns an L1 offer quotes.
const OFFER_TURNS: usize = 6;

/// The flow-state key of the open cases of an account (a JSON array of case record keys).
pub fn account_cases_key(account_id: &str) -> String {
    format!("cases:account:{account_id}")
}

/// The configured case flow: `None` when there is no `cases:` section.
pub(crate) fn configured(flows: &Flows) -> Option<(&CasesConfig, &RuleSet)> {
    Some((
        flows.loaded.config.cases.as_ref()?,
        flows.loaded.case_rules()?,
    ))
}

/// The case mapping applied to a CRM case record.
pub(crate) fn map_case(flows: &Flows, cfg: &CasesConfig, record: &Record) -> Map<String, Value> {
    flows
        .loaded
        .mapping(&cfg.mapping.value)
        .apply(&record.to_json())
        .record
}

/// Decides what a change of a CRM case means (see the module docs).
pub(super) async fn decide(
    flows: &Flows,
    env: &Env<'_>,
    change: &Change,
    record: &Record,
) -> Result<Completion, FlowError> {
    let Some((cfg, rules)) = configured(flows) else {
        return Ok(Completion::default());
    };
    let key = change.key();
    let record_key = key.to_string();
    let case = map_case(flows, cfg, record);
    if field(&case, "handoff_key").is_some() {
        // A case handoff opened itself (an onboarding case): not a support conversation.
        return Ok(Completion::default());
    }
    let status = field(&case, "status").unwrap_or("").to_string();
    let prior = state::load(env.store, &record_key)?;
    let is_new = prior.is_none();
    // Read once for a new case: it tells a chat, and its turns go into the offer.
    let mut conversation = None;
    let mut st = match prior.clone() {
        Some(st) => st,
        None => {
            conversation = env.crm.case_conversation(&key).await?;
            let bot = field(&case, "origin").is_some_and(|o| cfg.is_bot_origin(o))
                || conversation.is_some();
            CaseState::new(
                &record_key,
                bot,
                field(&case, "priority").unwrap_or(""),
                env.now_ms,
            )
        }
    };
    st.priority = field(&case, "priority").unwrap_or("").to_string();
    st.account_id = field(&case, "account_id").map(str::to_string);
    st.observe_status(&status, change.modified_at_ms.min(env.now_ms));
    let mut done = Completion::default();

    if cfg.is_closed(&status) {
        if st.closed_ms.is_none() {
            done.merge(close(env, &mut st)?);
        }
        return Ok(finish(done, prior.as_ref(), &st));
    }
    if st.closed_ms.take().is_some() {
        done.audit.push(AuditEntry::new(
            env.now_ms,
            &record_key,
            "case_reopened",
            format!("reopened (status {status})"),
            json!({"status": status}),
        ));
        done.state.extend(account_entry(env, &st, true)?);
    }
    if is_new {
        done.audit.push(AuditEntry::new(
            env.now_ms,
            &record_key,
            "case_opened",
            format!(
                "case seen: {} (priority {}, origin {})",
                if st.bot { "bot conversation" } else { "case" },
                st.priority,
                field(&case, "origin").unwrap_or("none")
            ),
            json!({"bot": st.bot, "priority": st.priority, "origin": field(&case, "origin"), "status": status}),
        ));
        done.state.extend(account_entry(env, &st, true)?);
        done.timers
            .extend(sla::age_timer(cfg, rules, &st, env.now_ms));
    }

    let reason = escalation_reason(cfg, &case);
    let escalate = reason.is_some() && !st.escalation_holds;
    st.escalation_holds = reason.is_some();
    if let (true, Some(reason)) = (escalate, reason) {
        done.merge(escalate_case(flows, env, rules, cfg, &key, &case, &mut st, &reason).await?);
    } else if is_new && st.bot {
        let turns = conversation
            .as_ref()
            .map(|c| note::last_turns(c, OFFER_TURNS))
            .unwrap_or_default();
        done.merge(offer(flows, env, rules, &key, &case, &mut st, &turns).await?);
    } else if st.awaits_response() {
        done.merge(sla::response_from_comments(env, &key, &mut st).await?);
    }
    Ok(finish(done, prior.as_ref(), &st))
}

/// Adds `st` to `done`'s state when it differs from `prior`.
fn finish(mut done: Completion, prior: Option<&CaseState>, st: &CaseState) -> Completion {
    if prior != Some(st) {
        done.state.push(st.entry());
    }
    done
}

/// Why the mapped `case` is to go to L2 now, in words, if an escalation condition holds
/// (status, flag, reopen count; age is a timer, see [`sla`]).
pub fn escalation_reason(cfg: &CasesConfig, case: &Map<String, Value>) -> Option<String> {
    let when = &cfg.escalate_when;
    if let Some(status) = field(case, "status") {
        if when
            .statuses
            .iter()
            .any(|s| s.trim().eq_ignore_ascii_case(status.trim()))
        {
            return Some(format!("status {status}"));
        }
    }
    if let Some(f) = &when.flag {
        if flag(case, f) {
            return Some(format!("{f} flag set"));
        }
    }
    if let Some(min) = when.reopen_count {
        let n = case
            .get("reopen_count")
            .and_then(|v| v.as_f64().or_else(|| v.as_str()?.trim().parse().ok()))
            .unwrap_or(0.0);
        if n >= f64::from(min) {
            return Some(format!("reopened {n} times"));
        }
    }
    None
}

/// The case closed: its SLA and age timers are moot, its agent has one case less.
fn close(env: &Env<'_>, st: &mut CaseState) -> Result<Completion, FlowError> {
    st.closed_ms = Some(env.now_ms);
    let mut done = Completion {
        cancel_timers: sla::all_timer_keys(st),
        ..Completion::default()
    };
    done.state
        .push(route::load_entry(env, None, st.agent_email.as_deref())?);
    done.state.extend(account_entry(env, st, false)?);
    done.audit.push(AuditEntry::new(
        env.now_ms,
        &st.record_key,
        "case_closed",
        format!(
            "closed in {} after {} escalation(s)",
            st.tier.as_str(),
            st.escalations
        ),
        json!({
            "tier": st.tier,
            "escalations": st.escalations,
            "priority": st.priority,
            "l1_ms": st.l1_ms(env.now_ms),
            "l2_ms": st.l2_since_ms.map(|since| env.now_ms - since),
        }),
    ));
    count("cases", "closed");
    Ok(done)
}

/// The account's open-case list with `st`'s case added (`open`) or removed.
fn account_entry(
    env: &Env<'_>,
    st: &CaseState,
    open: bool,
) -> Result<Option<(String, Value)>, FlowError> {
    let Some(account) = &st.account_id else {
        return Ok(None);
    };
    let k = account_cases_key(account);
    let mut cases: Vec<String> = env.store.get_json(&k)?.unwrap_or_default();
    cases.retain(|c| c != &st.record_key);
    if open {
        cases.push(st.record_key.clone());
    }
    Ok(Some((k, json!(cases))))
}

/// The account summary of a DM: the account read with the account mapping (`name`, `tier`),
/// its open cases known to handoff, its three latest deals (associated deals read with the
/// deal mapping: `deal_name`, `amount`, `stage`).
async fn account_summary(
    flows: &Flows,
    env: &Env<'_>,
    st: &CaseState,
) -> Result<AccountSummary, FlowError> {
    let Some(account_id) = &st.account_id else {
        return Ok(AccountSummary::default());
    };
    let open: Vec<String> = env
        .store
        .get_json(&account_cases_key(account_id))?
        .unwrap_or_default();
    let mut summary = AccountSummary {
        open_cases: open.len().max(1),
        ..AccountSummary::default()
    };
    let Some(account) = env.crm.key(ObjectKind::Account, account_id) else {
        return Ok(summary);
    };
    if let Some(record) = env.read(flows, &account).await? {
        let lead = &flows.loaded.config.lead_handoff;
        let mapped = flows
            .loaded
            .mapping(&lead.account_mapping.value)
            .apply(&record.to_json())
            .record;
        summary.name = field(&mapped, "name").map(str::to_string);
        summary.tier = field(&mapped, "tier").map(str::to_string);
    }
    let deals = env.crm.associated(&account, ObjectKind::Deal).await?;
    let deal_mapping = flows
        .loaded
        .mapping(&flows.loaded.config.closed_won.mapping.value);
    for deal in deals.iter().rev().take(3) {
        if let Some(record) = env.read(flows, deal).await? {
            let d = deal_mapping.apply(&record.to_json()).record;
            summary.deals.push(
                [
                    field(&d, "deal_name").map(str::to_string),
                    d.get("amount")
                        .map(|a| a.to_string().trim_matches('"').to_string()),
                    field(&d, "stage").map(str::to_string),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" — "),
            );
        }
    }
    Ok(summary)
}

/// The DM step, the SLA start, the load and audit of a new assignment of `st` to `chosen`
/// (already applied to `st` with [`CaseState::assign`]).
fn assignment_parts(
    rules: &RuleSet,
    env: &Env<'_>,
    case: &Map<String, Value>,
    st: &mut CaseState,
    chosen: &route::Chosen,
    previous_agent: Option<&str>,
    event: &str,
) -> Result<Completion, FlowError> {
    st.team = chosen.team.clone();
    st.manager_email = chosen.manager.clone();
    let mut done = Completion::default();
    done.timers.extend(sla::start(rules, case, st, env.now_ms));
    done.state.push(chosen.state.clone());
    done.state.push(route::load_entry(
        env,
        Some(&chosen.owner.email),
        previous_agent,
    )?);
    let mut detail = chosen.detail.clone();
    if let Value::Object(d) = &mut detail {
        d.insert("agent_email".into(), json!(chosen.owner.email));
        d.insert("agent_id".into(), json!(chosen.owner.id));
        d.insert("tier".into(), json!(st.tier));
        d.insert("assignment".into(), json!(st.assignments));
        d.insert("team".into(), json!(st.team));
        d.insert("policy".into(), json!(st.policy));
        d.insert("sla_due_ms".into(), json!(st.sla_due_ms));
    }
    done.audit.push(AuditEntry::new(
        env.now_ms,
        &st.record_key,
        event,
        format!(
            "{} {} ({}) by {}",
            st.tier.as_str(),
            chosen.owner.name,
            chosen.owner.email,
            chosen.words
        ),
        detail,
    ));
    Ok(done)
}

/// The last turns of a case's chat, for an offer DM (empty without a chat).
pub(super) async fn offer_turns(env: &Env<'_>, key: &RecordKey) -> Result<Vec<String>, FlowError> {
    Ok(env
        .crm
        .case_conversation(key)
        .await?
        .map(|c| note::last_turns(&c, OFFER_TURNS))
        .unwrap_or_default())
}

/// The DM to the agent of `st`'s current assignment (its tier, its case reference).
#[allow(clippy::too_many_arguments)]
pub(super) fn agent_dm(
    env: &Env<'_>,
    key: &RecordKey,
    st: &CaseState,
    case: &Map<String, Value>,
    turns: &[String],
    note: Option<&str>,
    account: &AccountSummary,
    why: &str,
) -> (String, Value) {
    message::agent_message(&CaseMessage {
        case,
        case_ref: &message::case_ref(&st.record_key, st.assignments),
        crm_url: &env.crm.record_url(key),
        tier: st.tier.as_str(),
        turns,
        note,
        account,
        why,
    })
}

/// The saga step `<saga_key>:owner` that writes `update` to the case.
pub(super) fn owner_step(
    flows: &Flows,
    saga_key: &str,
    key: &RecordKey,
    update: &super::writes::CaseUpdate,
) -> Result<(IdempotencyKey, &'static str, Value), FlowError> {
    Ok((
        IdempotencyKey::new(format!("{saga_key}:owner")),
        "assign_owner",
        flows.case_write(key, update)?.to_json(),
    ))
}

/// Offers a bot case to an L1 agent (assignment `st.assignments + 1`); `turns` are the last
/// turns of its chat (see [`offer_turns`]).
pub(super) async fn offer(
    flows: &Flows,
    env: &Env<'_>,
    rules: &RuleSet,
    key: &RecordKey,
    case: &Map<String, Value>,
    st: &mut CaseState,
    turns: &[String],
) -> Result<Completion, FlowError> {
    let account = account_summary(flows, env, st).await?;
    let input = route::rule_input(case, Tier::L1, account.tier.as_deref());
    let chosen = route::choose(flows, rules, env, &input, st, true)?;
    let previous = st.agent_email.clone();
    st.assign(&chosen.owner.email, &chosen.owner.id, env.now_ms);
    let mut done = assignment_parts(
        rules,
        env,
        &input,
        st,
        &chosen,
        previous.as_deref(),
        "case_offered",
    )?;
    let saga_key = format!("case-offer:{}@{}", st.record_key, st.assignments);
    let why = format!("Why you: {}.", chosen.words);
    let (text, blocks) = agent_dm(env, key, st, case, turns, None, &account, &why);
    done.sagas.push(Saga::new(
        saga_key.clone(),
        "case_handoff",
        &st.record_key,
        vec![super::dm_step(
            &saga_key,
            "notify_agent",
            &chosen.owner.email,
            text,
            blocks,
        )],
        env.now_ms,
    ));
    count("cases", "offered");
    Ok(done)
}

/// Escalates the case to L2 (escalation `st.escalations + 1`): routes it with
/// `support_tier: L2`, writes the owner and the escalated status, adds the handoff note to the
/// case and DMs the L2 agent the note.
#[allow(clippy::too_many_arguments)]
pub(super) async fn escalate_case(
    flows: &Flows,
    env: &Env<'_>,
    rules: &RuleSet,
    cfg: &CasesConfig,
    key: &RecordKey,
    case: &Map<String, Value>,
    st: &mut CaseState,
    reason: &str,
) -> Result<Completion, FlowError> {
    let n = st.escalations + 1;
    let saga_key = format!("case-escalation:{}:{n}", st.record_key);
    if env.store.saga(&saga_key)?.is_some() {
        return Ok(Completion::default());
    }
    let account = account_summary(flows, env, st).await?;
    let comments = env.crm.case_comments(key).await?;
    let conversation: Option<Conversation> = if st.bot {
        env.crm.case_conversation(key).await?
    } else {
        None
    };
    let input = route::rule_input(case, Tier::L2, account.tier.as_deref());
    let chosen = route::choose(flows, rules, env, &input, st, st.tier == Tier::L2)?;
    let cancel = sla::all_timer_keys(st);
    let previous = st.agent_email.clone();
    let previous_escalation_ms = (st.escalations > 0).then_some(st.l2_since_ms).flatten();
    st.tier = Tier::L2;
    st.escalations = n;
    // handoff writes the escalated status itself: that write coming back is this escalation.
    st.escalation_holds = true;
    st.l2_since_ms.get_or_insert(env.now_ms);
    let (agent_ids, case_owner): (Vec<String>, Option<String>) = {
        let owners = flows.owners.read().unwrap_or_else(|p| p.into_inner());
        let ids = rules
            .teams()
            .iter()
            .flat_map(|t| t.members.iter())
            .filter_map(|m| owners.by_email(&m.email).map(|o| o.id.clone()))
            .collect();
        let owner = field(case, "owner_id")
            .and_then(|id| owners.by_id(id))
            .map(|o| o.email.clone());
        (ids, owner)
    };
    // Who worked it: the case's owner in the CRM, else the agent handoff gave it to.
    let l1_agent = case_owner.or_else(|| previous.clone());
    let text = note::compose(&note::NoteInput {
        escalation: n,
        reason,
        subject: field(case, "subject").unwrap_or(""),
        description: field(case, "description").unwrap_or(""),
        state: st,
        l1_agent: l1_agent.as_deref(),
        comments: &comments,
        agent_ids: &agent_ids,
        conversation: conversation.as_ref(),
        last_messages: cfg.note_last_messages,
        previous_escalation_ms,
        now_ms: env.now_ms,
    });
    st.assign(&chosen.owner.email, &chosen.owner.id, env.now_ms);
    let mut done = assignment_parts(
        rules,
        env,
        &input,
        st,
        &chosen,
        previous.as_deref(),
        "case_escalated",
    )?;
    done.cancel_timers.extend(cancel);
    if let Some(entry) = done.audit.last_mut() {
        entry.message = format!("escalation {n} ({reason}): {}", entry.message);
        if let Value::Object(d) = &mut entry.detail {
            d.insert("escalation".into(), json!(n));
            d.insert("escalation_reason".into(), json!(reason));
            d.insert("l1_ms".into(), json!(st.l1_ms(env.now_ms)));
        }
    }
    let update = super::writes::CaseUpdate {
        owner_id: Some(chosen.owner.id.clone()),
        status: Some("escalated".into()),
    };
    let why = format!("Why you: {}.", chosen.words);
    let (dm_text, blocks) = agent_dm(env, key, st, case, &[], Some(&text), &account, &why);
    done.sagas.push(Saga::new(
        saga_key.clone(),
        "case_handoff",
        &st.record_key,
        vec![
            owner_step(flows, &saga_key, key, &update)?,
            (
                IdempotencyKey::new(format!("{saga_key}:note")),
                "handoff_note",
                Action::CrmCaseNote {
                    case: key.clone(),
                    body: text,
                }
                .to_json(),
            ),
            super::dm_step(
                &saga_key,
                "notify_agent",
                &chosen.owner.email,
                dm_text,
                blocks,
            ),
        ],
        env.now_ms,
    ));
    count("cases", "escalated");
    Ok(done)
}
