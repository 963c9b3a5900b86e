//! Flow-level tests of [`super::check`]: a store, `Flows` from the bundled sandbox config with
//! an `ownership:` section, and a fake CRM whose owner history the test scripts.

use super::*;
use crate::config::ownership::OwnershipConfig;
use crate::flows::lead_state::{LeadState, LeadStatus};
use crate::flows::owners::{Owner, OwnerDirectory};
use crate::flows::{Env, Flows};
use crate::state::Store;
use handoff_connector::memory_crm::MemoryCrm;
use handoff_connector::{Change, ChangeKind, ChangeOrigin, FieldChange, ObjectKind, Record};
use serde_json::json;
use std::sync::{Arc, RwLock};

/// The owner property of the bundled config's CRM.
const OWNER_PROPERTY: &str = "hubspot_owner_id";

const SECTION: &str = "\
systems:
  marketing: [AUTOMATION_PLATFORM, FORM, IMPORT]
  crm: [CRM_UI, MOBILE_IOS, MOBILE_ANDROID, SALES]
  handoff: [INTEGRATION]
system_of_record:
  - { stages: [subscriber, lead, MQL], system: handoff }
  - { stages: [SQL, opportunity, customer], system: crm }
";

const OF_RECORD: &str = "701";
const OTHER: &str = "702";
const CHANGED_AT: i64 = 1_900_000_000_000;
const NOW: i64 = CHANGED_AT + 5_000;

/// A CRM (named and shaped as the bundled config's) that answers the scripted owner history.
fn crm(history: Vec<FieldChange>) -> MemoryCrm {
    let crm = MemoryCrm::new(
        "hubspot",
        &[
            (ObjectKind::Lead, "contacts"),
            (ObjectKind::Account, "companies"),
            (ObjectKind::Deal, "deals"),
            (ObjectKind::Case, "tickets"),
        ],
    );
    crm.set_owner_history(history);
    crm
}

fn by(source_type: &str, value: &str) -> FieldChange {
    FieldChange {
        value: value.into(),
        timestamp_ms: CHANGED_AT,
        source_type: source_type.into(),
        source_id: Some("workflowId:77".into()),
        source_label: None,
        by_handoff: false,
    }
}

fn flows(on_violation: Option<&str>) -> Flows {
    let mut loaded = crate::sandbox::bundled_config().unwrap();
    let text = match on_violation {
        Some(v) => format!("{SECTION}on_violation: {v}\n"),
        None => SECTION.to_string(),
    };
    let cfg: OwnershipConfig = serde_saphyr::from_str(&text).unwrap();
    cfg.check(std::path::Path::new("t.yaml")).unwrap();
    loaded.config.ownership = Some(cfg);
    let owners = vec![
        Owner {
            id: OF_RECORD.into(),
            email: "erin.east@example.com".into(),
            name: "Erin East".into(),
        },
        Owner {
            id: OTHER.into(),
            email: "ed.east@example.com".into(),
            name: "Ed East".into(),
        },
    ];
    Flows {
        loaded: Arc::new(loaded),
        owners: Arc::new(RwLock::new(OwnerDirectory::new(owners))),
        marketing_owners: Default::default(),
    }
}

fn contact(stage: &str, owner: &str) -> Record {
    Record {
        id: "42".into(),
        object_type: "contacts".into(),
        properties:
            json!({"email": "ana@example.com", "lifecyclestage": stage, "hubspot_owner_id": owner})
                .as_object()
                .unwrap()
                .clone(),
        associations: Default::default(),
    }
}

fn change() -> Change {
    Change {
        source: "hubspot".into(),
        object_type: "contacts".into(),
        object_id: "42".into(),
        event_id: Some("e1".into()),
        modified_at_ms: CHANGED_AT,
        received_at_ms: CHANGED_AT,
        origin: ChangeOrigin::Webhook,
        kind: ChangeKind::Updated,
        changed_property: Some(OWNER_PROPERTY.into()),
        snapshot: None,
    }
}

fn lead() -> LeadState {
    LeadState {
        record_key: "hubspot:contacts:42".into(),
        record_id: "42".into(),
        owner_id: OF_RECORD.into(),
        owner_email: "erin.east@example.com".into(),
        team: Some("East".into()),
        manager_email: Some("boss@example.com".into()),
        received_ms: CHANGED_AT - 60_000,
        assigned_ms: CHANGED_AT - 60_000,
        policy: None,
        sla_due_ms: None,
        assignments: 1,
        status: LeadStatus::Open,
    }
}

const MQL: &str = "marketingqualifiedlead";
const SQL: &str = "salesqualifiedlead";

async fn run(
    flows: &Flows,
    store: &Store,
    crm: &MemoryCrm,
    contact: &Record,
) -> Option<Completion> {
    let env = Env {
        store,
        crm,
        marketing: None,
        now_ms: NOW,
    };
    check(
        flows,
        &env,
        &change(),
        &flows.map_lead(contact).record,
        &lead(),
    )
    .await
    .unwrap()
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

#[tokio::test]
async fn a_workflow_changing_the_owner_at_mql_is_reverted_once() {
    let (_d, store) = store();
    let f = flows(None);
    let crm = crm(vec![
        by("AUTOMATION_PLATFORM", OTHER),
        by("INTEGRATION", OF_RECORD),
    ]);
    let c = run(&f, &store, &crm, &contact(MQL, OTHER))
        .await
        .expect("a decision");

    assert_eq!(c.sagas.len(), 1);
    let saga = &c.sagas[0];
    assert_eq!(
        saga.key,
        format!("owner-revert:hubspot:contacts:42:{CHANGED_AT}")
    );
    assert_eq!(saga.steps[0].action["type"], "crm_update");
    assert_eq!(saga.steps[0].action["record"], "hubspot:contacts:42");
    assert_eq!(
        saga.steps[0].action["fields"],
        json!({ OWNER_PROPERTY: OF_RECORD }),
        "only the owner is written back"
    );
    assert_eq!(c.audit.len(), 1);
    let a = &c.audit[0];
    assert_eq!(a.event, "owner_change");
    assert_eq!(a.at_ms, NOW);
    assert_eq!(
        a.detail,
        json!({
            "action": "reverted", "system": "marketing", "source_type": "AUTOMATION_PLATFORM",
            "stage": "MQL", "from_owner_id": OF_RECORD, "to_owner_id": OTHER,
            "system_of_record": "handoff", "source_id": "workflowId:77",
            "changed_at_ms": CHANGED_AT,
        })
    );
    // The lead of record is not touched; the change is marked as decided.
    assert!(c.state.iter().all(|(k, _)| !k.starts_with("lead-state:")));
    let (key, value) = &c.state[0];
    assert_eq!(
        key,
        &format!("owner-change:hubspot:contacts:42:{CHANGED_AT}")
    );
    store.put_json(key, value).unwrap();
    // The same change seen again (poll after webhook) is decided once.
    assert!(run(&f, &store, &crm, &contact(MQL, OTHER)).await.is_none());
}

#[tokio::test]
async fn with_flag_the_change_is_audited_and_the_manager_told_but_nothing_written() {
    let (_d, store) = store();
    let f = flows(Some("flag"));
    let crm = crm(vec![by("FORM", OTHER)]);
    let c = run(&f, &store, &crm, &contact(MQL, OTHER))
        .await
        .expect("a decision");
    assert_eq!(c.audit[0].detail["action"], "flagged");
    assert_eq!(c.audit[0].detail["system"], "marketing");
    assert_eq!(c.sagas.len(), 1, "only the manager's DM");
    let step = &c.sagas[0].steps[0];
    assert_eq!(step.action["type"], "slack_dm");
    assert_eq!(step.action["email"], "boss@example.com");
    assert!(step.action["text"]
        .as_str()
        .unwrap()
        .contains("erin.east@example.com"));
    assert!(c.sagas[0]
        .key
        .starts_with("owner-flag:hubspot:contacts:42:"));
    assert!(c
        .sagas
        .iter()
        .flat_map(|s| &s.steps)
        .all(|s| s.action["type"] != "crm_update"));
    assert!(c.state.iter().all(|(k, _)| !k.starts_with("lead-state:")));
}

#[tokio::test]
async fn a_rep_changing_the_owner_at_sql_is_accepted_and_the_lead_of_record_follows() {
    let (_d, store) = store();
    let f = flows(None);
    let mut ui = by("CRM_UI", OTHER);
    ui.source_id = Some("userId:9".into());
    let crm = crm(vec![ui]);
    let c = run(&f, &store, &crm, &contact(SQL, OTHER))
        .await
        .expect("a decision");
    assert!(c.sagas.is_empty(), "nothing written back");
    assert_eq!(c.audit[0].detail["action"], "accepted");
    assert_eq!(c.audit[0].detail["system"], "crm");
    assert_eq!(c.audit[0].detail["stage"], "SQL");
    let (_, state) = c
        .state
        .iter()
        .find(|(k, _)| k == "lead-state:hubspot:contacts:42")
        .expect("the lead of record is rewritten");
    let next: LeadState = serde_json::from_value(state.clone()).unwrap();
    assert_eq!(next.owner_id, OTHER);
    assert_eq!(next.owner_email, "ed.east@example.com");
    assert_eq!(next.assigned_ms, NOW);
    assert_eq!(next.assignments, 2);
    assert_eq!(next.received_ms, lead().received_ms);
}

#[tokio::test]
async fn nothing_is_decided_when_owners_agree_or_the_change_is_not_judged() {
    let (_d, store) = store();
    let f = flows(None);
    // Owners agree: the history is not even read.
    let agree = crm(vec![by("AUTOMATION_PLATFORM", OF_RECORD)]);
    assert!(run(&f, &store, &agree, &contact(MQL, OF_RECORD))
        .await
        .is_none());
    assert_eq!(agree.history_reads(), 0);
    // handoff's own write (its saga in flight): never judged, whether the config's systems
    // say so or the connector knows it.
    let own = crm(vec![by("INTEGRATION", OTHER)]);
    assert!(run(&f, &store, &own, &contact(MQL, OTHER)).await.is_none());
    let mut known = by("USER", OTHER);
    known.by_handoff = true;
    let own = crm(vec![known]);
    assert!(run(&f, &store, &own, &contact(MQL, OTHER)).await.is_none());
    // The record moved on since it was read: wait for the newer change.
    let moved = crm(vec![by("AUTOMATION_PLATFORM", "703")]);
    assert!(run(&f, &store, &moved, &contact(MQL, OTHER))
        .await
        .is_none());
    // A stage no entry governs.
    let wf = crm(vec![by("AUTOMATION_PLATFORM", OTHER)]);
    assert!(run(&f, &store, &wf, &contact("evangelist", OTHER))
        .await
        .is_none());
    // No `ownership:` section at all.
    let mut plain = flows(None);
    Arc::get_mut(&mut plain.loaded).unwrap().config.ownership = None;
    assert!(run(&plain, &store, &wf, &contact(MQL, OTHER))
        .await
        .is_none());
    // A recycled lead has no active owner to defend.
    let env = Env {
        store: &store,
        crm: &wf,
        marketing: None,
        now_ms: NOW,
    };
    let mut recycled = lead();
    recycled.status = LeadStatus::Recycled {
        at_ms: 1,
        reason: "sla_expired".into(),
    };
    assert!(check(
        &f,
        &env,
        &change(),
        &f.map_lead(&contact(MQL, OTHER)).record,
        &recycled
    )
    .await
    .unwrap()
    .is_none());
}

#[tokio::test]
async fn an_owner_change_without_history_counts_as_an_unknown_system() {
    let (_d, store) = store();
    let f = flows(None);
    let none = crm(Vec::new());
    let c = run(&f, &store, &none, &contact(MQL, ""))
        .await
        .expect("a decision");
    assert_eq!(c.audit[0].detail["action"], "reverted");
    assert_eq!(c.audit[0].detail["system"], "unknown");
    assert_eq!(c.audit[0].detail["to_owner_id"], "");
    assert_eq!(
        c.sagas[0].key,
        format!("owner-revert:hubspot:contacts:42:{CHANGED_AT}"),
        "keyed by the change's time when there is no history"
    );
}
