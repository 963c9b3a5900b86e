//! Writes `tests/fixtures/store-main-128d1d1/`: a sled database written by the release before
//! the CRM seam (main at 128d1d1), holding work still in flight, so the seam can prove that a
//! store written by that release still loads and finishes. Run once, on that release:
//!
//! ```sh
//! HANDOFF_WRITE_FIXTURE=tests/fixtures/store-main-128d1d1 \
//!   cargo test --test store_fixture_gen -- --ignored --nocapture
//! ```
//!
//! The store holds, on a manual clock at Saturday 2026-11-28 12:00 UTC:
//! - `lead:hubspot:contacts:<us_lead>` (a US lead routed to West): `assign_owner` done, `notify_owner`
//!   attempted and failing (Slack answered 500), plus its SLA timers;
//! - `lead-deferred:hubspot:contacts:<gb_lead>` (a GB lead: East is closed until Monday 09:00 UTC);
//! - `nurture:hubspot:contacts:<no_consent_lead>:no_consent` done;
//! - `onboarding:hubspot:deals:<won_deal>`: `create_ticket` done, `create_project` failing (Asana 500),
//!   `notify_csm` pending;
//! - the leads of record, rotation positions and audit entries of those decisions.
//!
//! The ids (the emulators number objects in creation order) are in the fixture's `ids.json`.

mod common;

use common::*;
use handoff::clock::ManualClock;
use handoff_connector::emulator::Fault;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Saturday 2026-11-28 12:00 UTC.
pub const T0_MS: i64 = 1_795_867_200_000;

pub const RULES: &str = r#"name: fixture
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the store fixture; run by hand on the release that writes it"]
async fn write_the_store_fixture() {
    let Ok(out) = std::env::var("HANDOFF_WRITE_FIXTURE") else {
        panic!("set HANDOFF_WRITE_FIXTURE to the folder to write");
    };
    let mut env = TestEnv::new(Options::default()).await;
    env.use_rules(RULES, "");
    env.clock = Some(Arc::new(ManualClock::new(T0_MS)));
    env.slack.faults().inject(Fault::ServerError, 1_000_000);
    env.asana.faults().inject(Fault::ServerError, 1_000_000);
    env.start_in_process().await;

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

    let ok = wait_until(Duration::from_secs(60), || {
        env.prop("contacts", &us, "hubspot_owner_id").is_some()
            && env.prop("contacts", &no_consent, "hs_lead_status").is_some()
            && !env.hubspot.objects("tickets").is_empty()
    })
    .await;
    assert!(ok, "the decisions were not made");
    // Let the failing steps record their attempts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = env.status().await;
    assert!(status.outbox_depth >= 2, "{status:?}");
    env.stop_in_process().await;

    let from = env.dir.path().join("state");
    let to = std::path::Path::new(&out);
    std::fs::create_dir_all(to).unwrap();
    copy_dir(&from, to);
    // The emulators number objects in creation order: a test that seeds the same way and
    // creates the same records gets these ids.
    let ids = json!({"us_lead": us, "gb_lead": gb, "no_consent_lead": no_consent, "won_deal": deal, "t0_ms": T0_MS});
    std::fs::write(to.join("ids.json"), serde_json::to_string_pretty(&ids).unwrap()).unwrap();
    eprintln!("fixture written to {out}: {status:?}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
