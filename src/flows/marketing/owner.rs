//! The owner of a marketing CRM contact follows the sales CRM's owner of the same person.

use super::super::writes::LeadUpdate;
use super::super::{Env, FlowError, Flows};
use crate::config::ownership::OnViolation;
use crate::state::{AuditEntry, Completion, Saga};
use handoff_connector::{Change, IdempotencyKey, RecordKey};
use serde_json::json;

/// The saga that sets the marketing contact `contact`'s owner to the marketing owner with the
/// email of the sales owner `sales_owner_id`, unless it has that owner already (`current`) or
/// the sales owner has no counterpart (a queue, or someone without a marketing CRM seat).
/// `from` (`marketing` | `sales`) says which CRM's change found the difference.
#[allow(clippy::too_many_arguments)]
pub(super) fn follow(
    flows: &Flows,
    env: &Env<'_>,
    change: &Change,
    contact: &RecordKey,
    current: Option<&str>,
    sales_owner_id: &str,
    sales_record: &RecordKey,
    from: &'static str,
) -> Result<Option<Completion>, FlowError> {
    let Some(sales_owner) = flows
        .owners
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .by_id(sales_owner_id)
        .cloned()
    else {
        return Ok(None);
    };
    let Some(owner) = flows
        .marketing_owners
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .by_email(&sales_owner.email)
        .cloned()
    else {
        tracing::warn!(record = %contact, owner = %sales_owner.email, "the sales owner has no owner of the same email in the marketing CRM; not mirrored");
        return Ok(None);
    };
    if current == Some(owner.id.as_str()) {
        return Ok(None);
    }
    let record_key = contact.to_string();
    let flag = from == "marketing"
        && flows
            .loaded
            .config
            .marketing
            .as_ref()
            .is_some_and(|m| m.on_violation == OnViolation::Flag);
    if flag {
        return flagged(
            flows,
            env,
            change,
            &record_key,
            current,
            &sales_owner,
            sales_record,
        );
    }
    let key = format!("owner-mirror:{record_key}:{}", change.modified_at_ms);
    if env.store.saga(&key)?.is_some() {
        return Ok(None);
    }
    let write = flows.marketing_write(contact, &LeadUpdate::owner(&owner.id))?;
    let saga = Saga::new(
        key.clone(),
        "ownership",
        &record_key,
        vec![(
            IdempotencyKey::new(format!("{key}:owner")),
            "mirror_owner",
            write.to_json(),
        )],
        env.now_ms,
    );
    let audit = AuditEntry::new(
        env.now_ms,
        &record_key,
        "owner_mirrored",
        format!(
            "owner {} ({}) from {sales_record}, the system of record (was {})",
            owner.name,
            owner.email,
            current.unwrap_or("unowned")
        ),
        json!({
            "from": current,
            "to": owner.id,
            "email": owner.email,
            "sales_record": sales_record.to_string(),
            "found_by": from,
        }),
    );
    metrics::counter!("handoff_owner_mirrors_total", "from" => from).increment(1);
    Ok(Some(Completion {
        sagas: vec![saga],
        audit: vec![audit],
        ..Completion::default()
    }))
}

/// `marketing.on_violation: flag`: a marketing CRM user set the contact's owner at a stage the
/// sales CRM owns. The contact is left as it is; the change is audited (`owner_change`, action
/// `flagged`), counted, and the sales owner's manager gets one DM per change (saga
/// `owner-flag:<contact>:<ms>`, the manager from the lead routing rules; no DM without one).
fn flagged(
    flows: &Flows,
    env: &Env<'_>,
    change: &Change,
    record_key: &str,
    current: Option<&str>,
    sales_owner: &crate::flows::owners::Owner,
    sales_record: &RecordKey,
) -> Result<Option<Completion>, FlowError> {
    let key = crate::flows::ownership::flag_saga_key(record_key, change.modified_at_ms);
    if env.store.saga(&key)?.is_some() {
        return Ok(None);
    }
    let text = format!(
        "Owner changed in {} on {record_key} at a stage {} owns: owner {} was set; the owner of record is still {} ({sales_record}). Left as is (flagged).",
        change.source,
        sales_record.system,
        current.unwrap_or("(none)"),
        sales_owner.email
    );
    let manager = flows
        .loaded
        .rules()
        .and_then(|r| r.manager_of(&sales_owner.email))
        .map(str::to_string);
    let mut done = Completion::default();
    if let Some(manager) = &manager {
        let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": text}}]);
        done.sagas.push(Saga::new(
            key.clone(),
            "ownership",
            record_key,
            vec![super::super::dm_step(
                &key,
                "notify_manager",
                manager,
                text.clone(),
                blocks,
            )],
            env.now_ms,
        ));
    }
    done.audit.push(AuditEntry::new(
        env.now_ms,
        record_key,
        "owner_change",
        format!(
            "owner {} in {} at a sales stage (system of record: {}): flagged",
            current.unwrap_or("(none)"),
            change.source,
            sales_record.system
        ),
        json!({
            "action": "flagged",
            "to_owner_id": current,
            "owner_of_record": sales_owner.email,
            "sales_record": sales_record.to_string(),
            "manager": manager,
        }),
    ));
    metrics::counter!("handoff_owner_changes_total", "crm" => change.source.clone(), "action" => "flagged", "system" => change.source.clone())
        .increment(1);
    Ok(Some(done))
}
