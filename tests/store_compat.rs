//! A store written by the release before the CRM seam (`tests/fixtures/store-main-128d1d1/`,
//! see its README) opens with today's code, which finishes the work that release left in
//! flight: a lead saga whose DM had failed, an onboarding saga whose project had failed, SLA
//! timers and a deferred lead's timer, all keyed and shaped as that release wrote them
//! (`lead:hubspot:contacts:23`, `update_crm_record`, `instantiate_project`, `contact_id`, …).
//!
//! The emulators are seeded exactly as the fixture's generator seeded them, so the records the
//! store names exist under the same ids.

mod common;

use common::*;
use handoff::clock::ManualClock;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const MIN: i64 = 60_000;

/// The rule set the fixture was written with.
const RULES: &str = r#"name: fixture
teams:
  - name: West
    time_zone: UTC
    hours: { days: [mon, tue, wed, thu, fri, sat, sun], open: "00:00", close: "23:59" }
    groups:
      - { manager: cleo.central@example.com, reps: [wendy.west@example.com, walt.west@example.com] }
  - name: East
    time_zone: UTC
    hours: { days: [mon, tue, wed, thu, fri], open: "09:00", close: "17:00" }
    groups:
      - { manager: cleo.central@example.com, reps: [erin.east@example.com, ed.east@example.com] }
rules:
  - { name: uk, when: [{ field: country_code, in: [GB] }], strategy: round_robin, pool: { team: East }, when_nobody_available: defer }
  - { name: everyone, strategy: round_robin, pool: { team: West } }
fallback: { owner: cal.central@example.com }
sla:
  policies:
    - name: standard
      first_touch: 10m
      clock: business
      remind_at: 0.5
      reassign_after: 10m
      max_reassignments: 1
      recycle_after: 30m
      recycle_reason: sla_expired
"#;

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-main-128d1d1")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "ids.json" {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_written_before_the_crm_seam_finishes_its_sagas_and_timers() {
    let ids: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("ids.json")).unwrap())
            .unwrap();
    let id = |k: &str| ids[k].as_str().unwrap().to_string();
    let t0 = ids["t0_ms"].as_i64().unwrap();

    let mut env = TestEnv::new(Options::default()).await;
    env.use_rules(RULES, "");
    let clock = Arc::new(ManualClock::new(t0));
    env.clock = Some(clock.clone());
    // The records the store names, created in the generator's order (so with its ids).
    let us = env.create_lead("ana.lima@northwind-traders.io", json!({}));
    let gb = env.create_lead(
        "ben.hall@brightwater.co.uk",
        json!({"country": "United Kingdom", "phone": "+44 20 7946 0958", "firstname": "Ben", "lastname": "Hall", "company": "Brightwater"}),
    );
    let no_consent = env.create_lead(
        "cy.lo@acme-widgets.io",
        json!({"hs_legal_basis": null, "firstname": "Cy", "lastname": "Lo"}),
    );
    let deal = env.hubspot.create_object(
        "deals",
        props(json!({"dealname": "Northwind expansion", "amount": "6000", "dealstage": "closedwon", "pipeline": "default", "closedate": "2026-11-27T10:00:00Z", "product": "GTXPro"})),
    );
    assert_eq!(
        (us.clone(), gb.clone(), no_consent, deal.clone()),
        (
            id("us_lead"),
            id("gb_lead"),
            id("no_consent_lead"),
            id("won_deal")
        ),
        "seeded as the fixture's generator seeded"
    );
    copy_dir(&fixture(), &env.dir.path().join("state"));
    env.start_in_process().await;

    // The lead saga's DM, which failed before, goes out once to the owner the old release
    // chose; the owner write it had done is not repeated.
    let us_key = format!("hubspot:contacts:{us}");
    let dm_key = format!("lead:{us_key}:dm");
    assert!(
        wait_until(WAIT, || env.messages_with_key(&dm_key).len() == 1).await,
        "no DM; audit: {:?}",
        env.audit(&us_key).await
    );
    let dm = env.messages_with_key(&dm_key).remove(0);
    assert_eq!(
        env.slack.dm_messages_for("wendy.west@example.com").len(),
        1,
        "{dm}"
    );
    assert_eq!(env.prop("contacts", &us, "hubspot_owner_id"), None);

    // The onboarding saga: its project is made once from the Enterprise template, and the CSM's
    // DM carries the ticket link the old release recorded and the new project's link.
    let deal_key = format!("hubspot:deals:{deal}");
    let csm_key = format!("onboarding:{deal_key}:dm");
    assert!(
        wait_until(WAIT, || env.messages_with_key(&csm_key).len() == 1).await,
        "no CSM DM; audit: {:?}",
        env.audit(&deal_key).await
    );
    let projects: Vec<Value> = env
        .asana
        .projects()
        .into_iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("(deal {deal})"))
        })
        .collect();
    assert_eq!(projects.len(), 1);
    let csm_dm = env.messages_with_key(&csm_key).remove(0);
    let text = csm_dm["text"].as_str().unwrap();
    assert!(
        text.contains("/record/0-5/") && !text.contains('{'),
        "placeholders filled from the stored and the new results: {text}"
    );
    assert!(
        text.contains(projects[0]["gid"].as_str().unwrap()),
        "{text}"
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;

    // The old lead of record (it says `contact_id`) takes a claim: the status goes through
    // today's update mapping, and the DM is edited.
    let owner = env.slack_ids["wendy.west@example.com"].clone();
    let (channel, ts) = (dm["channel"].as_str().unwrap(), dm["ts"].as_str().unwrap());
    assert!(env
        .slack
        .click(channel, ts, "claim_lead", &owner)
        .await
        .unwrap()
        .is_success());
    assert!(
        wait_until(WAIT, || {
            env.prop("contacts", &us, "hs_lead_status").as_deref() == Some("IN_PROGRESS")
        })
        .await,
        "claim not applied; audit: {:?}",
        env.audit(&us_key).await
    );
    let touch = env.audit_events(&us_key, "first_touch").await;
    assert_eq!(touch.len(), 1);
    assert_eq!(touch[0]["detail"]["by"], "claim");

    // Its SLA timers were cancelled by the claim: nothing at the breach (checked again below,
    // once the clock is days past every timer it had).
    clock.set(t0 + 11 * MIN);
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert!(env.audit_events(&us_key, "sla_breached").await.is_empty());

    // The deferred UK lead's timer fires at Monday 09:00 UTC: it is read fresh, routed to East,
    // its owner written and DM'd once.
    let gb_key = format!("hubspot:contacts:{gb}");
    let monday = "2026-11-30T09:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    clock.set(monday);
    let gb_dm = format!("lead:{gb_key}:dm");
    assert!(
        wait_until(WAIT, || env.messages_with_key(&gb_dm).len() == 1).await,
        "the deferred lead was not handed off; audit: {:?}",
        env.audit(&gb_key).await
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let owner = env
        .prop("contacts", &gb, "hubspot_owner_id")
        .expect("owner");
    let email = env.owner_email(&owner).unwrap();
    assert!(
        ["erin.east@example.com", "ed.east@example.com"].contains(&email.as_str()),
        "{email}"
    );
    assert_eq!(
        env.prop("contacts", &gb, "hs_lead_status").as_deref(),
        Some("NEW")
    );
    assert_eq!(env.messages_with_key(&gb_dm).len(), 1);
    for step in ["sla_reminder", "sla_breached", "sla_reassigned", "recycled"] {
        assert!(
            env.audit_events(&us_key, step).await.is_empty(),
            "{step} after the claim"
        );
    }
    assert!(env.dead_letters().await.is_empty());
    env.stop_in_process().await;
}
