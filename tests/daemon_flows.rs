//! Black-box tests of the daemon's business flows, run in-process against the emulators, once
//! per CRM (HubSpot and Salesforce, [`on_each_crm`]): lead handoff and claim, nurture, account
//! match, closed-won onboarding, and a poison deal that goes to dead letters and is replayed.
//! Outcomes are read from the emulators' state and the admin API, never from the daemon's
//! internals; what handoff writes to the CRM is checked against what the configured mappings
//! say it writes.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

on_each_crm!(
    an_mql_lead_gets_a_territory_owner_one_dm_and_one_claim,
    leads_failing_gates_go_back_to_nurture_without_a_dm,
    a_lead_at_a_known_account_goes_to_the_account_owner,
    a_closed_won_deal_gets_one_case_one_tiered_project_and_one_csm_dm,
    a_won_deal_without_amount_is_dead_lettered_then_replayed_once_fixed,
);

async fn an_mql_lead_gets_a_territory_owner_one_dm_and_one_claim(crm: CrmKind) {
    let mut env = TestEnv::new(Options::on(crm)).await;
    env.start_in_process().await;

    // Three US leads: the West team in round robin.
    let ids: Vec<String> = (0..3)
        .map(|i| env.new_lead(&format!("lead{i}@northwind-traders.io")))
        .collect();
    for id in &ids {
        let key = format!("lead:{}:dm", env.lead_key(id));
        assert!(
            wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await,
            "no DM for lead {id}; audit {:?}",
            env.audit(&env.lead_key(id)).await
        );
    }
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let mut owners = Vec::new();
    for id in &ids {
        let email = env.lead_owner_email(id).expect("a seeded owner");
        assert!(WEST.contains(&email.as_str()), "{email} is not in West");
        assert!(env.lead_shows(id, json!({"status": "assigned"})));
        // Exactly one DM, to that owner, with both buttons.
        let key = format!("lead:{}:dm", env.lead_key(id));
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
    let record = env.lead_key(&ids[0]);
    let gates = env.audit_events(&record, "gates").await;
    assert_eq!(gates.len(), 1);
    assert!(gates[0]["message"].as_str().unwrap().contains("6 of 6"));
    let routed = env.audit_events(&record, "routed").await;
    assert_eq!(routed.len(), 1);
    let how = routed[0]["message"].as_str().unwrap();
    assert!(how.contains("territory") && how.contains("West"), "{how}");

    // Claim twice (both clicks read the message before it is edited): one claim.
    let id = &ids[0];
    let key = format!("lead:{record}:dm");
    let dm = env.messages_with_key(&key).remove(0);
    let (channel, ts) = (dm["channel"].as_str().unwrap(), dm["ts"].as_str().unwrap());
    let owner_email = env.lead_owner_email(id).unwrap();
    let user = env.slack_ids[&owner_email].clone();
    let (a, b) = tokio::join!(
        env.slack.click(channel, ts, "claim_lead", &user),
        env.slack.click(channel, ts, "claim_lead", &user)
    );
    assert!(a.unwrap().is_success() && b.unwrap().is_success());
    assert!(
        wait_until(WAIT, || {
            env.lead_shows(id, json!({"status": "working"}))
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
    assert!(env.lead_shows(&ids[1], json!({"status": "assigned"})));
    assert!(env.dead_letters().await.is_empty());
    env.stop_in_process().await;
}

async fn leads_failing_gates_go_back_to_nurture_without_a_dm(crm: CrmKind) {
    let mut env = TestEnv::new(Options::on(crm)).await;
    env.start_in_process().await;
    let mut no_consent = TestEnv::person("no.consent@contoso-labs.io");
    no_consent.consent = false;
    let no_consent = env.create_person(&no_consent);
    let test_data = env.new_lead("test@test.com");
    let mut bad_phone = TestEnv::person("bad.phone@contoso-labs.io");
    bad_phone.phone = "12".into();
    let bad_phone = env.create_person(&bad_phone);
    let cases = [
        (&no_consent, "no_consent"),
        (&test_data, "test_data"),
        (&bad_phone, "invalid_phone"),
    ];
    for (id, reason) in cases {
        let nurtured = json!({"status": "nurture", "nurture_reason": reason});
        assert!(
            wait_until(WAIT, || env.lead_shows(id, nurtured.clone())).await,
            "lead {id} not nurtured with {reason}: {:?}",
            env.lead_fields(id)
        );
    }
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    for (id, reason) in cases {
        let record = env.lead_key(id);
        let nurtured = env.audit_events(&record, "nurtured").await;
        assert_eq!(nurtured.len(), 1);
        assert_eq!(nurtured[0]["detail"]["reason"], reason);
        assert!(env.audit_events(&record, "routed").await.is_empty());
        let owner = env.lead_owner(id);
        assert!(
            owner.is_none() || env.owner_email(owner.as_deref().unwrap()).is_none(),
            "no rep owns a nurtured lead"
        );
    }
    assert!(env.slack.messages().is_empty(), "nurtured leads get no DM");
    env.stop_in_process().await;
}

async fn a_lead_at_a_known_account_goes_to_the_account_owner(crm: CrmKind) {
    let mut env = TestEnv::new(Options::on(crm)).await;
    env.start_in_process().await;
    // The account is owned by an East rep; the lead is in the US (West territory).
    let account_owner = EAST[1];
    let account = env.new_account("Globex Corporation", "globex.io", account_owner);
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let mut person = TestEnv::person("hank.scorpio@globex.io");
    person.company = "Globex".into();
    let id = env.create_person(&person);
    let key = format!("lead:{}:dm", env.lead_key(&id));
    assert!(wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await);
    if crm == CrmKind::HubSpot {
        // HubSpot links the contact to the company; a Salesforce Lead has no account lookup.
        assert!(
            wait_until(WAIT, || assoc_ids(
                &env.record("contacts", &id),
                "companies"
            )
            .contains(&account))
            .await,
            "contact not associated with the account"
        );
    }
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert_eq!(env.lead_owner_email(&id).as_deref(), Some(account_owner));
    assert_eq!(env.slack.dm_messages_for(account_owner).len(), 1);
    let matched = env
        .audit_events(&env.lead_key(&id), "matched_account")
        .await;
    assert_eq!(matched.len(), 1);
    assert_eq!(matched[0]["detail"]["matched_by"], "domain");
    assert_eq!(matched[0]["detail"]["company_id"], account);
    env.stop_in_process().await;
}

/// Projects made for deal `id`.
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
    account: Option<&str>,
    template: &str,
) -> String {
    let cases = env.cases_for_deal(deal);
    assert_eq!(cases.len(), 1, "deal {deal}: one case");
    let case_id = env.case_id(&cases[0]);
    if let Some(a) = account {
        assert_eq!(env.case_account(&case_id).as_deref(), Some(a));
    }
    let csm = env.case_owner_email(&cases[0]).expect("a case owner");
    assert!(
        CSMS.contains(&csm.as_str()),
        "case owner {csm} is not a CSM"
    );
    let projects = projects_of(env, deal);
    assert_eq!(projects.len(), 1, "deal {deal}: one project");
    assert_eq!(projects[0]["created_from_template"]["name"], template);
    let gid = projects[0]["gid"].as_str().unwrap();
    let dms = env.messages_with_key(&format!("onboarding:{}:dm", env.deal_key(deal)));
    assert_eq!(dms.len(), 1, "deal {deal}: one CSM DM");
    let text = dms[0]["text"].as_str().unwrap();
    assert!(text.contains(&case_id), "the case link: {text}");
    assert!(
        text.contains(&format!("https://app.asana.com/0/{gid}/list")),
        "{text}"
    );
    assert!(
        !dms[0].to_string().contains("{case_url}") && !dms[0].to_string().contains("{project_url}")
    );
    assert!(env
        .slack
        .dm_messages_for(&csm)
        .iter()
        .any(|m| m["ts"] == dms[0]["ts"]));
    csm
}

async fn a_closed_won_deal_gets_one_case_one_tiered_project_and_one_csm_dm(crm: CrmKind) {
    let mut env = TestEnv::new(Options::on(crm)).await;
    env.start_in_process().await;
    let account = env.new_account("Initech", "initech.io", WEST[0]);
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let big = env.win_deal("Initech — GTX Pro", Some(7500.0), Some(&account));
    let mid = env.win_deal("Initech — GTX Basic", Some(1500.0), Some(&account));
    for d in [&big, &mid] {
        let key = format!("onboarding:{}:dm", env.deal_key(d));
        assert!(
            wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await,
            "deal {d} not onboarded; audit {:?}",
            env.audit(&env.deal_key(d)).await
        );
    }
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    let a = assert_onboarded_once(&env, &big, Some(&account), ENTERPRISE);
    let b = assert_onboarded_once(&env, &mid, Some(&account), GROWTH);
    assert_ne!(a, b, "the CSM pool rotates");
    let audit = env.audit_events(&env.deal_key(&big), "onboarding").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["detail"]["tier"], "Enterprise");
    env.stop_in_process().await;
}

async fn a_won_deal_without_amount_is_dead_lettered_then_replayed_once_fixed(crm: CrmKind) {
    let mut env = TestEnv::new(Options::on(crm)).await;
    env.start_in_process().await;
    let poison = env.win_deal("Umbrella — no amount", None, None);
    let good = env.win_deal("Hooli — GTX Basic", Some(300.0), None);
    let good_key = format!("onboarding:{}:dm", env.deal_key(&good));
    assert!(
        wait_until(WAIT, || env.messages_with_key(&good_key).len() == 1).await,
        "the good deal flows past the poison one"
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert_onboarded_once(&env, &good, None, STARTER);
    let letters = env.dead_letters().await;
    let record = env.deal_key(&poison);
    let mine: Vec<&Value> = letters
        .iter()
        .filter(|l| l["record_key"] == record.as_str())
        .collect();
    // The deal's creation and its move to won are two versions when they land in different
    // milliseconds; each is parked (nothing is dropped), none is onboarded.
    assert!(
        !mine.is_empty() && mine.len() <= 2,
        "dead letters for the poison deal: {letters:?}"
    );
    for letter in &mine {
        let reason = letter["reason"].as_str().unwrap();
        assert!(reason.contains("gate required:amount"), "{reason}");
    }
    assert!(env.cases_for_deal(&poison).is_empty() && projects_of(&env, &poison).is_empty());

    // Fix the deal in the CRM, then replay its dead letters: onboarded exactly once.
    env.set_deal_amount(&poison, 2500.0);
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let mut replayed = 0;
    for letter in env
        .dead_letters()
        .await
        .iter()
        .filter(|l| l["record_key"] == record.as_str())
    {
        replayed += 1;
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
    let key = format!("onboarding:{record}:dm");
    assert!(wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await);
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    assert_onboarded_once(&env, &poison, None, GROWTH);
    assert!(env
        .dead_letters()
        .await
        .iter()
        .all(|l| l["record_key"] != record.as_str()));
    assert!(
        replayed > 0,
        "the won deal's dead letters were gone before the replay"
    );
    assert_eq!(env.audit_events(&record, "replayed").await.len(), replayed);
    env.stop_in_process().await;
}
