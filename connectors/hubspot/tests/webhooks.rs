//! Webhook delivery from the emulator to a tiny axum receiver, verified by `HubSpotWebhooks`:
//! signatures, batching, event ids, retries on 5xx/429 and none on 400, forged and stale
//! deliveries refused.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::props;
use handoff_connector::{now_ms, SignatureError, WebhookRequest, WebhookSource};
use handoff_hubspot::emulator::{EmulatorConfig, HubSpotEmulator};
use handoff_hubspot::webhook::{SIGNATURE_V3_HEADER, TIMESTAMP_HEADER};
use handoff_hubspot::HubSpotWebhooks;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
struct Hit {
    headers: HeaderMap,
    body: Bytes,
}

/// A scripted answer: status and optional `Retry-After` seconds.
type Answer = (u16, Option<u64>);

/// A webhook endpoint that records deliveries and answers scripted statuses (then 200).
#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl Receiver {
    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
    fn answer(&self, status: u16, retry_after: Option<u64>) {
        self.script.lock().unwrap().push_back((status, retry_after));
    }
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    r.hits.lock().unwrap().push(Hit { headers, body });
    let next = r.script.lock().unwrap().pop_front();
    match next {
        Some((status, retry_after)) => {
            let mut resp = StatusCode::from_u16(status).unwrap().into_response();
            if let Some(s) = retry_after {
                resp.headers_mut()
                    .insert("retry-after", s.to_string().parse().unwrap());
            }
            resp
        }
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

struct Setup {
    emu: HubSpotEmulator,
    receiver: Receiver,
    target: url::Url,
    shutdown: CancellationToken,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Setup {
    /// Receiver and emulator (not started yet, so seeding can queue events first).
    async fn new() -> Self {
        let receiver = Receiver::default();
        let shutdown = CancellationToken::new();
        let app = axum::Router::new()
            .route("/webhooks/hubspot", axum::routing::post(hook))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        let target: url::Url = format!("http://{addr}/webhooks/hubspot").parse().unwrap();
        let emu = HubSpotEmulator::new(EmulatorConfig {
            webhook_target: Some(target.clone()),
            ..EmulatorConfig::default()
        });
        Self {
            emu,
            receiver,
            target,
            shutdown,
        }
    }

    async fn start(&self) -> url::Url {
        self.emu
            .start("127.0.0.1:0".parse().unwrap(), self.shutdown.clone())
            .await
            .unwrap()
            .base_url()
    }

    fn hooks(&self) -> HubSpotWebhooks {
        HubSpotWebhooks::new(SecretString::from(self.emu.config().client_secret.clone()))
    }

    fn verify(&self, hit: &Hit, now: i64) -> Result<(), SignatureError> {
        self.hooks().verify(
            &WebhookRequest {
                method: "POST",
                uri: self.target.as_str(),
                headers: &hit.headers,
                body: &hit.body,
            },
            now,
        )
    }
}

fn events(hit: &Hit) -> Vec<Value> {
    serde_json::from_slice(&hit.body).unwrap()
}

#[tokio::test]
async fn deliveries_are_batched_signed_and_verifiable() {
    let s = Setup::new().await;
    for i in 0..150 {
        s.emu.create_object(
            "contacts",
            props(json!({"email": format!("w{i}@example.com")})),
        );
    }
    let base = s.start().await;
    assert!(s.emu.wait_webhooks_drained(Duration::from_secs(5)).await);

    // An update through the API emits one propertyChange per changed property.
    let deal = s.emu.create_object(
        "deals",
        props(json!({"dealname": "D", "dealstage": "appointmentscheduled"})),
    );
    let resp = reqwest::Client::new()
        .patch(format!("{base}crm/v3/objects/deals/{deal}"))
        .header("authorization", format!("Bearer {}", s.emu.config().token))
        .json(&json!({"properties": {"dealstage": "closedwon", "amount": "10", "dealname": "D"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(s.emu.wait_webhooks_drained(Duration::from_secs(5)).await);

    let hits = s.receiver.hits();
    let sizes: Vec<usize> = hits.iter().map(|h| events(h).len()).collect();
    assert_eq!(
        sizes[..2],
        [100, 50],
        "queued events go out 100 per request"
    );
    assert!(sizes.iter().all(|n| *n <= 100));
    let mut changes = Vec::new();
    for hit in &hits {
        s.verify(hit, now_ms()).expect("emulator deliveries verify");
        assert_eq!(hit.headers["x-hubspot-signature-version"], "v1");
        changes.extend(s.hooks().parse(&hit.body, now_ms()).unwrap());
    }
    assert_eq!(changes.len(), 153, "150 + deal.creation + 2 propertyChange");
    let ids: Vec<u64> = hits
        .iter()
        .flat_map(events)
        .map(|e| e["eventId"].as_u64().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "eventIds unique and increasing"
    );

    let all: Vec<Value> = hits.iter().flat_map(events).collect();
    let first = &all[0];
    assert_eq!(first["subscriptionType"], "contact.creation");
    assert_eq!(first["portalId"], 62515);
    assert_eq!(first["appId"], 54321);
    assert_eq!(first["attemptNumber"], 0);
    assert_eq!(first["changeFlag"], "NEW");
    let changed: Vec<(&str, &str)> = all
        .iter()
        .filter(|e| e["subscriptionType"] == "deal.propertyChange")
        .map(|e| {
            (
                e["propertyName"].as_str().unwrap(),
                e["propertyValue"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(changed, [("amount", "10"), ("dealstage", "closedwon")]);
    assert_eq!(changes.last().unwrap().object_type, "deals");
    assert_eq!(changes.last().unwrap().object_id, deal);
}

#[tokio::test]
async fn forged_reserialised_and_stale_deliveries_are_refused() {
    let s = Setup::new().await;
    s.start().await;
    s.emu
        .create_object("companies", props(json!({"name": "Acme"})));
    assert!(s.emu.wait_webhooks_drained(Duration::from_secs(5)).await);
    let hit = s.receiver.hits().pop().unwrap();
    let now = now_ms();
    assert_eq!(s.verify(&hit, now), Ok(()));

    let mut forged = hit.clone();
    forged.headers.insert(
        SIGNATURE_V3_HEADER,
        handoff_hubspot::sign_v3("not-the-secret", "POST", s.target.as_str(), &hit.body, now)
            .parse()
            .unwrap(),
    );
    assert_eq!(s.verify(&forged, now), Err(SignatureError::Mismatch));

    let mut reserialised = hit.clone();
    let value: Value = serde_json::from_slice(&hit.body).unwrap();
    reserialised.body = Bytes::from(serde_json::to_vec_pretty(&value).unwrap());
    assert_eq!(s.verify(&reserialised, now), Err(SignatureError::Mismatch));

    let signed_at: i64 = hit.headers[TIMESTAMP_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let later = signed_at + 5 * 60 * 1000 + 1;
    assert!(matches!(
        s.verify(&hit, later),
        Err(SignatureError::Stale { .. })
    ));

    // A replay with a fresh timestamp but the old signature fails too.
    let mut replay = hit.clone();
    replay
        .headers
        .insert(TIMESTAMP_HEADER, now.to_string().parse().unwrap());
    if now != signed_at {
        assert_eq!(s.verify(&replay, now), Err(SignatureError::Mismatch));
    }
}

#[tokio::test]
async fn server_errors_and_429_are_retried_with_attempt_numbers() {
    let s = Setup::new().await;
    s.receiver.answer(500, None);
    s.receiver.answer(503, None);
    s.receiver.answer(429, Some(1));
    s.start().await;
    let id = s
        .emu
        .create_object("tickets", props(json!({"subject": "Retry me"})));
    assert!(s.emu.wait_webhooks_drained(Duration::from_secs(10)).await);
    let hits = s.receiver.hits();
    assert_eq!(hits.len(), 4, "three failures, then success");
    let attempts: Vec<u64> = hits
        .iter()
        .map(|h| events(h)[0]["attemptNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [0, 1, 2, 3]);
    for h in &hits {
        assert_eq!(events(h)[0]["eventId"], events(&hits[0])[0]["eventId"]);
        assert_eq!(events(h)[0]["objectId"], json!(id.parse::<u64>().unwrap()));
        s.verify(h, now_ms())
            .expect("each attempt is signed afresh");
    }
    assert_eq!(s.emu.delivered_webhook_requests(), 1);
    assert_eq!(s.emu.dropped_webhook_events(), 0);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let s = Setup::new().await;
    s.receiver.answer(400, None);
    s.start().await;
    s.emu
        .create_object("contacts", props(json!({"email": "nope@example.com"})));
    assert!(s.emu.wait_webhooks_drained(Duration::from_secs(5)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.receiver.hits().len(), 1, "a 400 is final");
    assert_eq!(s.emu.dropped_webhook_events(), 1);

    // The next event is delivered normally.
    s.emu
        .create_object("contacts", props(json!({"email": "yes@example.com"})));
    assert!(s.emu.wait_webhooks_drained(Duration::from_secs(5)).await);
    assert_eq!(s.receiver.hits().len(), 2);
    assert_eq!(s.emu.delivered_webhook_requests(), 1);
}

#[tokio::test]
async fn deliver_raw_sends_the_same_event_as_often_as_asked() {
    let s = Setup::new().await;
    let event = json!({
        "eventId": 77, "subscriptionId": 1000, "portalId": 62515, "appId": 54321,
        "occurredAt": 1_564_113_600_000i64, "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0, "objectId": 123, "propertyName": "lifecyclestage",
        "propertyValue": "customer", "changeSource": "CRM"
    });
    for _ in 0..100 {
        let status = s.emu.deliver_raw(vec![event.clone()]).await.unwrap();
        assert_eq!(status, 204);
    }
    let hits = s.receiver.hits();
    assert_eq!(hits.len(), 100);
    let keys: std::collections::HashSet<Vec<String>> = hits
        .iter()
        .map(|h| {
            s.verify(h, now_ms()).unwrap();
            s.hooks().parse(&h.body, now_ms()).unwrap()[0].dedupe_keys()
        })
        .collect();
    assert_eq!(keys.len(), 1, "one event, one set of dedupe keys");
}
