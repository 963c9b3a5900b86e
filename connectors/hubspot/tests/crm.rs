//! `HubSpotCrm` (the CRM seam) against the emulator: finding people by email.

mod common;

use common::{props, Harness};
use handoff_connector::{Crm, ObjectKind, RecordKey};
use handoff_hubspot::HubSpotCrm;
use serde_json::json;

fn crm(h: &Harness) -> HubSpotCrm {
    HubSpotCrm::new(
        h.client(),
        1,
        "https://app.hubspot.com/contacts/{portal_id}/record/{object_type_id}/{id}",
    )
}

fn contact(id: &str) -> RecordKey {
    RecordKey::new("hubspot", "contacts", id)
}

#[tokio::test]
async fn find_by_email_finds_contacts_in_any_case_oldest_first() {
    let h = Harness::unlimited().await;
    let owner = h.emu.add_owner("rep@example.com", "Rae", "Rep", None);
    // Ada gets the lower id but the later `createdate`: the order is by `createdate`.
    h.emu.set_clock(Some(1_700_000_100_000));
    let ada = h.emu.create_object(
        "contacts",
        props(json!({"email": "ada@example.com", "hubspot_owner_id": owner})),
    );
    h.emu.set_clock(Some(1_700_000_000_000));
    let bob = h.emu.create_object(
        "contacts",
        props(json!({"email": "bob@example.com", "firstname": "Bob"})),
    );
    h.emu
        .create_object("contacts", props(json!({"email": "eve@example.com"})));
    h.emu
        .create_object("contacts", props(json!({"firstname": "No email"})));
    let crm = crm(&h);

    let found = crm
        .find_by_email(&[
            "ADA@Example.com".to_string(),
            "nobody@example.com".to_string(),
            "bob@example.com".to_string(),
        ])
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|p| &p.key).collect::<Vec<_>>(),
        [&contact(&bob), &contact(&ada)],
        "oldest first; the missing email finds nothing"
    );
    assert!(found.iter().all(|p| p.kind == ObjectKind::Lead));
    assert_eq!(found[1].email, "ada@example.com");
    assert_eq!(found[1].owner_id.as_deref(), Some(owner.as_str()));
    assert_eq!(
        (found[0].owner_id.as_ref(), found[0].account.as_ref()),
        (None, None)
    );

    let before = h.emu.request_count();
    assert!(crm.find_by_email(&[]).await.unwrap().is_empty());
    assert_eq!(h.emu.request_count(), before, "no emails, no search");
}

#[tokio::test]
async fn find_by_email_searches_100_emails_at_a_time_and_orders_across_searches() {
    let h = Harness::unlimited().await;
    h.emu.set_clock(Some(1_700_000_000_000));
    let early = h
        .emu
        .create_object("contacts", props(json!({"email": "early@example.com"})));
    h.emu.set_clock(Some(1_700_000_100_000));
    let late = h
        .emu
        .create_object("contacts", props(json!({"email": "late@example.com"})));
    let mut emails: Vec<String> = (0..150).map(|i| format!("p{i}@example.com")).collect();
    emails[0] = "Late@Example.com".into();
    emails[120] = "early@example.com".into();
    let before = h.emu.request_count();
    let found = crm(&h).find_by_email(&emails).await.unwrap();
    assert_eq!(
        found.iter().map(|p| &p.key).collect::<Vec<_>>(),
        [&contact(&early), &contact(&late)]
    );
    assert_eq!(
        h.emu.request_count() - before,
        2,
        "one search per 100 emails"
    );
}

#[tokio::test]
async fn the_email_of_a_contact_is_read_lower_case() {
    let h = Harness::unlimited().await;
    let ada = h.emu.create_object(
        "contacts",
        props(json!({"email": "Ada@Example.com", "firstname": "Ada"})),
    );
    let nameless = h
        .emu
        .create_object("contacts", props(json!({"firstname": "No email"})));
    let crm = crm(&h);
    assert_eq!(
        crm.email_of(&contact(&ada)).await.unwrap().as_deref(),
        Some("ada@example.com")
    );
    assert_eq!(crm.email_of(&contact(&nameless)).await.unwrap(), None);
    assert_eq!(
        crm.email_of(&contact("999999")).await.unwrap(),
        None,
        "gone"
    );
}
