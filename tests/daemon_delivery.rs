//! Black-box tests of the daemon's delivery guarantees, in-process against the emulators:
//! duplicate webhooks, webhook + poll overlap, forged and stale signatures, and a 429 storm.
//! Each asserts the effect happened exactly once (or not at all) in the emulators' state.

mod common;

use common::*;
use handoff_hubspot::emulator::Fault;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// The `contact.creation` event HubSpot would send for contact `id`.
fn creation_event(env: &TestEnv, id: &str, event_id: u64) -> Value {
    let created = env.prop("contacts", id, "createdate").unwrap();
    json!([{
        "eventId": event_id, "subscriptionId": 1000, "portalId": env.hubspot.config().portal_id,
        "appId": env.hubspot.config().app_id,
        "occurredAt": handoff_hubspot::time::parse_ms(&created).unwrap(),
        "subscriptionType": "contact.creation", "attemptNumber": 0,
        "objectId": id.parse::<u64>().unwrap(), "changeSource": "CRM", "changeFlag": "NEW"
    }])
}

/// Asserts contact `id` was handed off exactly once (one decision, one owner, one DM).
async fn assert_routed_once(env: &TestEnv, id: &str) {
    let record = format!("hubspot:contacts:{id}");
    assert_eq!(
        env.audit_events(&record, "gates").await.len(),
        1,
        "one decision"
    );
    assert_eq!(
        env.audit_events(&record, "routed").await.len(),
        1,
        "one routing"
    );
    let owner = env.prop("contacts", id, "hubspot_owner_id").expect("owner");
    let email = env.owner_email(&owner).unwrap();
    let key = format!("lead:hubspot:contacts:{id}:dm");
    assert_eq!(env.messages_with_key(&key).len(), 1, "one DM");
    assert_eq!(
        env.slack.dm_messages_for(&email).len(),
        1,
        "the owner got one message"
    );
    assert_eq!(
        env.prop("contacts", id, "hs_lead_status").as_deref(),
        Some("NEW")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_webhook_delivered_100_times_has_one_effect() {
    let mut env = TestEnv::new(Options::default()).await;
    env.start_in_process().await;
    let id = env.create_lead("dup.lead@wayne-enterprises.io", json!({}));
    let event = creation_event(&env, &id, 9_000_001);
    // Ten concurrent senders, ten deliveries each, racing the emulator's own delivery.
    let sends = (0..10).map(|_| {
        let (hubspot, event) = (env.hubspot.clone(), event.clone());
        async move {
            let mut statuses = Vec::new();
            for _ in 0..10 {
                let events = event.as_array().unwrap().clone();
                statuses.push(hubspot.deliver_raw(events).await.unwrap());
            }
            statuses
        }
    });
    let statuses: Vec<u16> = futures::future::join_all(sends)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(statuses.len(), 100);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let key = format!("lead:hubspot:contacts:{id}:dm");
    assert!(wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await);
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    assert_routed_once(&env, &id).await;
    assert_eq!(env.slack.messages().len(), 1);
    env.stop_in_process().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_seen_by_poll_then_by_webhook_has_one_effect() {
    let mut env = TestEnv::new(Options {
        poll_schedule: "* * * * * *".into(), // every second
        webhook_proxy: true,
        ..Options::default()
    })
    .await;
    // The webhook is held back (HubSpot retries it) while the startup catch-up poll reads the
    // contact; then the webhook of the same change arrives.
    env.proxy.paused.store(true, Ordering::SeqCst);
    let id = env.create_lead("overlap.lead@stark-industries.io", json!({}));
    let created =
        handoff_hubspot::time::parse_ms(&env.prop("contacts", &id, "createdate").unwrap()).unwrap();
    env.start_in_process().await;
    let polled = env.status().await.cursors.get("hubspot:contacts").cloned();
    assert!(
        polled.is_some_and(|c| c.split(':').next().unwrap().parse::<i64>().unwrap() >= created),
        "the catch-up poll read the contact"
    );
    assert!(
        env.proxy.failed_forwards.load(Ordering::SeqCst) > 0,
        "the webhook was held"
    );
    env.proxy.paused.store(false, Ordering::SeqCst);
    let key = format!("lead:hubspot:contacts:{id}:dm");
    assert!(
        wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await,
        "lead lost when the poll saw it first"
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert!(
        env.proxy.retried_requests.load(Ordering::SeqCst) > 0,
        "HubSpot's retry arrived"
    );
    // Polls keep re-reading the contact every second (overlap window): still one effect.
    let modified =
        handoff_hubspot::time::parse_ms(&env.prop("contacts", &id, "lastmodifieddate").unwrap())
            .unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let cursor = env
            .status()
            .await
            .cursors
            .get("hubspot:contacts")
            .and_then(|c| c.split(':').next()?.parse::<i64>().ok());
        if cursor.is_some_and(|c| c >= modified) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the poller never re-read the contact"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert_routed_once(&env, &id).await;
    env.stop_in_process().await;
}

/// The value of a Prometheus counter line with all of `labels`, summed.
fn counter(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_stale_signatures_get_401_and_store_nothing() {
    use secrecy::SecretString;
    let mut env = TestEnv::new(Options::default()).await;
    env.start_in_process().await;
    // Hold any HubSpot change the daemon accepts in the inbox: its record read fails.
    env.hubspot.faults().inject(Fault::ServerError, 100_000);
    let http = reqwest::Client::new();
    let hs_url = env.public_url.join("webhooks/hubspot").unwrap();
    let body = serde_json::to_vec(&json!([{
        "eventId": 42, "subscriptionId": 1000, "portalId": 62515, "appId": 54321,
        "occurredAt": handoff_connector::now_ms(), "subscriptionType": "contact.creation",
        "attemptNumber": 0, "objectId": 777, "changeSource": "CRM"
    }]))
    .unwrap();
    let secret = env.hubspot.config().client_secret.clone();
    let post_hubspot = |secret: String, ts: i64| {
        let sig = handoff_hubspot::sign_v3(&secret, "POST", hs_url.as_str(), &body, ts);
        http.post(hs_url.clone())
            .header("content-type", "application/json")
            .header("x-hubspot-signature-v3", sig)
            .header("x-hubspot-request-timestamp", ts.to_string())
            .body(body.clone())
            .send()
    };
    let now = handoff_connector::now_ms();
    let forged = post_hubspot("not-the-secret".into(), now).await.unwrap();
    let stale = post_hubspot(secret.clone(), now - 10 * 60 * 1000)
        .await
        .unwrap();
    assert_eq!(
        (forged.status().as_u16(), stale.status().as_u16()),
        (401, 401)
    );

    // Slack: a "Claim lead" click on contact 778, forged and stale.
    let payload = json!({
        "type": "block_actions",
        "user": {"id": "U0FORGED", "username": "mallory", "team_id": "T0HANDOFF1"},
        "api_app_id": "A0HANDOFF1",
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "D0FORGED"},
        "channel": {"id": "D0FORGED", "name": "directmessage"},
        "team": {"id": "T0HANDOFF1"},
        "actions": [{"action_id": "claim_lead", "block_id": "lead_actions", "type": "button",
                     "value": "hubspot:contacts:778", "action_ts": "1700000001.000200"}]
    });
    let slack_body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let slack_url = env.public_url.join("slack/interactivity").unwrap();
    let post_slack = |secret: &str, ts_s: i64| {
        let sig = handoff_slack::signature::sign(
            &SecretString::from(secret.to_string()),
            ts_s,
            slack_body.as_bytes(),
        );
        http.post(slack_url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("X-Slack-Signature", sig)
            .header("X-Slack-Request-Timestamp", ts_s.to_string())
            .body(slack_body.clone())
            .send()
    };
    let good_slack_secret = "handoff-emulator-signing-secret";
    let now_s = now / 1000;
    let forged = post_slack("wrong-signing-secret", now_s).await.unwrap();
    let stale = post_slack(good_slack_secret, now_s - 600).await.unwrap();
    assert_eq!(
        (forged.status().as_u16(), stale.status().as_u16()),
        (401, 401)
    );

    let s = env.status().await;
    assert_eq!(
        (s.inbox_depth, s.outbox_depth, s.dead_letters),
        (0, 0, 0),
        "{s:?}"
    );
    assert!(env.audit("hubspot:contacts:777").await.is_empty());
    assert!(env.audit("hubspot:contacts:778").await.is_empty());
    assert!(env.slack.messages().is_empty());
    let metrics = env.metrics_text().await;
    let name = "handoff_webhooks_rejected_total";
    assert!(
        counter(
            &metrics,
            name,
            &["vendor=\"hubspot\"", "reason=\"signature\""]
        ) >= 2.0
    );
    assert!(
        counter(
            &metrics,
            name,
            &["vendor=\"slack\"", "reason=\"signature\""]
        ) >= 2.0
    );

    // Control: the same body correctly signed is stored (and held by the failing read).
    let ok = post_hubspot(secret, handoff_connector::now_ms())
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(
        env.status().await.inbox_depth,
        1,
        "a valid webhook is stored"
    );
    env.hubspot.faults().inject(Fault::ServerError, 0);
    env.stop_in_process().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_still_gives_exactly_one_effect() {
    let mut env = TestEnv::new(Options::default()).await;
    env.start_in_process().await;
    let limited = Fault::RateLimited {
        retry_after_secs: 1,
    };
    env.hubspot.faults().inject(limited, 4);
    env.slack.faults().inject(limited, 4);
    let id = env.create_lead("storm.lead@acme-rockets.io", json!({}));
    let key = format!("lead:hubspot:contacts:{id}:dm");
    assert!(
        wait_until(Duration::from_secs(60), || env
            .messages_with_key(&key)
            .len()
            == 1)
        .await,
        "lead not handed off through the 429s"
    );
    env.wait_idle(WAIT, Duration::from_millis(500)).await;
    assert_routed_once(&env, &id).await;
    assert_eq!(env.hubspot.faults().served(), 4, "HubSpot served the 429s");
    assert_eq!(env.slack.faults().served(), 4, "Slack served the 429s");
    env.stop_in_process().await;
}
