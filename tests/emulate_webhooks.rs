//! `handoff emulate hubspot --webhook-target`: the standalone emulator's server, started
//! in-process, delivers signed webhooks for writes made through its REST API to a small axum
//! receiver; the deliveries pass the daemon's verifier (`HubSpotWebhooks`), carry one
//! `propertyChange` per changed property, and a delivery answered 500 comes again with
//! `attemptNumber` incremented. Also `POST /_emulator/dump`, and `--webhook-target` refused
//! (exit 64) for the emulators that send no webhooks.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use handoff::emulate::{Options, Vendor, WebhookOptions};
use handoff_connector::{now_ms, WebhookRequest, WebhookSource};
use handoff_hubspot::HubSpotWebhooks;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "outside-test-client-secret";

#[derive(Clone, Debug)]
struct Hit {
    headers: HeaderMap,
    body: Bytes,
}

impl Hit {
    fn events(&self) -> Vec<Value> {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Records deliveries; answers the scripted statuses first, then 204.
#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Waits until at least `n` deliveries arrived (panics after 10 s).
    async fn wait_for(&self, n: usize) -> Vec<Hit> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            assert!(
                Instant::now() < deadline,
                "{} deliveries after 10 s, expected {n}",
                hits.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.hits.lock().unwrap().push(Hit { headers, body });
    let next = r.script.lock().unwrap().pop_front();
    next.map_or(StatusCode::NO_CONTENT, |s| StatusCode::from_u16(s).unwrap())
}

/// Serves the receiver at `/webhooks/hubspot` on a free port; returns its URL.
async fn receiver(r: &Receiver, shutdown: &CancellationToken) -> url::Url {
    let app = axum::Router::new()
        .route("/webhooks/hubspot", axum::routing::post(hook))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });
    format!("http://{addr}/webhooks/hubspot").parse().unwrap()
}

/// Verifies a delivery as the daemon does: v3 over the URL it was posted to.
fn verify(target: &url::Url, hit: &Hit) {
    HubSpotWebhooks::new(SecretString::from(SECRET))
        .verify(
            &WebhookRequest {
                method: "POST",
                uri: target.as_str(),
                headers: &hit.headers,
                body: &hit.body,
            },
            now_ms(),
        )
        .expect("the daemon's verifier accepts the emulator's delivery");
}

#[tokio::test]
async fn standalone_hubspot_delivers_signed_events_and_retries_a_500() {
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let r = Receiver::default();
    r.script.lock().unwrap().push_back(500);
    let target = receiver(&r, &shutdown).await;
    let state = tempfile::TempDir::new().unwrap();
    let options = Options {
        vendor: Vendor::Hubspot,
        listen: "127.0.0.1:0".parse().unwrap(),
        data: None,
        state_dir: Some(state.path().to_path_buf()),
        webhooks: Some(WebhookOptions {
            target: target.clone(),
            client_secret: Some(SECRET.into()),
            // HubSpot's schedule in milliseconds: the first retry after 42 to 84 ms.
            retry_scale: 0.001,
        }),
    };
    options.check().unwrap();
    let emu = handoff::emulate::start(options, shutdown.clone())
        .await
        .unwrap();
    let base = emu.base_url().clone();
    let token = emu.token().unwrap().to_string();
    let http = reqwest::Client::new();

    // Create a contact through the REST API: one contact.creation, answered 500 then 204.
    let created: Value = http
        .post(base.join("crm/v3/objects/contacts").unwrap())
        .bearer_auth(&token)
        .json(&json!({"properties": {"email": "ana@example.com", "firstname": "Ana"}}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let id: u64 = created["id"].as_str().unwrap().parse().unwrap();
    let hits = r.wait_for(2).await;
    let (first, retry) = (hits[0].events(), hits[1].events());
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["subscriptionType"], "contact.creation");
    assert_eq!(first[0]["objectId"], json!(id));
    assert_eq!(first[0]["attemptNumber"], 0);
    assert_eq!(retry.len(), 1, "{retry:?}");
    assert_eq!(
        retry[0]["eventId"], first[0]["eventId"],
        "the same event again"
    );
    assert_eq!(retry[0]["attemptNumber"], 1);
    for hit in &hits {
        verify(&target, hit);
    }

    // Update it: two properties change (the email is the same), so two propertyChange events.
    http.patch(base.join(&format!("crm/v3/objects/contacts/{id}")).unwrap())
        .bearer_auth(&token)
        .json(&json!({"properties": {
            "email": "ana@example.com", "firstname": "Anna", "lastname": "Lee"
        }}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let hits = r.wait_for(3).await;
    let update = &hits[2];
    verify(&target, update);
    let events = update.events();
    let mut changed: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["subscriptionType"], "contact.propertyChange");
            assert_eq!(e["objectId"], json!(id));
            assert_eq!(e["attemptNumber"], 0);
            for field in [
                "eventId",
                "subscriptionId",
                "portalId",
                "appId",
                "occurredAt",
            ] {
                assert!(e[field].is_number(), "{field} in {e}");
            }
            assert!(e["changeSource"].is_string(), "{e}");
            (
                e["propertyName"].as_str().unwrap(),
                e["propertyValue"].as_str().unwrap(),
            )
        })
        .collect();
    changed.sort();
    assert_eq!(changed, [("firstname", "Anna"), ("lastname", "Lee")]);
    let parsed = HubSpotWebhooks::new(SecretString::from(SECRET))
        .parse(&update.body, now_ms())
        .unwrap();
    assert_eq!(parsed.len(), 2, "the daemon reads one change per event");

    // The deliverer's counters agree, and nothing is left queued.
    let hubspot = emu.hubspot().unwrap();
    assert!(hubspot.wait_webhooks_drained(Duration::from_secs(5)).await);
    assert_eq!(hubspot.delivered_webhook_requests(), 2);
    assert_eq!(hubspot.dropped_webhook_events(), 0);

    // POST /_emulator/dump writes the state files and answers their paths.
    let dump = http
        .post(base.join("_emulator/dump").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(dump.status(), 200);
    let paths: Value = dump.json().await.unwrap();
    let paths: Vec<&str> = paths["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let contacts = state.path().join("hubspot/contacts.json");
    assert!(paths.contains(&contacts.to_str().unwrap()), "{paths:?}");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&contacts).unwrap()).unwrap();
    assert_eq!(written[0]["properties"]["lastname"], "Lee");
}

#[tokio::test]
async fn dump_without_a_state_dir_is_refused() {
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let emu = handoff::emulate::start(
        Options {
            vendor: Vendor::Asana,
            listen: "127.0.0.1:0".parse().unwrap(),
            data: None,
            state_dir: None,
            webhooks: None,
        },
        shutdown.clone(),
    )
    .await
    .unwrap();
    let resp = reqwest::Client::new()
        .post(emu.base_url().join("_emulator/dump").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
}

#[test]
fn webhook_target_is_refused_with_64_where_no_webhooks_are_sent() {
    for vendor in ["salesforce", "slack", "asana"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_handoff"))
            .args([
                "emulate",
                vendor,
                "--webhook-target",
                "http://127.0.0.1:9/webhooks",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{vendor}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("sends no webhooks") && stderr.contains("handoff emulate hubspot"),
            "{vendor}: {stderr}"
        );
    }
    let scale = Options {
        vendor: Vendor::Hubspot,
        listen: "127.0.0.1:0".parse().unwrap(),
        data: None,
        state_dir: None,
        webhooks: Some(WebhookOptions {
            target: "http://127.0.0.1:9/".parse().unwrap(),
            client_secret: None,
            retry_scale: 2.0,
        }),
    };
    assert!(scale.check().is_err(), "retries are only scaled down");
}
