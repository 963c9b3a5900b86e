//! Webhook delivery from the emulated portal to the app's target URL, as HubSpot does it
//! (`vendor-specs/NOTES.md` §1.1):
//!
//! * events are queued and POSTed as a JSON array of up to 100 events per request;
//! * each request is signed v3 (`X-HubSpot-Signature-v3` over `POST + target URL + body +
//!   X-HubSpot-Request-Timestamp`) and v1 (`X-HubSpot-Signature`, version `v1`);
//! * `eventId`s are unique and increasing; `attemptNumber` counts retries of the batch;
//! * 5xx, 429 (honouring `Retry-After`), timeouts and connection errors are retried with
//!   exponential backoff; 400/401/403/404/405 (and any other 4xx) are not retried.

use super::store::EventDraft;
use crate::webhook::{
    sign_v1, sign_v3, SIGNATURE_HEADER, SIGNATURE_V3_HEADER, SIGNATURE_VERSION_HEADER,
    TIMESTAMP_HEADER,
};
use handoff_connector::now_ms;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The most events in one delivery request.
pub const MAX_EVENTS_PER_REQUEST: usize = 100;
/// Attempts per batch (the first plus retries) before it is dropped.
pub const MAX_ATTEMPTS: u32 = 8;
/// First retry delay; doubles per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long one delivery request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a raw delivery failed before an HTTP status came back.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("no webhook_target is configured")]
    NoTarget,
    #[error("delivery request failed: {0}")]
    Http(#[from] reqwest::Error),
}

/// Signing and addressing for deliveries.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub url: url::Url,
    pub client_secret: String,
    pub portal_id: u64,
    pub app_id: u64,
}

/// The queue of events waiting for delivery, and delivery counters.
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: Mutex<VecDeque<Value>>,
    in_flight: AtomicUsize,
    notify: Notify,
    last_event_id: AtomicU64,
    delivered_requests: AtomicU64,
    dropped_events: AtomicU64,
    http: reqwest::Client,
}

impl Outbox {
    pub fn new() -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            in_flight: AtomicUsize::new(0),
            notify: Notify::new(),
            last_event_id: AtomicU64::new(0),
            delivered_requests: AtomicU64::new(0),
            dropped_events: AtomicU64::new(0),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .user_agent("HubSpot Connect 2.0 (http://dev.hubspot.com/) - handoff emulator")
                .build()
                .expect("reqwest client builds"),
        }
    }

    /// Numbers and queues events (`eventId`, `subscriptionId`, `portalId`, `appId`).
    pub fn enqueue(&self, target: &Target, drafts: Vec<EventDraft>) {
        if drafts.is_empty() {
            return;
        }
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        for d in drafts {
            let event_id = self.last_event_id.fetch_add(1, Ordering::SeqCst) + 1;
            let mut event = json!({
                "eventId": event_id,
                "subscriptionId": subscription_id(&d.subscription_type),
                "portalId": target.portal_id,
                "appId": target.app_id,
                "occurredAt": d.occurred_at,
                "subscriptionType": d.subscription_type,
                "attemptNumber": 0,
                "objectId": d.object_id,
                "changeSource": d.change_source,
            });
            if let Some(flag) = d.change_flag {
                event["changeFlag"] = json!(flag);
            }
            if let Some(name) = d.property_name {
                event["propertyName"] = json!(name);
                event["propertyValue"] = json!(d.property_value.unwrap_or_default());
            }
            queue.push_back(event);
        }
        drop(queue);
        self.notify.notify_one();
    }

    /// Events queued or being delivered.
    pub fn pending(&self) -> usize {
        let queued = self.queue.lock().unwrap_or_else(|p| p.into_inner()).len();
        queued + self.in_flight.load(Ordering::SeqCst)
    }

    /// Delivery requests answered 2xx.
    pub fn delivered_requests(&self) -> u64 {
        self.delivered_requests.load(Ordering::SeqCst)
    }

    /// Events given up on (non-retryable answer or attempts exhausted).
    pub fn dropped_events(&self) -> u64 {
        self.dropped_events.load(Ordering::SeqCst)
    }

    fn take_batch(&self) -> Vec<Value> {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let n = queue.len().min(MAX_EVENTS_PER_REQUEST);
        let batch: Vec<Value> = queue.drain(..n).collect();
        self.in_flight.store(batch.len(), Ordering::SeqCst);
        batch
    }

    /// POSTs `events` once, signed, and returns the HTTP status.
    pub async fn post(&self, target: &Target, events: &[Value]) -> Result<u16, DeliveryError> {
        self.post_with_retry_after(target, events)
            .await
            .map(|(status, _)| status)
    }

    /// Delivers queued events until `shutdown` fires.
    pub async fn run(&self, target: Target, shutdown: CancellationToken) {
        loop {
            let batch = self.take_batch();
            if batch.is_empty() {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = self.notify.notified() => continue,
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.deliver(&target, batch) => {}
            }
            self.in_flight.store(0, Ordering::SeqCst);
        }
    }

    async fn deliver(&self, target: &Target, mut batch: Vec<Value>) {
        for attempt in 0..MAX_ATTEMPTS {
            for event in &mut batch {
                event["attemptNumber"] = json!(attempt);
            }
            let backoff = (FIRST_BACKOFF * 2u32.saturating_pow(attempt)).min(MAX_BACKOFF);
            let wait = match self.post_with_retry_after(target, &batch).await {
                Ok((status, _)) if (200..300).contains(&status) => {
                    self.delivered_requests.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                Ok((429, retry_after)) => retry_after.unwrap_or(backoff),
                Ok((status, _)) if status >= 500 => backoff,
                Ok((status, _)) => {
                    tracing::debug!(status, "webhook target refused the batch; not retried");
                    break;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "webhook delivery failed; will retry");
                    backoff
                }
            };
            if attempt + 1 < MAX_ATTEMPTS {
                tokio::time::sleep(wait).await;
            }
        }
        self.dropped_events
            .fetch_add(batch.len() as u64, Ordering::SeqCst);
    }

    async fn post_with_retry_after(
        &self,
        target: &Target,
        events: &[Value],
    ) -> Result<(u16, Option<Duration>), DeliveryError> {
        let body = serde_json::to_vec(events).expect("JSON values serialise");
        let ts = now_ms();
        let uri = target.url.as_str();
        let response = self
            .http
            .post(target.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                SIGNATURE_V3_HEADER,
                sign_v3(&target.client_secret, "POST", uri, &body, ts),
            )
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, sign_v1(&target.client_secret, &body))
            .header(SIGNATURE_VERSION_HEADER, "v1")
            .body(body)
            .send()
            .await?;
        let retry_after = handoff_connector::http::parse_retry_after(response.headers());
        Ok((response.status().as_u16(), retry_after))
    }
}

/// A stable subscription id per subscription type (HubSpot numbers an app's subscriptions).
fn subscription_id(subscription_type: &str) -> u64 {
    const KNOWN: [&str; 12] = [
        "contact.creation",
        "contact.propertyChange",
        "contact.deletion",
        "company.creation",
        "company.propertyChange",
        "company.deletion",
        "deal.creation",
        "deal.propertyChange",
        "deal.deletion",
        "ticket.creation",
        "ticket.propertyChange",
        "ticket.deletion",
    ];
    KNOWN
        .iter()
        .position(|k| *k == subscription_type)
        .map(|i| 1_000 + i as u64)
        .unwrap_or(1_999)
}
