//! Changes: the unit that enters handoff's inbox.

use crate::{Record, RecordKey};
use serde::{Deserialize, Serialize};

/// How a change reached handoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOrigin {
    /// Delivered by the vendor to the webhook endpoint, signature verified.
    Webhook,
    /// Found by polling the change feed from a cursor.
    Poll,
    /// Re-queued by an admin from the dead-letter store.
    Replay,
}

/// What happened to the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

/// One change to one record.
///
/// Deduplication (see `docs/specs/connector.md`): a change is identified by its vendor event id
/// when it has one, and always by `object id + modified_at_ms`, so the same edit seen by a
/// webhook and by a poll enters the inbox once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Connector name: `hubspot`, `salesforce`, `slack`, `asana`.
    pub source: String,
    /// Vendor object name as its API spells it: `contacts`, `deals`, `Lead`, `Opportunity`.
    pub object_type: String,
    /// Vendor id of the changed record.
    pub object_id: String,
    /// Vendor event id (HubSpot `eventId`), for webhook deliveries.
    pub event_id: Option<String>,
    /// When the record changed, UTC epoch ms (HubSpot `occurredAt` or `hs_lastmodifieddate`).
    pub modified_at_ms: i64,
    /// When handoff received the change, UTC epoch ms.
    pub received_at_ms: i64,
    pub origin: ChangeOrigin,
    pub kind: ChangeKind,
    /// The property the vendor says changed (HubSpot `propertyName`), if it said.
    pub changed_property: Option<String>,
    /// The record as read with the change, when the feed returns it (polls do, webhooks don't).
    pub snapshot: Option<Record>,
}

impl Change {
    /// `source:object_type:object_id`, the key the audit trail and flows use for a record.
    pub fn record_key(&self) -> String {
        format!("{}:{}:{}", self.source, self.object_type, self.object_id)
    }

    /// [`Change::record_key`] as a typed [`RecordKey`].
    pub fn key(&self) -> RecordKey {
        RecordKey::new(&self.source, &self.object_type, &self.object_id)
    }

    /// The keys under which this change is deduplicated in the inbox: the event id (if any) and
    /// the record version (`record_key@modified_at_ms`).
    pub fn dedupe_keys(&self) -> Vec<String> {
        let mut keys = Vec::with_capacity(2);
        if let Some(id) = &self.event_id {
            keys.push(format!("event:{}:{}", self.source, id));
        }
        keys.push(format!(
            "version:{}@{}",
            self.record_key(),
            self.modified_at_ms
        ));
        keys
    }
}

/// The key that makes a write take effect at most once.
///
/// Built from business identity, never from time or randomness, e.g.
/// `lead-route:hubspot:contacts:123` or `onboarding-ticket:hubspot:deals:456`, so a change
/// processed twice produces the same key. Vendors that accept a key natively get it in the
/// request; for the others the outbox looks up the created object by it before creating again.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey(pub String);

impl IdempotencyKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(event: Option<&str>, at: i64, origin: ChangeOrigin) -> Change {
        Change {
            source: "hubspot".into(),
            object_type: "contacts".into(),
            object_id: "42".into(),
            event_id: event.map(str::to_string),
            modified_at_ms: at,
            received_at_ms: 0,
            origin,
            kind: ChangeKind::Updated,
            changed_property: None,
            snapshot: None,
        }
    }

    #[test]
    fn webhook_and_poll_of_same_version_share_a_dedupe_key() {
        let hook = change(Some("9"), 1_000, ChangeOrigin::Webhook);
        let poll = change(None, 1_000, ChangeOrigin::Poll);
        let shared: Vec<_> = hook
            .dedupe_keys()
            .into_iter()
            .filter(|k| poll.dedupe_keys().contains(k))
            .collect();
        assert_eq!(shared, vec!["version:hubspot:contacts:42@1000".to_string()]);
        assert_ne!(
            hook.dedupe_keys(),
            change(Some("9"), 2_000, ChangeOrigin::Webhook).dedupe_keys()[1..]
        );
    }
}
