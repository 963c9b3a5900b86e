//! `SalesforceCrm` (the CRM seam) and the client's writes against the emulator.
#![cfg(feature = "emulator")]

mod common;

use common::{fields, lead, Harness};
use handoff_connector::{
    ConnectorError, Crm, EmailQuery, ErrorClass, IdempotencyKey, ObjectKind, RecordKey,
};
use handoff_salesforce::emulator::EmulatorConfig;
use serde_json::json;

fn key(object: &str, id: &str) -> RecordKey {
    RecordKey::new("salesforce", object, id)
}

fn rejected_with(err: &ConnectorError, code: &str) {
    assert!(
        matches!(err, ConnectorError::Rejected { status: 400, .. }),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(err.to_string().contains(code), "{err}");
}

#[tokio::test]
async fn malformed_queries_and_missing_required_fields_are_permanent_and_named() {
    let h = Harness::default().await;
    let client = h.client();
    let err = client.query("SELECT FROM Lead WHERE").await.unwrap_err();
    rejected_with(&err, "MALFORMED_QUERY");
    let err = client
        .query("SELECT Id, Nope__c FROM Lead")
        .await
        .unwrap_err();
    rejected_with(&err, "INVALID_FIELD");
    assert!(err.to_string().contains("Nope__c"));

    let err = client
        .create("Lead", &fields(json!({ "LastName": "Solo" })))
        .await
        .unwrap_err();
    rejected_with(&err, "REQUIRED_FIELD_MISSING");
    let text = err.to_string();
    assert!(
        text.contains("Company") && text.contains("Status") && !text.contains("LastName,"),
        "{text}"
    );
    let err = client
        .create(
            "Lead",
            &fields(json!({ "LastName": "Solo", "Company": "S", "Status": "Maybe" })),
        )
        .await
        .unwrap_err();
    rejected_with(&err, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
}

#[tokio::test]
async fn upserting_a_case_twice_with_one_key_makes_one_linked_case() {
    let h = Harness::default().await;
    let crm = h.crm();
    let account = h.emu.create("Account", fields(json!({ "Name": "Acme" })));
    let contact = h.emu.create(
        "Contact",
        fields(json!({ "LastName": "Doe", "AccountId": account })),
    );
    let opp = h.emu.create(
        "Opportunity",
        fields(json!({ "Name": "Acme deal", "StageName": "Closed Won", "CloseDate": "2026-12-01", "AccountId": account })),
    );
    let links = [
        key("Account", &account),
        key("Opportunity", &opp),
        key("Contact", &contact),
    ];
    let k = IdempotencyKey::new(format!("onboarding:salesforce:Opportunity:{opp}:case"));
    let first = crm
        .upsert_case(
            &k,
            &fields(json!({ "Subject": "Onboard Acme", "Origin": "Web" })),
            &links,
        )
        .await
        .unwrap();
    let second = crm
        .upsert_case(
            &k,
            &fields(json!({ "Subject": "Onboard Acme (retry)" })),
            &links,
        )
        .await
        .unwrap();
    assert_eq!(first.key, second.key);
    assert_eq!(first.key.object, "Case");
    let cases = h.emu.objects("Case");
    assert_eq!(cases.len(), 1, "one case for one key");
    let case = &cases[0];
    assert_eq!(case["AccountId"], account.as_str());
    assert_eq!(case["ContactId"], contact.as_str());
    assert_eq!(case["Handoff_Idempotency_Key__c"], k.as_str());
    assert_eq!(case["Subject"], "Onboard Acme (retry)");
    assert_eq!(case["CreatedById"], h.emu.integration_user_id().as_str());
    assert_eq!(
        first.url,
        format!("{}/lightning/r/Case/{}/view", h.audience(), first.key.id)
    );
    assert_eq!(
        crm.associated(&first.key, ObjectKind::Account)
            .await
            .unwrap(),
        [key("Account", &account)]
    );
}

#[tokio::test]
async fn owner_history_tells_handoffs_writes_from_a_reps_newest_first() {
    let h = Harness::default().await;
    let crm = h.crm();
    let rep1 = h.emu.add_user("rep1@example.com", "Ann", "One");
    let rep2 = h.emu.add_user("rep2@example.com", "Bob", "Two");
    let id = h
        .emu
        .create("Lead", lead("Owned", &rep1, "Open - Not Contacted"));
    let record = key("Lead", &id);
    h.emu.set_clock(Some(1_700_000_000_000));
    crm.update(&record, &fields(json!({ "OwnerId": rep2 })))
        .await
        .unwrap();
    h.emu.set_clock(Some(1_700_000_600_000));
    h.emu
        .update_as(&rep1, "Lead", &id, fields(json!({ "OwnerId": rep1 })))
        .unwrap();

    let rows = h.emu.history("Lead", &id);
    assert_eq!(rows.len(), 4, "two rows per owner change");
    assert!(rows
        .iter()
        .any(|r| r["NewValue"] == "Bob Two" && r["DataType"] == "Text"));
    assert!(rows
        .iter()
        .any(|r| r["NewValue"] == rep2.as_str() && r["DataType"] == "EntityId"));

    let history = crm.owner_history(&record).await.unwrap();
    assert_eq!(history.len(), 2, "one entry per change");
    assert_eq!(history[0].value, rep1);
    assert_eq!(history[0].timestamp_ms, 1_700_000_600_000);
    assert_eq!(history[0].source_id.as_deref(), Some(rep1.as_str()));
    assert!(!history[0].by_handoff, "the rep's write");
    assert_eq!(history[1].value, rep2);
    assert!(history[1].by_handoff, "handoff's write");
    assert_eq!(history[1].source_id, Some(h.emu.integration_user_id()));
    assert!(history.iter().all(|c| c.source_type == "USER"));
    // Objects without owner history answer empty.
    let account = h.emu.create("Account", fields(json!({ "Name": "A" })));
    assert!(crm
        .owner_history(&key("Account", &account))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn open_leads_are_counted_per_owner_and_status() {
    let h = Harness::default().await;
    let crm = h.crm();
    let rep = h.emu.add_user("rep@example.com", "Rae", "Rep");
    let other = h.emu.add_user("other@example.com", "Oz", "Other");
    for (i, status) in [
        "Open - Not Contacted",
        "Open - Not Contacted",
        "Working - Contacted",
        "Closed - Not Converted",
    ]
    .iter()
    .enumerate()
    {
        h.emu.create("Lead", lead(&format!("L{i}"), &rep, status));
    }
    h.emu
        .create("Lead", lead("Elsewhere", &other, "Open - Not Contacted"));
    let converted = h
        .emu
        .create("Lead", lead("Won", &rep, "Working - Contacted"));
    h.emu.convert_lead(&converted, false).unwrap();
    let open = [
        "Open - Not Contacted",
        "Working - Contacted",
        "Closed - Converted",
    ]
    .map(String::from);
    assert_eq!(crm.count_open_leads(&rep, &open).await.unwrap(), 3);
    assert_eq!(crm.count_open_leads(&other, &open).await.unwrap(), 1);
    assert_eq!(crm.count_open_leads(&rep, &[]).await.unwrap(), 0);
}

#[tokio::test]
async fn owners_are_active_users_and_queues_with_lower_case_emails() {
    let h = Harness::default().await;
    let crm = h.crm();
    let rep = h.emu.add_user("Ann.Rep@Example.com", "Ann", "Rep");
    let queue = h.emu.add_queue("Inbound Leads", "Inbound@Example.com");
    let owners = crm.owners().await.unwrap();
    let ann = owners.iter().find(|o| o.id == rep).expect("the user");
    assert_eq!(
        (ann.email.as_str(), ann.name.as_str()),
        ("ann.rep@example.com", "Ann Rep")
    );
    let q = owners.iter().find(|o| o.id == queue).expect("the queue");
    assert_eq!(
        (q.email.as_str(), q.name.as_str()),
        ("inbound@example.com", "Inbound Leads")
    );
    assert!(owners.iter().any(|o| o.id == h.emu.integration_user_id()));
    // A queue can own a lead.
    let id = h
        .emu
        .create("Lead", lead("Queued", &queue, "Open - Not Contacted"));
    assert_eq!(h.emu.get("Lead", &id).unwrap()["OwnerId"], queue.as_str());
}

#[tokio::test]
async fn lookups_link_and_report_associations() {
    let h = Harness::default().await;
    let crm = h.crm();
    let account = h.emu.create("Account", fields(json!({ "Name": "Acme" })));
    let contact = h
        .emu
        .create("Contact", fields(json!({ "LastName": "Doe" })));
    let opp = h.emu.create(
        "Opportunity",
        fields(json!({ "Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-12-01" })),
    );
    let (acc_key, con_key, opp_key) = (
        key("Account", &account),
        key("Contact", &contact),
        key("Opportunity", &opp),
    );
    assert!(crm
        .associated(&opp_key, ObjectKind::Account)
        .await
        .unwrap()
        .is_empty());
    crm.associate(&opp_key, &acc_key).await.unwrap();
    crm.associate(&opp_key, &con_key).await.unwrap();
    crm.associate(&con_key, &acc_key).await.unwrap();
    assert_eq!(
        crm.associated(&opp_key, ObjectKind::Account).await.unwrap(),
        vec![acc_key.clone()]
    );
    assert_eq!(
        crm.associated(&opp_key, ObjectKind::Contact).await.unwrap(),
        vec![con_key.clone()]
    );
    assert_eq!(
        crm.associated(&con_key, ObjectKind::Account).await.unwrap(),
        vec![acc_key.clone()]
    );
    assert!(crm
        .associated(&acc_key, ObjectKind::Deal)
        .await
        .unwrap()
        .is_empty());

    let lead_key = key(
        "Lead",
        &h.emu.create(
            "Lead",
            lead("L", &h.emu.integration_user_id(), "Open - Not Contacted"),
        ),
    );
    assert!(!crm.can_link(ObjectKind::Lead, ObjectKind::Account));
    assert!(crm.can_link(ObjectKind::Case, ObjectKind::Contact));
    let err = crm.associate(&lead_key, &acc_key).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Config { .. }), "{err}");
    assert!(err.to_string().contains("Lead") && err.to_string().contains("Account"));
    assert_eq!(crm.kind_of("Event"), Some(ObjectKind::Activity));
    assert_eq!(crm.object_of(ObjectKind::Deal), Some("Opportunity"));
}

#[tokio::test]
async fn a_converted_lead_is_read_only_and_stage_flags_are_derived() {
    let h = Harness::default().await;
    let crm = h.crm();
    let client = crm.client().clone();
    let id = h.emu.create(
        "Lead",
        lead(
            "Convert",
            &h.emu.integration_user_id(),
            "Working - Contacted",
        ),
    );
    let done = h.emu.convert_lead(&id, true).unwrap();
    let l = h.emu.get("Lead", &id).unwrap();
    assert_eq!(l["IsConverted"], true);
    assert_eq!(l["Status"], "Closed - Converted");
    assert_eq!(l["ConvertedAccountId"], done.account_id.as_str());
    assert_eq!(
        l["ConvertedOpportunityId"],
        done.opportunity_id.as_deref().unwrap()
    );
    assert_eq!(
        l["ConvertedDate"].as_str().unwrap().len(),
        10,
        "a date, not a datetime"
    );
    let err = crm
        .update(&key("Lead", &id), &fields(json!({ "Company": "Changed" })))
        .await
        .unwrap_err();
    rejected_with(&err, "CANNOT_UPDATE_CONVERTED_LEAD");

    let opp = client
        .create(
            "Opportunity",
            &fields(json!({ "Name": "Big", "StageName": "Closed Won", "CloseDate": "2026-12-01" })),
        )
        .await
        .unwrap();
    let read = |id: String| {
        let crm = crm.clone();
        async move { crm.read("Opportunity", &[id], &[]).await.unwrap().remove(0) }
    };
    let won = read(opp.clone()).await;
    assert_eq!(
        (
            won.properties["IsWon"].clone(),
            won.properties["IsClosed"].clone()
        ),
        (json!(true), json!(true))
    );
    crm.update(
        &key("Opportunity", &opp),
        &fields(json!({ "StageName": "Closed Lost" })),
    )
    .await
    .unwrap();
    let lost = read(opp.clone()).await;
    assert_eq!(
        (
            lost.properties["IsWon"].clone(),
            lost.properties["IsClosed"].clone()
        ),
        (json!(false), json!(true))
    );
    let err = crm
        .update(&key("Opportunity", &opp), &fields(json!({ "IsWon": true })))
        .await
        .unwrap_err();
    rejected_with(&err, "INVALID_FIELD_FOR_INSERT_UPDATE");
}

#[tokio::test]
async fn handoffs_writes_turn_assignment_rules_off() {
    let h = Harness::default().await;
    let crm = h.crm();
    let rep = h.emu.add_user("rep@example.com", "Rae", "Rep");
    let queue = h.emu.add_queue("Round robin", "rr@example.com");
    h.emu.set_assignment_rule("Lead", Some(&queue)).unwrap();
    let id = h.emu.create(
        "Lead",
        lead("Mine", &h.emu.integration_user_id(), "Open - Not Contacted"),
    );
    crm.update(&key("Lead", &id), &fields(json!({ "OwnerId": rep })))
        .await
        .unwrap();
    assert_eq!(
        h.emu.get("Lead", &id).unwrap()["OwnerId"],
        rep.as_str(),
        "Sforce-Auto-Assign: FALSE"
    );

    // The same write without the header runs the rule (S6: TRUE is the default).
    let token = h.raw_token().await;
    let status = reqwest::Client::new()
        .patch(h.url(&format!("services/data/v68.0/sobjects/Lead/{id}")))
        .bearer_auth(token)
        .json(&json!({ "OwnerId": rep }))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    assert_eq!(h.emu.get("Lead", &id).unwrap()["OwnerId"], queue.as_str());
}

#[tokio::test]
async fn emails_where_offers_the_usual_spellings_and_records_read_every_field_asked() {
    let h = Harness::default().await;
    let crm = h.crm();
    h.emu.add_field("User", "Out_Of_Office__c").unwrap();
    for (email, flag) in [
        ("A@Example.com", "AWAY"),
        ("b@example.com", "away"),
        ("c@example.com", "Here"),
    ] {
        let id = h.emu.add_user(email, "X", "Y");
        h.emu
            .update("User", &id, fields(json!({ "Out_Of_Office__c": flag })))
            .unwrap();
    }
    let query = EmailQuery {
        object: "User".into(),
        field: "Out_Of_Office__c".into(),
        values: vec!["Away".into()],
        email_field: "Email".into(),
    };
    assert_eq!(
        crm.emails_where(&query).await.unwrap(),
        ["a@example.com", "b@example.com"]
    );

    let id = h.emu.create(
        "Lead",
        lead("Read", &h.emu.integration_user_id(), "Open - Not Contacted"),
    );
    let missing = "00Q000000000zzzAAA".to_string();
    let records = crm
        .read("Lead", &[id.clone(), missing], &["Company".into()])
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "ids not found are left out");
    let r = &records[0];
    assert_eq!(
        (r.id.as_str(), r.object_type.as_str()),
        (id.as_str(), "Lead")
    );
    for f in [
        "Company",
        "SystemModstamp",
        "OwnerId",
        "IsDeleted",
        "CreatedDate",
        "Email",
    ] {
        assert!(r.properties.contains_key(f), "{f}");
    }
    assert!(!r.properties.contains_key("attributes"));
}

#[tokio::test]
async fn find_by_email_finds_open_leads_then_contacts_oldest_first_in_any_case() {
    let h = Harness::default().await;
    let crm = h.crm();
    let rep = h.emu.add_user("rep@example.com", "Rae", "Rep");
    let queue = h.emu.add_queue("Inbound", "inbound@example.com");
    let account = h.emu.create("Account", fields(json!({ "Name": "Acme" })));
    h.emu.set_clock(Some(1_700_000_000_000));
    let old_contact = h.emu.create(
        "Contact",
        fields(json!({ "LastName": "Pat", "Email": "pat@EXAMPLE.com", "AccountId": account, "OwnerId": rep })),
    );
    h.emu.set_clock(Some(1_700_000_100_000));
    let old_lead = h.emu.create(
        "Lead",
        fields(
            json!({ "LastName": "Pat", "Company": "Acme", "Status": "Open - Not Contacted",
                       "Email": "Pat@Example.COM", "OwnerId": rep }),
        ),
    );
    h.emu.set_clock(Some(1_700_000_200_000));
    let new_lead = h.emu.create(
        "Lead",
        fields(
            json!({ "LastName": "Pat", "Company": "Acme", "Status": "Working - Contacted",
                       "Email": "pat@example.com", "OwnerId": queue }),
        ),
    );
    h.emu.set_clock(Some(1_700_000_300_000));
    let converted = h.emu.create(
        "Lead",
        lead("Pat", &rep, "Working - Contacted"), // pat@example.com
    );
    let done = h.emu.convert_lead(&converted, false).unwrap();
    h.emu
        .create("Lead", lead("Sam", &rep, "Open - Not Contacted"));

    let found = crm
        .find_by_email(&[
            "PAT@example.com".to_string(),
            "pat@example.com".to_string(),
            "nobody@example.com".to_string(),
            " ".to_string(),
        ])
        .await
        .unwrap();
    let keys: Vec<&RecordKey> = found.iter().map(|p| &p.key).collect();
    assert_eq!(
        keys,
        [
            &key("Lead", &old_lead),
            &key("Lead", &new_lead),
            &key("Contact", &old_contact),
            &key("Contact", &done.contact_id),
        ],
        "open leads first (the converted one left out), then contacts, each oldest first"
    );
    assert_eq!(
        found.iter().map(|p| p.kind).collect::<Vec<_>>(),
        [
            ObjectKind::Lead,
            ObjectKind::Lead,
            ObjectKind::Contact,
            ObjectKind::Contact
        ]
    );
    assert!(
        found.iter().all(|p| p.email == "pat@example.com"),
        "{found:?}"
    );
    assert_eq!(found[0].owner_id.as_deref(), Some(rep.as_str()));
    assert_eq!(found[1].owner_id.as_deref(), Some(queue.as_str()));
    assert_eq!(
        (found[0].account.as_ref(), found[1].account.as_ref()),
        (None, None)
    );
    assert_eq!(found[2].account, Some(key("Account", &account)));
    assert_eq!(found[3].account, Some(key("Account", &done.account_id)));

    let before = h.emu.request_count();
    assert!(crm.find_by_email(&[]).await.unwrap().is_empty());
    assert!(crm.find_by_email(&[" ".into()]).await.unwrap().is_empty());
    assert_eq!(h.emu.request_count(), before, "no emails, no call");
}

#[tokio::test]
async fn find_by_email_queries_100_emails_at_a_time_and_orders_across_chunks() {
    let h = Harness::default().await;
    let crm = h.crm();
    let rep = h.emu.integration_user_id();
    h.emu.set_clock(Some(1_700_000_000_000));
    let early = h
        .emu
        .create("Lead", lead("Early", &rep, "Open - Not Contacted"));
    h.emu.set_clock(Some(1_700_000_100_000));
    let late = h
        .emu
        .create("Lead", lead("Late", &rep, "Open - Not Contacted"));
    // `late@…` in the first 100 emails, `early@…` in the next 50: oldest first all the same.
    let mut emails: Vec<String> = (0..150).map(|i| format!("o'neil{i}@example.com")).collect();
    emails[0] = "LATE@example.com".into();
    emails[120] = "early@example.com".into();
    let before = h.emu.request_count();
    let found = crm.find_by_email(&emails).await.unwrap();
    assert_eq!(
        found.iter().map(|p| p.key.id.as_str()).collect::<Vec<_>>(),
        [early.as_str(), late.as_str()]
    );
    assert_eq!(
        h.emu.request_count() - before,
        4,
        "a Lead and a Contact query per 100 emails"
    );
}

#[tokio::test]
async fn upserting_a_lead_twice_with_one_key_makes_one_lead_owned_as_asked() {
    let h = Harness::default().await;
    let crm = h.crm();
    let rep = h.emu.add_user("rep@example.com", "Rae", "Rep");
    let queue = h.emu.add_queue("Round robin", "rr@example.com");
    h.emu.set_assignment_rule("Lead", Some(&queue)).unwrap();
    let k = IdempotencyKey::new("marketing:hubspot:contacts:901:lead");
    let body = |company: &str| {
        fields(
            json!({ "LastName": "Lee", "Company": company, "Status": "Open - Not Contacted",
                       "Email": "kim@acme-widgets.io", "LeadSource": "Web", "OwnerId": rep }),
        )
    };
    let first = crm.upsert_lead(&k, &body("Acme")).await.unwrap();
    let second = crm.upsert_lead(&k, &body("Acme Widgets")).await.unwrap();
    assert_eq!(first, second, "the retry finds the lead it created");
    assert_eq!(
        (first.system.as_str(), first.object.as_str()),
        ("salesforce", "Lead")
    );
    assert!(first.id.starts_with("00Q"), "{first}");
    let leads = h.emu.objects("Lead");
    assert_eq!(leads.len(), 1, "one lead for one key");
    let l = &leads[0];
    assert_eq!(l["Id"], first.id.as_str());
    assert_eq!(l["Handoff_Idempotency_Key__c"], k.as_str());
    assert_eq!(l["Company"], "Acme Widgets");
    assert_eq!(l["OwnerId"], rep.as_str(), "Sforce-Auto-Assign: FALSE");
    assert_eq!(l["CreatedById"], h.emu.integration_user_id().as_str());
    // The emulator answers the second upsert as an update (200 `created: false`).
    let (id, created) = crm
        .client()
        .upsert(
            "Lead",
            "Handoff_Idempotency_Key__c",
            k.as_str(),
            &body("Acme"),
        )
        .await
        .unwrap();
    assert_eq!((id.as_str(), created), (first.id.as_str(), Some(false)));
}

#[tokio::test]
async fn a_lead_salesforce_refuses_is_rejected_naming_the_field() {
    let h = Harness::default().await;
    let crm = h.crm();
    let k = IdempotencyKey::new("marketing:hubspot:contacts:902:lead");
    let err = crm
        .upsert_lead(
            &k,
            &fields(json!({ "LastName": "Lee", "Company": "Acme", "Status": "Hot" })),
        )
        .await
        .unwrap_err();
    rejected_with(&err, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    assert!(err.to_string().contains("(fields: Status)"), "{err}");
    let err = crm
        .upsert_lead(
            &k,
            &fields(json!({ "LastName": "Lee", "Status": "Open - Not Contacted" })),
        )
        .await
        .unwrap_err();
    rejected_with(&err, "REQUIRED_FIELD_MISSING");
    assert!(err.to_string().contains("(fields: Company)"), "{err}");
    assert!(h.emu.objects("Lead").is_empty(), "nothing created");
}

#[tokio::test]
async fn upsert_lead_needs_the_idempotency_field_on_lead() {
    // An org whose admin created the field on Case only.
    let h = Harness::start(EmulatorConfig {
        custom_fields: [(
            "Case".to_string(),
            vec!["Handoff_Idempotency_Key__c".to_string()],
        )]
        .into(),
        ..EmulatorConfig::default()
    })
    .await;
    let err = h
        .crm()
        .upsert_lead(
            &IdempotencyKey::new("marketing:hubspot:contacts:903:lead"),
            &fields(
                json!({ "LastName": "Lee", "Company": "Acme", "Status": "Open - Not Contacted" }),
            ),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::NotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("Handoff_Idempotency_Key__c"),
        "{err}"
    );
    assert!(h.emu.objects("Lead").is_empty());
}

#[tokio::test]
async fn the_email_of_a_won_opportunitys_contact_is_read_through_its_lookup() {
    let h = Harness::default().await;
    let crm = h.crm();
    let rep = h.emu.add_user("rep@example.com", "Rae", "Rep");
    let lead_id = h
        .emu
        .create("Lead", lead("Pat", &rep, "Working - Contacted"));
    let conversion = h.emu.convert_lead(&lead_id, true).unwrap();
    let opportunity = RecordKey::new(
        "salesforce",
        "Opportunity",
        conversion.opportunity_id.unwrap(),
    );
    let contacts = crm
        .associated(&opportunity, ObjectKind::Contact)
        .await
        .unwrap();
    assert_eq!(
        contacts,
        [RecordKey::new(
            "salesforce",
            "Contact",
            &conversion.contact_id
        )]
    );
    assert_eq!(
        crm.email_of(&contacts[0]).await.unwrap().as_deref(),
        Some("pat@example.com")
    );
    h.emu.delete("Contact", &conversion.contact_id).unwrap();
    assert_eq!(crm.email_of(&contacts[0]).await.unwrap(), None, "gone");
}
