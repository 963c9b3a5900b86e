//! One system of record for ownership, black-box, once per CRM: an in-process daemon against
//! the emulators, routing with a rules file (so routed leads have a lead of record) and an
//! `ownership:` section — handoff owns the owner field up to MQL, the CRM from SQL on.
//!
//! * Marketing automation (a HubSpot workflow, `AUTOMATION_PLATFORM`; a Salesforce marketing
//!   integration user) re-assigns a routed MQL lead: handoff writes the owner of record back,
//!   audits `owner_change` `reverted` and counts it in `/metrics`.
//! * The same with `on_violation: flag`: the other owner stays, the change is audited
//!   `flagged` and counted, and the owner of record's manager gets a DM.
//! * A rep (HubSpot `CRM_UI`; a Salesforce user) re-assigns the lead once it is SQL: accepted,
//!   nothing written back, and the lead of record follows the new owner.

mod common;

use common::*;
use handoff::flows::lead_state::{self, LeadState};
use handoff::state::Store;
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// Everyone routes to West (open all day, every day); its manager is Cleo.
fn rules_yaml() -> String {
    let utc_hour = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .hour();
    let zone = if utc_hour == 23 { "Etc/GMT+6" } else { "UTC" };
    format!(
        r#"name: daemon-test-ownership
teams:
  - name: West
    time_zone: {zone}
    hours: {{ days: [mon, tue, wed, thu, fri, sat, sun], open: "00:00", close: "23:59" }}
    groups:
      - {{ manager: cleo.central@example.com, reps: [wendy.west@example.com, walt.west@example.com] }}
rules:
  - name: everyone
    strategy: round_robin
    pool: {{ team: West }}
fallback: {{ owner: cleo.central@example.com }}
"#
    )
}

fn ownership_yaml(env: &TestEnv, on_violation: &str) -> String {
    format!(
        r#"ownership:
  systems:
{systems}  system_of_record:
    - {{ stages: [subscriber, lead, MQL], system: handoff }}
    - {{ stages: [SQL, opportunity, customer], system: crm }}
  on_violation: {on_violation}
"#,
        systems = env.ownership_systems_yaml()
    )
}

/// A started daemon routing by [`rules_yaml`] with `ownership.on_violation` set.
async fn start(crm: CrmKind, on_violation: &str) -> TestEnv {
    let mut env = TestEnv::new(Options::on(crm)).await;
    env.use_rules(&rules_yaml(), "");
    let with_rules = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(
        &env.config_path,
        format!("{with_rules}{}", ownership_yaml(&env, on_violation)),
    )
    .unwrap();
    env.start_in_process().await;
    env
}

/// Creates an MQL lead and waits until it is routed (owner written, DM sent); returns its id
/// and its owner id.
async fn routed_lead(env: &TestEnv, email: &str) -> (String, String) {
    let id = env.new_lead(email);
    let dm = format!("lead:{}:dm", env.lead_key(&id));
    assert!(
        wait_until(WAIT, || env.messages_with_key(&dm).len() == 1).await,
        "lead {id} was not routed"
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let owner = env.lead_owner(&id).expect("an owner");
    (id, owner)
}

/// The email of `owner_id`.
fn email(env: &TestEnv, owner_id: &str) -> String {
    env.owner_email(owner_id).expect("a seeded owner")
}

/// The other West rep's owner id.
fn other_rep(env: &TestEnv, owner_id: &str) -> String {
    WEST[..2]
        .iter()
        .map(|e| env.owner_ids[*e].clone())
        .find(|id| id != owner_id)
        .unwrap()
}

async fn owner_changes(env: &TestEnv, record: &str) -> Vec<Value> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let found = env.audit_events(record, "owner_change").await;
        if !found.is_empty() || std::time::Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The counter line `handoff_owner_changes_total{crm="…",action="…",system="…"} N` of the
/// test's CRM, if exported. The registry is the test process's, shared by both CRMs' runs of a
/// test; the `crm` label keeps their counts apart, and each CRM's run is the only one of its
/// test to change an owner.
fn counter(env: &TestEnv, metrics: &str, action: &str, system: &str) -> Option<f64> {
    let crm = env.crm.system();
    metrics
        .lines()
        .filter(|l| l.starts_with("handoff_owner_changes_total{"))
        .find(|l| {
            l.contains(&format!("crm=\"{crm}\""))
                && l.contains(&format!("action=\"{action}\""))
                && l.contains(&format!("system=\"{system}\""))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

async fn lead_of_record(env: &mut TestEnv, record: &str) -> LeadState {
    env.stop_in_process().await;
    let dir = env.dir.path().join("state");
    let deadline = std::time::Instant::now() + WAIT;
    let store = loop {
        match Store::open(&dir) {
            Ok(s) => break s,
            Err(e) if std::time::Instant::now() >= deadline => panic!("store stays locked: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    lead_state::load(&store, record)
        .unwrap()
        .expect("a lead of record")
}

on_each_crm!(
    automation_reassigning_an_mql_lead_is_reverted_audited_and_counted,
    with_flag_an_automation_change_is_audited_and_the_manager_told_but_not_written,
    a_rep_reassigning_an_sql_lead_in_the_crm_is_accepted_and_followed,
);

async fn automation_reassigning_an_mql_lead_is_reverted_audited_and_counted(crm: CrmKind) {
    let mut env = start(crm, "revert").await;
    let (id, owner) = routed_lead(&env, "wf@northwind-traders.io").await;
    let record = env.lead_key(&id);
    let intruder = other_rep(&env, &owner);
    let (automation, _) = env.source_types();

    env.other_system_sets_owner(&id, &email(&env, &intruder));
    assert!(
        wait_until(WAIT, || env.lead_owner(&id).as_deref()
            == Some(owner.as_str()))
        .await,
        "the owner of record was not written back: {:?}",
        env.audit(&record).await
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let changes = owner_changes(&env, &record).await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    let d = &changes[0]["detail"];
    assert_eq!(d["action"], "reverted");
    assert_eq!(d["system"], "marketing");
    assert_eq!(d["source_type"], automation);
    assert_eq!(d["stage"], "MQL");
    assert_eq!(d["from_owner_id"], owner.as_str());
    assert_eq!(d["to_owner_id"], intruder.as_str());
    // The history shows the other system's write, then handoff's correction as itself.
    match crm {
        CrmKind::HubSpot => {
            let history = env
                .hubspot
                .property_history("contacts", &id, "hubspot_owner_id");
            assert_eq!(history[0].value, owner);
            assert_eq!(history[0].source_type, "INTEGRATION");
            assert_eq!(history[1].source_type, "AUTOMATION_PLATFORM");
        }
        CrmKind::Salesforce => {
            let mut rows: Vec<Value> = env
                .salesforce
                .history("Lead", &id)
                .into_iter()
                .filter(|r| r["DataType"] == "EntityId")
                .collect();
            rows.sort_by_key(|r| r["CreatedDate"].as_str().unwrap_or("").to_string());
            let last = rows.last().expect("history rows");
            assert_eq!(last["NewValue"], owner.as_str());
            assert_eq!(
                last["CreatedById"],
                env.salesforce.integration_user_id().as_str()
            );
            let before = &rows[rows.len() - 2];
            assert_eq!(
                before["CreatedById"],
                env.marketing_integration_user().as_str()
            );
        }
    }
    let metrics = env.metrics_text().await;
    assert_eq!(
        counter(&env, &metrics, "reverted", "marketing"),
        Some(1.0),
        "{metrics}"
    );

    let state = lead_of_record(&mut env, &record).await;
    assert_eq!(state.owner_id, owner, "the lead of record is unchanged");
}

async fn with_flag_an_automation_change_is_audited_and_the_manager_told_but_not_written(
    crm: CrmKind,
) {
    let mut env = start(crm, "flag").await;
    let (id, owner) = routed_lead(&env, "flag@northwind-traders.io").await;
    let record = env.lead_key(&id);
    let intruder = other_rep(&env, &owner);

    env.other_system_sets_owner(&id, &email(&env, &intruder));

    let changes = owner_changes(&env, &record).await;
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert_eq!(changes.len(), 1, "{:?}", env.audit(&record).await);
    assert_eq!(changes[0]["detail"]["action"], "flagged");
    assert_eq!(changes[0]["detail"]["system"], "marketing");
    assert_eq!(
        env.lead_owner(&id),
        Some(intruder.clone()),
        "flag writes nothing to the CRM"
    );
    // The owner of record's manager (West's group manager) hears about it.
    let manager = CENTRAL[0];
    assert!(
        wait_until(WAIT, || env.slack.dm_messages_for(manager).iter().any(
            |m| metadata_key(m).is_some_and(|k| k.starts_with(&format!("owner-flag:{record}:")))
        ))
        .await,
        "no DM to {manager}"
    );
    let metrics = env.metrics_text().await;
    assert_eq!(
        counter(&env, &metrics, "flagged", "marketing"),
        Some(1.0),
        "{metrics}"
    );

    let state = lead_of_record(&mut env, &record).await;
    assert_eq!(state.owner_id, owner, "the lead of record is left as is");
}

async fn a_rep_reassigning_an_sql_lead_in_the_crm_is_accepted_and_followed(crm: CrmKind) {
    let mut env = start(crm, "revert").await;
    let (id, owner) = routed_lead(&env, "sql@northwind-traders.io").await;
    let record = env.lead_key(&id);
    let new_owner = other_rep(&env, &owner);
    let rep = email(&env, &new_owner);
    let (_, ui) = env.source_types();

    // Sales qualifies the lead, then re-assigns it in the UI.
    env.rep_qualifies_lead(&id, &rep);
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    env.rep_updates_lead(&id, &rep, props(json!({ env.owner_field(): new_owner })));

    let changes = owner_changes(&env, &record).await;
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert_eq!(changes.len(), 1, "{:?}", env.audit(&record).await);
    let d = &changes[0]["detail"];
    assert_eq!(d["action"], "accepted");
    assert_eq!(d["system"], "crm");
    assert_eq!(d["source_type"], ui);
    assert_eq!(d["stage"], "SQL");
    assert_eq!(env.lead_owner(&id), Some(new_owner.clone()));
    let metrics = env.metrics_text().await;
    assert_eq!(
        counter(&env, &metrics, "accepted", "crm"),
        Some(1.0),
        "{metrics}"
    );

    let state = lead_of_record(&mut env, &record).await;
    assert_eq!(
        state.owner_id, new_owner,
        "the lead of record follows the CRM"
    );
    assert_eq!(state.owner_email, env.owner_email(&new_owner).unwrap());
    assert_eq!(state.assignments, 2);
}
