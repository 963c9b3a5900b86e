//! Who wrote a property, and the per-property history HubSpot keeps of every write.
//!
//! Every write to the emulated portal carries a [`WriteSource`]: the `changeSource` its webhook
//! event reports, and the `sourceType` / `sourceId` / `sourceLabel` / `updatedByUserId` its
//! history entry records. Reads with `propertiesWithHistory` return each named property's
//! entries as HubSpot's `ValueWithTimestamp`, newest first ([`crate::wire::ValueWithTimestamp`]).
//!
//! Sources:
//! * `ValueWithTimestamp` (required `sourceType`, `timestamp` ISO 8601, `value`; optional
//!   `sourceId`, `sourceLabel`, `updatedByUserId` int32) and `propertiesWithHistory` on
//!   `SimplePublicObject(WithAssociations)` / `BatchReadInputSimplePublicObjectId`: HubSpot's CRM
//!   contacts v3 OpenAPI (`HubSpot/HubSpot-public-api-spec-collection`,
//!   `PublicApiSpecs/CRM/Contacts/Rollouts/424/v3/contacts.json`, components.schemas) **[spec]**.
//! * A UI edit: `sourceType: "CRM_UI"`, `sourceId: "userId:<id>"`, `updatedByUserId: <id>`, no
//!   `sourceLabel` — a recorded v3 response quoted in HubSpot/hubspot-api-nodejs issue #154
//!   **[sdk issue, real response]**.
//! * A private-app (API) write: `sourceType: "INTEGRATION"`, `sourceId: "<number>"`, no user —
//!   recorded v3 responses in public connector test fixtures, where the same number is the
//!   record's `hs_object_source_id`; that this number is the app id is inferred, not documented
//!   **[unverified]**.
//! * A workflow write: `sourceType: "AUTOMATION_PLATFORM"` is HubSpot's source name for
//!   workflows; the `sourceId` shape (`workflowId:<id>` here) and the absence of a label are
//!   **[unverified]** (no recorded response found).
//! * A calculated property (e.g. `notes_last_contacted`): `sourceType: "CALCULATED"`
//!   **[unverified]**.
//! * Webhook `changeSource` values `CRM_UI`, `API`, `IMPORT`, `AUTOMATION_PLATFORM`: third-party
//!   webhook catalogues of HubSpot's v3 events **[unverified]**; the emulator's older seeding
//!   helpers keep `CRM` (the official v1 validation example, NOTES.md §1.1).

use crate::time::format_ms;
use crate::wire::ValueWithTimestamp;

/// Who makes a write: what its webhook events and history entries say about its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteSource {
    /// The webhook event's `changeSource` (e.g. `CRM_UI`, `API`, `AUTOMATION_PLATFORM`).
    pub change_source: String,
    /// The history entry's `sourceType` (e.g. `CRM_UI`, `INTEGRATION`,
    /// `AUTOMATION_PLATFORM`, `FORM`, `IMPORT`).
    pub source_type: String,
    /// The history entry's `sourceId` (`userId:<id>`, the app id, `workflowId:<id>`).
    pub source_id: Option<String>,
    /// The history entry's `sourceLabel`, if any.
    pub source_label: Option<String>,
    /// The history entry's `updatedByUserId` (a HubSpot user id, not an owner id).
    pub updated_by_user_id: Option<u64>,
}

impl WriteSource {
    /// A user editing the record in HubSpot's UI: `CRM_UI`, `sourceId: "userId:<id>"`,
    /// `updatedByUserId: <id>`; webhook `changeSource: CRM_UI`.
    pub fn user(user_id: u64) -> Self {
        Self {
            change_source: "CRM_UI".into(),
            source_type: "CRM_UI".into(),
            source_id: Some(format!("userId:{user_id}")),
            source_label: None,
            updated_by_user_id: Some(user_id),
        }
    }

    /// A workflow action: `AUTOMATION_PLATFORM`, `sourceId: "workflowId:<id>"` (shape
    /// unverified), no user; webhook `changeSource: AUTOMATION_PLATFORM`.
    pub fn workflow(workflow_id: u64) -> Self {
        Self {
            change_source: "AUTOMATION_PLATFORM".into(),
            source_type: "AUTOMATION_PLATFORM".into(),
            source_id: Some(format!("workflowId:{workflow_id}")),
            source_label: None,
            updated_by_user_id: None,
        }
    }

    /// Another system by its names (e.g. `FORM`, `IMPORT`): the same word as `changeSource`
    /// and `sourceType`, no id.
    pub fn other(source_type: &str) -> Self {
        Self {
            change_source: source_type.into(),
            source_type: source_type.into(),
            source_id: None,
            source_label: None,
            updated_by_user_id: None,
        }
    }

    /// The private app calling the API with its token: `INTEGRATION` with the app id as
    /// `sourceId` (unverified, see the module docs); webhook `changeSource: API` as the
    /// emulator has always reported API writes.
    pub(crate) fn integration(app_id: u64) -> Self {
        Self {
            change_source: "API".into(),
            source_type: "INTEGRATION".into(),
            source_id: Some(app_id.to_string()),
            source_label: None,
            updated_by_user_id: None,
        }
    }

    /// The Rust seeding helpers (`create_object`, `update_object`): a UI write with no known
    /// user; webhook `changeSource: CRM` as before.
    pub(crate) fn seed() -> Self {
        Self {
            change_source: "CRM".into(),
            source_type: "CRM_UI".into(),
            source_id: None,
            source_label: None,
            updated_by_user_id: None,
        }
    }

    /// HubSpot recalculating a calculated property (e.g. "Last contacted").
    pub(crate) fn calculated() -> Self {
        Self {
            change_source: "CALCULATED".into(),
            source_type: "CALCULATED".into(),
            source_id: None,
            source_label: None,
            updated_by_user_id: None,
        }
    }
}

/// One stored history entry (oldest first in storage).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HistoryEntry {
    /// The value written (`""` when the write cleared the property).
    pub value: String,
    /// When, UTC ms.
    pub at_ms: i64,
    pub source: WriteSource,
}

impl HistoryEntry {
    /// As HubSpot's `ValueWithTimestamp`.
    pub fn to_wire(&self) -> ValueWithTimestamp {
        ValueWithTimestamp {
            value: self.value.clone(),
            timestamp: format_ms(self.at_ms),
            source_type: self.source.source_type.clone(),
            source_id: self.source.source_id.clone(),
            source_label: self.source.source_label.clone(),
            updated_by_user_id: self.source.updated_by_user_id,
        }
    }
}

/// A property's history as the API returns it: newest first.
pub(crate) fn newest_first(entries: &[HistoryEntry]) -> Vec<ValueWithTimestamp> {
    entries.iter().rev().map(HistoryEntry::to_wire).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_render_newest_first_in_hubspot_shape() {
        let entries = vec![
            HistoryEntry {
                value: "7".into(),
                at_ms: 1_000,
                source: WriteSource::integration(54321),
            },
            HistoryEntry {
                value: "9".into(),
                at_ms: 2_000,
                source: WriteSource::user(1_000_009),
            },
        ];
        let wire = newest_first(&entries);
        let json = serde_json::to_value(&wire).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"value": "9", "timestamp": "1970-01-01T00:00:02.000Z", "sourceType": "CRM_UI",
                 "sourceId": "userId:1000009", "updatedByUserId": 1000009},
                {"value": "7", "timestamp": "1970-01-01T00:00:01.000Z", "sourceType": "INTEGRATION",
                 "sourceId": "54321"}
            ])
        );
    }
}
