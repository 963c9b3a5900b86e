//! HubSpot for marketing in front of Salesforce for sales, black-box: an in-process daemon with
//! `marketing:` against both emulators (HubSpot webhooks, Salesforce polled every second).
//!
//! * An MQL in HubSpot becomes exactly one Salesforce Lead, routed once (one DM), and its
//!   Salesforce owner shows in HubSpot as the owner of the same email.
//! * A person Salesforce already has as a Lead is matched by email: no second Lead; the
//!   HubSpot contact takes its owner.
//! * A person Salesforce has as a Contact keeps the owner of the Contact's Account.
//! * After SQL, a rep changing the owner in HubSpot is written back over with Salesforce's.
//! * An owner change in Salesforce, the system of record, is mirrored to HubSpot.
//! * One audit trail for the person, from either record's key.
//! * What becomes of the Lead (qualified, converted, its Opportunity won, disqualified) is
//!   written back to HubSpot.
//! * A contact the Salesforce Lead mapping cannot express (no last name) is a dead letter
//!   naming the field and the record; fixed in HubSpot and replayed, it becomes one Lead.
//! * A value Salesforce refuses (a picklist typo in the mapping) is a dead letter naming the
//!   field; once the mapping is fixed, the replay decides again and makes one Lead.
//! * A crash between Salesforce creating the Lead and handoff recording it: one Lead.

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

/// Waits for `record`'s dead letter; returns its reason.
async fn dead_letter_reason(env: &TestEnv, record: &str) -> String {
    let letters = env.wait_dead_letter(record, WAIT).await;
    let letter = letters.iter().find(|l| l["record_key"] == record).unwrap();
    letter["reason"].as_str().unwrap().to_string()
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
    // One trail for the person: the contact's audit shows the Lead's routing too.
    let trail = env.audit(&hs_key).await;
    let lead_key = env.lead_key(&id);
    assert!(
        trail
            .iter()
            .any(|e| e["event"] == "routed" && e["record_key"] == lead_key.as_str()),
        "{trail:?}"
    );
    assert_eq!(
        env.audit(&lead_key).await.len(),
        trail.len(),
        "the same trail from either key"
    );
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
    let reason = dead_letter_reason(&env, &record).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_becomes_of_the_lead_in_salesforce_is_written_back_to_hubspot() {
    let env = start().await;
    let stage = |id: &str| env.prop("contacts", id, "lifecyclestage");

    // Qualified by its rep, then converted with an Opportunity: SQL, then opportunity.
    let email = "loop@northwind-traders.io";
    let contact = env.create_lead(email, json!({}));
    let (id, owner) = routed_lead(&env, email).await;
    env.rep_qualifies_lead(&id, &owner);
    assert!(
        wait_until(WAIT, || stage(&contact).as_deref()
            == Some("salesqualifiedlead"))
        .await,
        "HubSpot stage {:?}",
        stage(&contact)
    );
    let conversion = env.salesforce.convert_lead(&id, true).unwrap();
    assert!(
        wait_until(WAIT, || stage(&contact).as_deref() == Some("opportunity")).await,
        "HubSpot stage {:?}",
        stage(&contact)
    );
    // Its Opportunity is won: the contact becomes a customer.
    let opportunity = conversion.opportunity_id.unwrap();
    env.crm_handle().close_deal(&opportunity, true, 4_800.0);
    assert!(
        wait_until(WAIT, || stage(&contact).as_deref() == Some("customer")).await,
        "HubSpot stage {:?}, dead letters {:?}",
        stage(&contact),
        env.dead_letters().await
    );

    // Disqualified by its rep: HubSpot shows it unqualified, with a reason.
    let email = "nofit@northwind-traders.io";
    let other = env.create_lead(email, json!({}));
    let (id, owner) = routed_lead(&env, email).await;
    env.rep_updates_lead(
        &id,
        &owner,
        props(json!({"Status": "Closed - Not Converted"})),
    );
    assert!(
        wait_until(WAIT, || env
            .prop("contacts", &other, "hs_lead_status")
            .as_deref()
            == Some("UNQUALIFIED"))
        .await
    );
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    assert_eq!(
        env.prop("contacts", &other, "handoff_rejection_reason")
            .as_deref(),
        Some("disqualified")
    );
    assert_eq!(stage(&other).as_deref(), Some("marketingqualifiedlead"));
    let key = format!("hubspot:contacts:{contact}");
    assert_eq!(
        env.audit_events(&key, "stage_written_back").await.len(),
        3,
        "SQL, opportunity and customer, once each: {:?}",
        env.audit(&key).await
    );
    assert!(env.dead_letters().await.is_empty());
}

/// Points the daemon at a copy of the shipped mappings in the test's folder; returns it.
fn own_mappings(env: &TestEnv) -> std::path::PathBuf {
    let dir = env.dir.path().join("mappings");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(mappings_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let config = std::fs::read_to_string(&env.config_path).unwrap();
    let shipped = format!("mappings_dir: {}", mappings_dir().display());
    assert!(config.contains(&shipped));
    let config = config.replace(&shipped, &format!("mappings_dir: {}", dir.display()));
    std::fs::write(&env.config_path, config).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_salesforce_refuses_is_a_dead_letter_and_one_lead_once_the_mapping_is_fixed() {
    let mut env = TestEnv::new(Options {
        marketing: true,
        ..Options::on(CrmKind::Salesforce)
    })
    .await;
    let mappings = own_mappings(&env);
    let file = mappings.join("hubspot-contact-to-salesforce-lead.yaml");
    let shipped = std::fs::read_to_string(&file).unwrap();
    let good = "value: Open - Not Contacted";
    assert!(shipped.contains(good));
    // An admin's typo: a Status value the org's picklist does not have.
    std::fs::write(&file, shipped.replace(good, "value: Open")).unwrap();
    env.start_in_process().await;

    let email = "picklist@northwind-traders.io";
    let contact = env.create_lead(email, json!({}));
    let record = format!("hubspot:contacts:{contact}");
    let reason = dead_letter_reason(&env, &record).await;
    assert!(reason.contains("create_sales_lead"), "{reason}");
    assert!(reason.contains("Status"), "names the field: {reason}");
    assert!(
        sf_leads(&env, email).is_empty(),
        "Salesforce created nothing"
    );
    assert_eq!(env.prop("contacts", &contact, "hubspot_owner_id"), None);

    // The admin fixes the mapping, restarts, and replays: the Lead is made from the fixed one.
    std::fs::write(&file, &shipped).unwrap();
    env.restart_in_process().await;
    assert_eq!(env.replay_dead_letters_of(&record).await, 1);
    let (_, owner) = routed_lead(&env, email).await;
    assert!(hubspot_shows_owner(&env, &contact, &owner).await);
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    let leads = sf_leads(&env, email);
    assert_eq!(leads.len(), 1, "one Lead");
    assert_eq!(leads[0]["Status"], "Open - Not Contacted");
    assert!(env.dead_letters().await.is_empty());
    let replayed = env.audit_events(&record, "replayed").await;
    assert_eq!(replayed.len(), 1);
    assert!(replayed[0].to_string().contains("decided again"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_creating_the_lead_and_recording_it_leaves_one_lead() {
    let mut env = start().await;
    // Salesforce makes the Lead but its answers are lost, as when handoff dies right after
    // the org committed: the step stays "attempted", its outcome unknown.
    env.salesforce.lose_next_write_answers(1_000);
    let email = "crash@northwind-traders.io";
    let contact = env.create_lead(email, json!({}));
    assert!(
        wait_until(WAIT, || !sf_leads(&env, email).is_empty()).await,
        "Salesforce never made the Lead"
    );
    env.restart_in_process().await;
    env.salesforce.lose_next_write_answers(0);

    let (id, owner) = routed_lead(&env, email).await;
    let dm = format!("lead:{}:dm", env.lead_key(&id));
    assert!(wait_until(WAIT, || env.messages_with_key(&dm).len() == 1).await);
    assert!(hubspot_shows_owner(&env, &contact, &owner).await);
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    assert_eq!(
        sf_leads(&env, email).len(),
        1,
        "the retry found the Lead it made"
    );
    assert_eq!(env.messages_with_key(&dm).len(), 1);
    let record = format!("hubspot:contacts:{contact}");
    let created: Vec<_> = env
        .audit_events(&record, "step_done")
        .await
        .into_iter()
        .filter(|e| e["detail"]["step"] == "create_sales_lead")
        .collect();
    assert_eq!(created.len(), 1, "{:?}", env.audit(&record).await);
    assert_eq!(
        created[0]["detail"]["result"]["lead_id"],
        sf_leads(&env, email)[0]["Id"]
    );
    assert!(env.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_is_a_salesforce_contact_keeps_the_owner_of_their_account() {
    let env = start().await;
    let email = "buyer@northwind-traders.io";
    let (account_owner, contact_owner) = (WEST[0], EAST[0]);
    let account = env.salesforce.create(
        "Account",
        props(json!({"Name": "Northwind Traders", "OwnerId": env.owner_ids[account_owner]})),
    );
    env.salesforce.create(
        "Contact",
        props(
            json!({"LastName": "Buyer", "Email": email, "AccountId": account,
            "OwnerId": env.owner_ids[contact_owner]}),
        ),
    );
    let contact = env.create_lead(email, json!({}));
    assert!(
        hubspot_shows_owner(&env, &contact, account_owner).await,
        "HubSpot shows {:?}: {:?}",
        env.prop("contacts", &contact, "hubspot_owner_id"),
        env.audit(&format!("hubspot:contacts:{contact}")).await
    );
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    assert!(sf_leads(&env, email).is_empty(), "a Contact is no new Lead");
    let record = format!("hubspot:contacts:{contact}");
    assert!(env.audit_events(&record, "promoted").await.is_empty());
    assert!(env.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_on_violation_flag_a_hubspot_owner_change_at_a_sales_stage_is_left_and_flagged() {
    let mut env = TestEnv::new(Options {
        marketing: true,
        ..Options::on(CrmKind::Salesforce)
    })
    .await;
    env.use_rules(WEST_SLA_RULES, "");
    let config = std::fs::read_to_string(&env.config_path).unwrap();
    let flagged = config.replacen(
        "  owner_of_record:\n",
        "  on_violation: flag\n  owner_of_record:\n",
        1,
    );
    assert_ne!(config, flagged);
    std::fs::write(&env.config_path, flagged).unwrap();
    env.start_in_process().await;
    let email = "flagged@northwind-traders.io";
    let contact = env.create_lead(email, json!({}));
    let (id, owner) = routed_lead(&env, email).await;
    assert!(hubspot_shows_owner(&env, &contact, &owner).await);
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    let other = WEST.iter().find(|e| **e != owner).unwrap().to_string();

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
    let record = format!("hubspot:contacts:{contact}");
    let changes = env.wait_audit(&record, "owner_change", WAIT).await;
    assert_eq!(changes[0]["detail"]["action"], "flagged", "{changes:?}");
    assert_eq!(changes[0]["detail"]["owner_of_record"], owner.as_str());
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    // Left as the HubSpot user set it; Salesforce keeps its owner; the manager is told once.
    assert!(hubspot_shows_owner(&env, &contact, &other).await);
    assert_eq!(env.lead_owner_email(&id).as_deref(), Some(owner.as_str()));
    let dms: Vec<Value> = env
        .slack
        .dm_messages_for("cleo.central@example.com")
        .into_iter()
        .filter(|m| m["text"].as_str().unwrap_or("").contains("flagged"))
        .collect();
    assert_eq!(dms.len(), 1, "{dms:?}");
    assert!(env
        .audit_events(&record, "owner_mirrored")
        .await
        .iter()
        .all(|e| e["detail"]["found_by"] != "marketing"));
}
