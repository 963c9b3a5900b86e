//! Marketing → sales: a sales-ready contact becomes a lead with exactly one owner and one DM.
//!
//! 1. Map the contact with the lead mapping; do nothing unless its `lifecycle_stage` is one of
//!    the configured trigger stages (e.g. MQL) and the lead was not handed off before.
//! 2. Gates (required fields, consent, test data, phone): a failure sends the lead back to
//!    nurture with the gate's reason code (`hs_lead_status` + `handoff_nurture_reason`), never
//!    silently drops it.
//! 3. Account match (domain, then normalised company name): an existing account's owner keeps
//!    the lead. A contact that already has an owner keeps it.
//! 4. Otherwise route: with `lead_handoff.rules` configured, by the routing engine
//!    ([`crate::routing::route`], its state under [`ROUTING_STATE_KEY`] written with the
//!    decision); a deferral (nobody available) schedules a durable timer instead of a saga and
//!    the lead is decided again when it fires (see [`super::deferred`]). Without rules, by
//!    territory and round robin within the team.
//! 5. Saga `lead:<record>`: write the owner to the CRM, associate the account, DM the owner
//!    with the context and the "Claim lead" / "Open in CRM" buttons.

use super::accounts::{self, AccountRef, MatchedBy};
use super::routing::{self, Route, RouteRule};
use super::{count, deferred, field, Env, FlowError, Flows};
use crate::outbox::Action;
use crate::routing::{Decision, Outcome, RouteContext, RoutingState, RuleSet};
use crate::state::{AuditEntry, Completion, Saga};
use handoff_connector::{Change, IdempotencyKey, Record};
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
    let record_key = change.record_key();
    let key = saga_key(&record_key);
    if env.store.saga(&key)?.is_some() {
        return Ok(Completion::default());
    }
    let cfg = &flows.loaded.config.lead_handoff;
    let mapping = flows.loaded.mapping(&cfg.mapping.value);
    let outcome = mapping.apply(&contact.to_json());
    let lead = &outcome.record;
    let stage = field(lead, "lifecycle_stage").unwrap_or("");
    if !cfg.trigger_stages.iter().any(|s| s == stage) {
        return Ok(Completion::default());
    }
    let gates = serde_json::to_value(&outcome.gates).unwrap_or(Value::Null);
    let mut audit = vec![AuditEntry::new(
        env.now_ms,
        &record_key,
        "gates",
        format!(
            "{} of {} gates passed",
            outcome.gates.iter().filter(|g| g.passed).count(),
            outcome.gates.len()
        ),
        gates.clone(),
    )];

    if let Some(failed) = outcome.first_failure() {
        let reason = failed.reason.clone().unwrap_or_else(|| failed.gate.clone());
        let nurture_key = format!("nurture:{record_key}:{reason}");
        if env.store.saga(&nurture_key)?.is_some() {
            return Ok(Completion::default());
        }
        let mut props = Map::new();
        props.insert("hs_lead_status".into(), json!(cfg.nurture_lead_status));
        props.insert("handoff_nurture_reason".into(), json!(reason));
        let saga = Saga::new(
            nurture_key.clone(),
            "lead_handoff",
            &record_key,
            vec![(
                IdempotencyKey::new(format!("{nurture_key}:status")),
                "nurture",
                Action::UpdateCrmRecord {
                    object_type: "contacts".into(),
                    id: contact.id.clone(),
                    properties: props,
                }
                .to_json(),
            )],
            env.now_ms,
        );
        audit.push(AuditEntry::new(
            env.now_ms,
            &record_key,
            "nurtured",
            format!("back to nurture: {reason} ({})", failed.detail),
            json!({"reason": reason, "gate": failed.gate}),
        ));
        metrics::counter!("handoff_leads_nurtured_total", "reason" => reason_label(&reason))
            .increment(1);
        return Ok(Completion {
            sagas: vec![saga],
            audit,
            state: vec![],
            ..Completion::default()
        });
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
    let existing_owner = contact
        .prop("hubspot_owner_id")
        .filter(|s| !s.is_empty())
        .and_then(|id| owners.by_id(&id).cloned());
    let account_owner = account
        .as_ref()
        .and_then(|(a, _)| a.owner_id.as_deref())
        .and_then(|id| owners.by_id(id).cloned());
    let mut state = Vec::new();
    let mut cancel_timers = Vec::new();
    let (owner, words) = match (flows.loaded.rules(), existing_owner) {
        (Some(rules), None) => {
            let routed = route_by_rules(
                rules,
                env,
                lead,
                account_owner.map(|o| o.email),
                &record_key,
            )?;
            state.push(routed.state);
            let decision = routed.decision;
            let explain = serde_json::to_value(&decision.explain).unwrap_or(Value::Null);
            let Some(owner_ref) = decision.owner.clone() else {
                // Deferred: nobody is available; decide again at the pool's next opening.
                let until = match &decision.outcome {
                    Outcome::Deferred { until_utc } => *until_utc,
                    _ => jiff::Timestamp::from_millisecond(env.now_ms).unwrap_or_default(),
                };
                let timer = deferred::timer(&record_key, &contact.id, until, env.now_ms);
                audit.push(AuditEntry::new(
                    env.now_ms,
                    &record_key,
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
                count("lead_handoff", "deferred");
                return Ok(Completion {
                    audit,
                    state,
                    timers: vec![timer],
                    ..Completion::default()
                });
            };
            let owner = owners.by_email(&owner_ref.email).cloned().ok_or_else(|| {
                FlowError::Config(format!(
                    "routing rule {} routes to {} but HubSpot has no owner with that email",
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
            audit.push(AuditEntry::new(
                env.now_ms,
                &record_key,
                "routed",
                format!("owner {} ({}) by {words}", owner.name, owner.email),
                json!({
                    "owner_id": owner.id,
                    "owner_email": owner.email,
                    "rule": decision.rule,
                    "outcome": decision.outcome,
                    "reason": reason,
                    "owner_kind": owner_ref.kind,
                    "explain": explain,
                }),
            ));
            // A deferral scheduled earlier is moot once the lead has an owner.
            cancel_timers.push(deferred::timer_key(&record_key));
            (owner, words)
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
                        "lead_handoff routes to {} but HubSpot has no owner with that email",
                        route.owner_email
                    ))
                })?;
            let words = rule_words(&route.rule);
            audit.push(AuditEntry::new(
                env.now_ms,
                &record_key,
                "routed",
                format!("owner {} ({}) by {words}", owner.name, owner.email),
                json!({"owner_id": owner.id, "owner_email": owner.email, "route": route.rule}),
            ));
            state.extend(route.rotation.map(|(k, pos)| (k, json!(pos))));
            (owner, words)
        }
    };
    drop(owners);

    let mut props = Map::new();
    props.insert("hubspot_owner_id".into(), json!(owner.id));
    props.insert("hs_lead_status".into(), json!("NEW"));
    let mut steps = vec![(
        IdempotencyKey::new(format!("{key}:owner")),
        "assign_owner",
        Action::UpdateCrmRecord {
            object_type: "contacts".into(),
            id: contact.id.clone(),
            properties: props,
        }
        .to_json(),
    )];
    if let Some((acct, _)) = &account {
        let already = contact
            .associations
            .get("companies")
            .is_some_and(|ids| ids.contains(&acct.id));
        if !already {
            steps.push((
                IdempotencyKey::new(format!("{key}:account")),
                "associate_account",
                Action::AssociateCrm {
                    from_type: "contacts".into(),
                    from_id: contact.id.clone(),
                    to_type: "companies".into(),
                    to_id: acct.id.clone(),
                }
                .to_json(),
            ));
        }
    }
    let crm_url = flows.links.record("contacts", &contact.id);
    let (text, blocks) = owner_message(lead, &record_key, &crm_url, &words, change);
    steps.push((
        IdempotencyKey::new(format!("{key}:dm")),
        "notify_owner",
        Action::SlackDm {
            email: owner.email.clone(),
            text,
            blocks,
        }
        .to_json(),
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
        cancel_timers,
        ..Completion::default()
    })
}

/// The flow-state key of the routing engine's [`RoutingState`].
pub const ROUTING_STATE_KEY: &str = "routing:state";

/// Day counts older than this many days are pruned from the routing state.
const KEEP_COUNT_DAYS: i64 = 8;

/// A rules-engine decision and the routing state to write with it.
struct RulesRoute {
    decision: Decision,
    /// `(ROUTING_STATE_KEY, state after the decision's updates)`.
    state: (String, Value),
}

/// Routes `lead` with the configured rules at `env.now_ms`.
fn route_by_rules(
    rules: &RuleSet,
    env: &Env<'_>,
    lead: &Map<String, Value>,
    account_owner: Option<String>,
    record_key: &str,
) -> Result<RulesRoute, FlowError> {
    let now = jiff::Timestamp::from_millisecond(env.now_ms).map_err(|e| FlowError::BadRecord {
        record: record_key.to_string(),
        reason: format!("decision time {} ms is out of range: {e}", env.now_ms),
    })?;
    let ctx = RouteContext {
        account_owner,
        ..RouteContext::default()
    };
    let mut state: RoutingState = env.store.get_json(ROUTING_STATE_KEY)?.unwrap_or_default();
    let decision = crate::routing::route(rules, &Value::Object(lead.clone()), &ctx, &state, now);
    state.apply(&decision.updates);
    state.prune_counts(now, KEEP_COUNT_DAYS);
    let state = serde_json::to_value(&state).unwrap_or(Value::Null);
    Ok(RulesRoute {
        decision,
        state: (ROUTING_STATE_KEY.to_string(), state),
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

/// The DM to the owner: who, from where, why now, and the two buttons.
fn owner_message(
    lead: &Map<String, Value>,
    record_key: &str,
    crm_url: &str,
    route_words: &str,
    change: &Change,
) -> (String, Value) {
    let name = [field(lead, "first_name"), field(lead, "last_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let company = field(lead, "company").unwrap_or("unknown company");
    let text = format!(
        "New lead for you: {} at {} — claim it so nobody else calls.",
        if name.is_empty() { "(no name)" } else { &name },
        company
    );
    let facts = [
        ("Email", field(lead, "email")),
        ("Phone", field(lead, "phone")),
        ("Country", field(lead, "country")),
        ("Stage", field(lead, "lifecycle_stage")),
    ];
    let fields: Vec<Value> = facts
        .iter()
        .filter_map(|(k, v)| v.map(|v| json!({"type": "mrkdwn", "text": format!("*{k}*\n{v}")})))
        .collect();
    let why = format!(
        "Why now: became sales-ready ({}) via {}. Routed by {}.",
        field(lead, "lifecycle_stage").unwrap_or("?"),
        match change.origin {
            handoff_connector::ChangeOrigin::Webhook => "HubSpot webhook",
            handoff_connector::ChangeOrigin::Poll => "HubSpot change feed",
            handoff_connector::ChangeOrigin::Replay => "an admin replay",
        },
        route_words
    );
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!("*New lead:* {} at *{}*", if name.is_empty() { "(no name)" } else { &name }, company)}},
        {"type": "section", "fields": fields},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": why}]},
        {"type": "actions", "block_id": "lead_actions", "elements": [
            {"type": "button", "action_id": "claim_lead", "style": "primary", "text": {"type": "plain_text", "text": "Claim lead"}, "value": record_key},
            {"type": "button", "action_id": "open_in_crm", "text": {"type": "plain_text", "text": "Open in CRM"}, "url": crm_url}
        ]}
    ]);
    (text, blocks)
}
