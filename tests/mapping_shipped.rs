//! The shipped mappings load, and the lead mapping copes with real-world contact data
//! (datablist's 10,000 generated customers: free-text countries, phones with extensions).

use std::path::{Path, PathBuf};

use handoff::mapping::{load_dir, MapOutcome, Mapping};
use serde_json::{json, Value};

const CUSTOMERS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/datablist-customers/customers-10000.csv"
);

fn mappings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings")
}

fn lead_mapping() -> Mapping {
    Mapping::load(&mappings_dir().join("hubspot-contact-to-lead.yaml")).unwrap()
}

#[test]
fn every_shipped_mapping_parses_and_reads_or_writes_one_crm() {
    let all = load_dir(&mappings_dir()).unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<&str> = all.iter().map(Mapping::name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "case-to-salesforce-case",
            "hubspot-company-to-account",
            "hubspot-contact-to-lead",
            "hubspot-contact-to-salesforce-lead",
            "hubspot-deal-to-onboarding",
            "lead-to-hubspot-contact",
            "lead-to-salesforce-lead",
            "onboarding-to-hubspot-ticket",
            "onboarding-to-salesforce-case",
            "salesforce-account-to-account",
            "salesforce-case-to-case",
            "salesforce-lead-to-lead",
            "salesforce-opportunity-to-onboarding",
            "salesforce-task-to-activity",
        ]
    );
    for m in &all {
        let (from, to) = (m.source().system.as_str(), m.target().system.as_str());
        assert_ne!(from, to, "{}: maps between two systems", m.name());
        for crm in [from, to].into_iter().filter(|s| *s != "handoff") {
            assert!(
                m.name().contains(crm),
                "{}: the name says which CRM it is for ({from} → {to})",
                m.name()
            );
        }
    }
}

#[test]
fn the_hubspot_contact_becomes_a_salesforce_lead_with_its_required_fields() {
    let m = mapping("hubspot-contact-to-salesforce-lead");
    let contact = |last: &str, source: Option<&str>| {
        let mut p = json!({"email": " Maria.Jones@Acme-Widgets.com ", "firstname": "Maria",
            "lastname": last, "company": "Acme  Widgets", "country": "United Kingdom",
            "website": "www.acme-widgets.com", "phone": "020 7946 0958"});
        if let Some(s) = source {
            p["hs_analytics_source"] = json!(s);
        }
        json!({"id": "51", "properties": p})
    };
    let out = m.apply(&contact("Jones", Some("REFERRALS")));
    assert!(out.passed(), "{:?}", out.gates);
    let r = &out.record;
    assert_eq!(r["Email"], "maria.jones@acme-widgets.com");
    assert_eq!(r["LastName"], "Jones");
    assert_eq!(r["Company"], "Acme Widgets");
    assert_eq!(r["Status"], "Open - Not Contacted");
    assert_eq!(r["LeadSource"], "Partner Referral");
    assert_eq!(
        m.apply(&contact("Jones", None)).record["LeadSource"],
        "Other"
    );
    assert_eq!(
        m.apply(&contact("Jones", Some("SOMETHING_NEW"))).record["LeadSource"],
        "Other"
    );
    let nameless = m.apply(&contact("  ", Some("REFERRALS")));
    let failed = nameless.first_failure().expect("LastName is required");
    assert_eq!(failed.gate, "required:LastName");
}

fn mapping(name: &str) -> Mapping {
    Mapping::load(&mappings_dir().join(format!("{name}.yaml"))).unwrap()
}

#[test]
fn the_hubspot_lead_update_mapping_writes_only_what_handoff_decided() {
    let m = mapping("lead-to-hubspot-contact");
    let assign = m.apply(&json!({"owner_id": "77", "status": "assigned"}));
    assert!(assign.passed());
    assert_eq!(
        Value::Object(assign.record),
        json!({"hubspot_owner_id": "77", "hs_lead_status": "NEW"})
    );
    let owner_only = m.apply(&json!({"owner_id": "78"}));
    assert_eq!(
        Value::Object(owner_only.record),
        json!({"hubspot_owner_id": "78"})
    );
    let nurture = m.apply(&json!({"status": "nurture", "nurture_reason": "invalid_phone"}));
    assert_eq!(
        Value::Object(nurture.record),
        json!({"hs_lead_status": "UNQUALIFIED", "handoff_nurture_reason": "invalid_phone"})
    );
    let claimed = m.apply(&json!({"status": "working"}));
    assert_eq!(
        Value::Object(claimed.record),
        json!({"hs_lead_status": "IN_PROGRESS"})
    );
}

#[test]
fn the_hubspot_deal_mapping_says_won_only_for_the_won_stage() {
    let m = mapping("hubspot-deal-to-onboarding");
    let deal = |stage: &str| json!({"id": "9", "properties": {"dealname": "D", "amount": "100", "dealstage": stage}});
    assert_eq!(m.apply(&deal("closedwon")).record["won"], "true");
    assert_eq!(m.apply(&deal("closedlost")).record["won"], "false");
    assert_eq!(
        m.apply(&deal("appointmentscheduled")).record["won"],
        "false"
    );
}

#[test]
fn the_salesforce_lead_mapping_routes_queue_owned_leads_and_sees_conversions() {
    let m = mapping("salesforce-lead-to-lead");
    let lead = |owner: &str, status: &str, converted: bool| {
        json!({"id": "00Q000000000001AAA", "properties": {
            "FirstName": "Maria", "LastName": "Jones", "Company": "Acme Widgets",
            "Email": "Maria.Jones@Acme-Widgets.com", "Website": "www.acme-widgets.com",
            "Country": "United Kingdom", "Phone": "020 7946 0958", "Status": status,
            "HasOptedOutOfEmail": false, "OwnerId": owner, "IsConverted": converted,
            "NumberOfEmployees": 1200, "LeadSource": "Web"}})
    };
    let queued = m.apply(&lead("00G000000000001AAA", "Open - Not Contacted", false));
    assert!(queued.passed(), "{:?}", queued.gates);
    let r = &queued.record;
    assert_eq!(r["lifecycle_stage"], "MQL");
    assert_eq!(r["lead_status"], "NEW");
    assert_eq!(r["consent"], "granted");
    assert_eq!(r["company_domain"], "acme-widgets.com");
    assert_eq!(r["employees"], json!(1200));
    assert!(
        r.get("owner_id").is_none(),
        "a queue's lead waits for routing"
    );
    let owned = m.apply(&lead("005000000000001AAA", "Working - Contacted", false));
    assert_eq!(owned.record["owner_id"], "005000000000001AAA");
    assert_eq!(owned.record["lead_status"], "IN_PROGRESS");
    let converted = m.apply(&lead("005000000000001AAA", "Closed - Converted", true));
    assert!(handoff_truthy(&converted.record["converted"]));
    assert_eq!(converted.record["lead_status"], "CONVERTED");
}

#[test]
fn the_salesforce_opportunity_mapping_says_won_from_is_won() {
    let m = mapping("salesforce-opportunity-to-onboarding");
    let opp = |stage: &str, won: bool| {
        json!({"id": "006000000000001AAA", "properties": {"Name": "Acme renewal", "Amount": 4821.5,
            "StageName": stage, "IsWon": won, "CloseDate": "2026-11-19", "AccountId": "001000000000001AAA"}})
    };
    let won = m.apply(&opp("Closed Won", true));
    assert!(won.passed(), "{:?}", won.gates);
    assert!(handoff_truthy(&won.record["won"]));
    assert_eq!(won.record["amount"], json!(4821.5));
    // A renamed won stage is still won: the stage's IsWon decides, not its label.
    assert!(handoff_truthy(&m.apply(&opp("Signed", true)).record["won"]));
    assert!(!handoff_truthy(
        &m.apply(&opp("Closed Lost", false)).record["won"]
    ));
}

/// How the flows read a mapped flag (`true`, `"true"`, 1).
fn handoff_truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true)) || v == "true" || v == 1
}

#[test]
fn lead_mapping_on_a_hubspot_contact() {
    let contact = json!({
        "id": "51",
        "properties": {
            "email": " Maria.Jones@Acme-Widgets.com ", "firstname": "Maria", "lastname": "Jones", "company": "Acme Widgets",
            "website": "https://www.acme-widgets.com/about", "country": "United Kingdom", "city": "Leeds",
            "phone": "020 7946 0958", "lifecyclestage": "marketingqualifiedlead", "hs_lead_status": "NEW",
            "hs_legal_basis": "Legitimate interest – prospect/lead", "hubspot_owner_id": "8812", "createdate": "2026-11-20T09:12:44.120Z"
        },
        "associations": {}
    });
    let out = lead_mapping().apply(&contact);
    assert!(out.passed(), "{:?}", out.gates);
    let r = &out.record;
    assert_eq!(r["email"], "maria.jones@acme-widgets.com");
    assert_eq!(r["full_name"], "Maria Jones");
    assert_eq!(r["company_domain"], "acme-widgets.com");
    assert_eq!(r["country_code"], "GB");
    assert_eq!(r["phone"], "+442079460958");
    assert_eq!(r["lifecycle_stage"], "MQL");
    assert_eq!(r["consent"], "granted");
    assert_eq!(r["owner_id"], "8812");

    let mut test_contact = contact.clone();
    test_contact["properties"]["firstname"] = json!("TEST");
    test_contact["properties"]
        .as_object_mut()
        .unwrap()
        .remove("hs_legal_basis");
    let out = lead_mapping().apply(&test_contact);
    assert_eq!(
        out.failure_reasons().collect::<Vec<_>>(),
        ["no_consent", "test_data"]
    );
}

#[test]
fn deal_mapping_on_a_hubspot_deal() {
    let m = Mapping::load(&mappings_dir().join("hubspot-deal-to-onboarding.yaml")).unwrap();
    let deal = json!({"id": "9001", "properties": {
        "dealname": "Acme  renewal", "amount": "4821.50", "dealstage": "closedwon", "pipeline": "default",
        "closedate": "2026-11-19T17:00:00Z", "hubspot_owner_id": "8812", "product": "GTXPro"}});
    let out = m.apply(&deal);
    assert!(out.passed(), "{:?}", out.gates);
    assert_eq!(out.record["deal_name"], "Acme renewal");
    assert_eq!(out.record["amount"], json!(4821.5));
    assert_eq!(out.record["product"], "GTX Pro");
    assert_eq!(out.record["close_date"], "2026-11-19");
    let out = m.apply(&json!({"id": "9002", "properties": {"dealname": "", "amount": null}}));
    assert_eq!(
        out.failure_reasons().collect::<Vec<_>>(),
        ["missing_deal_name", "missing_amount"]
    );
}

/// One CSV row as a HubSpot contact. The CSV has no legal-basis column; every row gets one
/// so the consent gate is not the only story.
fn contact_from_row(row: &csv::StringRecord) -> Value {
    json!({
        "id": row[1],
        "properties": {
            "firstname": row[2], "lastname": row[3], "company": row[4], "city": row[5], "country": row[6],
            "phone": row[7], "mobilephone": row[8], "email": row[9], "website": row[11],
            "hs_legal_basis": "Legitimate interest – prospect/lead",
        },
        "associations": {}
    })
}

#[test]
fn lead_mapping_on_500_real_rows() {
    let mapping = lead_mapping();
    let mut reader = csv::Reader::from_path(CUSTOMERS).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().take(500).map(Result::unwrap).collect();
    assert_eq!(rows.len(), 500);
    let outcomes: Vec<(csv::StringRecord, MapOutcome)> = rows
        .into_iter()
        .map(|row| (row.clone(), mapping.apply(&contact_from_row(&row))))
        .collect();

    let count = |f: &dyn Fn(&csv::StringRecord, &MapOutcome) -> bool| {
        outcomes.iter().filter(|(r, o)| f(r, o)).count()
    };
    let failed = |o: &MapOutcome, gate: &str| o.gates.iter().any(|g| g.gate == gate && !g.passed);

    // Every row has an email and a website: all get an email and a domain.
    assert_eq!(count(&|_, o| o.record.contains_key("email")), 500);
    assert!(count(&|_, o| o.record.contains_key("company_domain")) >= 495);
    // Country codes: every country name in the data resolves except withdrawn ISO codes.
    let withdrawn = count(&|r, _| &r[6] == "Netherlands Antilles");
    assert_eq!(
        count(&|_, o| o.record.contains_key("country_code")),
        500 - withdrawn
    );
    // Phones: many have extensions or cannot be valid for the stated country; some are fine.
    let phone_failed = count(&|_, o| failed(o, "valid:phone"));
    let phone_ok = count(&|_, o| o.record.contains_key("phone"));
    assert_eq!(
        phone_failed + phone_ok,
        500,
        "every row has a phone: it either formats or fails"
    );
    assert!(
        phone_failed >= 50 && phone_ok >= 50,
        "failed {phone_failed}, ok {phone_ok}"
    );
    for (_, o) in &outcomes {
        if let Some(p) = o.record.get("phone").and_then(Value::as_str) {
            assert!(
                p.starts_with('+')
                    && p[1..].bytes().all(|b| b.is_ascii_digit())
                    && (8..=16).contains(&p.len()),
                "{p}"
            );
        }
    }
    // Test data is detected exactly where the rows say so.
    let is_test = |r: &csv::StringRecord| {
        let email = r[9].trim().to_lowercase();
        email.ends_with("@example.com")
            || email.ends_with("@test.com")
            || r[2].eq_ignore_ascii_case("test")
            || r[3].eq_ignore_ascii_case("test")
    };
    assert_eq!(
        count(&|_, o| failed(o, "not_test_data")),
        count(&|r, _| is_test(r))
    );
    // Consent and required company/country pass everywhere in this data.
    assert_eq!(
        count(&|_, o| failed(o, "consent")
            || failed(o, "required:company")
            || failed(o, "required:country")),
        0
    );
    // Every failure carries a known reason code.
    for (_, o) in &outcomes {
        for reason in o.failure_reasons() {
            assert!(["invalid_phone", "test_data"].contains(&reason), "{reason}");
        }
    }
    eprintln!("500 rows: phone ok {phone_ok}, phone invalid {phone_failed}, withdrawn countries {withdrawn}");
}
