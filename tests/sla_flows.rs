//! SLA decisions at flow level (a `Store` and `Flows` built directly, a fake CRM), where that is
//! cheaper than a daemon: the business-time SLA of a lead routed just before a weekend with the
//! US DST change, stale timers doing nothing, a reassignment to the fallback owner and, with
//! nobody left, a recycle; an unknown reject reason being a bad record.

mod flow_support;

use flow_support::{contact_change, fake_crm, flows_with_rules, ms, owner};
use handoff::flows::lead_state::{self, LeadState, LeadStatus};
use handoff::flows::{Env, FlowError, Flows};
use handoff::state::{Store, Timer};
use handoff_connector::{Change, ChangeKind, ChangeOrigin, Record};
use serde_json::{json, Map, Value};

/// New York office hours; `reps` in one group managed by boss@example.com; a 5-minute
/// business-time SLA that reminds at half, reassigns once 10 minutes after the breach and
/// recycles 30 minutes after the last breach.
fn rules(reps: &str) -> String {
    format!(
        r#"name: ny
teams:
  - name: NY
    time_zone: America/New_York
    hours: {{ days: [mon, tue, wed, thu, fri], open: "08:00", close: "17:00" }}
    groups:
      - {{ manager: boss@example.com, reps: [{reps}] }}
rules:
  - {{ name: all, strategy: round_robin, pool: {{ team: NY }} }}
fallback: {{ owner: boss@example.com }}
sla:
  policies:
    - {{ name: demo, first_touch: 5m, remind_at: 0.5, reassign_after: 10m, max_reassignments: 1, recycle_after: 30m, recycle_reason: sla_expired }}
"#
    )
}

fn flows(rules_yaml: &str) -> Flows {
    flows_with_rules(
        rules_yaml,
        vec![
            owner("1", "ann@example.com"),
            owner("2", "bob@example.com"),
            owner("9", "boss@example.com"),
        ],
    )
}

fn contact() -> Record {
    let props: Map<String, Value> = serde_json::from_value(json!({
        "email": "kim@acme-widgets.io",
        "firstname": "Kim",
        "lastname": "Lee",
        "company": "Acme Widgets",
        "country": "United States",
        "phone": "+1 212 736 5000",
        "lifecyclestage": "marketingqualifiedlead",
        "hs_legal_basis": "Legitimate interest – prospect/lead",
    }))
    .unwrap();
    Record {
        id: "42".into(),
        object_type: "contacts".into(),
        properties: props,
        associations: Default::default(),
    }
}

const KEY: &str = "hubspot:contacts:42";

fn open_state(assignments: u32, owner_email: &str) -> LeadState {
    LeadState {
        record_key: KEY.into(),
        record_id: "42".into(),
        owner_id: "1".into(),
        owner_email: owner_email.into(),
        team: Some("NY".into()),
        manager_email: Some("boss@example.com".into()),
        received_ms: ms("2026-11-24T15:00:00Z"),
        assigned_ms: ms("2026-11-24T15:00:00Z"),
        policy: Some("demo".into()),
        sla_due_ms: Some(ms("2026-11-24T15:05:00Z")),
        assignments,
        status: LeadStatus::Open,
    }
}

fn timer(step: &str, kind: &str, assignment: u32, due_ms: i64) -> Timer {
    Timer {
        key: format!("sla:{KEY}:{assignment}:{step}"),
        due_ms,
        kind: kind.into(),
        record_key: KEY.into(),
        payload: json!({"assignment": assignment, "contact_id": "42", "policy": "demo"}),
        created_ms: 0,
    }
}

#[tokio::test]
async fn a_lead_routed_before_the_dst_weekend_is_due_on_monday_in_business_time() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let flows = flows(&rules("ann@example.com, bob@example.com"));
    let c = contact();
    let crm = fake_crm([c.clone()], vec![]);
    // Friday 2026-10-30 16:58 EDT; the clocks go back on Sunday 2026-11-01.
    let now = ms("2026-10-30T20:58:00Z");
    let env = Env {
        store: &store,
        crm: &crm,
        marketing: None,
        now_ms: now,
    };
    let done = flows
        .process(&env, &contact_change(&c, now), Some(&c))
        .await
        .unwrap();
    let state: LeadState = serde_json::from_value(
        done.state
            .iter()
            .find(|(k, _)| k == &lead_state::key(KEY))
            .expect("the lead of record is written")
            .1
            .clone(),
    )
    .unwrap();
    assert_eq!(
        (state.assignments, state.status.clone()),
        (1, LeadStatus::Open)
    );
    assert_eq!(state.manager_email.as_deref(), Some("boss@example.com"));
    // 2 business minutes on Friday, 3 on Monday from 08:00 EST (13:00Z).
    assert_eq!(state.sla_due_ms, Some(ms("2026-11-02T13:03:00Z")));
    let due: Vec<(&str, i64)> = done
        .timers
        .iter()
        .map(|t| (t.kind.as_str(), t.due_ms))
        .collect();
    assert_eq!(
        due,
        vec![
            ("sla_reminder", ms("2026-11-02T13:00:30Z")),
            ("sla_breach", ms("2026-11-02T13:03:00Z")),
            ("sla_reassign", ms("2026-11-02T13:13:00Z")),
        ]
    );
    assert!(done
        .timers
        .iter()
        .all(|t| t.payload["assignment"] == 1 && t.key.starts_with("sla:hubspot:contacts:42:1:")));
    let routed = done.audit.iter().find(|a| a.event == "routed").unwrap();
    assert_eq!(routed.detail["policy"], "demo");
    assert_eq!(routed.detail["received_ms"], now);
}

#[tokio::test]
async fn stale_timers_do_nothing() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let flows = flows(&rules("ann@example.com, bob@example.com"));
    let crm = fake_crm([contact()], vec![]);
    let now = ms("2026-11-24T16:00:00Z");
    let env = Env {
        store: &store,
        crm: &crm,
        marketing: None,
        now_ms: now,
    };
    // On its second assignment: the first owner's breach timer is stale.
    let (k, v) = open_state(2, "bob@example.com").entry();
    store.put_json(&k, &v).unwrap();
    let old = timer("breach", "sla_breach", 1, now).to_change(now);
    let c = flows
        .process(&env, &old, old.snapshot.as_ref())
        .await
        .unwrap();
    assert!(c.sagas.is_empty() && c.audit.is_empty() && c.state.is_empty());
    // The current one acts: one escalation DM to the manager.
    let current = timer("breach", "sla_breach", 2, now).to_change(now);
    let c = flows
        .process(&env, &current, current.snapshot.as_ref())
        .await
        .unwrap();
    assert_eq!(c.sagas.len(), 1);
    assert_eq!(c.sagas[0].steps[0].action["email"], "boss@example.com");
    // Touched: nothing fires any more.
    let touched = LeadState {
        status: LeadStatus::Touched {
            at_ms: now,
            by: "claim".into(),
        },
        ..open_state(2, "bob@example.com")
    };
    let (k, v) = touched.entry();
    store.put_json(&k, &v).unwrap();
    let c = flows
        .process(&env, &current, current.snapshot.as_ref())
        .await
        .unwrap();
    assert!(c.sagas.is_empty() && c.audit.is_empty());
}

#[tokio::test]
async fn a_reassignment_goes_to_the_fallback_then_recycles_when_nobody_is_left() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Ann is the team's only rep: excluded, so the rule set's fallback owner is next.
    let flows = flows(&rules("ann@example.com"));
    let crm = fake_crm([contact()], vec![]);
    let now = ms("2026-11-24T15:15:00Z");
    let env = Env {
        store: &store,
        crm: &crm,
        marketing: None,
        now_ms: now,
    };
    let (k, v) = open_state(1, "ann@example.com").entry();
    store.put_json(&k, &v).unwrap();
    let fired = timer("reassign", "sla_reassign", 1, now).to_change(now);
    let c = flows
        .process(&env, &fired, fired.snapshot.as_ref())
        .await
        .unwrap();
    let moved = c
        .audit
        .iter()
        .find(|a| a.event == "sla_reassigned")
        .expect("reassigned");
    assert_eq!(moved.detail["to_owner_email"], "boss@example.com");
    assert_eq!(moved.detail["assignment"], 2);
    assert_eq!(
        c.sagas[0].steps[0].action["fields"]["hubspot_owner_id"],
        "9"
    );
    assert!(c
        .timers
        .iter()
        .all(|t| t.key.starts_with("sla:hubspot:contacts:42:2:")));
    assert!(
        c.timers.iter().any(|t| t.kind == "sla_recycle"),
        "the last owner's window ends in a recycle"
    );

    // The fallback owner had it before too: nobody is left, the lead goes back to nurture.
    store
        .put_json(
            "lead-owners:hubspot:contacts:42",
            &json!(["boss@example.com"]),
        )
        .unwrap();
    let c = flows
        .process(&env, &fired, fired.snapshot.as_ref())
        .await
        .unwrap();
    let recycled = c
        .audit
        .iter()
        .find(|a| a.event == "recycled")
        .expect("recycled");
    assert_eq!(recycled.detail["reason"], "sla_expired");
    assert_eq!(recycled.detail["by"], "sla");
    assert_eq!(
        c.sagas[0].steps[0].action["fields"]["handoff_nurture_reason"],
        "sla_expired"
    );
    let state: LeadState = serde_json::from_value(c.state[0].1.clone()).unwrap();
    assert!(matches!(state.status, LeadStatus::Recycled { .. }));
}

#[tokio::test]
async fn an_unknown_reject_reason_is_a_bad_record() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let flows = flows(&rules("ann@example.com"));
    let crm = fake_crm([contact()], vec![]);
    let env = Env {
        store: &store,
        crm: &crm,
        marketing: None,
        now_ms: 0,
    };
    let pick = |value: &str| {
        let props: Map<String, Value> = serde_json::from_value(json!({
            "action_id": "reject_lead", "value": value, "user_id": "U1",
            "channel_id": "D1", "message_ts": "1.0", "action_ts": "1.1",
        }))
        .unwrap();
        let record = Record {
            id: "D1:1.0".into(),
            object_type: "block_actions".into(),
            properties: props,
            associations: Default::default(),
        };
        Change {
            source: "slack".into(),
            object_type: "block_actions".into(),
            object_id: "D1:1.0".into(),
            event_id: None,
            modified_at_ms: 0,
            received_at_ms: 0,
            origin: ChangeOrigin::Webhook,
            kind: ChangeKind::Updated,
            changed_property: None,
            snapshot: Some(record),
        }
    };
    for bad in [
        "too_expensive|hubspot:contacts:42",
        "not_a_fit",
        "not_a_fit|slack:x",
    ] {
        let change = pick(bad);
        let err = flows
            .process(&env, &change, change.snapshot.as_ref())
            .await
            .unwrap_err();
        assert!(matches!(err, FlowError::BadRecord { .. }), "{bad}: {err}");
        assert!(!err.is_retryable());
    }
    let ok = pick("not_a_fit|hubspot:contacts:42");
    let c = flows
        .process(&env, &ok, ok.snapshot.as_ref())
        .await
        .unwrap();
    assert_eq!(c.sagas[0].key, "reject:hubspot:contacts:42");
}
