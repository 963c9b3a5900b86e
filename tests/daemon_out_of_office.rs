//! Out of office read from HubSpot's users object (`daemon::load`), black box.
//!
//! Routing rules put every lead in a round-robin pool of two West reps, A and B, and
//! `routing_inputs.out_of_office` reads `hs_availability_status` on the users object (every
//! seeded owner is also a user, `available`). The daemon decides on a [`ManualClock`] and its
//! refresher reads the field every 60 s of that clock:
//!
//! 1. both available: the first lead goes to A (first in rotation);
//! 2. A sets themself `away` in HubSpot; after the next refresh the next three leads all go to
//!    B (plain rotation would have given A the second of them), and each routing audit shows A
//!    unavailable, "out of office (CRM)";
//! 3. A is `available` again; after the next refresh A gets the next lead.

mod common;

use common::*;
use handoff::clock::ManualClock;
use handoff_hubspot::emulator::Availability;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const REFRESH_S: u64 = 60;
const A: &str = WEST[0];
const B: &str = WEST[1];

fn rules_yaml() -> String {
    format!(
        r#"name: out-of-office-test
teams:
  - name: West
    time_zone: UTC
    hours: {{ days: [mon, tue, wed, thu, fri, sat, sun], open: "00:00", close: "23:59" }}
    groups:
      - {{ manager: cleo.central@example.com, reps: [{A}, {B}] }}
rules:
  - name: everyone
    strategy: round_robin
    pool: {{ team: West }}
fallback: {{ owner: cleo.central@example.com }}
"#
    )
}

/// Successful out-of-office refreshes so far, from `/metrics`.
async fn ooo_refreshes(env: &TestEnv) -> u64 {
    const LINE: &str =
        r#"handoff_routing_input_refreshes_total{input="out_of_office",outcome="ok"} "#;
    env.metrics_text()
        .await
        .lines()
        .find_map(|l| l.strip_prefix(LINE))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until the refresher has read the field at least `n` times.
async fn wait_refreshes(env: &TestEnv, n: u64) {
    let deadline = std::time::Instant::now() + WAIT;
    while ooo_refreshes(env).await < n {
        assert!(
            std::time::Instant::now() < deadline,
            "fewer than {n} out-of-office refreshes: {}",
            env.metrics_text().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates a lead, waits for its DM, and returns its id and its owner's email.
async fn route_one(env: &TestEnv, n: usize) -> (String, String) {
    let id = env.create_lead(&format!("lead{n}@northwind-traders.io"), json!({}));
    let key = format!("lead:hubspot:contacts:{id}:dm");
    assert!(
        wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await,
        "lead {n} got no DM"
    );
    env.wait_idle(WAIT, Duration::from_millis(200)).await;
    let owner_id = env
        .prop("contacts", &id, "hubspot_owner_id")
        .expect("owner");
    (id, env.owner_email(&owner_id).expect("a known owner"))
}

/// The candidate `rep` in the routing explanation of lead `id`.
async fn candidate(env: &TestEnv, id: &str, rep: &str) -> Value {
    let routed = env
        .audit_events(&format!("hubspot:contacts:{id}"), "routed")
        .await;
    assert_eq!(routed.len(), 1, "{routed:?}");
    let explain = &routed[0]["detail"]["explain"];
    explain["rules"][0]["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .find(|c| c["rep"] == rep)
        .cloned()
        .unwrap_or_else(|| panic!("{rep} not a candidate: {explain}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_away_in_hubspot_gets_no_leads_until_available_again() {
    let mut env = TestEnv::new(Options::default()).await;
    env.use_rules(
        &rules_yaml(),
        &format!(
            "  routing_inputs:\n    refresh_s: {REFRESH_S}\n    out_of_office: {{ object: users, property: hs_availability_status, away_values: [away], email_property: hs_email }}\n"
        ),
    );
    let user_a = env
        .hubspot
        .user_id(A)
        .expect("the harness seeds a user per owner");

    let clock = Arc::new(ManualClock::new(1_780_000_000_000));
    env.clock = Some(clock.clone());
    env.start_in_process().await;
    wait_refreshes(&env, 1).await;

    // 1. Both available: rotation starts with A.
    let (first, owner) = route_one(&env, 1).await;
    assert_eq!(owner, A);
    assert_eq!(candidate(&env, &first, A).await["available"], true);

    // 2. A goes away in HubSpot; the next refresh sees it.
    env.hubspot
        .set_availability(&user_a, Availability::Away)
        .unwrap();
    clock.advance(Duration::from_secs(REFRESH_S));
    wait_refreshes(&env, 2).await;
    for n in 2..=4 {
        let (id, owner) = route_one(&env, n).await;
        assert_eq!(owner, B, "lead {n} went to {owner} while {A} is away");
        let a = candidate(&env, &id, A).await;
        assert_eq!(a["available"], false, "{a}");
        assert_eq!(a["unavailable_because"], "out of office (CRM)", "{a}");
        assert_eq!(candidate(&env, &id, B).await["chosen"], true);
    }

    // 3. A is back; after the next refresh A takes leads again.
    env.hubspot
        .set_availability(&user_a, Availability::Available)
        .unwrap();
    clock.advance(Duration::from_secs(REFRESH_S));
    wait_refreshes(&env, 3).await;
    let (id, owner) = route_one(&env, 5).await;
    assert_eq!(owner, A);
    let a = candidate(&env, &id, A).await;
    assert_eq!(a["available"], true, "{a}");
    assert_eq!(a["unavailable_because"], Value::Null, "{a}");
    env.stop_in_process().await;
}
