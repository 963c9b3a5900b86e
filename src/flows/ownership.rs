//! One system of record for ownership (issue 3 §2): an owner change on a handed-off lead made
//! by a system that does not own the owner field at the lead's lifecycle stage is reverted or
//! flagged; one made by the system of record moves the lead of record with it.
//!
//! [`check`] runs on a CRM lead change of a lead that has a [`LeadState`] (called from the
//! lead-change flow). With `ownership:` configured ([`crate::config::ownership`]):
//!
//! 1. The CRM's owner (the lead mapping's `owner_id`) equals the owner of record → nothing.
//! 2. Otherwise the newest entry of the owner field's history
//!    ([`handoff_connector::Crm::owner_history`], the CRM's field history) says who wrote it: its source id, else its source type, maps to a system
//!    (`ownership.systems`; unlisted, or no history at all → `unknown`). If that entry's value
//!    is not the lead's current owner, the record moved on since it was read → nothing (the
//!    newer change is checked when it arrives).
//! 3. Writes the connector knows are handoff's own (`by_handoff`), or by the system named
//!    [`HANDOFF_SYSTEM`] (a decision whose CRM write is still in flight, or an older one) →
//!    nothing.
//! 4. The mapped lead's `lifecycle_stage` picks the system of record (`system_of_record`); a
//!    stage no entry lists is not governed → nothing.
//! 5. By the system of record → **accepted**: the lead of record follows (owner id and email,
//!    team and manager from the routing rules when the new owner is a rep there,
//!    `assigned_ms` = now, one more assignment).
//! 6. By any other system → `on_violation`: **reverted** (saga
//!    `owner-revert:<record_key>:<history ms>` writes the owner of record back) or **flagged**
//!    (the CRM and the lead of record are left as they are; saga
//!    `owner-flag:<record_key>:<history ms>` DMs the owner of record's manager, if known).
//!
//! Every decision writes the audit entry `owner_change` (`{action, system, source_type, stage,
//! from_owner_id, to_owner_id, system_of_record, source_id, changed_at_ms}`), counts
//! `handoff_owner_changes_total{crm, action, system}`, and records the history entry as handled
//! (flow state `owner-change:<record_key>:<history ms>`), so the same change seen twice (webhook
//! and poll, or a later unrelated edit of the contact) is decided once.

use super::lead_state::{LeadState, LeadStatus};
use super::writes::LeadUpdate;
use super::{field, Env, FlowError, Flows};
use crate::config::ownership::{OnViolation, UNKNOWN_SYSTEM};
use crate::state::{AuditEntry, Completion, Saga};
use handoff_connector::{Change, IdempotencyKey, RecordKey};
use serde_json::{json, Map, Value};

/// The `ownership.systems` name of handoff's own writes; changes it made are never judged.
pub const HANDOFF_SYSTEM: &str = "handoff";

/// The flow name on sagas and in outcome metrics.
pub const FLOW: &str = "ownership";

/// The saga key of a revert: `owner-revert:<record_key>:<history ms>`.
pub fn revert_saga_key(record_key: &str, changed_at_ms: i64) -> String {
    format!("owner-revert:{record_key}:{changed_at_ms}")
}

/// The saga key of a flag's DM to the manager: `owner-flag:<record_key>:<history ms>`.
pub fn flag_saga_key(record_key: &str, changed_at_ms: i64) -> String {
    format!("owner-flag:{record_key}:{changed_at_ms}")
}

/// The flow-state key marking an owner change as decided:
/// `owner-change:<record_key>:<history ms>`.
pub fn handled_key(record_key: &str, changed_at_ms: i64) -> String {
    format!("owner-change:{record_key}:{changed_at_ms}")
}

/// Judges the owner of the CRM lead `mapped` (the lead mapping's output for the record as just
/// read, after `change`) against the lead of record `lead` (see the module docs). `Ok(None)` when there is nothing to decide (no
/// `ownership:` config, owners agree, handoff's own write, ungoverned stage, already decided,
/// lead recycled or rejected); otherwise the completion to commit.
///
/// Errors: [`FlowError::Vendor`] when the owner history cannot be read (retryable per the
/// vendor error), [`FlowError::State`] when the store cannot be read.
pub async fn check(
    flows: &Flows,
    env: &Env<'_>,
    change: &Change,
    mapped: &Map<String, Value>,
    lead: &LeadState,
) -> Result<Option<Completion>, FlowError> {
    let Some(cfg) = flows.loaded.config.ownership.as_ref() else {
        return Ok(None);
    };
    if matches!(
        lead.status,
        LeadStatus::Recycled { .. } | LeadStatus::Rejected { .. }
    ) {
        return Ok(None);
    }
    let crm_owner = field(mapped, "owner_id").unwrap_or("").to_string();
    if crm_owner == lead.owner_id {
        return Ok(None);
    }
    let record = change.key();
    let history = env.crm.owner_history(&record).await?;
    let newest = history.first();
    if newest.is_some_and(|h| h.value != crm_owner) {
        return Ok(None);
    }
    if newest.is_some_and(|h| h.by_handoff) {
        return Ok(None);
    }
    let source_type = newest.map(|h| h.source_type.as_str()).unwrap_or("");
    let system = match newest {
        Some(h) => cfg.system_of_writer(h.source_id.as_deref(), &h.source_type),
        None => UNKNOWN_SYSTEM,
    };
    if system == HANDOFF_SYSTEM {
        return Ok(None);
    }
    let stage = field(mapped, "lifecycle_stage").unwrap_or("");
    let Some(owner_system) = cfg.system_of_record(stage) else {
        return Ok(None);
    };
    let record_key = change.record_key();
    let changed_at_ms = newest.map_or(change.modified_at_ms, |h| h.timestamp_ms);
    let handled = handled_key(&record_key, changed_at_ms);
    if env.store.get_json::<Value>(&handled)?.is_some() {
        return Ok(None);
    }
    let action = if system == owner_system {
        "accepted"
    } else {
        match cfg.on_violation {
            OnViolation::Revert => "reverted",
            OnViolation::Flag => "flagged",
        }
    };
    let detail = json!({
        "action": action,
        "system": system,
        "source_type": source_type,
        "stage": stage,
        "from_owner_id": lead.owner_id,
        "to_owner_id": crm_owner,
        "system_of_record": owner_system,
        "source_id": newest.and_then(|h| h.source_id.clone()),
        "changed_at_ms": changed_at_ms,
    });
    let mut completion = Completion::default();
    completion
        .state
        .push((handled, json!({"action": action, "decided_ms": env.now_ms})));
    let who = if source_type.is_empty() {
        system.to_string()
    } else {
        format!("{system} ({source_type})")
    };
    let summary = match action {
        "accepted" => {
            completion
                .state
                .push(accept(flows, lead, &crm_owner, env.now_ms).entry());
            format!(
                "owner {} → {crm_owner} by {who}, the system of record at {stage}: accepted",
                lead.owner_id
            )
        }
        "reverted" => {
            completion.sagas.push(revert_saga(
                flows,
                &record,
                lead,
                changed_at_ms,
                env.now_ms,
            )?);
            format!(
                "owner {} → {crm_owner} by {who} at {stage} (system of record: {owner_system}): reverted to {}",
                lead.owner_id, lead.owner_email
            )
        }
        _ => {
            let text = format!(
                "Owner changed outside {owner_system} on lead {record_key} at stage {stage}: \
                 {who} set owner {crm_owner}; the owner of record is still {}. Left as is (flagged).",
                lead.owner_email
            );
            if let Some(manager) = lead.manager_email.as_deref().filter(|m| !m.is_empty()) {
                completion.sagas.push(flag_saga(
                    &record_key,
                    manager,
                    &text,
                    changed_at_ms,
                    env.now_ms,
                ));
            }
            format!(
                "owner {} → {crm_owner} by {who} at {stage} (system of record: {owner_system}): flagged",
                lead.owner_id
            )
        }
    };
    completion.audit.push(AuditEntry::new(
        env.now_ms,
        &record_key,
        "owner_change",
        summary,
        detail,
    ));
    metrics::counter!(
        "handoff_owner_changes_total",
        "crm" => env.crm.system(),
        "action" => action,
        "system" => system.to_string()
    )
    .increment(1);
    super::count(FLOW, action);
    Ok(Some(completion))
}

/// The lead of record after accepting `new_owner_id` at `now_ms`.
fn accept(flows: &Flows, lead: &LeadState, new_owner_id: &str, now_ms: i64) -> LeadState {
    let email = flows
        .owners
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .by_id(new_owner_id)
        .map(|o| o.email.clone())
        .unwrap_or_default();
    let rules = flows.loaded.rules();
    let mut next = lead.clone();
    next.team = rules
        .and_then(|r| r.team_of(&email))
        .map(|t| t.name.clone())
        .or(next.team);
    next.manager_email = rules.and_then(|r| r.manager_of(&email)).map(str::to_string);
    next.owner_id = new_owner_id.to_string();
    next.owner_email = email;
    next.assigned_ms = now_ms;
    next.assignments += 1;
    next
}

/// Saga `owner-revert:…`: write the owner of record back to the lead.
fn revert_saga(
    flows: &Flows,
    record: &RecordKey,
    lead: &LeadState,
    changed_at_ms: i64,
    now_ms: i64,
) -> Result<Saga, FlowError> {
    let record_key = record.to_string();
    let key = revert_saga_key(&record_key, changed_at_ms);
    let write = flows.lead_write(record, &LeadUpdate::owner(&lead.owner_id))?;
    Ok(Saga::new(
        key.clone(),
        FLOW,
        &record_key,
        vec![(
            IdempotencyKey::new(format!("{key}:owner")),
            "revert_owner",
            write.to_json(),
        )],
        now_ms,
    ))
}

/// Saga `owner-flag:…`: DM the owner of record's manager about the change.
fn flag_saga(
    record_key: &str,
    manager_email: &str,
    text: &str,
    changed_at_ms: i64,
    now_ms: i64,
) -> Saga {
    let key = flag_saga_key(record_key, changed_at_ms);
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
    ]);
    Saga::new(
        key.clone(),
        FLOW,
        record_key,
        vec![super::dm_step(
            &key,
            "notify_manager",
            manager_email,
            text.to_string(),
            blocks,
        )],
        now_ms,
    )
}

#[cfg(test)]
#[path = "ownership_tests.rs"]
mod tests;
