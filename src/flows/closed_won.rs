//! Sales → customer success: a closed-won deal gets one onboarding case in the CRM (a ticket
//! or case, as the CRM calls it), one project from its tier's template in the PM tool, a CSM,
//! and one DM to that CSM.
//!
//! Whether a deal is won is the deal mapping's `won` field (from the deal's stage, or the
//! CRM's own won flag). The case carries what the case mapping takes from the
//! deal (amount, products, close date, …) and is linked to the deal's account and primary
//! contact where the CRM has them.
//!
//! The steps form one saga (`onboarding:<deal>`), each with its own idempotency key, so a crash
//! between steps resumes where it stopped and a repeated event creates nothing twice. A won
//! deal the deal mapping's gates reject (no amount, say) cannot be tiered: it goes to dead
//! letters with the reason, for an admin to fix and replay.

use super::accounts::{self, AccountRef};
use super::writes::CaseDraft;
use super::{count, field, flag, Env, FlowError, Flows};
use crate::config::TierConfig;
use crate::outbox::Action;
use crate::state::{AuditEntry, Completion, Saga};
use handoff_connector::{Change, IdempotencyKey, ObjectKind, Record};
use serde_json::{json, Value};

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
    let outcome = flows
        .loaded
        .mapping(&cfg.mapping.value)
        .apply(&deal.to_json());
    if !flag(&outcome.record, "won") {
        return Ok(Completion::default());
    }
    let record = change.key();
    let record_key = record.to_string();
    let key = saga_key(&record_key);
    if env.store.saga(&key)?.is_some() {
        return Ok(Completion::default());
    }
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

    let account_key = env
        .crm
        .associated(&record, ObjectKind::Account)
        .await?
        .into_iter()
        .next();
    let contact_key = if env.crm.can_link(ObjectKind::Case, ObjectKind::Contact) {
        env.crm
            .associated(&record, ObjectKind::Contact)
            .await?
            .into_iter()
            .next()
    } else {
        None
    };
    let company: Option<AccountRef> = match &account_key {
        Some(k) => Some(
            env.store
                .get_json::<AccountRef>(&accounts::id_key(&k.id))?
                .unwrap_or(AccountRef {
                    id: k.id.clone(),
                    name: format!("account {}", k.id),
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
            "closed_won.csm_pool lists {csm_email} but the CRM has no owner with that email"
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
    let case = flows.case_fields(&CaseDraft {
        subject: format!("Onboarding: {customer} — {deal_name}"),
        description: context.clone(),
        owner_id: csm.id.clone(),
        tier: tier.name.clone(),
        customer: customer.clone(),
        deal: d.clone(),
    })?;
    let links: Vec<_> = [Some(record.clone()), account_key, contact_key]
        .into_iter()
        .flatten()
        .filter(|k| {
            env.kind_of(k)
                .is_some_and(|kind| env.crm.can_link(ObjectKind::Case, kind))
        })
        .collect();
    let project_name = format!("Onboarding: {customer} (deal {})", deal.id);
    let text = format!(
        "You are the CSM for {customer} ({} tier). Case: {{case_url}} · Project: {{project_url}}",
        tier.name
    );
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!("*New customer:* {customer} — {} tier, you are the CSM.", tier.name)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        {"type": "actions", "block_id": "onboarding_actions", "elements": [
            {"type": "button", "action_id": "open_in_crm", "text": {"type": "plain_text", "text": "Open in CRM"}, "url": "{case_url}"},
            {"type": "button", "action_id": "open_project", "text": {"type": "plain_text", "text": "Open project"}, "url": "{project_url}"}
        ]}
    ]);
    let steps = vec![
        (
            IdempotencyKey::new(format!("{key}:case")),
            "create_case",
            Action::CrmUpsertCase {
                fields: case,
                links,
            }
            .to_json(),
        ),
        (
            IdempotencyKey::new(format!("{key}:project")),
            "create_project",
            Action::CreateProject {
                template: tier.project_template.clone(),
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
                tier.name, csm.name, csm.email, tier.project_template
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
            project_template: format!("Onboarding — {name}"),
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
