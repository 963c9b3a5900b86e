//! `HubSpotClient` against the emulator: round trips, idempotent upsert, batches,
//! associations, owners, companies, errors, rate-limit headers and 429 storms.

mod common;

use common::{props, Harness};
use handoff_connector::emulator::Fault;
use handoff_connector::{ConnectorError, IdempotencyKey};
use handoff_hubspot::emulator::EmulatorConfig;
use handoff_hubspot::IDEMPOTENCY_PROPERTY;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[tokio::test]
async fn create_read_update_round_trip() {
    let h = Harness::start(EmulatorConfig::default()).await;
    let client = h.client();
    let id = h.emu.create_object(
        "contacts",
        props(json!({"email": "ada@example.com", "firstname": "Ada", "lifecyclestage": "lead"})),
    );

    let rec = client
        .get_object("contacts", &id, &["email", "lifecyclestage"])
        .await
        .unwrap();
    assert_eq!(rec.id, id);
    assert_eq!(rec.object_type, "contacts");
    assert_eq!(rec.prop("email").as_deref(), Some("ada@example.com"));
    assert_eq!(rec.prop("hs_object_id").as_deref(), Some(id.as_str()));
    assert!(rec.prop("lastmodifieddate").unwrap().ends_with('Z'));
    assert!(
        !rec.properties.contains_key("firstname"),
        "only requested + system properties"
    );

    let updated = client
        .update_object(
            "contacts",
            &id,
            &props(json!({"lifecyclestage": "salesqualifiedlead", "num_employees": 25})),
        )
        .await
        .unwrap();
    assert_eq!(
        updated.prop("lifecyclestage").as_deref(),
        Some("salesqualifiedlead")
    );
    assert_eq!(
        updated.properties["num_employees"],
        json!("25"),
        "numbers are stored and returned as strings"
    );
    // Same update again: idempotent.
    client
        .update_object(
            "contacts",
            &id,
            &props(json!({"lifecyclestage": "salesqualifiedlead"})),
        )
        .await
        .unwrap();
    let stored = h.emu.get("contacts", &id).unwrap();
    assert_eq!(stored["properties"]["lifecyclestage"], "salesqualifiedlead");

    // The object type id addresses the same records.
    let by_type_id = client.get_object("0-1", &id, &["email"]).await.unwrap();
    assert_eq!(by_type_id.object_type, "contacts");

    let missing = client.get_object("contacts", "987654", &["email"]).await;
    assert!(
        matches!(missing, Err(ConnectorError::NotFound { .. })),
        "{missing:?}"
    );
}

#[tokio::test]
async fn upsert_by_idempotency_key_twice_creates_one_ticket() {
    let h = Harness::start(EmulatorConfig::default()).await;
    let client = h.client();
    let key = IdempotencyKey::new("onboarding-ticket:hubspot:deals:456");
    let first = client
        .upsert_by_key(
            "tickets",
            IDEMPOTENCY_PROPERTY,
            &key,
            &props(json!({"subject": "Onboard Acme", "hs_pipeline_stage": "1"})),
        )
        .await
        .unwrap();
    let second = client
        .upsert_by_key(
            "tickets",
            IDEMPOTENCY_PROPERTY,
            &key,
            &props(json!({"subject": "Onboard Acme", "hs_pipeline_stage": "1"})),
        )
        .await
        .unwrap();
    assert_eq!(first.id, second.id);
    let tickets = h.emu.objects("tickets");
    assert_eq!(tickets.len(), 1, "no duplicate ticket");
    assert_eq!(tickets[0]["properties"][IDEMPOTENCY_PROPERTY], key.as_str());
    assert_eq!(
        tickets[0]["properties"]["hs_pipeline"], "0",
        "default support pipeline"
    );

    let other = client
        .upsert_by_key(
            "tickets",
            IDEMPOTENCY_PROPERTY,
            &IdempotencyKey::new("k2"),
            &props(json!({"subject": "B"})),
        )
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    assert_eq!(h.emu.objects("tickets").len(), 2);

    // A property that is not unique cannot be an idProperty.
    let refused = client
        .upsert_by_key(
            "tickets",
            "subject",
            &IdempotencyKey::new("x"),
            &props(json!({})),
        )
        .await;
    assert!(
        matches!(refused, Err(ConnectorError::Rejected { status: 400, .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn batch_read_chunks_past_one_hundred_and_skips_missing_ids() {
    let h = Harness::start(EmulatorConfig::default()).await;
    let mut ids: Vec<String> = (0..130)
        .map(|i| {
            h.emu.create_object(
                "companies",
                props(json!({"name": format!("Co {i}"), "domain": format!("co{i}.example")})),
            )
        })
        .collect();
    ids.push("999999".into());
    let before = h.emu.request_count();
    let records = h
        .client()
        .batch_read("companies", &ids, &["name", "domain"])
        .await
        .unwrap();
    assert_eq!(
        h.emu.request_count() - before,
        2,
        "131 ids → two calls of ≤ 100"
    );
    assert_eq!(records.len(), 130);
    assert_eq!(records[5].prop("domain").as_deref(), Some("co5.example"));
}

#[tokio::test]
async fn default_associations_and_v3_reads() {
    let h = Harness::start(EmulatorConfig::default()).await;
    let client = h.client();
    let contact = h
        .emu
        .create_object("contacts", props(json!({"email": "b@acme.io"})));
    let company = h.emu.create_object(
        "companies",
        props(json!({"name": "Acme", "domain": "acme.io"})),
    );
    client
        .associate_default("contacts", &contact, "companies", &company)
        .await
        .unwrap();
    client
        .associate_default("contacts", &contact, "companies", &company)
        .await
        .expect("idempotent");

    let rec = client
        .get_object_with_associations("contacts", &contact, &["email"], &["companies"])
        .await
        .unwrap();
    assert_eq!(rec.associations["companies"], vec![company.clone()]);

    // v4 list, both directions.
    let http = h.http();
    let back: Value = http
        .get(h.url(&format!(
            "crm/v4/objects/companies/{company}/associations/contacts"
        )))
        .header("authorization", h.bearer())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        back["results"][0]["toObjectId"],
        json!(contact.parse::<u64>().unwrap())
    );
    assert_eq!(back["results"][0]["associationTypes"][0]["typeId"], 280);

    let err = client
        .associate_default("contacts", &contact, "companies", "424242")
        .await;
    assert!(
        matches!(err, Err(ConnectorError::NotFound { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn owners_and_companies_page_through_everything() {
    let h = Harness::start(EmulatorConfig::default()).await;
    for i in 0..150 {
        h.emu.add_owner(
            &format!("rep{i}@example.com"),
            "Rep",
            &format!("{i}"),
            Some(if i % 2 == 0 { "East" } else { "West" }),
        );
        h.emu.create_object(
            "companies",
            props(json!({"name": format!("C{i}"), "domain": format!("c{i}.io")})),
        );
    }
    let client = h.client();
    let owners = client.list_owners().await.unwrap();
    assert_eq!(owners.len(), 150);
    assert_eq!(owners[1].email.as_deref(), Some("rep1@example.com"));
    assert_eq!(owners[1].teams[0].name, "West");
    assert!(owners[1].teams[0].primary);
    assert!(owners[0].user_id.is_some());

    let companies = client.list_companies(&["name", "domain"]).await.unwrap();
    assert_eq!(companies.len(), 150);
    assert_eq!(companies[149].prop("domain").as_deref(), Some("c149.io"));
}

#[tokio::test]
async fn pipelines_are_the_portal_defaults() {
    let h = Harness::start(EmulatorConfig::default()).await;
    let http = h.http();
    let deals: Value = http
        .get(h.url("crm/v3/pipelines/deals"))
        .header("authorization", h.bearer())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sales = &deals["results"][0];
    assert_eq!(sales["id"], "default");
    let stages: Vec<&str> = sales["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "appointmentscheduled",
            "qualifiedtobuy",
            "presentationscheduled",
            "decisionmakerboughtin",
            "contractsent",
            "closedwon",
            "closedlost"
        ]
    );
    assert_eq!(sales["stages"][5]["metadata"]["isClosed"], "true");
    assert_eq!(sales["stages"][5]["metadata"]["probability"], "1.0");

    let tickets: Value = http
        .get(h.url("crm/v3/pipelines/tickets/0"))
        .header("authorization", h.bearer())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tickets["stages"][3]["id"], "4");
    assert_eq!(tickets["stages"][3]["label"], "Closed");
}

#[tokio::test]
async fn missing_or_wrong_token_gets_hubspots_401_body() {
    let h = Harness::start(EmulatorConfig::default()).await;
    for auth in [None, Some("Bearer wrong-token")] {
        let mut req = h.http().get(h.url("crm/v3/objects/contacts"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["status"], "error");
        assert_eq!(body["category"], "INVALID_AUTHENTICATION");
        assert!(body["correlationId"].as_str().unwrap().len() >= 32);
    }
    let mut cfg = h.config();
    cfg.token = secrecy::SecretString::from("not-the-token");
    cfg.max_retries = 0;
    let client = handoff_hubspot::HubSpotClient::new(&cfg).unwrap();
    let err = client.list_owners().await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth { status: 401, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limit_headers_and_the_ten_second_bucket() {
    let h = Harness::start(EmulatorConfig::default()).await;
    let http = h.http();
    let resp = http
        .get(h.url("crm/v3/objects/contacts"))
        .header("authorization", h.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let header = |r: &reqwest::Response, n: &str| r.headers()[n].to_str().unwrap().to_string();
    assert_eq!(header(&resp, "x-hubspot-ratelimit-max"), "190");
    assert_eq!(header(&resp, "x-hubspot-ratelimit-remaining"), "189");
    assert_eq!(
        header(&resp, "x-hubspot-ratelimit-interval-milliseconds"),
        "10000"
    );
    assert!(resp
        .headers()
        .contains_key("x-hubspot-ratelimit-daily-remaining"));

    for _ in 0..189 {
        let r = http
            .get(h.url("crm/v3/owners"))
            .header("authorization", h.bearer())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let over = http
        .get(h.url("crm/v3/owners"))
        .header("authorization", h.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(over.status(), 429);
    assert!(
        over.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(header(&over, "x-hubspot-ratelimit-remaining"), "0");
    let body: Value = over.json().await.unwrap();
    assert_eq!(body["errorType"], "RATE_LIMIT");
    assert_eq!(body["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(
        body["message"],
        "You have reached your ten_secondly_rolling limit."
    );

    // Search has its own bucket: it still answers while the ten-second bucket is empty.
    let search = http
        .post(h.url("crm/v3/objects/contacts/search"))
        .header("authorization", h.bearer())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(search.status(), 200);
}

#[tokio::test]
async fn search_bucket_allows_five_per_second() {
    let h = Harness::start(EmulatorConfig::default()).await;
    let http = h.http();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = http
            .post(h.url("crm/v3/objects/deals/search"))
            .header("authorization", h.bearer())
            .json(&json!({"limit": 1}))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["policyName"], "SECONDLY");
        }
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
}

#[tokio::test]
async fn client_rides_out_a_429_storm_honouring_retry_after() {
    let h = Harness::start(EmulatorConfig::default()).await;
    let id = h.emu.create_object(
        "deals",
        props(json!({"dealname": "Big one", "amount": "5000"})),
    );
    h.emu.faults().inject(
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        2,
    );
    let started = Instant::now();
    let rec = h
        .client()
        .get_object("deals", &id, &["dealname"])
        .await
        .unwrap();
    assert_eq!(rec.prop("dealname").as_deref(), Some("Big one"));
    assert_eq!(h.emu.faults().served(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(1_900),
        "waited Retry-After twice, took {:?}",
        started.elapsed()
    );

    // 500s are retried too.
    h.emu.faults().inject(Fault::ServerError, 1);
    let rec = h
        .client()
        .get_object("deals", &id, &["amount"])
        .await
        .unwrap();
    assert_eq!(rec.prop("amount").as_deref(), Some("5000"));
}
