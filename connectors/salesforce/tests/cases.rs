//! A case's chat transcript, its comments and handoff's notes on it (NOTES-next S7), through
//! `SalesforceCrm` against the emulator.
#![cfg(feature = "emulator")]

mod common;

use common::{fields, Harness};
use handoff_connector::crm::note_marker;
use handoff_connector::{ChangeFeed, ConnectorError, Crm, ErrorClass, IdempotencyKey, RecordKey};
use serde_json::json;
use std::time::Duration;

/// 2026-11-19T15:00:00Z.
const T0: i64 = 1_795_100_400_000;

fn case_key(id: &str) -> RecordKey {
    RecordKey::new("salesforce", "Case", id)
}

/// A Case with every field the notes list for Case (§2.5, S7), linked to a new Account and
/// Contact.
fn seed_case(h: &Harness) -> String {
    let account = h.emu.create("Account", fields(json!({ "Name": "Acme" })));
    let contact = h.emu.create(
        "Contact",
        fields(json!({ "LastName": "Doe", "AccountId": account })),
    );
    let parent = h.emu.create("Case", fields(json!({ "Subject": "Parent" })));
    let owner = h.emu.add_user("agent@example.com", "Ada", "Agent");
    h.emu.create(
        "Case",
        fields(json!({
            "Subject": "Printer on fire", "Description": "Smoke since Monday",
            "Status": "New", "Priority": "High", "Origin": "Chat", "Type": "Problem",
            "Reason": "Breakdown", "IsEscalated": true, "SuppliedEmail": "doe@example.com",
            "AccountId": account, "ContactId": contact, "OwnerId": owner, "ParentId": parent,
        })),
    )
}

#[tokio::test]
async fn a_case_keeps_the_fields_the_notes_list_and_is_polled_by_the_feed() {
    let h = Harness::default().await;
    let id = seed_case(&h);
    let case = h.emu.get("Case", &id).unwrap();
    for (field, value) in [
        ("Subject", json!("Printer on fire")),
        ("Description", json!("Smoke since Monday")),
        ("Status", json!("New")),
        ("Priority", json!("High")),
        ("Origin", json!("Chat")),
        ("Type", json!("Problem")),
        ("Reason", json!("Breakdown")),
        ("IsEscalated", json!(true)),
        ("SuppliedEmail", json!("doe@example.com")),
        ("IsClosed", json!(false)),
    ] {
        assert_eq!(case[field], value, "{field}");
    }
    for lookup in ["AccountId", "ContactId", "OwnerId", "ParentId"] {
        assert!(
            case[lookup].as_str().is_some_and(|v| v.len() == 18),
            "{lookup}"
        );
    }

    let feed = h.feed(Duration::from_secs(60));
    let batch = feed.poll("Case", None).await.unwrap();
    let polled: Vec<&str> = batch.changes.iter().map(|c| c.object_id.as_str()).collect();
    assert!(polled.contains(&id.as_str()), "{polled:?}");
    let change = batch.changes.iter().find(|c| c.object_id == id).unwrap();
    assert_eq!(change.object_type, "Case");
}

#[tokio::test]
async fn the_newest_transcript_of_a_case_is_read_as_plain_text() {
    let h = Harness::default().await;
    let crm = h.crm();
    let case = seed_case(&h);
    let bare = h
        .emu
        .create("Case", fields(json!({ "Subject": "No chat" })));
    assert_eq!(crm.case_conversation(&case_key(&bare)).await.unwrap(), None);

    h.emu.set_clock(Some(T0));
    h.emu
        .add_transcript(&case, "<p>An older chat</p>", false, None)
        .unwrap();
    h.emu.set_clock(Some(T0 + 60_000));
    let newest = h
        .emu
        .add_transcript(
            &case,
            "<p align=\"center\">Chat Started: Thursday</p><p>( 1s ) Bot: Hi &amp; welcome\
             <br>( 4s ) Visitor: my printer &lt;HP&gt; is on fire<br/>( 9s ) Bot: \
             I&#39;ll get a person</p>",
            true,
            Some(T0 + 90_000),
        )
        .unwrap();
    let transcript = h.emu.get("LiveChatTranscript", &newest).unwrap();
    let stored = h.emu.get("Case", &case).unwrap();
    assert_eq!(transcript["CaseId"], json!(case));
    assert_eq!(transcript["AccountId"], stored["AccountId"]);
    assert_eq!(transcript["ContactId"], stored["ContactId"]);

    let chat = crm
        .case_conversation(&case_key(&case))
        .await
        .unwrap()
        .expect("the case came from a chat");
    assert_eq!(
        chat.body,
        "Chat Started: Thursday\n( 1s ) Bot: Hi & welcome\n( 4s ) Visitor: my printer <HP> \
         is on fire\n( 9s ) Bot: I'll get a person"
    );
    assert!(chat.is_bot);
    assert_eq!(chat.ended_ms, Some(T0 + 90_000));

    // The SOQL the connector sends, as the emulator answers it.
    let page = h
        .client()
        .query(&format!(
            "SELECT Id, Body FROM LiveChatTranscript WHERE CaseId = '{case}' \
             ORDER BY CreatedDate ASC LIMIT 5"
        ))
        .await
        .unwrap();
    assert_eq!(page.total_size, 2);
    assert_eq!(page.records[1]["Id"], json!(newest));
}

#[tokio::test]
async fn comments_come_oldest_first_with_their_public_flag_and_author() {
    let h = Harness::default().await;
    let crm = h.crm();
    let case = seed_case(&h);
    let other = h.emu.create("Case", fields(json!({ "Subject": "Other" })));
    let rep = h.emu.add_user("rep@example.com", "Rae", "Rep");
    let admin = h.emu.ui_user_id();
    h.emu.set_clock(Some(T0 + 60_000));
    let later = h
        .emu
        .add_case_comment(&rep, &case, "We sent a technician.", true)
        .unwrap();
    h.emu.set_clock(Some(T0));
    let first = h
        .emu
        .add_case_comment(&admin, &case, "Customer sounds upset.", false)
        .unwrap();
    let same_second = h
        .emu
        .add_case_comment(&rep, &case, "Called back.", false)
        .unwrap();
    h.emu
        .add_case_comment(&rep, &other, "Elsewhere.", true)
        .unwrap();

    let comments = crm.case_comments(&case_key(&case)).await.unwrap();
    let ids: Vec<&str> = comments.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [&first, &same_second, &later]);
    assert_eq!(comments[0].body, "Customer sounds upset.");
    assert!(!comments[0].public && !comments[1].public && comments[2].public);
    assert_eq!(comments[0].author_id.as_deref(), Some(admin.as_str()));
    assert_eq!(comments[2].author_id.as_deref(), Some(rep.as_str()));
    assert_eq!(
        (comments[0].created_ms, comments[2].created_ms),
        (T0, T0 + 60_000)
    );
    assert!(crm
        .case_comments(&case_key(&seed_case(&h)))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(h.emu.case_comments(&case).len(), 3);
}

#[tokio::test]
async fn a_note_is_added_once_per_key() {
    let h = Harness::default().await;
    let crm = h.crm();
    let case = seed_case(&h);
    let rep = h.emu.add_user("rep@example.com", "Rae", "Rep");
    h.emu
        .add_case_comment(&rep, &case, "Looking into it.", true)
        .unwrap();
    let key = IdempotencyKey::new("support:salesforce:Case:1:handoff-note");
    let body = "Handed to Tier 2: printer fire.";
    let first = crm
        .add_case_note(&key, &case_key(&case), body)
        .await
        .unwrap();
    let second = crm
        .add_case_note(&key, &case_key(&case), body)
        .await
        .unwrap();
    assert_eq!(first, second);

    let stored = h.emu.case_comments(&case);
    assert_eq!(stored.len(), 2, "the rep's comment and one note");
    let note = stored.iter().find(|c| c["Id"] == json!(first)).unwrap();
    assert_eq!(
        note["CommentBody"],
        json!(format!("{body}\n{}", note_marker(&key)))
    );
    assert_eq!(note["IsPublished"], json!(false));
    assert_eq!(note["ParentId"], json!(case));
    assert_eq!(note["CreatedById"], json!(h.emu.integration_user_id()));

    let other = IdempotencyKey::new("support:salesforce:Case:1:second-note");
    let third = crm
        .add_case_note(&other, &case_key(&case), body)
        .await
        .unwrap();
    assert_ne!(third, first);
    assert_eq!(h.emu.case_comments(&case).len(), 3);
    let read = crm.case_comments(&case_key(&case)).await.unwrap();
    assert!(read.iter().all(|c| c.id != first || !c.public));
}

fn marked(h: &Harness, case: &str, key: &IdempotencyKey) -> Vec<String> {
    h.emu
        .case_comments(case)
        .iter()
        .filter(|c| {
            c["CommentBody"]
                .as_str()
                .is_some_and(|b| b.contains(&note_marker(key)))
        })
        .filter_map(|c| c["Id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_lost_write_answer_still_leaves_one_note() {
    let h = Harness::default().await;
    let crm = h.crm();
    let case = seed_case(&h);

    // The POST is performed, its answer lost; the client's retry writes it again.
    let key = IdempotencyKey::new("support:salesforce:Case:2:note");
    h.emu.lose_next_write_answers(1);
    let id = crm
        .add_case_note(&key, &case_key(&case), "Escalated.")
        .await
        .unwrap();
    assert_eq!(marked(&h, &case, &key), std::slice::from_ref(&id));
    let again = crm
        .add_case_note(&key, &case_key(&case), "Escalated.")
        .await
        .unwrap();
    assert_eq!(again, id);

    // Every try's answer lost (the client gives up after its retries): the daemon's retry
    // finds the copies and keeps the oldest.
    let key = IdempotencyKey::new("support:salesforce:Case:2:second");
    h.emu.lose_next_write_answers(3);
    let err = crm
        .add_case_note(&key, &case_key(&case), "Called the customer.")
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retryable, "{err}");
    let copies = marked(&h, &case, &key);
    assert_eq!(copies.len(), 3, "each try was performed");
    let kept = crm
        .add_case_note(&key, &case_key(&case), "Called the customer.")
        .await
        .unwrap();
    assert_eq!(kept, copies[0], "the oldest copy stays");
    assert_eq!(marked(&h, &case, &key), [kept]);
    assert_eq!(h.emu.case_comments(&case).len(), 2);
}

#[tokio::test]
async fn a_note_on_a_missing_case_is_not_found() {
    let h = Harness::default().await;
    let crm = h.crm();
    let key = IdempotencyKey::new("support:salesforce:Case:3:note");

    let gone = h.emu.create("Case", fields(json!({ "Subject": "Spam" })));
    h.emu.delete("Case", &gone).unwrap();
    let err = crm
        .add_case_note(&key, &case_key(&gone), "Hello?")
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains(&gone), "{err}");

    // A CaseComment naming no Case is refused as a bad reference, naming the field.
    let err = h
        .client()
        .create(
            "CaseComment",
            &fields(json!({ "ParentId": gone, "CommentBody": "x" })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Rejected { status: 400, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("INVALID_CROSS_REFERENCE_KEY") && text.contains("ParentId"),
        "{text}"
    );
    let account = h
        .emu
        .create("Account", fields(json!({ "Name": "Not a case" })));
    let err = crm
        .add_case_note(
            &key,
            &RecordKey::new("salesforce", "Account", &account),
            "x",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Config { .. }), "{err}");
    assert!(h.emu.objects("CaseComment").is_empty(), "nothing written");
}
