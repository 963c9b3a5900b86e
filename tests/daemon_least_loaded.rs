//! Least-loaded routing on load read from the CRM (`daemon::load`), black box.
//!
//! The HubSpot emulator holds open leads owned by three West reps (3, 1 and 2); the daemon's
//! refresher counts them at start (one search per rep) into `routing:load`; a new MQL goes to
//! the rep with the fewest, not to the first in rotation order, and the audit's explanation
//! carries the snapshot's time and its age at the decision. The daemon decides on a
//! [`ManualClock`], so the age is exact.

mod common;

use common::*;
use handoff::clock::ManualClock;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn rules_yaml() -> String {
    format!(
        r#"name: least-loaded-test
teams:
  - name: West
    time_zone: UTC
    hours: {{ days: [mon, tue, wed, thu, fri, sat, sun], open: "00:00", close: "23:59" }}
    groups:
      - {{ manager: cleo.central@example.com, reps: [{}, {}, {}] }}
rules:
  - name: by-load
    strategy: least_loaded
    pool: {{ team: West }}
fallback: {{ owner: cleo.central@example.com }}
"#,
        WEST[0], WEST[1], WEST[2]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rep_with_fewest_open_leads_in_the_crm_gets_the_lead_and_the_audit_shows_the_load_age()
{
    let mut env = TestEnv::new(Options::default()).await;
    env.use_rules(&rules_yaml(), "  routing_inputs: { refresh_s: 3600 }\n");

    // Open leads in the CRM (not sales-ready, so the lead flow leaves them alone): West[0]
    // owns 3 open (+1 unqualified), West[1] 1 open, West[2] 2 open.
    for (rep, statuses) in [
        (WEST[0], &["NEW", "OPEN", "IN_PROGRESS", "UNQUALIFIED"][..]),
        (WEST[1], &["NEW"][..]),
        (WEST[2], &["OPEN", "IN_PROGRESS"][..]),
    ] {
        for (i, status) in statuses.iter().enumerate() {
            env.hubspot.create_object(
                "contacts",
                props(json!({
                    "email": format!("{i}.{rep}.open@customer.io"),
                    "lifecyclestage": "lead",
                    "hubspot_owner_id": env.owner_ids[rep],
                    "hs_lead_status": status,
                })),
            );
        }
    }

    let t0: i64 = 1_780_000_000_000;
    let clock = Arc::new(ManualClock::new(t0));
    env.clock = Some(clock.clone());
    env.start_in_process().await;
    let refreshed = r#"handoff_routing_input_refreshes_total{input="load",outcome="ok"}"#;
    let deadline = std::time::Instant::now() + WAIT;
    while !env.metrics_text().await.contains(refreshed) {
        assert!(
            std::time::Instant::now() < deadline,
            "no load refresh: {}",
            env.metrics_text().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.wait_idle(WAIT, Duration::from_millis(200)).await;

    // 90 s later (still before the next refresh), a lead arrives.
    clock.advance(Duration::from_secs(90));
    let id = env.create_lead("ana@northwind-traders.io", json!({}));
    let key = format!("lead:hubspot:contacts:{id}:dm");
    assert!(wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await);
    env.wait_idle(WAIT, Duration::from_millis(200)).await;

    let owner_id = env.prop("contacts", &id, "hubspot_owner_id").unwrap();
    assert_eq!(env.owner_email(&owner_id).as_deref(), Some(WEST[1]));

    let routed = env
        .audit_events(&format!("hubspot:contacts:{id}"), "routed")
        .await;
    assert_eq!(routed.len(), 1, "{routed:?}");
    let explain = &routed[0]["detail"]["explain"];
    assert_eq!(explain["load"]["age_seconds"], 90, "{explain}");
    let as_of: jiff::Timestamp = explain["load"]["as_of"].as_str().unwrap().parse().unwrap();
    assert_eq!(as_of.as_millisecond(), t0);
    let chosen = explain["rules"][0]["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .map(|c| {
            (
                c["rep"].as_str().unwrap_or_default(),
                c["open_leads"].clone(),
            )
        })
        .collect::<Vec<_>>();
    assert_eq!(
        chosen,
        [
            (WEST[0], json!(3)),
            (WEST[1], json!(1)),
            (WEST[2], json!(2))
        ],
        "{explain}"
    );
    env.stop_in_process().await;
}
