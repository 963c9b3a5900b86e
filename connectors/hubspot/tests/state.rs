//! `write_state`: the portal written as JSON arrays, records exactly as the API reads them.

mod common;

use common::{props, Harness};
use serde_json::{json, Value};

fn read(dir: &std::path::Path, name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("hubspot").join(format!("{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn state_files_hold_records_with_associations_and_owners() {
    let h = Harness::start(Default::default()).await;
    let owner = h
        .emu
        .add_owner("rep@example.com", "Rita", "Rep", Some("East"));
    let company = h.emu.create_object(
        "companies",
        props(json!({"name": "Acme", "domain": "acme.io"})),
    );
    let contact = h.emu.create_object(
        "contacts",
        props(json!({"email": "a@acme.io", "hubspot_owner_id": owner})),
    );
    let deal = h.emu.create_object(
        "deals",
        props(json!({"dealname": "Acme deal", "dealstage": "closedwon"})),
    );
    h.emu
        .associate("contacts", &contact, "companies", &company)
        .unwrap();
    h.emu
        .associate("deals", &deal, "companies", &company)
        .unwrap();
    h.emu
        .associate("deals", &deal, "contacts", &contact)
        .unwrap();
    assert!(h.emu.associate("deals", &deal, "companies", "999").is_err());

    let dir = tempfile::tempdir().unwrap();
    h.emu.write_state(dir.path()).unwrap();

    let contacts = read(dir.path(), "contacts");
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0]["id"], contact);
    assert_eq!(contacts[0]["archived"], false);
    assert_eq!(contacts[0]["properties"]["hubspot_owner_id"], owner);
    assert_eq!(
        contacts[0]["associations"]["companies"]["results"][0]["id"],
        company
    );
    assert_eq!(
        contacts[0]["associations"]["deals"]["results"][0]["id"],
        deal
    );

    let companies = read(dir.path(), "companies");
    let linked: Vec<&str> = companies[0]["associations"]["deals"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(linked, [deal.as_str()]);
    assert_eq!(
        read(dir.path(), "deals")[0]["properties"]["pipeline"],
        "default"
    );
    assert!(read(dir.path(), "tickets").is_empty());
    let owners = read(dir.path(), "owners");
    assert_eq!(owners[0]["email"], "rep@example.com");
    assert_eq!(owners[0]["teams"][0]["name"], "East");

    // The state file equals what the API returns for the record (with associations).
    let api: Value = h
        .http()
        .get(h.url(&format!(
            "crm/v3/objects/contacts/{contact}?properties={}&associations=companies,deals",
            contacts[0]["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(",")
        )))
        .header("authorization", h.bearer())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api, contacts[0]);
}
