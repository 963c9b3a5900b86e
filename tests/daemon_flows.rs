//! Black-box tests of the daemon's business flows, run in-process against the emulators: lead
//! handoff and claim, nurture, account match, closed-won onboarding, and a poison deal that goes
//! to dead letters and is replayed. Outcomes are read from the emulators' state and the admin
//! API, never from the daemon's internals.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mql_lead_gets_a_territory_owner_one_dm_and_one_claim() {
    let mut env = TestEnv::new(Options::default()).await;
    env.start_in_process().await;

    // Three US leads: the West team in round robin.
    let ids: Vec<String> = (0..3)
        .map(|i| env.create_lead(&format!("lead{i}@northwind-traders.io"), json!({})))
        .collect();
    for id in &ids {
        let key = format!("lead:hubspot:contacts:{id}:dm");
        assert!(
            wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await,
            "no DM for contact {id}"
        );
    }
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let mut owners = Vec::new();
    for id in &ids {
        let owner_id = env.prop("contacts", id, "hubspot_owner_id").expect("owner");
        let email = env.owner_email(&owner_id).expect("a seeded owner");
        assert!(WEST.contains(&email.as_str()), "{email} is not in West");
        assert_eq!(
            env.prop("contacts", id, "hs_lead_status").as_deref(),
            Some("NEW")
        );
        // Exactly one DM, to that owner, with both buttons.
        let key = format!("lead:hubspot:contacts:{id}:dm");
        let dms = env.messages_with_key(&key);
        assert_eq!(dms.len(), 1);
        let theirs = env.slack.dm_messages_for(&email);
        assert!(theirs.iter().any(|m| metadata_key(m) == Some(key.as_str())));
        assert!(has_button(&dms[0], "claim_lead") && has_button(&dms[0], "open_in_crm"));
        owners.push(email);
    }
    owners.sort();
    owners.dedup();
    assert_eq!(
        owners.len(),
        3,
        "round robin gives each West member one lead"
    );

    // The audit trail explains gates and routing.
    let record = format!("hubspot:contacts:{}", ids[0]);
    let gates = env.audit_events(&record, "gates").await;
    assert_eq!(gates.len(), 1);
    assert!(gates[0]["message"].as_str().unwrap().contains("6 of 6"));
    let routed = env.audit_events(&record, "routed").await;
    assert_eq!(routed.len(), 1);
    let how = routed[0]["message"].as_str().unwrap();
    assert!(how.contains("territory") && how.contains("West"), "{how}");

    // Claim twice (both clicks read the message before it is edited): one claim.
    let id = &ids[0];
    let key = format!("lead:hubspot:contacts:{id}:dm");
    let dm = env.messages_with_key(&key).remove(0);
    let (channel, ts) = (dm["channel"].as_str().unwrap(), dm["ts"].as_str().unwrap());
    let owner_email = env
        .owner_email(&env.prop("contacts", id, "hubspot_owner_id").unwrap())
        .unwrap();
    let user = env.slack_ids[&owner_email].clone();
    let (a, b) = tokio::join!(
        env.slack.click(channel, ts, "claim_lead", &user),
        env.slack.click(channel, ts, "claim_lead", &user)
    );
    assert!(a.unwrap().is_success() && b.unwrap().is_success());
    assert!(
        wait_until(WAIT, || {
            env.prop("contacts", id, "hs_lead_status").as_deref() == Some("IN_PROGRESS")
                && env.messages_with_key(&key)[0]["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Lead claimed"))
        })
        .await,
        "claim not applied"
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let edited = env.messages_with_key(&key);
    assert_eq!(edited.len(), 1, "the DM is edited, not reposted");
    assert!(edited[0]["edited"].is_object());
    assert!(!has_button(&edited[0], "claim_lead"));
    assert_eq!(env.audit_events(&record, "claimed").await.len(), 1);
    let claimed_msgs = env
        .slack
        .messages()
        .iter()
        .filter(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("Lead claimed"))
        })
        .count();
    assert_eq!(claimed_msgs, 1);
    // The other leads are untouched.
    assert_eq!(
        env.prop("contacts", &ids[1], "hs_lead_status").as_deref(),
        Some("NEW")
    );
    env.stop_in_process().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_failing_gates_go_back_to_nurture_without_a_dm() {
    let mut env = TestEnv::new(Options::default()).await;
    env.start_in_process().await;
    let no_consent = env.create_lead(
        "no.consent@contoso-labs.io",
        json!({"hs_legal_basis": null}),
    );
    let test_data = env.create_lead("test@test.com", json!({}));
    let bad_phone = env.create_lead("bad.phone@contoso-labs.io", json!({"phone": "12"}));
    let cases = [
        (&no_consent, "no_consent"),
        (&test_data, "test_data"),
        (&bad_phone, "invalid_phone"),
    ];
    for (id, reason) in cases {
        assert!(
            wait_until(WAIT, || {
                env.prop("contacts", id, "handoff_nurture_reason")
                    .as_deref()
                    == Some(reason)
            })
            .await,
            "contact {id} not nurtured with {reason}"
        );
    }
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    for (id, reason) in cases {
        assert_eq!(
            env.prop("contacts", id, "hs_lead_status").as_deref(),
            Some("UNQUALIFIED")
        );
        assert_eq!(env.prop("contacts", id, "hubspot_owner_id"), None);
        let record = format!("hubspot:contacts:{id}");
        let nurtured = env.audit_events(&record, "nurtured").await;
        assert_eq!(nurtured.len(), 1);
        assert_eq!(nurtured[0]["detail"]["reason"], reason);
        assert!(env.audit_events(&record, "routed").await.is_empty());
    }
    assert!(env.slack.messages().is_empty(), "nurtured leads get no DM");
    env.stop_in_process().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_at_a_known_account_goes_to_the_account_owner() {
    let mut env = TestEnv::new(Options::default()).await;
    env.start_in_process().await;
    // The account is owned by an East rep; the lead is in the US (West territory).
    let account_owner = EAST[1];
    let company = env.hubspot.create_object(
        "companies",
        props(json!({
            "name": "Globex Corporation",
            "domain": "globex.io",
            "hubspot_owner_id": env.owner_ids[account_owner],
        })),
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let id = env.create_lead("hank.scorpio@globex.io", json!({"company": "Globex"}));
    let key = format!("lead:hubspot:contacts:{id}:dm");
    assert!(wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await);
    assert!(
        wait_until(WAIT, || assoc_ids(
            &env.record("contacts", &id),
            "companies"
        )
        .contains(&company))
        .await,
        "contact not associated with the account"
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert_eq!(
        env.prop("contacts", &id, "hubspot_owner_id").as_deref(),
        Some(env.owner_ids[account_owner].as_str())
    );
    assert_eq!(env.slack.dm_messages_for(account_owner).len(), 1);
    let matched = env
        .audit_events(&format!("hubspot:contacts:{id}"), "matched_account")
        .await;
    assert_eq!(matched.len(), 1);
    assert_eq!(matched[0]["detail"]["matched_by"], "domain");
    env.stop_in_process().await;
}

/// Creates a deal associated with `company`, then moves it to `closedwon`.
fn win_deal(env: &TestEnv, name: &str, amount: Option<&str>, company: Option<&str>) -> String {
    let mut p = props(
        json!({"dealname": name, "dealstage": "appointmentscheduled",
        "pipeline": "default", "product": "GTXPro"}),
    );
    if let Some(a) = amount {
        p.insert("amount".into(), json!(a));
    }
    let id = env.hubspot.create_object("deals", p);
    if let Some(c) = company {
        env.hubspot.associate("deals", &id, "companies", c).unwrap();
    }
    env.hubspot
        .update_object(
            "deals",
            &id,
            props(json!({"dealstage": "closedwon", "closedate": "2024-03-01T00:00:00.000Z"})),
        )
        .unwrap();
    id
}

/// Tickets associated with deal `id`.
fn tickets_of(env: &TestEnv, deal: &str) -> Vec<Value> {
    env.hubspot
        .objects("tickets")
        .into_iter()
        .filter(|t| assoc_ids(t, "deals").contains(&deal.to_string()))
        .collect()
}

/// Asana projects made for deal `id`.
fn projects_of(env: &TestEnv, deal: &str) -> Vec<Value> {
    let suffix = format!("(deal {deal})");
    env.asana
        .projects()
        .into_iter()
        .filter(|p| p["name"].as_str().is_some_and(|n| n.ends_with(&suffix)))
        .collect()
}

/// Asserts deal `id` was onboarded exactly once with `template`; returns the CSM's email.
fn assert_onboarded_once(
    env: &TestEnv,
    deal: &str,
    company: Option<&str>,
    template: &str,
) -> String {
    let tickets = tickets_of(env, deal);
    assert_eq!(tickets.len(), 1, "deal {deal}: one ticket");
    let ticket = &tickets[0];
    let ticket_id = ticket["id"].as_str().unwrap();
    if let Some(c) = company {
        assert_eq!(assoc_ids(ticket, "companies"), vec![c.to_string()]);
    }
    let csm_id = prop(ticket, "hubspot_owner_id").expect("ticket owner");
    let csm = env.owner_email(&csm_id).unwrap();
    assert!(
        CSMS.contains(&csm.as_str()),
        "ticket owner {csm} is not a CSM"
    );
    let projects = projects_of(env, deal);
    assert_eq!(projects.len(), 1, "deal {deal}: one project");
    assert_eq!(projects[0]["created_from_template"]["name"], template);
    let gid = projects[0]["gid"].as_str().unwrap();
    let dms = env.messages_with_key(&format!("onboarding:hubspot:deals:{deal}:dm"));
    assert_eq!(dms.len(), 1, "deal {deal}: one CSM DM");
    let text = dms[0]["text"].as_str().unwrap();
    assert!(text.contains(&format!("/0-5/{ticket_id}")), "{text}");
    assert!(
        text.contains(&format!("https://app.asana.com/0/{gid}/list")),
        "{text}"
    );
    assert!(
        !dms[0].to_string().contains("{ticket_url}")
            && !dms[0].to_string().contains("{project_url}")
    );
    assert!(env
        .slack
        .dm_messages_for(&csm)
        .iter()
        .any(|m| m["ts"] == dms[0]["ts"]));
    csm
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_won_deal_gets_one_ticket_one_tiered_project_and_one_csm_dm() {
    let mut env = TestEnv::new(Options::default()).await;
    env.start_in_process().await;
    let company = env.hubspot.create_object(
        "companies",
        props(json!({"name": "Initech", "domain": "initech.io",
            "hubspot_owner_id": env.owner_ids[WEST[0]]})),
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let big = win_deal(&env, "Initech — GTX Pro", Some("7500"), Some(&company));
    let mid = win_deal(&env, "Initech — GTX Basic", Some("1500"), Some(&company));
    for d in [&big, &mid] {
        let key = format!("onboarding:hubspot:deals:{d}:dm");
        assert!(
            wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await,
            "deal {d} not onboarded"
        );
    }
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    let a = assert_onboarded_once(&env, &big, Some(&company), ENTERPRISE);
    let b = assert_onboarded_once(&env, &mid, Some(&company), GROWTH);
    assert_ne!(a, b, "the CSM pool rotates");
    let audit = env
        .audit_events(&format!("hubspot:deals:{big}"), "onboarding")
        .await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["detail"]["tier"], "Enterprise");
    env.stop_in_process().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_won_deal_without_amount_is_dead_lettered_then_replayed_once_fixed() {
    let mut env = TestEnv::new(Options::default()).await;
    env.start_in_process().await;
    let poison = win_deal(&env, "Umbrella — no amount", None, None);
    let good = win_deal(&env, "Hooli — GTX Basic", Some("300"), None);
    let good_key = format!("onboarding:hubspot:deals:{good}:dm");
    assert!(
        wait_until(WAIT, || env.messages_with_key(&good_key).len() == 1).await,
        "the good deal flows past the poison one"
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert_onboarded_once(&env, &good, None, STARTER);
    let letters = env.dead_letters().await;
    let record = format!("hubspot:deals:{poison}");
    let mine: Vec<&Value> = letters
        .iter()
        .filter(|l| l["record_key"] == record.as_str())
        .collect();
    // The deal's creation and its move to closed-won are two versions when they land in
    // different milliseconds; each is parked (nothing is dropped), none is onboarded.
    assert!(
        !mine.is_empty() && mine.len() <= 2,
        "dead letters for the poison deal: {letters:?}"
    );
    for letter in &mine {
        let reason = letter["reason"].as_str().unwrap();
        assert!(reason.contains("gate required:amount"), "{reason}");
    }
    assert!(tickets_of(&env, &poison).is_empty() && projects_of(&env, &poison).is_empty());

    // Fix the deal in the CRM, then replay its dead letters: onboarded exactly once.
    env.hubspot
        .update_object("deals", &poison, props(json!({"amount": "2500"})))
        .unwrap();
    for letter in &mine {
        let id = letter["id"].as_u64().unwrap();
        let r = env
            .http
            .post(format!(
                "http://{}/admin/dead-letters/{id}/replay",
                env.admin_addr
            ))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "replay: {}", r.status());
    }
    let key = format!("onboarding:hubspot:deals:{poison}:dm");
    assert!(wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await);
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    assert_onboarded_once(&env, &poison, None, GROWTH);
    assert!(env
        .dead_letters()
        .await
        .iter()
        .all(|l| l["record_key"] != record.as_str()));
    assert_eq!(
        env.audit_events(&record, "replayed").await.len(),
        mine.len()
    );
    env.stop_in_process().await;
}
