//! Tests of the two-CRM sandbox: people in both CRMs, the marketing workflow's meddling, when a
//! Lead handoff created counts as delivered, and the checks across the two CRMs.

use super::*;
use crate::config::CrmSection;
use crate::sandbox::crm::CrmChoice;
use crate::sandbox::local::LocalOptions;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const T0: i64 = 1_795_100_400_000;

async fn pair(shutdown: &CancellationToken) -> TwoCrmSandbox {
    let loaded = crate::sandbox::bundled_config_for(CrmChoice::HubspotSalesforce).unwrap();
    let options = LocalOptions {
        strict_limits: false,
        hubspot_webhooks: false,
    };
    let Some(CrmSection::HubSpot(section)) = loaded.config.marketing.as_ref().map(|m| &m.crm)
    else {
        panic!("the bundled two-CRM config has HubSpot for marketing");
    };
    let nowhere: url::Url = "http://127.0.0.1:9/".parse().unwrap();
    let marketing = HubSpotSandbox::start(section, &nowhere, options, shutdown.clone())
        .await
        .unwrap();
    let local = ([127, 0, 0, 1], 0).into();
    let sales = SalesforceSandbox::start(local, vec!["Lead".into()], options, shutdown.clone())
        .await
        .unwrap();
    TwoCrmSandbox::new(marketing, sales, &loaded.config).unwrap()
}

fn staff(email: &str) -> Staff<'_> {
    Staff {
        email,
        first: "Rep",
        last: "One",
        team: Some("West"),
        away: Some(false),
    }
}

/// A qualified contact (consent, a valid US phone) unless `consent` is false.
fn contact(two: &TwoCrmSandbox, email: &str, consent: bool) -> String {
    let person = handoff_connector::Person {
        first_name: "Ana".into(),
        last_name: "Lima".into(),
        company: "Northwind Traders".into(),
        email: email.into(),
        phone: "+1 212 736 5000".into(),
        country: "United States".into(),
        source: Some("DIRECT_TRAFFIC".into()),
        consent,
        sales_ready: true,
        ..Default::default()
    };
    let record = crate::config::lead_record(two.arrival_system(), &person).unwrap();
    two.create_lead(record.properties).unwrap()
}

/// A Salesforce Lead with `email`, created by handoff's integration user (as a promotion does).
fn sales_lead(two: &TwoCrmSandbox, email: &str) -> String {
    let emu = two.sales().emulator();
    let fields: Map<String, Value> = [
        ("LastName", json!("Lima")),
        ("Company", json!("Northwind Traders")),
        ("Email", json!(email)),
        ("Status", json!("Open - Not Contacted")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    emu.create_as(&emu.integration_user_id(), "Lead", fields)
        .unwrap()
}

fn set(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect()
}

#[tokio::test]
async fn people_are_owners_in_both_crms_and_the_workflow_reassigns_the_contact() {
    let shutdown = CancellationToken::new();
    let two = pair(&shutdown).await;
    let rep = two.add_person(&staff("rep@example.com"));
    let other = two.add_person(&staff("other@example.com"));
    assert!(rep.starts_with("005"), "the Salesforce User id: {rep}");
    let hubspot_owner = |email: &str| {
        two.marketing()
            .emulator()
            .owners()
            .into_iter()
            .find(|o| o["email"] == email)
            .and_then(|o| text(o.get("id")))
    };
    assert!(hubspot_owner("rep@example.com").is_some());
    // The org's admin owns accounts no agent has: a HubSpot owner too.
    let admin = two.default_owner().unwrap();
    assert!(hubspot_owner(&admin.email).is_some(), "{admin:?}");

    // Leads arrive in HubSpot; the workflow moves the contact of a Salesforce Lead (same email,
    // any case) to the HubSpot owner who is the Salesforce User it names.
    assert_eq!(two.arrival_system(), "hubspot");
    assert_eq!(two.system(), "salesforce");
    let id = contact(&two, "ana@northwind.test", true);
    let lead = sales_lead(&two, "Ana@Northwind.test");
    assert!(two.meddle(&lead, &other));
    let owner = two
        .marketing()
        .emulator()
        .get("contacts", &id)
        .and_then(|c| text(c["properties"].get("hubspot_owner_id")));
    assert_eq!(owner, hubspot_owner("other@example.com"));
    assert!(!two.meddle("00Q000000000000AAA", &other), "no such Lead");
    shutdown.cancel();
}

#[tokio::test]
async fn a_lead_handoff_created_holds_the_clock_until_the_lead_feed_reads_it() {
    let shutdown = CancellationToken::new();
    let two = pair(&shutdown).await;
    let emu = two.sales().emulator().clone();
    emu.set_clock(Some(T0));
    let rep = two.add_person(&staff("rep@example.com"));
    let lead = sales_lead(&two, "ana@northwind.test");
    let mut status = StatusReport::default();
    // handoff's own write, yet the lead flow has to read it: not delivered before the poll.
    assert!(!two.delivered(&status, false), "a new Lead not polled yet");
    status
        .cursors
        .insert("salesforce:Lead".into(), format!("{T0}:{lead}"));
    assert!(two.delivered(&status, false));
    assert!(two.delivered(&status, true));

    // Routing it (handoff's write, the Lead no longer its own) is an echo only.
    emu.set_clock(Some(T0 + 5_000));
    emu.update_as(
        &emu.integration_user_id(),
        "Lead",
        &lead,
        set(&[("OwnerId", &rep)]),
    )
    .unwrap();
    assert!(two.delivered(&status, false));
    assert!(!two.delivered(&status, true));

    // The next Lead it creates holds the clock again.
    emu.set_clock(Some(T0 + 10_000));
    let next = sales_lead(&two, "bo@northwind.test");
    assert!(!two.delivered(&status, false));
    status
        .cursors
        .insert("salesforce:Lead".into(), format!("{}:{next}", T0 + 10_000));
    assert!(two.delivered(&status, false) && two.delivered(&status, true));
    assert_eq!(two.lead_owner(&next), None, "owned by handoff: nobody yet");
    assert_eq!(two.lead_owner(&lead).as_deref(), Some(rep.as_str()));
    shutdown.cancel();
}

#[tokio::test]
async fn the_checks_count_lost_duplicated_unowned_and_diverging_leads() {
    let shutdown = CancellationToken::new();
    let two = pair(&shutdown).await;
    let rep = two.add_person(&staff("rep@example.com"));
    let qualified = contact(&two, "ana@northwind.test", true);
    let nurtured = contact(&two, "bo@northwind.test", false);
    let arrivals: BTreeSet<String> = [qualified.clone(), nurtured.clone()].into();
    let checks = |two: &TwoCrmSandbox| two.two_crms(&arrivals).unwrap().checks;

    // The qualified contact has no Lead; the other failed its consent gate and needs none.
    let c = checks(&two);
    assert_eq!(
        c.qualified_contacts_without_exactly_one_sales_lead, 1,
        "{c:?}"
    );
    assert!(!c.pass());
    let counts = two.two_crms(&arrivals).unwrap().counts;
    assert_eq!((counts.contacts, counts.qualified), (2, 1), "{counts:?}");

    // Its Lead, not routed yet: owned by handoff's integration user, nobody.
    let lead = sales_lead(&two, "ANA@northwind.test");
    let c = checks(&two);
    assert_eq!(
        c.qualified_contacts_without_exactly_one_sales_lead, 0,
        "{c:?}"
    );
    assert_eq!(c.qualified_contacts_whose_lead_has_no_owner, 1, "{c:?}");

    // Routed in Salesforce, not (yet) mirrored to HubSpot.
    let emu = two.sales().emulator();
    emu.update_as(
        &emu.integration_user_id(),
        "Lead",
        &lead,
        set(&[("OwnerId", &rep)]),
    )
    .unwrap();
    let c = checks(&two);
    assert_eq!(c.qualified_contacts_whose_lead_has_no_owner, 0, "{c:?}");
    assert_eq!(c.routed_leads_with_another_owner_in_marketing, 1, "{c:?}");

    // Mirrored: every check passes; the summary counts the Lead for the contact.
    assert!(two.meddle(&lead, &rep));
    let state = two.two_crms(&arrivals).unwrap();
    assert!(state.checks.pass(), "{:?}", state.checks);
    assert_eq!(state.counts.contacts_owned_as_in_sales, 1);
    let views = two.arrived_leads(&arrivals);
    assert_eq!(views.len(), 2, "{views:?}");
    assert!(views
        .iter()
        .any(|v| v.id == lead && v.owner_id.as_deref() == Some(rep.as_str())));
    let keys = two.outcome_keys(&arrivals);
    let of_qualified = &keys[arrivals.iter().position(|a| *a == qualified).unwrap()];
    assert_eq!(
        of_qualified,
        &vec![
            format!("hubspot:contacts:{qualified}"),
            format!("salesforce:Lead:{lead}")
        ]
    );

    // A second Lead for the same person (any case): one email with two Leads, and the
    // qualified contact no longer has exactly one.
    sales_lead(&two, "Ana@Northwind.Test");
    let c = checks(&two);
    assert_eq!(c.emails_with_more_than_one_sales_lead, 1, "{c:?}");
    assert_eq!(
        c.qualified_contacts_without_exactly_one_sales_lead, 1,
        "{c:?}"
    );
    shutdown.cancel();
}
