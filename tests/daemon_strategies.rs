//! Every routing strategy, black box: an in-process daemon routing live HubSpot leads with a
//! rule set, on a [`ManualClock`] fixed at Wednesday 2026-11-25 15:00 UTC (inside the UTC
//! teams' hours, outside the `Night` team's).
//!
//! One lead per scenario, in order (rotation is durable state shared by the run):
//! named account, territory by state, territory by postal-code range, strict round robin,
//! out of office from config (the away rep is skipped while another is available), nobody
//! available → queue owner, nobody available → manager, and no rule matching → the global
//! fallback owner with the reason recorded. Each lead must end with exactly one CRM owner and
//! exactly one DM, to that owner.

mod common;

use common::*;
use handoff::clock::ManualClock;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
/// Wednesday 2026-11-25 15:00:00 UTC.
const NOW_MS: i64 = 1_795_618_800_000;

fn rules_yaml() -> String {
    format!(
        r#"name: strategies
teams:
  - name: Day
    time_zone: UTC
    hours: {{ days: [mon, tue, wed, thu, fri], open: "08:00", close: "17:00" }}
    groups:
      - {{ manager: {c0}, reps: [{w0}, {w1}] }}
  - name: Desk
    time_zone: UTC
    hours: {{ days: [mon, tue, wed, thu, fri], open: "08:00", close: "17:00" }}
    groups:
      - {{ manager: {e0}, reps: [{w2}, {e1}, {c0}, {c1}] }}
  - name: Night
    time_zone: UTC
    hours: {{ days: [sun], open: "08:00", close: "17:00" }}
    queue_owner: {c1}
    groups:
      - {{ manager: {c0}, reps: [{e0}] }}
out_of_office:
  - {{ rep: {w0}, from: 2026-11-23, to: 2026-11-27 }}
rules:
  - name: accounts
    strategy: named_account
  - name: california
    strategy: territory
    territory: {{ states: [CA] }}
    pool: {{ reps: [{w2}] }}
  - name: new-york-city
    strategy: territory
    territory: {{ postal_codes: ["10000-10299"] }}
    pool: {{ reps: [{e1}] }}
  - name: japan
    strategy: round_robin
    when: [{{ field: country_code, equals: JP }}]
    pool: {{ reps: [{c0}, {c1}] }}
  - name: brazil
    strategy: territory
    territory: {{ country_codes: [BR] }}
    pool: {{ team: Day }}
  - name: france
    strategy: territory
    territory: {{ country_codes: [FR] }}
    pool: {{ team: Night }}
    when_nobody_available: queue_owner
  - name: spain
    strategy: territory
    territory: {{ country_codes: [ES] }}
    pool: {{ team: Night }}
    when_nobody_available: manager
fallback: {{ owner: {w2} }}
"#,
        c0 = CENTRAL[0],
        c1 = CENTRAL[1],
        w0 = WEST[0],
        w1 = WEST[1],
        w2 = WEST[2],
        e0 = EAST[0],
        e1 = EAST[1],
    )
}

async fn env_with_rules() -> TestEnv {
    let mut env = TestEnv::new(Options::default()).await;
    env.use_rules(&rules_yaml(), "");
    env.clock = Some(Arc::new(ManualClock::new(NOW_MS)));
    env
}

/// Creates a lead and waits until it has its one DM; returns (contact id, owner email, the
/// `routed` audit entry's detail).
async fn route_one(env: &TestEnv, email: &str, extra: Value) -> (String, String, Value) {
    let id = env.create_lead(email, extra);
    let dm_key = format!("lead:hubspot:contacts:{id}:dm");
    assert!(
        wait_until(WAIT, || env.messages_with_key(&dm_key).len() == 1).await,
        "no DM for {email}: {:?}",
        env.audit(&format!("hubspot:contacts:{id}")).await
    );
    let owner_id = env
        .prop("contacts", &id, "hubspot_owner_id")
        .expect("owner");
    let owner = env.owner_email(&owner_id).expect("a seeded owner");
    // The one DM went to the CRM owner.
    let dm = &env.messages_with_key(&dm_key)[0];
    assert!(
        env.slack
            .dm_messages_for(&owner)
            .iter()
            .any(|m| metadata_key(m) == metadata_key(dm)),
        "the DM for {email} did not go to its owner {owner}"
    );
    let routed = env
        .audit_events(&format!("hubspot:contacts:{id}"), "routed")
        .await;
    assert_eq!(routed.len(), 1, "{email}: {routed:?}");
    (id, owner, routed[0]["detail"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_strategy_routes_a_live_lead_to_exactly_one_owner() {
    let mut env = env_with_rules().await;
    env.start_in_process().await;
    // The account the first lead belongs to, owned by a rep of the open Desk team.
    env.hubspot.create_object(
        "companies",
        props(json!({
            "name": "Globex",
            "domain": "globex.io",
            "hubspot_owner_id": env.owner_ids[EAST[1]],
        })),
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;

    // Named account: the account owner keeps the lead, wherever it comes from.
    let (_, owner, d) = route_one(&env, "hank@globex.io", json!({"company": "Globex"})).await;
    assert_eq!(
        (owner.as_str(), d["rule"].as_str()),
        (EAST[1], Some("accounts"))
    );

    // Territory by state, then by postal-code range.
    let (_, owner, d) = route_one(&env, "ca@initech.io", json!({"state": "CA"})).await;
    assert_eq!(
        (owner.as_str(), d["rule"].as_str()),
        (WEST[2], Some("california"))
    );
    let (_, owner, d) = route_one(&env, "ny@initech.io", json!({"zip": "10118"})).await;
    assert_eq!(
        (owner.as_str(), d["rule"].as_str()),
        (EAST[1], Some("new-york-city"))
    );

    // Strict round robin over two reps: c0, c1, c0.
    let mut japan = Vec::new();
    for i in 0..3 {
        let (_, owner, d) = route_one(
            &env,
            &format!("jp{i}@sony-example.jp"),
            json!({"country": "Japan", "phone": "+81 3-3210-1111"}),
        )
        .await;
        assert_eq!(d["rule"], "japan");
        japan.push(owner);
    }
    assert_eq!(japan, [CENTRAL[0], CENTRAL[1], CENTRAL[0]]);

    // Out of office (config): the away rep is skipped while another is available.
    for i in 0..2 {
        let (_, owner, d) = route_one(
            &env,
            &format!("br{i}@petro-example.br"),
            json!({"country": "Brazil", "phone": "+55 11 3003-1234"}),
        )
        .await;
        assert_eq!(
            (owner.as_str(), d["rule"].as_str()),
            (WEST[1], Some("brazil"))
        );
    }

    // Nobody available (the Night team works Sundays): the queue owner, with the reason.
    let (_, owner, d) = route_one(
        &env,
        "fr@renault-example.fr",
        json!({"country": "France", "phone": "+33 1 42 68 53 00"}),
    )
    .await;
    assert_eq!(
        (owner.as_str(), d["rule"].as_str()),
        (CENTRAL[1], Some("france"))
    );
    assert!(
        d["reason"].as_str().is_some_and(|r| r.contains("queue")),
        "{d}"
    );
    // ... or the pool's manager.
    let (_, owner, d) = route_one(
        &env,
        "es@iberia-example.es",
        json!({"country": "Spain", "phone": "+34 915 21 02 00"}),
    )
    .await;
    assert_eq!(
        (owner.as_str(), d["rule"].as_str()),
        (CENTRAL[0], Some("spain"))
    );
    assert!(
        d["reason"].as_str().is_some_and(|r| r.contains("manager")),
        "{d}"
    );

    // No rule matches: the global fallback owner, with the reason recorded.
    let (_, owner, d) = route_one(
        &env,
        "au@qantas-example.au",
        json!({"country": "Australia", "phone": "+61 2 9691 3636"}),
    )
    .await;
    assert_eq!(owner, WEST[2]);
    assert!(d["reason"].as_str().is_some_and(|r| !r.is_empty()), "{d}");

    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert!(env.dead_letters().await.is_empty());
    env.stop_in_process().await;
}
