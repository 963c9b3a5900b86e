//! After hours: a lead the routing rules deferred (nobody in the pool available) is decided
//! again when its team opens.
//!
//! [`super::lead`] schedules a durable [`Timer`] of kind [`KIND`] keyed
//! `lead-deferred:<record_key>` for the pool's next opening, in the same commit as the
//! `deferred` audit entry. When the timer fires it comes back as a change from
//! [`crate::state::TIMER_SOURCE`]; [`on_timer`] reads the lead fresh from the CRM (the timer's
//! record key names it) and runs the lead flow for it as a lead change. A lead handed off
//! meanwhile (its saga exists) is left alone, so a timer delivered twice never makes a second
//! saga.

use super::{lead, Env, FlowError, Flows};
use crate::state::{AuditEntry, Completion, Timer};
use handoff_connector::{Change, ChangeKind, RecordKey};
use serde_json::json;

/// The [`Timer::kind`] of a deferred lead.
pub const KIND: &str = "lead_deferred";

/// The timer key of a deferred lead: `lead-deferred:<record_key>`.
pub fn timer_key(record_key: &str) -> String {
    format!("lead-deferred:{record_key}")
}

/// The timer that decides the lead `record_key` again at `until` (scheduled at `now_ms`, UTC
/// ms). Its payload repeats the record's id (`{"id"}`), as timers written before the CRM seam
/// did (with `object_type` then).
pub fn timer(record_key: &str, record_id: &str, until: jiff::Timestamp, now_ms: i64) -> Timer {
    Timer {
        key: timer_key(record_key),
        due_ms: until.as_millisecond(),
        kind: KIND.to_string(),
        record_key: record_key.to_string(),
        payload: json!({"id": record_id}),
        created_ms: now_ms,
    }
}

/// Handles a fired timer change: a deferred lead is read fresh and decided again; other
/// timer kinds are not this flow's and are ignored.
pub(super) async fn on_timer(
    flows: &Flows,
    env: &Env<'_>,
    change: &Change,
) -> Result<Completion, FlowError> {
    let Some(timer) = Timer::from_change(change) else {
        return Ok(Completion::default());
    };
    if timer.kind != KIND {
        return Ok(Completion::default());
    }
    if env
        .store
        .saga(&lead::saga_key(&timer.record_key))?
        .is_some()
    {
        return Ok(Completion::default());
    }
    let record: RecordKey = timer.record_key.parse().map_err(|e| FlowError::BadRecord {
        record: timer.record_key.clone(),
        reason: format!("timer {}: {e}", timer.key),
    })?;
    let id = record.id.clone();
    let Some(contact) = env.read(flows, &record).await? else {
        return Ok(Completion {
            audit: vec![AuditEntry::new(
                env.now_ms,
                &timer.record_key,
                "deferred_dropped",
                format!("deferred lead {record} no longer exists in the CRM"),
                json!({"timer": timer.key}),
            )],
            ..Completion::default()
        });
    };
    let as_contact = Change {
        source: record.system.clone(),
        object_type: record.object.clone(),
        object_id: id,
        event_id: None,
        modified_at_ms: change.modified_at_ms,
        received_at_ms: change.received_at_ms,
        origin: change.origin,
        kind: ChangeKind::Updated,
        changed_property: None,
        snapshot: Some(contact.clone()),
    };
    // Speed-to-lead counts from the lead's arrival (when the deferral was decided).
    lead::decide_received_at(flows, env, &as_contact, &contact, timer.created_ms)
}
