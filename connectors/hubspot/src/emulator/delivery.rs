//! Webhook delivery from the emulated portal to the app's target URL, as HubSpot does it
//! (`vendor-specs/NOTES.md` §1.1):
//!
//! * events wait in a bounded queue ([`super::EmulatorConfig::webhook_queue_capacity`]; past
//!   it, new events are dropped, counted and logged) and are POSTed in the background as a JSON
//!   array of up to 100 events per request;
//! * each request is signed v3 (`X-HubSpot-Signature-v3` over `POST + target URL + body +
//!   X-HubSpot-Request-Timestamp`) and v1 (`X-HubSpot-Signature`, version `v1`);
//! * `eventId`s are unique and increasing; `attemptNumber` counts the attempts of a batch
//!   (0 for the first);
//! * a failed attempt is logged (WARN) and retried with [`backon`] on a [`WebhookRetry`]
//!   schedule: connection errors, timeouts, 429 (honouring `Retry-After`), 5xx and any status
//!   other than 2xx and 400/401/403/404/405, which HubSpot does not retry (NOTES §1.1
//!   "Retries"; HubSpot's webhooks overview, quoted at
//!   <https://integrate.hubspot.com/t/what-does-will-retry-mean-when/3953>: "an HTTP status code
//!   that is not one of: 400, 401, 403, 404, 405" is retried).
//!
//! One batch is delivered at a time, so a batch being retried holds back later events. HubSpot
//! retries each notification on its own; the emulator keeps deliveries in order, which the
//! in-process tests rely on.

use super::store::EventDraft;
use crate::webhook::{
    sign_v1, sign_v3, SIGNATURE_HEADER, SIGNATURE_V3_HEADER, SIGNATURE_VERSION_HEADER,
    TIMESTAMP_HEADER,
};
use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use handoff_connector::now_ms;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The most events in one delivery request (HubSpot batches up to 100; NOTES §1.1).
pub const MAX_EVENTS_PER_REQUEST: usize = 100;
/// Attempts per batch (the first plus retries) with the default schedule,
/// [`WebhookRetry::FAST`], before the batch is dropped.
pub const MAX_ATTEMPTS: u32 = WebhookRetry::FAST.max_retries as u32 + 1;
/// The default bound of the delivery queue, in events.
pub const DEFAULT_QUEUE_CAPACITY: usize = 100_000;
/// How long one delivery request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Answers HubSpot does not retry (NOTES §1.1 "Retries").
const FINAL_STATUSES: [u16; 5] = [400, 401, 403, 404, 405];

/// How failed deliveries are retried: at most `max_retries` retries after the first attempt,
/// waiting `first_delay` before the first retry and doubling up to `max_delay`; with `jitter`
/// each wait is stretched by a random 0–100 % ([`backon::ExponentialBuilder::with_jitter`]).
/// A 429's `Retry-After` replaces the computed wait.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WebhookRetry {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// The wait before the first retry.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// Randomise each wait.
    pub jitter: bool,
}

impl WebhookRetry {
    /// HubSpot's schedule: at most 10 retries spread over 24 hours, with randomised,
    /// exponentially growing delays. Source: HubSpot's developer changelog "Updated Webhook
    /// Retry Logic" (2018-12-10,
    /// <https://developers.hubspot.com/changelog/2018-12-10-updated-webhook-retry-logic>: "a
    /// maximum of 10 retries over 24 hours", "exponential delays designed to fit within that
    /// window", randomised); NOTES §1.1 has which answers are retried but not the schedule.
    /// HubSpot does not publish the delays themselves: here they double from 42 s (42 s, 84 s,
    /// … 5 h 58 min; 11.9 h in all), each stretched by up to 100 %, so the ten retries end
    /// 12 to 24 hours after the first attempt.
    pub const HUBSPOT: Self = Self {
        max_retries: 10,
        first_delay: Duration::from_secs(42),
        max_delay: Duration::from_secs(6 * 3600),
        jitter: true,
    };

    /// The in-process default (tests, `handoff sandbox`): 7 retries waiting 100 ms, doubling up
    /// to 2 s, without jitter — HubSpot's day compressed to about 7 s, so a daemon that restarts
    /// gets its events and tests stay deterministic.
    pub const FAST: Self = Self {
        max_retries: 7,
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
        jitter: false,
    };

    /// This schedule with every wait multiplied by `factor` (e.g. 0.001 turns
    /// [`WebhookRetry::HUBSPOT`]'s day into 43 to 86 seconds). The number of retries stays.
    /// A negative, NaN or infinite `factor` counts as 1.
    pub fn scaled(self, factor: f64) -> Self {
        let factor = if factor.is_finite() && factor >= 0.0 {
            factor
        } else {
            1.0
        };
        let scale = |d: Duration| Duration::from_secs_f64(d.as_secs_f64() * factor);
        Self {
            first_delay: scale(self.first_delay),
            max_delay: scale(self.max_delay),
            ..self
        }
    }

    /// The waits without jitter, in order (with jitter each is up to twice as long).
    pub fn delays(&self) -> Vec<Duration> {
        WebhookRetry {
            jitter: false,
            ..*self
        }
        .backoff()
        .build()
        .collect()
    }

    fn backoff(&self) -> ExponentialBuilder {
        let b = ExponentialBuilder::new()
            .with_factor(2.0)
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries);
        if self.jitter {
            b.with_jitter()
        } else {
            b
        }
    }
}

impl Default for WebhookRetry {
    fn default() -> Self {
        Self::FAST
    }
}

/// Why a raw delivery failed before an HTTP status came back.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("no webhook_target is configured")]
    NoTarget,
    #[error("delivery request failed: {0}")]
    Http(#[from] reqwest::Error),
}

/// Why one delivery attempt failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("the target answered {status}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("the request failed: {0}")]
    Http(#[from] reqwest::Error),
}

impl Failure {
    /// Whether HubSpot tries again after this (NOTES §1.1 "Retries").
    fn retryable(&self) -> bool {
        match self {
            Failure::Status { status, .. } => !FINAL_STATUSES.contains(status),
            Failure::Http(_) => true,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::Status {
                status: 429,
                retry_after,
            } => *retry_after,
            _ => None,
        }
    }
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
    capacity: usize,
    retry: WebhookRetry,
    in_flight: AtomicUsize,
    notify: Notify,
    last_event_id: AtomicU64,
    delivered_requests: AtomicU64,
    dropped_events: AtomicU64,
    http: reqwest::Client,
}

impl Outbox {
    /// An empty outbox holding at most `capacity` events, retrying on `retry`.
    pub fn new(capacity: usize, retry: WebhookRetry) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            capacity,
            retry,
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

    /// Numbers and queues events (`eventId`, `subscriptionId`, `portalId`, `appId`); events
    /// beyond the queue's capacity are dropped (counted in [`Outbox::dropped_events`]).
    pub fn enqueue(&self, target: &Target, drafts: Vec<EventDraft>) {
        if drafts.is_empty() {
            return;
        }
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let mut dropped = 0u64;
        for d in drafts {
            if queue.len() >= self.capacity {
                dropped += 1;
                continue;
            }
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
        if dropped > 0 {
            self.dropped_events.fetch_add(dropped, Ordering::SeqCst);
            tracing::warn!(
                target_url = %target.url,
                dropped,
                capacity = self.capacity,
                "webhook queue full; events dropped"
            );
        }
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

    /// Events given up on (queue full, non-retryable answer or attempts exhausted).
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
        Ok(self.post_with_retry_after(target, events).await?.0)
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

    /// Delivers one batch, retrying on the outbox's schedule; counts the outcome.
    async fn deliver(&self, target: &Target, batch: Vec<Value>) {
        let attempts = AtomicU32::new(0);
        let (attempts_ref, batch_ref) = (&attempts, &batch);
        let outcome = (move || async move {
            let attempt = attempts_ref.fetch_add(1, Ordering::SeqCst);
            let mut events = batch_ref.clone();
            for event in &mut events {
                event["attemptNumber"] = json!(attempt);
            }
            match self.post_with_retry_after(target, &events).await? {
                (status, _) if (200..300).contains(&status) => Ok(()),
                (status, retry_after) => Err(Failure::Status {
                    status,
                    retry_after,
                }),
            }
        })
        .retry(self.retry.backoff())
        .sleep(tokio::time::sleep)
        .when(Failure::retryable)
        .adjust(|failure: &Failure, computed: Option<Duration>| {
            // `None`: the retries are spent; keep it so.
            computed.map(|d| failure.retry_after().unwrap_or(d))
        })
        .notify(|failure: &Failure, wait: Duration| {
            tracing::warn!(
                target_url = %target.url,
                events = batch_ref.len(),
                attempt = attempts_ref.load(Ordering::SeqCst).saturating_sub(1),
                error = %failure,
                retry_in_ms = wait.as_millis() as u64,
                "webhook delivery failed; will retry"
            );
        })
        .await;
        match outcome {
            Ok(()) => {
                self.delivered_requests.fetch_add(1, Ordering::SeqCst);
            }
            Err(failure) => {
                tracing::warn!(
                    target_url = %target.url,
                    events = batch.len(),
                    attempts = attempts.load(Ordering::SeqCst),
                    error = %failure,
                    retryable = failure.retryable(),
                    "webhook delivery failed; events dropped"
                );
                self.dropped_events
                    .fetch_add(batch.len() as u64, Ordering::SeqCst);
            }
        }
    }

    async fn post_with_retry_after(
        &self,
        target: &Target,
        events: &[Value],
    ) -> Result<(u16, Option<Duration>), reqwest::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hubspot_schedule_is_ten_retries_within_a_day() {
        let delays = WebhookRetry::HUBSPOT.delays();
        assert_eq!(delays.len(), 10);
        assert!(delays.windows(2).all(|w| w[1] == w[0] * 2), "{delays:?}");
        let total: Duration = delays.iter().sum();
        // With jitter each wait is at most twice as long: still within 24 hours.
        assert!(total * 2 <= Duration::from_secs(24 * 3600), "{total:?}");
        assert!(total >= Duration::from_secs(11 * 3600), "{total:?}");
    }

    #[test]
    fn fast_schedule_matches_max_attempts_and_scaling_keeps_the_count() {
        let fast = WebhookRetry::FAST.delays();
        assert_eq!(fast.len() as u32 + 1, MAX_ATTEMPTS);
        assert_eq!(fast[0], Duration::from_millis(100));
        assert_eq!(*fast.last().unwrap(), Duration::from_secs(2));
        let scaled = WebhookRetry::HUBSPOT.scaled(0.001).delays();
        assert_eq!(scaled.len(), 10);
        assert!(scaled[0].abs_diff(Duration::from_millis(42)) < Duration::from_micros(1));
        assert_eq!(WebhookRetry::FAST.scaled(f64::NAN), WebhookRetry::FAST);
    }

    #[test]
    fn only_documented_answers_are_final() {
        let status = |status| Failure::Status {
            status,
            retry_after: None,
        };
        for s in FINAL_STATUSES {
            assert!(!status(s).retryable(), "{s}");
        }
        for s in [302, 408, 409, 429, 500, 503] {
            assert!(status(s).retryable(), "{s}");
        }
    }
}
