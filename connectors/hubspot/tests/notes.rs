//! A ticket's notes as a support case's comments, and handoff's notes on a ticket, through
//! `HubSpotCrm` against the emulator.

mod common;

use common::{props, Harness};
use handoff_connector::crm::note_marker;
use handoff_connector::{ConnectorError, Crm, ErrorClass, IdempotencyKey, RecordKey};
use handoff_hubspot::{HubSpotClient, HubSpotCrm};
use serde_json::{json, Value};

/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;

/// The CRM over the emulator, its client retrying a failed call twice.
fn crm(h: &Harness) -> HubSpotCrm {
    let mut config = h.config();
    config.max_retries = 2;
    HubSpotCrm::new(
        HubSpotClient::new(&config).unwrap(),
        1,
        "https://app.hubspot.com/contacts/{portal_id}/record/{object_type_id}/{id}",
    )
}

fn ticket(id: &str) -> RecordKey {
    RecordKey::new("hubspot", "tickets", id)
}

fn new_ticket(h: &Harness) -> String {
    h.emu.create_object(
        "tickets",
        props(json!({"subject": "Printer on fire", "hs_ticket_priority": "HIGH"})),
    )
}

/// The ids of the ticket's notes carrying `key`'s marker.
fn marked(h: &Harness, ticket: &str, key: &IdempotencyKey) -> Vec<String> {
    h.emu
        .ticket_notes(ticket)
        .iter()
        .filter(|n| {
            n["properties"]["hs_note_body"]
                .as_str()
                .is_some_and(|b| b.contains(&note_marker(key)))
        })
        .filter_map(|n| n["id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_tickets_notes_are_its_comments_oldest_first_and_it_has_no_conversation() {
    let h = Harness::unlimited().await;
    let crm = crm(&h);
    let id = new_ticket(&h);
    let other = new_ticket(&h);
    let owner = h.emu.add_owner("agent@example.com", "Ada", "Agent", None);
    let later = h
        .emu
        .add_note(&id, "Sent a technician.", Some(&owner), T0 + 60_000)
        .unwrap();
    let first = h
        .emu
        .add_note(&id, "Customer sounds upset.", None, T0)
        .unwrap();
    h.emu.add_note(&other, "Elsewhere.", None, T0).unwrap();

    let comments = crm.case_comments(&ticket(&id)).await.unwrap();
    let ids: Vec<&str> = comments.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [first.as_str(), later.as_str()], "by hs_timestamp");
    assert_eq!(comments[0].body, "Customer sounds upset.");
    assert_eq!(
        (comments[0].created_ms, comments[1].created_ms),
        (T0, T0 + 60_000)
    );
    assert!(comments.iter().all(|c| !c.public), "notes are internal");
    assert_eq!(comments[0].author_id, None);
    assert_eq!(comments[1].author_id.as_deref(), Some(owner.as_str()));

    assert!(crm
        .case_comments(&ticket(&new_ticket(&h)))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(crm.case_conversation(&ticket(&id)).await.unwrap(), None);
}

#[tokio::test]
async fn a_note_is_added_once_per_key() {
    let h = Harness::unlimited().await;
    let crm = crm(&h);
    let id = new_ticket(&h);
    h.emu.add_note(&id, "Looking into it.", None, T0).unwrap();
    let key = IdempotencyKey::new("support:hubspot:tickets:1:handoff-note");
    let body = "Handed to Tier 2: printer fire.";
    let first = crm.add_case_note(&key, &ticket(&id), body).await.unwrap();
    let second = crm.add_case_note(&key, &ticket(&id), body).await.unwrap();
    assert_eq!(first, second);

    let notes = h.emu.ticket_notes(&id);
    assert_eq!(notes.len(), 2, "the agent's note and one of handoff's");
    let note = notes.iter().find(|n| n["id"] == json!(first)).unwrap();
    assert_eq!(
        note["properties"]["hs_note_body"],
        json!(format!("{body}\n{}", note_marker(&key)))
    );
    assert!(note["properties"]["hs_timestamp"].is_string());
    assert_eq!(
        note["associations"]["tickets"]["results"][0]["id"],
        json!(id),
        "associated with the ticket"
    );

    let other = IdempotencyKey::new("support:hubspot:tickets:1:second-note");
    let third = crm.add_case_note(&other, &ticket(&id), body).await.unwrap();
    assert_ne!(third, first);
    assert_eq!(h.emu.ticket_notes(&id).len(), 3);
    let read = crm.case_comments(&ticket(&id)).await.unwrap();
    assert_eq!(read.len(), 3);
    assert!(read
        .iter()
        .any(|c| c.id == first && c.body.ends_with(&note_marker(&key))));
}

#[tokio::test]
async fn a_lost_write_answer_still_leaves_one_note() {
    let h = Harness::unlimited().await;
    let crm = crm(&h);
    let id = new_ticket(&h);

    // The POST is performed, its answer lost; the client's retry writes it again.
    let key = IdempotencyKey::new("support:hubspot:tickets:2:note");
    h.emu.lose_next_write_answers(1);
    let note = crm
        .add_case_note(&key, &ticket(&id), "Escalated.")
        .await
        .unwrap();
    assert_eq!(marked(&h, &id, &key), std::slice::from_ref(&note));
    assert_eq!(
        crm.add_case_note(&key, &ticket(&id), "Escalated.")
            .await
            .unwrap(),
        note
    );

    // Every try's answer lost (the client gives up after its retries): the daemon's retry
    // finds the copies and keeps the oldest.
    let key = IdempotencyKey::new("support:hubspot:tickets:2:second");
    h.emu.lose_next_write_answers(3);
    let err = crm
        .add_case_note(&key, &ticket(&id), "Called the customer.")
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retryable, "{err}");
    let copies = marked(&h, &id, &key);
    assert_eq!(copies.len(), 3, "each try was performed");
    let kept = crm
        .add_case_note(&key, &ticket(&id), "Called the customer.")
        .await
        .unwrap();
    assert_eq!(kept, copies[0], "the oldest copy stays");
    assert_eq!(marked(&h, &id, &key), [kept]);
    assert_eq!(h.emu.ticket_notes(&id).len(), 2);
}

#[tokio::test]
async fn a_note_on_a_missing_ticket_is_not_found_and_a_refused_one_rejected() {
    let h = Harness::unlimited().await;
    let crm = crm(&h);
    let key = IdempotencyKey::new("support:hubspot:tickets:3:note");
    let err = crm
        .add_case_note(&key, &ticket("987654"), "Hello?")
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::NotFound { .. }), "{err}");
    let err = crm.case_comments(&ticket("987654")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::NotFound { .. }), "{err}");

    let contact = h
        .emu
        .create_object("contacts", props(json!({"email": "a@b.c"})));
    let err = crm
        .add_case_note(&key, &RecordKey::new("hubspot", "contacts", &contact), "x")
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Config { .. }), "{err}");

    // HubSpot takes at most 65,536 characters in `hs_note_body` (notes guide).
    let id = new_ticket(&h);
    let err = crm
        .add_case_note(&key, &ticket(&id), &"x".repeat(65_536))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Rejected { status: 400, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("hs_note_body"), "{err}");
    assert!(h.emu.ticket_notes(&id).is_empty(), "nothing written");

    // A note without `hs_timestamp` is refused (notes guide: required).
    let answer = h
        .http()
        .post(h.url("/crm/v3/objects/notes"))
        .header("authorization", h.bearer())
        .json(&json!({"properties": {"hs_note_body": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["category"], "VALIDATION_ERROR");
}
