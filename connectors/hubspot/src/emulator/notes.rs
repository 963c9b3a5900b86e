//! Notes (`/crm/v3/objects/notes`, object type `0-46`): the notes on a ticket's timeline,
//! which handoff reads as a support case's comments and writes as its handoff notes.
//!
//! HubSpot's notes guide (<https://developers.hubspot.com/docs/api-reference/crm-notes-v3/guide>,
//! stored copy read with the `search` tool **\[docs\]**): a note is created with `POST
//! /crm/v3/objects/notes`, its properties `hs_timestamp` (**required**: the note's time on the
//! timeline, epoch ms or UTC ISO 8601), `hs_note_body` (the text, **at most 65,536
//! characters**), `hubspot_owner_id` (the user shown as its creator), and an `associations`
//! array (`to.id`, `types: [{associationCategory: "HUBSPOT_DEFINED", associationTypeId}]`; note
//! → ticket is type `228`, in the emulator's association table). A create without
//! `hs_timestamp` or with a longer body is refused here with HubSpot's 400 `VALIDATION_ERROR`
//! body (the exact message HubSpot sends is not in the notes: unverified). Notes are read like
//! any object (`GET`, `batch/read`) and listed from a ticket with
//! `GET /crm/v3/objects/tickets/{id}?associations=notes` or
//! `GET /crm/v4/objects/tickets/{id}/associations/notes`.

use super::errors::ApiError;
use super::history::WriteSource;
use super::store::{EmulatorError, Selection};
use super::HubSpotEmulator;
use crate::objects::ObjectType;
use crate::time::format_ms;
use serde_json::{Map, Value};

/// The note's text property.
pub const BODY: &str = "hs_note_body";
/// The note's time on the timeline (required on create).
pub const TIMESTAMP: &str = "hs_timestamp";
/// The longest `hs_note_body` HubSpot takes, in characters.
pub const MAX_BODY_CHARS: usize = 65_536;

/// Refuses a note create HubSpot refuses: no `hs_timestamp`, or a body over
/// [`MAX_BODY_CHARS`].
pub(crate) fn check(properties: &Map<String, Value>) -> Result<(), ApiError> {
    let blank = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        _ => false,
    };
    if blank(properties.get(TIMESTAMP)) {
        return Err(ApiError::validation(format!(
            "Property values were not valid: {TIMESTAMP} is required to create a note"
        )));
    }
    let chars = properties
        .get(BODY)
        .and_then(Value::as_str)
        .map_or(0, |b| b.chars().count());
    if chars > MAX_BODY_CHARS {
        return Err(ApiError::validation(format!(
            "Property values were not valid: {BODY} is {chars} characters long; the limit is \
             {MAX_BODY_CHARS}"
        )));
    }
    Ok(())
}

impl HubSpotEmulator {
    /// Adds a note to ticket `ticket_id` as if a user logged it in the UI: `hs_note_body`
    /// `body`, `hs_timestamp` `at_ms`, `hubspot_owner_id` `owner_id` when given, associated with
    /// the ticket. Returns the note's id. [`EmulatorError::NotFound`] when the ticket is not
    /// there.
    pub fn add_note(
        &self,
        ticket_id: &str,
        body: &str,
        owner_id: Option<&str>,
        at_ms: i64,
    ) -> Result<String, EmulatorError> {
        let ticket: u64 = ticket_id.parse().map_err(|_| EmulatorError::NotFound {
            object_type: ObjectType::Tickets.name().into(),
            id: ticket_id.into(),
        })?;
        let mut props = Map::new();
        props.insert(BODY.into(), Value::String(body.into()));
        props.insert(TIMESTAMP.into(), Value::String(format_ms(at_ms)));
        if let Some(owner) = owner_id {
            props.insert("hubspot_owner_id".into(), Value::String(owner.into()));
        }
        let now = self.now_ms();
        let mut portal = self.portal();
        if portal.object(ObjectType::Tickets, ticket).is_none() {
            return Err(EmulatorError::NotFound {
                object_type: ObjectType::Tickets.name().into(),
                id: ticket_id.into(),
            });
        }
        let (id, _) = portal.create(ObjectType::Notes, &props, now, &WriteSource::seed());
        portal.associate(ObjectType::Notes, id, ObjectType::Tickets, ticket)?;
        Ok(id.to_string())
    }

    /// The notes associated with ticket `ticket_id`, as the API returns them (every property,
    /// with their ticket associations), by id (creation order). Empty for an unknown ticket.
    pub fn ticket_notes(&self, ticket_id: &str) -> Vec<Value> {
        let Ok(ticket) = ticket_id.parse::<u64>() else {
            return Vec::new();
        };
        let portal = self.portal();
        portal
            .associated(ObjectType::Tickets, ticket, ObjectType::Notes)
            .into_iter()
            .filter_map(|id| {
                let note = portal.object(ObjectType::Notes, id)?;
                serde_json::to_value(portal.render(
                    ObjectType::Notes,
                    note,
                    &Selection::All,
                    &[ObjectType::Tickets],
                ))
                .ok()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_note_needs_a_timestamp_and_a_body_within_the_limit() {
        let props = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert!(check(&props(json!({"hs_note_body": "x"}))).is_err());
        assert!(check(&props(json!({"hs_timestamp": "", "hs_note_body": "x"}))).is_err());
        assert!(check(&props(json!({"hs_timestamp": "1700000000000"}))).is_ok());
        let long = "é".repeat(MAX_BODY_CHARS);
        assert!(check(&props(json!({"hs_timestamp": "1", "hs_note_body": long}))).is_ok());
        let longer = format!("{long}!");
        assert!(check(&props(json!({"hs_timestamp": "1", "hs_note_body": longer}))).is_err());
    }

    #[test]
    fn notes_are_added_to_tickets_and_listed_from_them() {
        let emu = HubSpotEmulator::new(Default::default());
        let ticket = emu.create_object("tickets", Map::new());
        let other = emu.create_object("tickets", Map::new());
        let a = emu.add_note(&ticket, "first", Some("7"), 1_000).unwrap();
        emu.add_note(&other, "elsewhere", None, 2_000).unwrap();
        let b = emu.add_note(&ticket, "second", None, 3_000).unwrap();
        let notes = emu.ticket_notes(&ticket);
        let ids: Vec<&str> = notes.iter().filter_map(|n| n["id"].as_str()).collect();
        assert_eq!(ids, [a.as_str(), b.as_str()]);
        assert_eq!(notes[0]["properties"]["hs_note_body"], "first");
        assert_eq!(notes[0]["properties"]["hubspot_owner_id"], "7");
        assert!(matches!(
            emu.add_note("999", "x", None, 0),
            Err(EmulatorError::NotFound { .. })
        ));
        assert!(emu.ticket_notes("nope").is_empty());
    }
}
