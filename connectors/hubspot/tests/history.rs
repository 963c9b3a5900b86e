//! Property history and engagements in the emulator, read through HTTP and the client.
//!
//! * Every write lands in the property's history with its writer (`INTEGRATION` + app id for
//!   API calls, `CRM_UI` + user for a rep, `AUTOMATION_PLATFORM` for a workflow), returned
//!   newest first by `GET …/{id}?propertiesWithHistory=`, `batch/read` and
//!   `HubSpotClient::property_history`; each write's webhook carries the matching
//!   `changeSource`.
//! * Logging a call, email or meeting on a contact (API create with inline associations, or
//!   the Rust helper) moves the contact's `notes_last_contacted` forward — never back — and
//!   emits the contact's property-change webhook.

mod common;

use common::{props, with_receiver, Events, Harness};
use handoff_hubspot::time::format_ms;
use serde_json::{json, Value};
use std::time::Duration;

async fn drained(h: &Harness) {
    assert!(
        h.emu.wait_webhooks_drained(Duration::from_secs(10)).await,
        "webhooks not delivered"
    );
}

fn changes_of(events: &Events, object_id: &str, property: &str) -> Vec<Value> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| {
            e["subscriptionType"] == "contact.propertyChange"
                && e["objectId"].to_string().trim_matches('"') == object_id
                && e["propertyName"] == property
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn owner_history_records_each_writer_newest_first_with_matching_change_sources() {
    let (h, events) = with_receiver().await;
    let client = h.client();
    let id = h
        .emu
        .create_object("contacts", props(json!({"email": "ada@example.com"})));
    let app_id = h.emu.config().app_id;

    client
        .update_object("contacts", &id, &props(json!({"hubspot_owner_id": "101"})))
        .await
        .unwrap();
    h.emu
        .update_as_user(
            "contacts",
            &id,
            props(json!({"hubspot_owner_id": "202"})),
            5_550_001,
        )
        .unwrap();
    h.emu
        .update_as_workflow(
            "contacts",
            &id,
            props(json!({"hubspot_owner_id": "303"})),
            77,
        )
        .unwrap();
    // A write that changes nothing adds no entry.
    h.emu
        .update_as_user(
            "contacts",
            &id,
            props(json!({"hubspot_owner_id": "303"})),
            5_550_001,
        )
        .unwrap();

    // Over HTTP, as HubSpot answers `propertiesWithHistory`.
    let url = h.url(&format!(
        "crm/v3/objects/contacts/{id}?properties=email&propertiesWithHistory=hubspot_owner_id,never_set"
    ));
    let body: Value = h
        .http()
        .get(url)
        .header("authorization", h.bearer())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let history = body["propertiesWithHistory"]["hubspot_owner_id"]
        .as_array()
        .expect("history array");
    let values: Vec<&str> = history
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["303", "202", "101"], "newest first: {body}");
    assert_eq!(history[0]["sourceType"], "AUTOMATION_PLATFORM");
    assert_eq!(history[0]["sourceId"], "workflowId:77");
    assert_eq!(history[1]["sourceType"], "CRM_UI");
    assert_eq!(history[1]["sourceId"], "userId:5550001");
    assert_eq!(history[1]["updatedByUserId"], 5_550_001);
    assert_eq!(history[2]["sourceType"], "INTEGRATION");
    assert_eq!(history[2]["sourceId"], app_id.to_string());
    assert!(history[2].get("updatedByUserId").is_none());
    for e in history {
        let ts = e["timestamp"].as_str().unwrap();
        assert!(
            ts.ends_with('Z') && handoff_hubspot::time::parse_ms(ts).is_some(),
            "{ts}"
        );
    }
    assert!(
        body["propertiesWithHistory"].get("never_set").is_none(),
        "unknown names are ignored"
    );
    assert_eq!(body["properties"]["email"], "ada@example.com");
    // Without the parameter there is no history in the answer.
    let plain: Value = h
        .http()
        .get(h.url(&format!("crm/v3/objects/contacts/{id}")))
        .header("authorization", h.bearer())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(plain.get("propertiesWithHistory").is_none(), "{plain}");

    // batch/read with `propertiesWithHistory`.
    let batch: Value = h
        .http()
        .post(h.url("crm/v3/objects/contacts/batch/read"))
        .header("authorization", h.bearer())
        .json(&json!({"inputs": [{"id": id}], "properties": [], "propertiesWithHistory": ["hubspot_owner_id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        batch["results"][0]["propertiesWithHistory"]["hubspot_owner_id"],
        body["propertiesWithHistory"]["hubspot_owner_id"]
    );

    // The client's one-property read.
    let via_client = client
        .property_history("contacts", &id, "hubspot_owner_id")
        .await
        .unwrap();
    assert_eq!(via_client.len(), 3);
    assert_eq!(via_client[0].source_type, "AUTOMATION_PLATFORM");
    assert_eq!(via_client[1].updated_by_user_id, Some(5_550_001));
    assert_eq!(
        via_client[2].source_id.as_deref(),
        Some(app_id.to_string().as_str())
    );
    assert!(via_client[0].timestamp_ms() >= via_client[2].timestamp_ms());
    assert_eq!(
        via_client,
        h.emu.property_history("contacts", &id, "hubspot_owner_id")
    );
    assert!(client
        .property_history("contacts", &id, "firstname")
        .await
        .unwrap()
        .is_empty());

    // Each changing write emitted its webhook with the writer's changeSource.
    drained(&h).await;
    let sources: Vec<String> = changes_of(&events, &id, "hubspot_owner_id")
        .iter()
        .map(|e| e["changeSource"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sources, ["API", "CRM_UI", "AUTOMATION_PLATFORM"]);
}

#[tokio::test]
async fn logging_a_call_email_or_meeting_moves_last_contacted_forward_only() {
    let (h, events) = with_receiver().await;
    let contact = h
        .emu
        .create_object("contacts", props(json!({"email": "bo@example.com"})));
    let other = h
        .emu
        .create_object("contacts", props(json!({"email": "cy@example.com"})));
    let t1 = 1_900_000_000_000_i64;

    // A call created through the API with an inline association (HubSpot-defined 194).
    let resp = h
        .http()
        .post(h.url("crm/v3/objects/calls"))
        .header("authorization", h.bearer())
        .json(&json!({
            "properties": {"hs_timestamp": format_ms(t1), "hs_call_status": "COMPLETED"},
            "associations": [{"to": {"id": contact}, "types": [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}
            ]}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let call: Value = resp.json().await.unwrap();
    assert!(call["properties"]["hs_createdate"].is_string(), "{call}");
    let last =
        |id: &str| h.emu.get("contacts", id).unwrap()["properties"]["notes_last_contacted"].clone();
    assert_eq!(last(&contact), json!(format_ms(t1)));
    assert_eq!(last(&other), Value::Null, "only associated contacts move");
    let hist = h
        .emu
        .property_history("contacts", &contact, "notes_last_contacted");
    assert_eq!(hist[0].source_type, "CALCULATED");

    // An older meeting (epoch-ms hs_timestamp) does not move it back; a later email does.
    h.emu
        .log_engagement("meetings", &contact, t1 - 60_000, Default::default())
        .unwrap();
    assert_eq!(last(&contact), json!(format_ms(t1)));
    h.emu
        .log_engagement("emails", &contact, t1 + 60_000, Default::default())
        .unwrap();
    assert_eq!(last(&contact), json!(format_ms(t1 + 60_000)));

    // A wrong association shape is refused and creates nothing.
    let bad = h
        .http()
        .post(h.url("crm/v3/objects/meetings"))
        .header("authorization", h.bearer())
        .json(&json!({
            "properties": {"hs_timestamp": format_ms(t1)},
            "associations": [{"to": {"id": other}, "types": [{"associationTypeId": 200}]}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(h.emu.objects("meetings").len(), 1);
    assert_eq!(last(&other), Value::Null);

    // Two moves, two property-change webhooks; no webhook for the engagements themselves.
    drained(&h).await;
    let moves = changes_of(&events, &contact, "notes_last_contacted");
    assert_eq!(moves.len(), 2, "{moves:?}");
    assert_eq!(moves[0]["propertyValue"], format_ms(t1));
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .all(|e| !e["subscriptionType"].as_str().unwrap().starts_with("call.")));
    assert!(h
        .emu
        .log_engagement("deals", &contact, t1, Default::default())
        .is_err());
}
