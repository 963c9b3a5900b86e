//! Engagements (calls, emails, meetings) and the contact property they move.
//!
//! HubSpot's calculated contact property `notes_last_contacted` ("Last contacted") holds the
//! time of the latest call, sales email or meeting logged on the contact (HubSpot's default
//! contact properties: "Last contacted — the last time a call, sales email, or meeting was
//! logged for the contact"; knowledge-base text as remembered **[unverified wording]**).
//! Creating an engagement with `hs_timestamp` and an association to contacts
//! (`associations: [{to: {id}, types: [{associationCategory: "HUBSPOT_DEFINED",
//! associationTypeId: 194}]}]` for a call; spec `PublicAssociationsForObject` /
//! `AssociationSpec`) therefore sets each associated contact's `notes_last_contacted` to the
//! engagement's time when that is later than the current value, as a `CALCULATED` write that
//! emits the contact's `contact.propertyChange` webhook.

use super::history::WriteSource;
use super::store::{EventDraft, Portal};
use crate::objects::ObjectType;
use crate::time::{format_ms, parse_ms};
use serde_json::{Map, Value};

/// The contact property HubSpot calculates from logged engagements.
pub const LAST_CONTACTED: &str = "notes_last_contacted";

/// The engagement's activity time property (ISO 8601 or epoch ms).
pub const ACTIVITY_TIME: &str = "hs_timestamp";

/// After engagement `id` of `kind` was created (and associated): moves the associated
/// contacts' [`LAST_CONTACTED`] forward to its `hs_timestamp` (or `now_ms` when it has none).
/// Returns the contacts' property-change events. Nothing for a non-engagement.
pub(crate) fn on_created(
    portal: &mut Portal,
    kind: ObjectType,
    id: u64,
    now_ms: i64,
) -> Vec<EventDraft> {
    if !kind.is_engagement() {
        return Vec::new();
    }
    let Some(obj) = portal.object(kind, id) else {
        return Vec::new();
    };
    let at_ms = obj
        .props
        .get(ACTIVITY_TIME)
        .and_then(|v| parse_ms(v))
        .unwrap_or(now_ms);
    let mut events = Vec::new();
    for contact in portal.associated(kind, id, ObjectType::Contacts) {
        let current = portal
            .object(ObjectType::Contacts, contact)
            .and_then(|c| c.props.get(LAST_CONTACTED))
            .and_then(|v| parse_ms(v));
        if current.is_some_and(|c| c >= at_ms) {
            continue;
        }
        let mut props = Map::new();
        props.insert(LAST_CONTACTED.into(), Value::String(format_ms(at_ms)));
        if let Ok(ev) = portal.update(
            ObjectType::Contacts,
            contact,
            &props,
            now_ms,
            &WriteSource::calculated(),
        ) {
            events.extend(ev);
        }
    }
    events
}
