//! The routing engine driving the live lead flow (`lead_handoff.rules`).
//!
//! In-process daemon against the emulators: weighted round robin in proportion with a durable
//! rotation, a segment rule for a `1000+` employee band, the explanation stored in the audit
//! trail and printed by `handoff explain --record`, and a lead deferred when its pool is closed
//! (no owner, no DM, a durable timer). At flow level (a `Store` and `Flows` built directly, a
//! fake CRM): a deferred lead's timer, fired at the team's opening, hands it off exactly once
//! even when the timer change is delivered twice.

mod common;
mod flow_support;

use common::*;
use flow_support::{contact_change, fake_crm, flows_with_rules, ms};
use handoff::flows::owners::Owner;
use handoff::flows::{Env, Flows};
use handoff::state::{Completion, Store};
use handoff_connector::{Change, Record};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// `mon`..`sun` of a jiff weekday.
fn day_name(d: jiff::civil::Weekday) -> &'static str {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][d.to_monday_zero_offset() as usize]
}

/// A rule set for the test environment's owners. West and Enterprise are open all day, every
/// day (00:00–23:59 in a zone where it is not 23:xx now, so the test never straddles the gap);
/// East works only on the weekday after tomorrow (UTC), so it is closed while the test runs.
fn rules_yaml() -> String {
    let now = jiff::Timestamp::now();
    let utc_hour = now.to_zoned(jiff::tz::TimeZone::UTC).hour();
    let open_zone = if utc_hour == 23 { "Etc/GMT+6" } else { "UTC" };
    let closed_day = day_name(
        now.to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .checked_add(jiff::Span::new().days(2))
            .unwrap()
            .weekday(),
    );
    format!(
        r#"name: daemon-test-routing
teams:
  - name: West
    time_zone: {open_zone}
    hours: {{ days: [mon, tue, wed, thu, fri, sat, sun], open: "00:00", close: "23:59" }}
    groups:
      - {{ manager: cleo.central@example.com, reps: [wendy.west@example.com, walt.west@example.com] }}
    weights: {{ walt.west@example.com: 0.5 }}
  - name: Enterprise
    time_zone: {open_zone}
    hours: {{ days: [mon, tue, wed, thu, fri, sat, sun], open: "00:00", close: "23:59" }}
    groups:
      - {{ manager: cleo.central@example.com, reps: [cal.central@example.com] }}
  - name: East
    time_zone: UTC
    hours: {{ days: [{closed_day}], open: "09:00", close: "17:00" }}
    groups:
      - {{ manager: cleo.central@example.com, reps: [erin.east@example.com] }}
rules:
  - name: enterprise
    strategy: segment
    segment: {{ employees: {{ min: 1000 }} }}
    pool: {{ team: Enterprise }}
  - name: germany
    strategy: territory
    territory: {{ country_codes: [DE] }}
    pool: {{ team: East }}
    when_nobody_available: defer
  - name: everyone-else
    strategy: round_robin
    pool: {{ team: West }}
fallback: {{ owner: cleo.central@example.com }}
"#
    )
}

/// A test environment whose config routes with [`rules_yaml`].
async fn env_with_rules() -> TestEnv {
    let env = TestEnv::new(Options::default()).await;
    env.use_rules(&rules_yaml(), "");
    env
}

/// Opens the stopped daemon's store (sled releases its lock shortly after the last handle).
async fn reopen_state(env: &TestEnv) -> Store {
    let dir = env.dir.path().join("state");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match Store::open(&dir) {
            Ok(s) => return s,
            Err(e) if std::time::Instant::now() >= deadline => panic!("store stays locked: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn owner_of(env: &TestEnv, id: &str) -> String {
    let owner_id = env.prop("contacts", id, "hubspot_owner_id").expect("owner");
    env.owner_email(&owner_id).expect("a seeded owner")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_route_live_leads_by_weight_and_segment_and_explain_why() {
    let mut env = env_with_rules().await;
    env.start_in_process().await;

    // Six leads one after another: smooth weighted round robin 1 : 0.5 gives 4 : 2.
    let mut ids = Vec::new();
    for i in 0..6 {
        let id = env.create_lead(&format!("rr{i}@northwind-traders.io"), json!({}));
        let key = format!("lead:hubspot:contacts:{id}:dm");
        assert!(
            wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await,
            "no DM for contact {id}"
        );
        ids.push(id);
    }
    // An enterprise lead (the `1000+` band maps to 1000 employees) goes to its pool.
    let big = env.create_lead("cto@globex-industries.io", json!({"numemployees": "1000+"}));
    let big_dm = format!("lead:hubspot:contacts:{big}:dm");
    assert!(wait_until(WAIT, || env.messages_with_key(&big_dm).len() == 1).await);
    env.wait_idle(WAIT, Duration::from_millis(300)).await;

    let owners: Vec<String> = ids.iter().map(|id| owner_of(&env, id)).collect();
    let count = |who: &str| owners.iter().filter(|o| o.as_str() == who).count();
    assert_eq!(
        (count(WEST[0]), count(WEST[1])),
        (4, 2),
        "weighted rotation over {owners:?}"
    );
    // The rotation is durable state that advances: no two consecutive leads went to walt.
    assert!(
        owners
            .windows(2)
            .all(|w| !(w[0] == WEST[1] && w[1] == WEST[1])),
        "{owners:?}"
    );
    assert_eq!(owner_of(&env, &big), CENTRAL[1]);
    for (id, owner) in ids.iter().zip(&owners) {
        let dms = env.messages_with_key(&format!("lead:hubspot:contacts:{id}:dm"));
        assert_eq!(dms.len(), 1);
        assert!(env
            .slack
            .dm_messages_for(owner)
            .iter()
            .any(|m| metadata_key(m) == metadata_key(&dms[0])));
    }

    // The audit trail carries the rule and the engine's explanation.
    let record = format!("hubspot:contacts:{}", ids[0]);
    let routed = env.audit_events(&record, "routed").await;
    assert_eq!(routed.len(), 1);
    assert_eq!(routed[0]["detail"]["rule"], "everyone-else");
    let explain = &routed[0]["detail"]["explain"];
    assert_eq!(explain["rule_set"], "daemon-test-routing");
    let rules: Vec<&str> = explain["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["enterprise", "germany", "everyone-else"]);
    let big_routed = env
        .audit_events(&format!("hubspot:contacts:{big}"), "routed")
        .await;
    assert_eq!(big_routed[0]["detail"]["rule"], "enterprise");

    // `handoff explain --record` prints it from the live daemon.
    let out = env
        .command()
        .args(["explain", "--record", &record, "--config"])
        .arg(&env.config_path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("everyone-else"), "{text}");
    assert!(text.contains(&owners[0]), "{text}");
    let json_out = env
        .command()
        .args(["explain", "--json", "--record", &record, "--config"])
        .arg(&env.config_path)
        .output()
        .unwrap();
    let parsed: Value = serde_json::from_slice(&json_out.stdout).expect("explain --json");
    assert_eq!(&parsed, explain);
    // The record id also works as a positional argument (`handoff explain hubspot:contacts:42`).
    let positional = env
        .command()
        .args(["explain", "--json", &record, "--config"])
        .arg(&env.config_path)
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&positional.stdout).expect("explain <record> --json"),
        parsed
    );

    env.stop_in_process().await;
    // The rotation state was committed with the decisions.
    let store = reopen_state(&env).await;
    let state: Value = store
        .get_json("routing:state")
        .unwrap()
        .expect("routing state");
    assert!(
        state["credits"]["rule:everyone-else"].is_object()
            || state["credits"]["team:West"].is_object(),
        "{state}"
    );
    assert_eq!(state["counts"][WEST[0]]["day_count"], 4, "{state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_for_a_closed_pool_is_deferred_with_a_durable_timer() {
    let mut env = env_with_rules().await;
    env.start_in_process().await;

    let id = env.create_lead(
        "anna@berlin-gmbh.de",
        json!({"country": "Germany", "phone": "+49 30 901820"}),
    );
    let record = format!("hubspot:contacts:{id}");
    let deadline = std::time::Instant::now() + WAIT;
    let mut deferred = env.audit_events(&record, "deferred").await;
    while deferred.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        deferred = env.audit_events(&record, "deferred").await;
    }
    assert!(
        !deferred.is_empty(),
        "no deferred entry: {:?}",
        env.audit(&record).await
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert_eq!(deferred.len(), 1);
    let d = &deferred[0]["detail"];
    assert_eq!(d["rule"], "germany");
    assert_eq!(d["explain"]["rules"][1]["verdict"], "nobody_available");
    let until_ms = d["until_ms"].as_i64().unwrap();
    assert!(until_ms > handoff_connector::now_ms(), "{d}");
    // No owner, no DM, no routed entry.
    assert_eq!(env.prop("contacts", &id, "hubspot_owner_id"), None);
    assert!(env
        .messages_with_key(&format!("lead:{record}:dm"))
        .is_empty());
    assert!(env.audit_events(&record, "routed").await.is_empty());

    env.stop_in_process().await;
    let store = reopen_state(&env).await;
    let timer = store
        .timer(&format!("lead-deferred:{record}"))
        .unwrap()
        .expect("a scheduled timer");
    assert_eq!(timer.due_ms, until_ms);
    assert_eq!(timer.kind, "lead_deferred");
    assert_eq!(timer.payload, json!({"id": id}));
    assert!(store.saga(&format!("lead:{record}")).unwrap().is_none());
}

// ---- flow level: the deferral fires ----------------------------------------------------

const EAST_RULES: &str = r#"name: east-hours
teams:
  - name: East
    time_zone: America/New_York
    hours: { days: [mon, tue, wed, thu, fri], open: "08:00", close: "17:00" }
    groups:
      - { manager: boss@example.com, reps: [erin.east@example.com] }
rules:
  - name: east
    strategy: round_robin
    pool: { team: East }
    when_nobody_available: defer
fallback: { owner: boss@example.com }
"#;

/// Takes the only ready inbox entry and commits `decide`'s completion for it.
async fn process_next<'a>(flows: &Flows, env: &Env<'a>, store: &Store) -> (Change, Completion) {
    let entries = store.inbox_ready(i64::MAX, 10).unwrap();
    assert_eq!(entries.len(), 1, "one ready change");
    let entry = &entries[0];
    let record = entry.change.snapshot.clone();
    let completion = flows
        .process(env, &entry.change, record.as_ref())
        .await
        .unwrap();
    store.complete(entry.seq, completion.clone()).unwrap();
    (entry.change.clone(), completion)
}

#[tokio::test]
async fn a_deferred_lead_is_handed_off_once_when_its_timer_fires_at_the_opening() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let erin = Owner {
        id: "701".into(),
        email: "erin.east@example.com".into(),
        name: "Erin East".into(),
    };
    let flows = flows_with_rules(EAST_RULES, vec![erin.clone()]);
    let contact = Record {
        id: "42".into(),
        object_type: "contacts".into(),
        properties: props(json!({
            "email": "anna@berlin-gmbh.de",
            "firstname": "Anna",
            "lastname": "Schmidt",
            "company": "Berlin GmbH",
            "country": "Germany",
            "phone": "+49 30 901820",
            "lifecyclestage": "marketingqualifiedlead",
            "hs_legal_basis": "Legitimate interest – prospect/lead",
        })),
        associations: Default::default(),
    };
    let crm = fake_crm([contact.clone()], vec![erin.clone()]);

    // Saturday afternoon: East is closed → deferred to Monday 08:00 New York (13:00 UTC).
    let saturday = ms("2026-11-21T15:00:00Z");
    let monday_open = ms("2026-11-23T13:00:00Z");
    store
        .enqueue_unflushed(vec![contact_change(&contact, saturday)])
        .unwrap();
    let env = Env {
        store: &store,
        crm: &crm,
        marketing: None,
        now_ms: saturday,
    };
    let (_, first) = process_next(&flows, &env, &store).await;
    // No handoff while closed: the only saga is the prospect's acknowledgement email (the
    // bundled config acknowledges after-hours leads).
    let keys: Vec<&str> = first.sagas.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["ack:hubspot:contacts:42"], "no handoff while closed");
    assert_eq!(first.timers.len(), 1);
    assert_eq!(first.timers[0].due_ms, monday_open);
    assert!(first.audit.iter().any(|a| a.event == "deferred"));
    let key = "lead-deferred:hubspot:contacts:42";
    assert_eq!(store.timer(key).unwrap().unwrap().due_ms, monday_open);

    // Not due a millisecond early; due at the opening.
    assert!(store
        .fire_due_timers(monday_open - 1, 10)
        .unwrap()
        .is_empty());
    assert_eq!(store.fire_due_timers(monday_open, 10).unwrap().len(), 1);
    let env = Env {
        store: &store,
        crm: &crm,
        marketing: None,
        now_ms: monday_open,
    };
    let (timer_change, second) = process_next(&flows, &env, &store).await;
    assert_eq!(timer_change.object_type, "timer");
    assert_eq!(crm.reads(), 1, "the contact is read fresh");
    assert_eq!(second.sagas.len(), 1);
    let saga = store
        .saga("lead:hubspot:contacts:42")
        .unwrap()
        .expect("saga");
    assert_eq!(saga.steps[0].name, "assign_owner");
    assert_eq!(
        saga.steps[0].action["fields"]["hubspot_owner_id"],
        json!(erin.id)
    );
    assert!(saga.steps.iter().any(|s| s.name == "notify_owner"));
    let routed = second
        .audit
        .iter()
        .find(|a| a.event == "routed")
        .expect("routed");
    assert_eq!(routed.detail["rule"], "east");
    assert_eq!(routed.detail["explain"]["rules"][0]["verdict"], "matched");
    assert!(store.timer(key).unwrap().is_none());

    // The same timer change delivered again: left alone, no second saga, no CRM read.
    let again = flows
        .process(&env, &timer_change, timer_change.snapshot.as_ref())
        .await
        .unwrap();
    assert!(again.sagas.is_empty() && again.audit.is_empty() && again.timers.is_empty());
    assert_eq!(crm.reads(), 1);
    let state: Value = store.get_json("routing:state").unwrap().unwrap();
    assert_eq!(state["counts"]["erin.east@example.com"]["day_count"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_rules_file_fails_validation_with_its_line_and_column() {
    let env = env_with_rules().await;
    let path = env.dir.path().join("routing.yaml");
    let bad = rules_yaml().replace("pool: { team: West }", "pool: { team: Nowhere }");
    std::fs::write(&path, bad).unwrap();
    let out = env
        .command()
        .args(["validate", "--config"])
        .arg(&env.config_path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    let line = rules_yaml()
        .lines()
        .position(|l| l.contains("pool: { team: West }"))
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!("{}:{line}:", path.display())),
        "{err}"
    );
    assert!(err.contains("Nowhere"), "{err}");

    // A missing rules file names the config key.
    std::fs::remove_file(&path).unwrap();
    let out = env
        .command()
        .args(["validate", "--config"])
        .arg(&env.config_path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(err.contains("lead_handoff.rules"), "{err}");
}
