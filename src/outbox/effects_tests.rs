//! The actions sagas of the release before the CRM seam stored (`update_crm_record`,
//! `associate_crm`, `upsert_ticket`, `instantiate_project`) still do what they did, through
//! the seam, and return the result names those sagas' later steps read.

use super::*;
use handoff_connector::memory_crm::{MemoryCrm, Write};
use handoff_connector::{ObjectKind, ProjectRef};
use secrecy::SecretString;

/// A PM tool whose projects are ready at once.
struct ReadyPm;

impl ProjectTool for ReadyPm {
    fn system(&self) -> &'static str {
        "pm"
    }
    fn find_project<'a>(
        &'a self,
        _name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ProjectRef>, ConnectorError>> {
        Box::pin(async { Ok(None) })
    }
    fn create_from_template<'a>(
        &'a self,
        template: &'a str,
        name: &'a str,
        _key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Creation, ConnectorError>> {
        Box::pin(async move {
            Ok(Creation::Ready(ProjectRef {
                id: format!("p-{template}"),
                name: name.to_string(),
                url: format!("https://pm.invalid/{template}"),
            }))
        })
    }
    fn poll_job<'a>(
        &'a self,
        _job_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ProjectRef>, ConnectorError>> {
        Box::pin(async { Ok(None) })
    }
}

fn effects() -> (Arc<MemoryCrm>, VendorEffects) {
    let crm = Arc::new(MemoryCrm::new(
        "hubspot",
        &[
            (ObjectKind::Lead, "contacts"),
            (ObjectKind::Account, "companies"),
            (ObjectKind::Deal, "deals"),
            (ObjectKind::Case, "tickets"),
        ],
    ));
    let slack = SlackClient::new(&handoff_slack::SlackConfig::new(
        SecretString::from("xoxb-test"),
        SecretString::from("s"),
    ))
    .unwrap();
    let effects = VendorEffects::new(crm.clone(), Arc::new(ReadyPm), slack);
    (crm, effects)
}

async fn run(effects: &VendorEffects, stored: Value) -> Value {
    let action: Action = serde_json::from_value(stored).unwrap();
    let key = IdempotencyKey::new("onboarding:hubspot:deals:26:ticket");
    effects.execute(&action, &key, false).await.unwrap()
}

#[tokio::test]
async fn stored_legacy_crm_actions_write_the_same_records() {
    let (crm, effects) = effects();
    let key = |object: &str, id: &str| RecordKey::new("hubspot", object, id);

    let done = run(
        &effects,
        json!({"type": "update_crm_record", "object_type": "contacts", "id": "23",
               "properties": {"hubspot_owner_id": "7"}}),
    )
    .await;
    assert_eq!(done, json!({"id": "23"}));
    run(
        &effects,
        json!({"type": "associate_crm", "from_type": "contacts", "from_id": "23",
               "to_type": "companies", "to_id": "5"}),
    )
    .await;
    let ticket = run(
        &effects,
        json!({"type": "upsert_ticket", "properties": {"subject": "Onboarding"},
               "associate": [["deals", "26"], ["companies", "5"]]}),
    )
    .await;
    assert_eq!(ticket["ticket_id"], "onboarding:hubspot:deals:26:ticket");
    assert!(ticket["ticket_url"]
        .as_str()
        .unwrap()
        .starts_with("https://"));

    let mut owner = handoff_connector::Fields::new();
    owner.insert("hubspot_owner_id".into(), json!("7"));
    let mut subject = handoff_connector::Fields::new();
    subject.insert("subject".into(), json!("Onboarding"));
    assert_eq!(
        crm.writes(),
        [
            Write::Update(key("contacts", "23"), owner),
            Write::Link(key("contacts", "23"), key("companies", "5")),
            Write::Case(
                IdempotencyKey::new("onboarding:hubspot:deals:26:ticket"),
                subject,
                vec![key("deals", "26"), key("companies", "5")],
            ),
        ]
    );
}

#[tokio::test]
async fn a_stored_instantiate_project_returns_the_project_gid_later_steps_read() {
    let (_, effects) = effects();
    let done = run(
        &effects,
        json!({"type": "instantiate_project", "template": "Onboarding — Growth",
               "name": "Onboarding: Acme (deal 26)"}),
    )
    .await;
    assert_eq!(done["project_gid"], "p-Onboarding — Growth");
    assert_eq!(
        done["project_url"],
        "https://pm.invalid/Onboarding — Growth"
    );
}
