//! The owner of a marketing CRM contact follows the sales CRM's owner of the same person.

use super::super::writes::LeadUpdate;
use super::super::{Env, FlowError, Flows};
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
