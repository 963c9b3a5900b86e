//! A ticket's notes as a case's comments, and handoff's notes on a ticket:
//! [`HubSpotCrm`](super::HubSpotCrm)'s `case_comments` and `add_case_note`.
//!
//! * **Comments**: the ticket's notes, found through its associations
//!   (`GET /crm/v3/objects/tickets/{id}?associations=notes`, as the crate reads other
//!   associations), then `POST /crm/v3/objects/notes/batch/read` (≤ 100 ids a call) with
//!   `hs_note_body`, `hs_timestamp`, `hubspot_owner_id` (HubSpot notes guide,
//!   <https://developers.hubspot.com/docs/api-reference/crm-notes-v3/guide> **\[docs\]**), oldest
//!   first by `hs_timestamp` (then id). Notes are internal: `public` is always `false`; the
//!   author is `hubspot_owner_id` ("the user listed as the note creator", same guide). The body
//!   is `hs_note_body` as HubSpot stores it (whether notes written in HubSpot's UI hold HTML is
//!   not in the guide read: unverified, left as stored).
//! * **Notes**: the ticket's notes are read; one whose body carries
//!   [`note_marker`]`(key)` is the note. Otherwise `POST /crm/v3/objects/notes` with
//!   `hs_note_body` = body, a line break and the marker, `hs_timestamp` = now, and an
//!   association to the ticket (`associationCategory: HUBSPOT_DEFINED`, `associationTypeId`
//!   [`NOTE_TO_TICKET`]). A note has no unique property to upsert on, and the client retries a
//!   write whose answer was lost (a 5xx or a timeout after HubSpot committed), so a retry can
//!   write the note twice: after writing, the notes are read again and every marked note but
//!   the oldest is archived (`DELETE /crm/v3/objects/notes/{id}`; best effort, a failed archive
//!   is logged). The same happens when the first read finds several.
//! * Errors: a ticket that is not there answers the association read with 404:
//!   [`ConnectorError::NotFound`]. A note HubSpot refuses (a body over 65,536 characters,
//!   guide) is a 400: [`ConnectorError::Rejected`] with HubSpot's message.

use crate::client::HubSpotClient;
use crate::objects::ObjectType;
use crate::time::{format_ms, parse_ms};
use crate::wire::ApiObject;
use handoff_connector::crm::note_marker;
use handoff_connector::{now_ms, CaseComment, ConnectorError, IdempotencyKey, Record};
use reqwest::Method;
use serde_json::{json, Value};

/// The HubSpot-defined association type from a note to a ticket: `228` ("Note to ticket",
/// HubSpot's "Association type ID values" table, "Note to object"; page
/// <https://developers.hubspot.com/docs/api-reference/legacy/crm/associations/associate-records/guide>,
/// a stored copy read with the `search` tool **\[docs\]**; the reverse, ticket to note, is
/// `227`).
pub const NOTE_TO_TICKET: u32 = 228;

/// The note's text (notes guide).
pub const BODY_PROPERTY: &str = "hs_note_body";
/// The note's time on the timeline, required on create (notes guide).
pub const TIMESTAMP_PROPERTY: &str = "hs_timestamp";
/// The user shown as the note's creator (notes guide).
pub const OWNER_PROPERTY: &str = "hubspot_owner_id";

/// The ids of the notes associated with ticket `ticket`. [`ConnectorError::NotFound`] when
/// the ticket is not there.
async fn note_ids(client: &HubSpotClient, ticket: &str) -> Result<Vec<String>, ConnectorError> {
    let notes = ObjectType::Notes.name();
    let found = client
        .get_object_with_associations(
            ObjectType::Tickets.name(),
            ticket,
            &["hs_object_id"],
            &[notes],
        )
        .await?;
    Ok(found.associations.get(notes).cloned().unwrap_or_default())
}

fn comment(note: &Record) -> CaseComment {
    let created = note
        .prop(TIMESTAMP_PROPERTY)
        .or_else(|| note.prop(ObjectType::Notes.created_property()))
        .and_then(|t| parse_ms(&t));
    CaseComment {
        id: note.id.clone(),
        body: note.prop(BODY_PROPERTY).unwrap_or_default(),
        public: false,
        created_ms: created.unwrap_or_default(),
        author_id: note.prop(OWNER_PROPERTY).filter(|o| !o.is_empty()),
    }
}

/// The notes on ticket `ticket`, oldest first (see the module docs).
pub(super) async fn comments(
    client: &HubSpotClient,
    ticket: &str,
) -> Result<Vec<CaseComment>, ConnectorError> {
    let ids = note_ids(client, ticket).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let notes = client
        .batch_read(
            ObjectType::Notes.name(),
            &ids,
            &[BODY_PROPERTY, TIMESTAMP_PROPERTY, OWNER_PROPERTY],
        )
        .await?;
    let mut comments: Vec<CaseComment> = notes.iter().map(comment).collect();
    comments.sort_by_key(|c| (c.created_ms, c.id.parse::<u64>().unwrap_or(u64::MAX)));
    Ok(comments)
}

/// Adds the note `body` to ticket `ticket` once (see the module docs); returns its id.
pub(super) async fn add_note(
    client: &HubSpotClient,
    key: &IdempotencyKey,
    ticket: &str,
    body: &str,
) -> Result<String, ConnectorError> {
    let marker = note_marker(key);
    if let Some(found) = keep_one(client, &comments(client, ticket).await?, &marker).await {
        return Ok(found);
    }
    let request = json!({
        "properties": {
            BODY_PROPERTY: format!("{body}\n{marker}"),
            TIMESTAMP_PROPERTY: format_ms(now_ms()),
        },
        "associations": [{
            "to": { "id": ticket },
            "types": [{
                "associationCategory": "HUBSPOT_DEFINED",
                "associationTypeId": NOTE_TO_TICKET,
            }],
        }],
    });
    let path = format!("crm/v3/objects/{}", ObjectType::Notes.name());
    let created: ApiObject = client.api.json(Method::POST, &path, Some(&request)).await?;
    // A retried write may have written the note twice: keep the oldest.
    let now = comments(client, ticket).await?;
    Ok(keep_one(client, &now, &marker).await.unwrap_or(created.id))
}

/// The oldest of `comments` carrying `marker`, after archiving the others (best effort).
async fn keep_one(
    client: &HubSpotClient,
    comments: &[CaseComment],
    marker: &str,
) -> Option<String> {
    let mut marked = comments.iter().filter(|c| c.body.contains(marker));
    let kept = marked.next()?;
    for extra in marked {
        let path = format!(
            "crm/v3/objects/{}/{}",
            ObjectType::Notes.name(),
            url::form_urlencoded::byte_serialize(extra.id.as_bytes()).collect::<String>()
        );
        match client
            .api
            .json::<(), Value>(Method::DELETE, &path, None)
            .await
        {
            Ok(_) | Err(ConnectorError::NotFound { .. }) => {
                tracing::info!(vendor = crate::VENDOR, note = %extra.id, kept = %kept.id,
                    "archived a second copy of a ticket note (a retried write)");
            }
            Err(e) => tracing::warn!(vendor = crate::VENDOR, note = %extra.id, error = %e,
                "could not archive a second copy of a ticket note"),
        }
    }
    Some(kept.id.clone())
}
