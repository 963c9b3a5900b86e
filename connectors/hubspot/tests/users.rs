//! The users object (`/crm/v3/objects/users`, `0-115`) in the emulator, read through HTTP and
//! the client: what the daemon's out-of-office refresher relies on.
//!
//! * Seeded users list, read and search like any CRM object, with `hs_email`,
//!   `hs_given_name`, `hs_family_name`, `hs_availability_status`, and the owner's
//!   `hs_internal_user_id` when an owner has the same email.
//! * A user going away in the UI ([`HubSpotEmulator::set_availability`]) is a `CRM_UI` write by
//!   that user in the property's history, and a search on `hs_availability_status` sees it;
//!   an API `PATCH` is an `INTEGRATION` write.
//! * Users emit no webhooks and are not written to state files.

mod common;

use common::{props, with_receiver, Harness};
use handoff_hubspot::emulator::Availability;
use handoff_hubspot::search::{Filter, FilterGroup, Operator, SearchRequest};
use serde_json::{json, Value};
use std::time::Duration;

async fn get(h: &Harness, path: &str) -> (u16, Value) {
    let r = h
        .http()
        .get(h.url(path))
        .header("authorization", h.bearer())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn away_search() -> SearchRequest {
    let mut f = Filter::new("hs_availability_status", Operator::In, "");
    f.value = None;
    f.values = Some(vec![json!("away")]);
    SearchRequest {
        filter_groups: vec![FilterGroup { filters: vec![f] }],
        properties: vec!["hs_email".into(), "hs_availability_status".into()],
        limit: Some(200),
        ..Default::default()
    }
}

#[tokio::test]
async fn seeded_users_list_read_and_search_with_their_identity_and_availability() {
    let h = Harness::unlimited().await;
    let owner = h
        .emu
        .add_owner("ada@example.com", "Ada", "Lovelace", Some("West"));
    let owner_user_id = h.emu.owners()[0]["userId"].clone();
    let ada = h.emu.add_user(
        "ada@example.com",
        "Ada",
        "Lovelace",
        Availability::Available,
    );
    let bob = h
        .emu
        .add_user("bob@example.com", "Bob", "Noyce", Availability::Away);
    assert_eq!(h.emu.user_id("ADA@example.com").as_deref(), Some(&ada[..]));
    assert_eq!(h.emu.user_id("nobody@example.com"), None);

    // List, by name and by object type id.
    for path in [
        "crm/v3/objects/users?properties=hs_email,hs_availability_status",
        "crm/v3/objects/0-115?properties=hs_email,hs_availability_status",
    ] {
        let (status, body) = get(&h, path).await;
        assert_eq!(status, 200, "{body}");
        let rows: Vec<(&str, &str, &str)> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["id"].as_str().unwrap(),
                    u["properties"]["hs_email"].as_str().unwrap(),
                    u["properties"]["hs_availability_status"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (&ada[..], "ada@example.com", "available"),
                (&bob[..], "bob@example.com", "away")
            ]
        );
        let first = &body["results"][0];
        assert_eq!(first["properties"]["hs_object_id"], ada.as_str());
        assert!(first["properties"]["hs_createdate"].is_string(), "{first}");
        assert!(first["properties"]["hs_lastmodifieddate"].is_string());
    }

    // Read with the default properties: who the user is; the owner link when there is one.
    let (status, body) = get(&h, &format!("crm/v3/objects/users/{ada}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["properties"]["hs_given_name"], "Ada");
    assert_eq!(body["properties"]["hs_family_name"], "Lovelace");
    let client = h.client();
    let record = client
        .get_object("users", &ada, &["hs_internal_user_id", "hubspot_owner_id"])
        .await
        .unwrap();
    assert_eq!(record.object_type, "users");
    assert_eq!(
        record.properties["hs_internal_user_id"],
        json!(owner_user_id.to_string())
    );
    assert_eq!(record.properties["hubspot_owner_id"], json!(owner));
    let bob_record = client
        .get_object("users", &bob, &["hs_internal_user_id"])
        .await
        .unwrap();
    assert_eq!(bob_record.properties["hs_internal_user_id"], Value::Null);

    // Search by availability, as the out-of-office refresher does.
    let page = client.search("users", &away_search()).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.results[0].id, bob);
    assert_eq!(page.results[0].properties["hs_email"], "bob@example.com");

    let (status, _) = get(&h, "crm/v3/objects/users/999999").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn going_away_in_the_ui_is_the_users_own_write_and_search_follows_it() {
    let h = Harness::unlimited().await;
    h.emu.add_owner("ada@example.com", "Ada", "Lovelace", None);
    let owner_user_id = h.emu.owners()[0]["userId"].as_u64().unwrap();
    let ada = h.emu.add_user(
        "ada@example.com",
        "Ada",
        "Lovelace",
        Availability::Available,
    );
    let client = h.client();
    assert_eq!(
        client.search("users", &away_search()).await.unwrap().total,
        0
    );

    h.emu.set_availability(&ada, Availability::Away).unwrap();
    // Setting the value it already has changes nothing.
    h.emu.set_availability(&ada, Availability::Away).unwrap();
    let page = client.search("users", &away_search()).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.results[0].id, ada);

    // Back through the API (the private app), then available again in the UI.
    client
        .update_object(
            "users",
            &ada,
            &props(json!({"hs_availability_status": "available"})),
        )
        .await
        .unwrap();
    h.emu.set_availability(&ada, Availability::Away).unwrap();
    h.emu
        .set_availability(&ada, Availability::Available)
        .unwrap();
    assert_eq!(
        client.search("users", &away_search()).await.unwrap().total,
        0
    );

    let history = client
        .property_history("users", &ada, "hs_availability_status")
        .await
        .unwrap();
    let rows: Vec<(&str, &str, Option<u64>)> = history
        .iter()
        .map(|e| {
            (
                e.value.as_str(),
                e.source_type.as_str(),
                e.updated_by_user_id,
            )
        })
        .collect();
    let me = Some(owner_user_id);
    assert_eq!(
        rows,
        [
            ("available", "CRM_UI", me),
            ("away", "CRM_UI", me),
            ("available", "INTEGRATION", None),
            ("away", "CRM_UI", me),
            // Seeded as by an admin in the UI, no user recorded.
            ("available", "CRM_UI", None),
        ],
        "newest first: {history:?}"
    );
    assert_eq!(
        history[0].source_id.as_deref(),
        Some(&*format!("userId:{owner_user_id}"))
    );

    assert!(matches!(
        h.emu.set_availability("424242", Availability::Away),
        Err(handoff_hubspot::emulator::EmulatorError::NotFound { .. })
    ));
}

#[tokio::test]
async fn users_emit_no_webhooks_and_stay_out_of_state_files() {
    let (h, events) = with_receiver().await;

    let ada = h.emu.add_user(
        "ada@example.com",
        "Ada",
        "Lovelace",
        Availability::Available,
    );
    h.emu.set_availability(&ada, Availability::Away).unwrap();
    h.client()
        .update_object("users", &ada, &props(json!({"hs_job_title": "CEO"})))
        .await
        .unwrap();
    // A contact change afterwards is delivered: once it arrives, anything a user write
    // queued before it would have arrived too.
    h.emu
        .create_object("contacts", props(json!({"email": "x@example.com"})));
    assert!(h.emu.wait_webhooks_drained(Duration::from_secs(10)).await);
    let types: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .map(|e| {
            e["subscriptionType"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(types, ["contact.creation"]);

    let dir = tempfile::TempDir::new().unwrap();
    h.emu.write_state(dir.path()).unwrap();
    assert!(dir.path().join("hubspot/contacts.json").exists());
    assert!(!dir.path().join("hubspot/users.json").exists());
    assert_eq!(h.emu.objects("users").len(), 1);
}
