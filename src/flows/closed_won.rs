//! Sales → customer success: a closed-won deal gets one onboarding ticket, one Asana project
//! from its tier's template, a CSM, and one DM to that CSM.
//!
//! The steps form one saga (`onboarding:<deal>`), each with its own idempotency key, so a crash
//! between steps resumes where it stopped and a repeated event creates nothing twice. A won
//! deal the deal mapping's gates reject (no amount, say) cannot be tiered: it goes to dead
//! letters with the reason, for an admin to fix and replay.

use super::accounts::{self, AccountRef};
use super::{count, field, Env, FlowError, Flows};
use crate::config::TierConfig;
use crate::outbox::Action;
use crate::state::{AuditEntry, Completion, Saga};
use handoff_connector::{Change, IdempotencyKey, Record};
use serde_json::{json, Map, Value};

/// The saga key of a deal's onboarding.
pub fn saga_key(record_key: &str) -> String {
    format!("onboarding:{record_key}")
}

/// Flow-state key of the CSM rotation.
pub const CSM_ROTATION: &str = "rr:csm";

/// The tier of a deal amount: the tier with the highest `min_amount` not above it.
pub fn tier_for(tiers: &[TierConfig], amount: f64) -> Option<&TierConfig> {
    tiers
        .iter()
        .filter(|t| amount >= t.min_amount)
        .max_by(|a, b| a.min_amount.total_cmp(&b.min_amount))
}

pub(super) async fn decide(
    flows: &Flows,
    env: &Env<'_>,
    change: &Change,
    deal: &Record,
) -> Result<Completion, FlowError> {
    let cfg = &flows.loaded.config.closed_won;
    let stage = deal.prop("dealstage").unwrap_or_default();
    if !cfg.won_stages.contains(&stage) {
        return Ok(Completion::default());
    }
    let record_key = change.record_key();
    let key = saga_key(&record_key);
    if env.store.saga(&key)?.is_some() {
        return Ok(Completion::default());
    }
    let outcome = flows
        .loaded
        .mapping(&cfg.mapping.value)
        .apply(&deal.to_json());
    if let Some(failed) = outcome.first_failure() {
        return Err(FlowError::BadRecord {
            record: record_key,
            reason: format!(
                "closed-won deal cannot be onboarded: gate {} failed ({}): {}",
                failed.gate,
                failed.reason.as_deref().unwrap_or("no reason code"),
                failed.detail
            ),
        });
    }
    let d = &outcome.record;
    let amount = d.get("amount").and_then(Value::as_f64).unwrap_or(0.0);
    let tier = tier_for(&cfg.tiers, amount).ok_or_else(|| FlowError::BadRecord {
        record: record_key.clone(),
        reason: format!("amount {amount} is below every tier's min_amount"),
    })?;
    let deal_name = field(d, "deal_name")
        .unwrap_or("(unnamed deal)")
        .to_string();

    let company_ids = env
        .crm
        .associated_ids("deals", &deal.id, "companies")
        .await?;
    let company: Option<AccountRef> = match company_ids.first() {
        Some(id) => Some(
            env.store
                .get_json::<AccountRef>(&accounts::id_key(id))?
                .unwrap_or(AccountRef {
                    id: id.clone(),
                    name: format!("company {id}"),
                    owner_id: None,
                }),
        ),
        None => None,
    };
    let customer = company
        .as_ref()
        .map(|c| c.name.clone())
        .unwrap_or_else(|| deal_name.clone());

    let position = env.store.get_json::<u64>(CSM_ROTATION)?.unwrap_or(0);
    let pool = &cfg.csm_pool;
    let csm_email = &pool[(position % pool.len() as u64) as usize];
    let owners = flows.owners.read().unwrap_or_else(|p| p.into_inner());
    let csm = owners.by_email(csm_email).cloned().ok_or_else(|| {
        FlowError::Config(format!(
            "closed_won.csm_pool lists {csm_email} but HubSpot has no owner with that email"
        ))
    })?;
    drop(owners);

    let context = format!(
        "Closed-won deal {deal_name} ({}) for {customer}: amount {amount}, product {}, closed {}, tier {}.",
        deal.id,
        field(d, "product").unwrap_or("n/a"),
        field(d, "close_date").unwrap_or("n/a"),
        tier.name
    );
    let mut ticket = Map::new();
    ticket.insert(
        "subject".into(),
        json!(format!("Onboarding: {customer} — {deal_name}")),
    );
    ticket.insert("content".into(), json!(context));
    ticket.insert("hs_pipeline".into(), json!(cfg.ticket_pipeline));
    ticket.insert("hs_pipeline_stage".into(), json!(cfg.ticket_stage));
    ticket.insert("hubspot_owner_id".into(), json!(csm.id));
    let mut associate = vec![("deals".to_string(), deal.id.clone())];
    if let Some(c) = &company {
        associate.push(("companies".into(), c.id.clone()));
    }
    let project_name = format!("Onboarding: {customer} (deal {})", deal.id);
    let text = format!(
        "You are the CSM for {customer} ({} tier). Ticket: {{ticket_url}} · Asana project: {{project_url}}",
        tier.name
    );
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!("*New customer:* {customer} — {} tier, you are the CSM.", tier.name)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        {"type": "actions", "block_id": "onboarding_actions", "elements": [
            {"type": "button", "action_id": "open_in_crm", "text": {"type": "plain_text", "text": "Open in CRM"}, "url": "{ticket_url}"},
            {"type": "button", "action_id": "open_project", "text": {"type": "plain_text", "text": "Open project"}, "url": "{project_url}"}
        ]}
    ]);
    let steps = vec![
        (
            IdempotencyKey::new(format!("{key}:ticket")),
            "create_ticket",
            Action::UpsertTicket {
                properties: ticket,
                associate,
            }
            .to_json(),
        ),
        (
            IdempotencyKey::new(format!("{key}:project")),
            "create_project",
            Action::InstantiateProject {
                template: tier.asana_template.clone(),
                name: project_name,
            }
            .to_json(),
        ),
        super::dm_step(&key, "notify_csm", &csm.email, text, blocks),
    ];
    count("closed_won", "onboarding_started");
    Ok(Completion {
        sagas: vec![Saga::new(key, "closed_won", &record_key, steps, env.now_ms)],
        audit: vec![AuditEntry::new(
            env.now_ms,
            &record_key,
            "onboarding",
            format!(
                "closed-won: tier {} (amount {amount}), CSM {} ({}), template {}",
                tier.name, csm.name, csm.email, tier.asana_template
            ),
            json!({"tier": tier.name, "amount": amount, "csm_id": csm.id, "company_id": company.map(|c| c.id)}),
        )],
        state: vec![(
            CSM_ROTATION.to_string(),
            json!((position + 1) % pool.len() as u64),
        )],
        ..Completion::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(name: &str, min: f64) -> TierConfig {
        TierConfig {
            name: name.into(),
            min_amount: min,
            asana_template: format!("Onboarding — {name}"),
        }
    }

    #[test]
    fn tiers_pick_the_highest_threshold_reached_in_any_order() {
        let tiers = vec![
            tier("Starter", 0.0),
            tier("Enterprise", 5000.0),
            tier("Growth", 1000.0),
        ];
        assert_eq!(tier_for(&tiers, 4999.0).unwrap().name, "Growth");
        assert_eq!(tier_for(&tiers, 5000.0).unwrap().name, "Enterprise");
        assert_eq!(tier_for(&tiers, 0.0).unwrap().name, "Starter");
        assert!(tier_for(&tiers[1..], 10.0).is_none());
    }
}
