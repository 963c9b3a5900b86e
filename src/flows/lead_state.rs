//! The lead of record: who owns a handed-off lead now, under which SLA policy, and where it
//! stands. One [`LeadState`] per lead, in flow state under [`key`] (`lead-state:<record_key>`),
//! written with every decision that changes it (routing, first touch, SLA steps, reassignment,
//! reject, recycle, an owner change from another system), so it is always committed atomically
//! with the sagas and audit entries of that decision.
//!
//! It is handoff's single answer to "who owns this lead": SLA timers act on `owner_*`, the
//! ownership check compares the CRM's owner (the lead mapping's `owner_id`) with `owner_id`,
//! and `handoff report` reads it for load per rep.

use crate::state::{StateError, Store};
use serde::{Deserialize, Serialize};

/// Where a handed-off lead stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LeadStatus {
    /// Assigned, not touched yet: the SLA clock runs.
    Open,
    /// First touch seen at `at_ms` (UTC ms), by `by` (`claim`: the Slack button; `activity`: a
    /// call, email or meeting logged in the CRM; `status`: a first-touch lead status; see
    /// [`super::first_touch`]).
    Touched { at_ms: i64, by: String },
    /// Sent back to nurture at `at_ms` with reason code `reason` (e.g. `sla_expired`).
    Recycled { at_ms: i64, reason: String },
    /// Converted in the CRM at `at_ms` (the lead record became a contact, an account and a
    /// deal) while handoff still tracked it: the record is read-only from then on, so
    /// the SLA stops and nothing more is written to it.
    Converted { at_ms: i64 },
    /// Rejected by sales at `at_ms` with reason code `reason` (e.g. `not_a_fit`), then recycled.
    Rejected { at_ms: i64, reason: String },
}

/// A handed-off lead as handoff holds it (flow state `lead-state:<record_key>`, JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeadState {
    /// The lead's record key (`system:object:id`).
    pub record_key: String,
    /// The CRM id of the lead record (stores written before the CRM seam call it
    /// `contact_id`).
    #[serde(alias = "contact_id")]
    pub record_id: String,
    /// The owner of record: the CRM owner id (the value of the lead's owner field).
    pub owner_id: String,
    /// The owner of record's email (the Slack DM and escalation key).
    pub owner_email: String,
    /// The routing team the owner was chosen from, if routed by a team.
    #[serde(default)]
    pub team: Option<String>,
    /// The escalation target (the owner's manager), if known.
    #[serde(default)]
    pub manager_email: Option<String>,
    /// When the lead became sales-ready and was first decided, UTC ms (speed-to-lead starts).
    pub received_ms: i64,
    /// When the current owner was assigned, UTC ms.
    pub assigned_ms: i64,
    /// The SLA policy that applies (by name), if any.
    #[serde(default)]
    pub policy: Option<String>,
    /// When the first-touch SLA is breached, UTC ms (business time already applied).
    #[serde(default)]
    pub sla_due_ms: Option<i64>,
    /// How many owners the lead has had (1 + reassignments).
    pub assignments: u32,
    /// Where it stands.
    #[serde(flatten)]
    pub status: LeadStatus,
}

/// The flow-state key of a lead's [`LeadState`]: `lead-state:<record_key>`.
pub fn key(record_key: &str) -> String {
    format!("lead-state:{record_key}")
}

/// The key prefix of every [`LeadState`] (for scans).
pub const KEY_PREFIX: &str = "lead-state:";

/// Reads the lead of record for `record_key` (`None` if the lead was never handed off).
///
/// Errors: [`StateError`] if the store cannot be read or the stored JSON is not a `LeadState`.
pub fn load(store: &Store, record_key: &str) -> Result<Option<LeadState>, StateError> {
    store.get_json(&key(record_key))
}

impl LeadState {
    /// The lead's record key, typed (`None` if the stored string is not a key).
    pub fn key(&self) -> Option<handoff_connector::RecordKey> {
        self.record_key.parse().ok()
    }

    /// The `(key, JSON)` pair to put in [`crate::state::Completion::state`].
    pub fn entry(&self) -> (String, serde_json::Value) {
        (
            key(&self.record_key),
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Whether the lead still waits for its first touch (the SLA clock runs).
    pub fn is_open(&self) -> bool {
        self.status == LeadStatus::Open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_status_flattened() {
        let s = LeadState {
            record_key: "crm:leads:42".into(),
            record_id: "42".into(),
            owner_id: "7".into(),
            owner_email: "a@example.com".into(),
            team: Some("West".into()),
            manager_email: Some("m@example.com".into()),
            received_ms: 1,
            assigned_ms: 2,
            policy: Some("demo_request".into()),
            sla_due_ms: Some(300_002),
            assignments: 1,
            status: LeadStatus::Touched {
                at_ms: 9,
                by: "claim".into(),
            },
        };
        let (k, v) = s.entry();
        assert_eq!(k, "lead-state:crm:leads:42");
        assert_eq!(v["status"], "touched");
        assert_eq!(v["by"], "claim");
        let back: LeadState = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, s);
        // Written before the CRM seam: the record id was `contact_id`.
        let mut old = v;
        let id = old.as_object_mut().unwrap().remove("record_id").unwrap();
        old["contact_id"] = id;
        assert_eq!(serde_json::from_value::<LeadState>(old).unwrap(), s);
    }
}
