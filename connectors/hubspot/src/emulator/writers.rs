//! Writing as someone else, and what those writes leave behind: the control methods tests use
//! to play a rep in the UI, a workflow, an import or a logged call behind handoff's back, and to
//! read a property's history without HTTP. See [`super::history`] for the sources each writer
//! records and [`super::engagements`] for "Last contacted".

use super::history::WriteSource;
use super::store::Portal;
use super::{engagements, parse_id, parse_kind, EmulatorError, HubSpotEmulator};
use crate::objects::ObjectType;
use serde_json::{Map, Value};

impl HubSpotEmulator {
    /// Sets properties as HubSpot user `user_id` editing the record in the UI: history
    /// `sourceType: CRM_UI`, `sourceId: userId:<id>`, `updatedByUserId`; webhook
    /// `changeSource: CRM_UI`. (An owner's user id is in `GET /crm/v3/owners` → `userId`.)
    pub fn update_as_user(
        &self,
        object_type: &str,
        id: &str,
        properties: Map<String, Value>,
        user_id: u64,
    ) -> Result<(), EmulatorError> {
        self.update_as(object_type, id, properties, &WriteSource::user(user_id))
    }

    /// Sets properties as workflow `workflow_id` (e.g. a marketing rotation): history
    /// `sourceType: AUTOMATION_PLATFORM`; webhook `changeSource: AUTOMATION_PLATFORM`.
    pub fn update_as_workflow(
        &self,
        object_type: &str,
        id: &str,
        properties: Map<String, Value>,
        workflow_id: u64,
    ) -> Result<(), EmulatorError> {
        self.update_as(
            object_type,
            id,
            properties,
            &WriteSource::workflow(workflow_id),
        )
    }

    /// Sets properties as any writer (e.g. [`WriteSource::other`]`("IMPORT")`), recording
    /// history and emitting one `….propertyChange` webhook per changed property.
    pub fn update_as(
        &self,
        object_type: &str,
        id: &str,
        properties: Map<String, Value>,
        source: &WriteSource,
    ) -> Result<(), EmulatorError> {
        let kind = parse_kind(object_type)?;
        let n = parse_id(kind, id)?;
        let events = self
            .portal()
            .update(kind, n, &properties, self.now_ms(), source)?;
        self.emit(events);
        Ok(())
    }

    /// Logs an engagement (`calls`, `emails` or `meetings`) at `at_ms` (UTC ms, its
    /// `hs_timestamp`) on a contact, as a rep would in the UI, with `properties` added (e.g.
    /// `hs_call_status`); the contact's `notes_last_contacted` moves forward and its
    /// `contact.propertyChange` webhook is emitted. Returns the engagement's id.
    pub fn log_engagement(
        &self,
        object_type: &str,
        contact_id: &str,
        at_ms: i64,
        mut properties: Map<String, Value>,
    ) -> Result<String, EmulatorError> {
        let kind = parse_kind(object_type)?;
        if !kind.is_engagement() {
            return Err(EmulatorError::Invalid(format!(
                "{kind} is not an engagement type (calls, emails, meetings)"
            )));
        }
        let contact = parse_id(ObjectType::Contacts, contact_id)?;
        properties.insert(
            engagements::ACTIVITY_TIME.into(),
            Value::String(crate::time::format_ms(at_ms)),
        );
        let now = self.now_ms();
        let mut portal = self.portal();
        if portal.object(ObjectType::Contacts, contact).is_none() {
            return Err(EmulatorError::NotFound {
                object_type: "contacts".into(),
                id: contact_id.into(),
            });
        }
        let (id, mut events) = portal.create(kind, &properties, now, &WriteSource::seed());
        portal.associate(kind, id, ObjectType::Contacts, contact)?;
        events.extend(engagements::on_created(&mut portal, kind, id, now));
        drop(portal);
        self.emit(events);
        Ok(id.to_string())
    }

    /// The history of one property of a record, newest first, as
    /// `propertiesWithHistory.<property>` returns it (empty if never written).
    pub fn property_history(
        &self,
        object_type: &str,
        id: &str,
        property: &str,
    ) -> Vec<crate::wire::ValueWithTimestamp> {
        let (Ok(kind), Ok(n)) = (parse_kind(object_type), id.parse::<u64>()) else {
            return Vec::new();
        };
        let portal = self.portal();
        portal
            .object(kind, n)
            .map(|o| {
                Portal::history(o, &[property.to_string()])
                    .remove(property)
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }
}
