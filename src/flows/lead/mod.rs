//! Marketing → sales: a sales-ready contact becomes a lead with exactly one owner and one DM.
//!
//! 1. Map the contact with the lead mapping; do nothing unless its `lifecycle_stage` is one of
//!    the configured trigger stages (e.g. MQL) and the lead was not handed off before.
//! 2. Gates (required fields, consent, test data, phone): a failure sends the lead back to
//!    nurture with the gate's reason code (written through the update mapping: status
//!    `nurture` and `nurture_reason`), never silently drops it.
//! 3. Account match (domain, then normalised company name): an existing account's owner keeps
//!    the lead. A contact that already has an owner keeps it.
//! 4. Otherwise route: with `lead_handoff.rules` configured, by the routing engine
//!    ([`rules_route`]: its state under [`ROUTING_STATE_KEY`] written with the decision, the
//!    lead of record [`super::lead_state::LeadState`] and the SLA timers of its policy); a
//!    deferral (nobody available) schedules a durable timer instead of a saga and the lead is
//!    decided again when it fires (see [`super::deferred`]). Without rules, by territory and
//!    round robin within the team.
//! 5. Saga `lead:<record>`: write the owner to the CRM (the update mapping's fields for
//!    `owner_id` and status `assigned`), link the account where the CRM can, DM the owner with
//!    the context, the "Claim lead" / "Open in CRM" buttons and the "Reject" menu
//!    ([`message`]).

pub mod message;
pub mod rules_route;

pub use rules_route::ROUTING_STATE_KEY;

use super::accounts::{self, AccountRef, MatchedBy};
use super::lead_state::{LeadState, LeadStatus};
use super::routing::{self, Route, RouteRule};
use super::writes::LeadUpdate;
use super::{count, field, Env, FlowError, Flows};
use crate::mapping::GateResult;
use crate::outbox::Action;
use crate::routing::sla::SlaConfig;
use crate::state::{AuditEntry, Completion, Saga};
use handoff_connector::{Change, IdempotencyKey, ObjectKind, Record};
use serde_json::{json, Map, Value};

/// The saga key of a lead's handoff.
pub fn saga_key(record_key: &str) -> String {
    format!("lead:{record_key}")
}

pub(super) fn decide(
    flows: &Flows,
    env: &Env<'_>,
    change: &Change,
    contact: &Record,
) -> Result<Completion, FlowError> {
    decide_received_at(flows, env, change, contact, env.now_ms)
}

/// [`decide`] for a lead that became sales-ready at `received_ms` (UTC ms), earlier than now:
/// a lead deferred until its team's opening keeps its arrival time, so speed-to-lead counts
/// the wait.
pub(super) fn decide_received_at(
    flows: &Flows,
    env: &Env<'_>,
    change: &Change,
    contact: &Record,
    received_ms: i64,
) -> Result<Completion, FlowError> {
    let record = change.key();
    let record_key = record.to_string();
    let key = saga_key(&record_key);
    if env.store.saga(&key)?.is_some() {
        return Ok(Completion::default());
    }
    let cfg = &flows.loaded.config.lead_handoff;
    let outcome = flows.map_lead(contact);
    let lead = &outcome.record;
    let stage = field(lead, "lifecycle_stage").unwrap_or("");
    if !cfg.trigger_stages.iter().any(|s| s == stage) {
        return Ok(Completion::default());
    }
    let mut audit = vec![gates_audit(env, &record_key, &outcome)];

    if let Some(failed) = outcome.first_failure() {
        let reason = failed.reason.clone().unwrap_or_else(|| failed.gate.clone());
        let write = flows.lead_write(&record, &LeadUpdate::nurture(&reason))?;
        return nurture(env, &record_key, failed, write, audit);
    }

    let account = match_account(env, lead)?;
    if let Some((acct, by)) = &account {
        audit.push(AuditEntry::new(
            env.now_ms,
            &record_key,
            "matched_account",
            format!("matches account {} ({}) by {:?}", acct.name, acct.id, by).to_lowercase(),
            json!({"company_id": acct.id, "matched_by": by, "account_owner_id": acct.owner_id}),
        ));
    }

    let owners = flows.owners.read().unwrap_or_else(|p| p.into_inner());
    // A lead handoff created (owned by its integration user until routed) has no owner yet.
    let existing_owner = field(lead, "owner_id")
        .filter(|id| !env.crm.is_integration_user(id))
        .and_then(|id| owners.by_id(id).cloned());
    let account_owner = account
        .as_ref()
        .and_then(|(a, _)| a.owner_id.as_deref())
        .and_then(|id| owners.by_id(id).cloned());
    let mut state = Vec::new();
    let mut cancel_timers = Vec::new();
    let mut timers = Vec::new();
    let (owner, words) = match (flows.loaded.rules(), existing_owner) {
        (Some(rules), None) => {
            let it = rules_route::LeadRef {
                record_key: &record_key,
                record_id: &contact.id,
                lead,
                received_ms,
            };
            let account_owner = account_owner.map(|o| o.email);
            match rules_route::decide(flows, rules, env, &owners, it, account_owner, &mut audit)? {
                rules_route::Branch::Deferred(completion) => return Ok(completion),
                rules_route::Branch::Routed(r) => {
                    state.extend(r.state);
                    timers.extend(r.timers);
                    cancel_timers.extend(r.cancel_timers);
                    (r.owner, r.words)
                }
            }
        }
        (_, existing_owner) => {
            let route = if let Some(owner) = existing_owner {
                Route {
                    owner_email: owner.email.clone(),
                    rule: RouteRule::ExistingOwner {
                        owner_id: owner.id.clone(),
                    },
                    rotation: None,
                }
            } else if let (Some(owner), Some((acct, _))) = (account_owner, &account) {
                Route {
                    owner_email: owner.email.clone(),
                    rule: RouteRule::NamedAccount {
                        company_id: acct.id.clone(),
                    },
                    rotation: None,
                }
            } else {
                routing::route_by_territory(
                    cfg,
                    field(lead, "country_code"),
                    field(lead, "country"),
                    |k| env.store.get_json::<u64>(k).ok().flatten().unwrap_or(0),
                )
            };
            let owner = owners
                .by_email(&route.owner_email)
                .cloned()
                .ok_or_else(|| {
                    FlowError::Config(format!(
                        "lead_handoff routes to {} but the CRM has no owner with that email",
                        route.owner_email
                    ))
                })?;
            let words = rule_words(&route.rule);
            let team = match &route.rule {
                RouteRule::Territory { team, .. } | RouteRule::DefaultTeam { team } => {
                    Some(team.clone())
                }
                _ => cfg
                    .teams
                    .iter()
                    .find(|t| t.members.iter().any(|m| m == &owner.email))
                    .map(|t| t.name.clone()),
            };
            // The lead of record, as with rules but without business hours or an SLA: first
            // touches and owner changes from other systems are still tracked.
            let lead_state = LeadState {
                record_key: record_key.clone(),
                record_id: contact.id.clone(),
                owner_id: owner.id.clone(),
                owner_email: owner.email.clone(),
                team: team.clone(),
                manager_email: None,
                received_ms,
                assigned_ms: env.now_ms,
                policy: None,
                sla_due_ms: None,
                assignments: 1,
                status: LeadStatus::Open,
            };
            audit.push(AuditEntry::new(
                env.now_ms,
                &record_key,
                "routed",
                format!("owner {} ({}) by {words}", owner.name, owner.email),
                json!({
                    "owner_id": owner.id,
                    "owner_email": owner.email,
                    "route": route.rule,
                    "team": team,
                    "received_ms": received_ms,
                    "assignment": 1,
                }),
            ));
            state.extend(route.rotation.map(|(k, pos)| (k, json!(pos))));
            state.push(lead_state.entry());
            (owner, words)
        }
    };
    drop(owners);

    let mut steps = vec![(
        IdempotencyKey::new(format!("{key}:owner")),
        "assign_owner",
        flows
            .lead_write(&record, &LeadUpdate::assign(&owner.id))?
            .to_json(),
    )];
    let lead_kind = env.kind_of(&record).unwrap_or(ObjectKind::Lead);
    let account_link = account
        .as_ref()
        .filter(|_| env.crm.can_link(lead_kind, ObjectKind::Account))
        .and_then(|(acct, _)| env.crm.key(ObjectKind::Account, &acct.id));
    if let Some(to) = account_link {
        let already = contact
            .associations
            .get(&to.object)
            .is_some_and(|ids| ids.contains(&to.id));
        if !already {
            steps.push((
                IdempotencyKey::new(format!("{key}:account")),
                "associate_account",
                Action::CrmLink {
                    from: record.clone(),
                    to,
                }
                .to_json(),
            ));
        }
    }
    let crm_url = env.crm.record_url(&record);
    let default_sla = SlaConfig::default();
    let sla = flows.loaded.rules().map_or(&default_sla, |r| r.sla());
    let why = message::why_now(lead, change, &words);
    let (text, blocks) = message::owner_message(lead, &record_key, &crm_url, &why, sla);
    steps.push(super::dm_step(
        &key,
        "notify_owner",
        &owner.email,
        text,
        blocks,
    ));
    count("lead_handoff", "routed");
    Ok(Completion {
        sagas: vec![Saga::new(
            key,
            "lead_handoff",
            &record_key,
            steps,
            env.now_ms,
        )],
        audit,
        state,
        timers,
        cancel_timers,
    })
}

/// The audit entry `gates`: how many of the mapping's gates `outcome` passed, with each one.
pub(super) fn gates_audit(
    env: &Env<'_>,
    record_key: &str,
    outcome: &crate::mapping::MapOutcome,
) -> AuditEntry {
    AuditEntry::new(
        env.now_ms,
        record_key,
        "gates",
        format!(
            "{} of {} gates passed",
            outcome.gates.iter().filter(|g| g.passed).count(),
            outcome.gates.len()
        ),
        serde_json::to_value(&outcome.gates).unwrap_or(Value::Null),
    )
}

/// Back to nurture: a lead failed gate `failed`. Saga `nurture:<record>:<reason>` performs
/// `write` (the nurture status, through the update mapping of the CRM the lead is in),
/// audited `nurtured` after `audit` and counted; nothing when that saga exists already.
pub(super) fn nurture(
    env: &Env<'_>,
    record_key: &str,
    failed: &GateResult,
    write: Action,
    mut audit: Vec<AuditEntry>,
) -> Result<Completion, FlowError> {
    let reason = failed.reason.clone().unwrap_or_else(|| failed.gate.clone());
    let nurture_key = format!("nurture:{record_key}:{reason}");
    if env.store.saga(&nurture_key)?.is_some() {
        return Ok(Completion::default());
    }
    let saga = Saga::new(
        nurture_key.clone(),
        "lead_handoff",
        record_key,
        vec![(
            IdempotencyKey::new(format!("{nurture_key}:status")),
            "nurture",
            write.to_json(),
        )],
        env.now_ms,
    );
    audit.push(AuditEntry::new(
        env.now_ms,
        record_key,
        "nurtured",
        format!("back to nurture: {reason} ({})", failed.detail),
        json!({"reason": reason, "gate": failed.gate}),
    ));
    metrics::counter!("handoff_leads_nurtured_total", "reason" => reason_label(&reason))
        .increment(1);
    Ok(Completion {
        sagas: vec![saga],
        audit,
        ..Completion::default()
    })
}

fn match_account(
    env: &Env<'_>,
    lead: &Map<String, Value>,
) -> Result<Option<(AccountRef, MatchedBy)>, FlowError> {
    if let Some(domain) = field(lead, "company_domain").filter(|d| !accounts::is_free_mail(d)) {
        if let Some(a) = env
            .store
            .get_json::<AccountRef>(&accounts::domain_key(domain))?
        {
            return Ok(Some((a, MatchedBy::Domain)));
        }
    }
    if let Some(key) = field(lead, "company").and_then(accounts::name_key) {
        if let Some(a) = env.store.get_json::<AccountRef>(&key)? {
            return Ok(Some((a, MatchedBy::Name)));
        }
    }
    Ok(None)
}

fn rule_words(rule: &RouteRule) -> String {
    match rule {
        RouteRule::ExistingOwner { owner_id } => format!("existing CRM owner {owner_id}"),
        RouteRule::NamedAccount { company_id } => format!("named account {company_id}"),
        RouteRule::Territory { team, matched } => {
            format!("territory {matched} → team {team}, round robin")
        }
        RouteRule::DefaultTeam { team } => format!("default team {team}, round robin"),
    }
}

/// Bounded metric label for a reason code (reason codes come from mappings: keep the known
/// shapes, fold anything else).
fn reason_label(reason: &str) -> &'static str {
    match reason {
        "no_consent" => "no_consent",
        "test_data" => "test_data",
        "invalid_phone" => "invalid_phone",
        r if r.starts_with("missing_") => "missing_field",
        r if r.starts_with("invalid_") => "invalid_field",
        _ => "other",
    }
}
