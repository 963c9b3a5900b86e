//! `SlackClient` against the emulator: idempotent DMs, error mapping, 429 handling, history
//! paging and `chat.update`.

mod common;

use common::{client, emulator_config, start};
use handoff_connector::emulator::Fault;
use handoff_connector::{ConnectorError, ErrorClass, IdempotencyKey};
use handoff_slack::blocks::{claimed_dm, handoff_dm};
use handoff_slack::emulator::api_base_url;
use handoff_slack::{Message, MessageMetadata};
use std::time::{Duration, Instant};

fn crm_url() -> url::Url {
    "https://app.hubspot.com/contacts/1/record/0-1/42"
        .parse()
        .unwrap()
}

#[tokio::test]
async fn send_dm_once_twice_with_the_same_key_sends_one_message() {
    let env = start(emulator_config()).await;
    let rep = env.emulator.add_user("ana@example.com", "Ana Rep");
    let key = IdempotencyKey::new("lead-route:hubspot:contacts:42");
    let blocks = handoff_dm("*New lead*: Bo", "hubspot:contacts:42", &crm_url());

    let first = env
        .client
        .send_dm_once("ana@example.com", &key, "New lead: Bo", &blocks)
        .await
        .unwrap();
    let second = env
        .client
        .send_dm_once("ana@example.com", &key, "New lead: Bo", &blocks)
        .await
        .unwrap();
    assert_eq!(first, second);
    assert!(first.channel.starts_with('D'));

    let dms = env.emulator.dm_messages_for("ana@example.com");
    assert_eq!(dms.len(), 1);
    let m = &dms[0];
    assert_eq!(m["ts"], first.ts.as_str());
    assert_eq!(m["metadata"]["event_type"], "handoff_notification");
    assert_eq!(
        m["metadata"]["event_payload"]["idempotency_key"],
        key.as_str()
    );
    assert_eq!(
        m["blocks"][1]["elements"][0]["value"],
        "hubspot:contacts:42"
    );
    assert_ne!(m["user"], rep.as_str(), "the bot posts, not the rep");

    // A different key is a different notification.
    let other = env
        .client
        .send_dm_once("ana@example.com", &IdempotencyKey::new("k2"), "x", &[])
        .await
        .unwrap();
    assert_ne!(other.ts, first.ts);
    assert_eq!(env.emulator.dm_messages_for("ana@example.com").len(), 2);
}

#[tokio::test]
async fn unknown_email_is_not_found() {
    let env = start(emulator_config()).await;
    let err = env
        .client
        .lookup_user_by_email("nobody@example.com")
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::NotFound { .. }), "{err:?}");
    let err = env
        .client
        .send_dm_once("nobody@example.com", &IdempotencyKey::new("k"), "x", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::NotFound { .. }));
    assert!(env.emulator.messages().is_empty());
}

#[tokio::test]
async fn ok_false_bodies_map_to_error_classes() {
    let env = start(emulator_config()).await;
    env.emulator.add_user("ana@example.com", "Ana");

    let wrong = client(api_base_url(&env.running), "xoxb-wrong");
    let err = wrong.auth_test().await.unwrap_err();
    match &err {
        ConnectorError::Auth { message, .. } => assert_eq!(message, "invalid_auth"),
        other => panic!("expected Auth, got {other:?}"),
    }

    let err = env
        .client
        .post_message(&Message {
            channel: "C0NOWHERE".into(),
            text: "hi".into(),
            blocks: vec![],
            metadata: None,
        })
        .await
        .unwrap_err();
    match &err {
        ConnectorError::Rejected { message, .. } => assert_eq!(message, "channel_not_found"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(err.class(), ErrorClass::Permanent);

    let user = env
        .client
        .lookup_user_by_email("ana@example.com")
        .await
        .unwrap();
    let dm = env.client.open_dm(&user.id).await.unwrap();
    let err = env
        .client
        .update_message(&dm, "1.000001", "x", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Rejected { message, .. } if message == "message_not_found")
    );

    // Two 500s, then success: retried as transient.
    env.emulator.faults().inject(Fault::ServerError, 2);
    let info = env.client.auth_test().await.unwrap();
    assert_eq!(info.team_id, "T0TEST0001");
    assert_eq!(env.emulator.faults().served(), 2);
}

#[tokio::test]
async fn retry_after_is_honoured_on_429() {
    let env = start(emulator_config()).await;
    env.emulator.add_user("ana@example.com", "Ana");
    env.emulator.faults().inject(
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let started = Instant::now();
    let user = env
        .client
        .lookup_user_by_email("ana@example.com")
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(user.profile.email.as_deref(), Some("ana@example.com"));
    assert_eq!(env.emulator.faults().served(), 1);
    assert!(
        waited >= Duration::from_millis(950),
        "client retried after {waited:?}, before Retry-After: 1"
    );
}

#[tokio::test]
async fn history_pages_with_cursors_and_find_by_key_follows_them() {
    let env = start(emulator_config()).await;
    env.emulator.set_rate_limits(false);
    let rep = env.emulator.add_user("ana@example.com", "Ana");
    let dm = env.client.open_dm(&rep).await.unwrap();
    let mut posted = Vec::new();
    for i in 0..7 {
        let key = IdempotencyKey::new(format!("key-{i}"));
        let p = env
            .client
            .post_message(&Message {
                channel: dm.clone(),
                text: format!("message {i}"),
                blocks: vec![],
                metadata: Some(MessageMetadata::handoff(&key)),
            })
            .await
            .unwrap();
        posted.push(p.ts);
    }

    // Raw paging: 3 + 3 + 1, newest first, no repeats.
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let mut url = env.api("conversations.history");
        url.query_pairs_mut()
            .append_pair("channel", &dm)
            .append_pair("limit", "3");
        if !cursor.is_empty() {
            url.query_pairs_mut().append_pair("cursor", &cursor);
        }
        let page: serde_json::Value = http
            .get(url)
            .bearer_auth(common::TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["ok"], true);
        pages += 1;
        for m in page["messages"].as_array().unwrap() {
            assert!(
                m.get("metadata").is_none(),
                "metadata only with include_all_metadata"
            );
            seen.push(m["ts"].as_str().unwrap().to_string());
        }
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(page["has_more"], !cursor.is_empty());
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 3);
    let mut newest_first = posted.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    // The client pages too: the oldest message is on the last page of 2.
    let paging = env.client.clone().with_history_page_limit(2);
    let found = paging
        .find_message_by_key(&dm, &IdempotencyKey::new("key-0"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.ts, posted[0]);
    assert!(paging
        .find_message_by_key(&dm, &IdempotencyKey::new("key-missing"))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn chat_update_changes_the_stored_message_and_keeps_metadata() {
    let env = start(emulator_config()).await;
    env.emulator.add_user("ana@example.com", "Ana");
    let key = IdempotencyKey::new("lead-route:hubspot:contacts:42");
    let posted = env
        .client
        .send_dm_once(
            "ana@example.com",
            &key,
            "New lead: Bo",
            &handoff_dm("*New lead*: Bo", "hubspot:contacts:42", &crm_url()),
        )
        .await
        .unwrap();
    let updated = env
        .client
        .update_message(
            &posted.channel,
            &posted.ts,
            "New lead: Bo (claimed)",
            &claimed_dm("*New lead*: Bo", "U0TEST", &crm_url()),
        )
        .await
        .unwrap();
    assert_eq!(updated, posted);

    let stored = &env.emulator.messages()[0];
    assert_eq!(stored["text"], "New lead: Bo (claimed)");
    assert!(stored["blocks"][1]["elements"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Claimed by <@U0TEST>"));
    assert_eq!(stored["blocks"][2]["elements"].as_array().unwrap().len(), 1);
    assert!(stored["edited"]["ts"].is_string());
    assert_eq!(
        stored["metadata"]["event_payload"]["idempotency_key"],
        key.as_str()
    );
    // Still found by key after the edit, so a retry does not re-send.
    assert_eq!(
        env.client
            .find_message_by_key(&posted.channel, &key)
            .await
            .unwrap(),
        Some(posted)
    );
}
