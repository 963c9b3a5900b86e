//! HubSpot for marketing in front of Salesforce for sales, black-box: an in-process daemon with
//! `marketing:` against both emulators (HubSpot webhooks, Salesforce polled every second).
//!
//! * An MQL in HubSpot becomes exactly one Salesforce Lead, routed once (one DM), and its
//!   Salesforce owner shows in HubSpot as the owner of the same email.
//! * A person Salesforce already has as a Lead is matched by email: no second Lead; the
//!   HubSpot contact takes its owner.
//! * After SQL, a rep changing the owner in HubSpot is written back over with Salesforce's.
//! * An owner change in Salesforce, the system of record, is mirrored to HubSpot.
//! * A contact the Salesforce Lead mapping cannot express (no last name) is a dead letter
//!   naming the field and the record; fixed in HubSpot and replayed, it becomes one Lead.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

async fn start() -> TestEnv {
    let mut env = TestEnv::new(Options {
        marketing: true,
        ..Options::on(CrmKind::Salesforce)
    })
    .await;
    env.start_in_process().await;
    env
}

/// The live Salesforce Leads with `email` (any case).
fn sf_leads(env: &TestEnv, email: &str) -> Vec<Value> {
    env.salesforce
        .objects("Lead")
        .into_iter()
        .filter(|l| {
            l["Email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
        .collect()
}

/// The HubSpot owner id of the owner with `email`.
fn hubspot_owner(env: &TestEnv, email: &str) -> String {
    env.marketing_owner_ids[email].clone()
}

/// Waits for the one Salesforce Lead of `email` to be routed to one of the seeded reps (not
/// the integration user who created it); returns its id and owner email.
async fn routed_lead(env: &TestEnv, email: &str) -> (String, String) {
    assert!(
        wait_until(WAIT, || sf_leads(env, email)
            .first()
            .and_then(|l| l["OwnerId"].as_str())
            .is_some_and(|o| env.owner_email(o).is_some()))
        .await,
        "no routed Salesforce Lead for {email}: {:?}, dead letters {:?}",
        sf_leads(env, email),
        env.dead_letters().await
    );
    let id = sf_leads(env, email)[0]["Id"].as_str().unwrap().to_string();
    let owner = env.lead_owner_email(&id).expect("a known owner");
    (id, owner)
}

/// Waits until HubSpot contact `contact` has the owner with `email`.
async fn hubspot_shows_owner(env: &TestEnv, contact: &str, email: &str) -> bool {
    let want = hubspot_owner(env, email);
    wait_until(WAIT, || {
        env.prop("contacts", contact, "hubspot_owner_id").as_deref() == Some(want.as_str())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mql_in_hubspot_becomes_one_salesforce_lead_with_one_owner_in_both() {
    let env = start().await;
    let email = "mql@northwind-traders.io";
    let contact = env.create_lead(email, json!({}));
    let (id, owner) = routed_lead(&env, email).await;
    let dm = format!("lead:{}:dm", env.lead_key(&id));
    assert!(wait_until(WAIT, || env.messages_with_key(&dm).len() == 1).await);
    assert!(
        hubspot_shows_owner(&env, &contact, &owner).await,
        "HubSpot shows {:?}, Salesforce {owner}",
        env.prop("contacts", &contact, "hubspot_owner_id")
    );
    env.wait_idle(WAIT, Duration::from_millis(500)).await;

    assert_eq!(sf_leads(&env, email).len(), 1, "one Lead");
    assert_eq!(env.messages_with_key(&dm).len(), 1, "one DM");
    let lead = &sf_leads(&env, email)[0];
    assert_eq!(lead["LastName"], "Lima");
    assert_eq!(lead["Company"], "Northwind Traders");
    let hs_key = format!("hubspot:contacts:{contact}");
    assert_eq!(env.audit_events(&hs_key, "promoted").await.len(), 1);
    assert!(!env.audit_events(&hs_key, "owner_mirrored").await.is_empty());
    assert!(env.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_salesforce_already_has_is_matched_not_created_again() {
    let env = start().await;
    let email = "known@northwind-traders.io";
    let id = env.new_lead(email); // a Salesforce Lead, routed by handoff
    let (_, owner) = routed_lead(&env, email).await;
    let contact = env.create_lead(&email.to_uppercase(), json!({}));
    assert!(hubspot_shows_owner(&env, &contact, &owner).await);
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    assert_eq!(sf_leads(&env, email).len(), 1, "matched, not created");
    assert_eq!(sf_leads(&env, email)[0]["Id"], id.as_str());
    let hs_key = format!("hubspot:contacts:{contact}");
    assert!(env.audit_events(&hs_key, "promoted").await.is_empty());
    assert!(env.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_follow_salesforce_whichever_crm_changes_them() {
    let env = start().await;
    let email = "owners@northwind-traders.io";
    let contact = env.create_lead(email, json!({}));
    let (id, owner) = routed_lead(&env, email).await;
    assert!(hubspot_shows_owner(&env, &contact, &owner).await);
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    let other = WEST
        .iter()
        .chain(EAST.iter())
        .find(|e| **e != owner)
        .unwrap()
        .to_string();

    // A rep in HubSpot takes the SQL: Salesforce owns the owner field there, so it goes back.
    env.hubspot
        .update_object(
            "contacts",
            &contact,
            props(json!({
                "lifecyclestage": "salesqualifiedlead",
                "hubspot_owner_id": hubspot_owner(&env, &other),
            })),
        )
        .unwrap();
    assert!(
        hubspot_shows_owner(&env, &contact, &owner).await,
        "the HubSpot owner was not written back: {:?}",
        env.audit(&format!("hubspot:contacts:{contact}")).await
    );
    assert_eq!(env.lead_owner_email(&id).as_deref(), Some(owner.as_str()));

    // The owner changes in Salesforce, the system of record: HubSpot follows.
    env.rep_updates_lead(
        &id,
        &owner,
        props(json!({"OwnerId": env.owner_ids[&other]})),
    );
    assert!(
        hubspot_shows_owner(&env, &contact, &other).await,
        "the Salesforce owner change was not mirrored"
    );
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    assert_eq!(env.lead_owner_email(&id).as_deref(), Some(other.as_str()));
    assert_eq!(sf_leads(&env, email).len(), 1);
    assert!(env.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_salesforce_cannot_take_is_a_dead_letter_then_one_lead_on_replay() {
    let env = start().await;
    let email = "nameless@northwind-traders.io";
    let contact = env.create_lead(email, json!({"lastname": null}));
    let record = format!("hubspot:contacts:{contact}");
    let letters = env.wait_dead_letter(&record, WAIT).await;
    let letter = letters
        .iter()
        .find(|l| l["record_key"] == record.as_str())
        .unwrap();
    let reason = letter["reason"].as_str().unwrap();
    assert!(reason.contains("required:LastName"), "{reason}");
    assert!(reason.contains(&record), "{reason}");
    assert!(
        sf_leads(&env, email).is_empty(),
        "nothing sent to Salesforce"
    );

    // Fixed in HubSpot, then replayed by the admin: one Lead.
    env.hubspot
        .update_object("contacts", &contact, props(json!({"lastname": "Okafor"})))
        .unwrap();
    let replayed = env.replay_dead_letters_of(&record).await;
    assert!(replayed >= 1, "nothing replayed");
    let (_, owner) = routed_lead(&env, email).await;
    assert!(hubspot_shows_owner(&env, &contact, &owner).await);
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    assert_eq!(sf_leads(&env, email).len(), 1);
    assert_eq!(sf_leads(&env, email)[0]["LastName"], "Okafor");
}
