//! `HubSpotEmulator`: an in-memory HubSpot portal behind axum, for tests, benchmarks and
//! `handoff sandbox`.
//!
//! It serves HubSpot's CRM v3 object, batch ([`batch`]) and search endpoints, associations v4,
//! owners and pipelines ([`routes`]) with HubSpot's JSON shapes, paging, errors, rate limits and
//! rate-limit headers ([`gate`], [`errors`]), keeps records in memory ([`store`], searched by
//! [`filter`]) with every property's history of writes and who made them ([`history`]),
//! moves contacts' "Last contacted" when a call, email or meeting is logged ([`engagements`]),
//! serves the account's users (the users object, with `hs_availability_status`; [`users`]),
//! keeps notes on tickets (the notes object, associated with tickets; [`notes`]),
//! and delivers signed webhooks for every create and update ([`delivery`]) — whether made
//! through the API or through the Rust seeding methods below.
//!
//! Writers: API calls write as the private app (`INTEGRATION`); [`HubSpotEmulator::create_object`]
//! and [`HubSpotEmulator::update_object`] as an unnamed UI user; [`HubSpotEmulator::update_as_user`],
//! [`HubSpotEmulator::update_as_workflow`] and [`HubSpotEmulator::update_as`] as another system,
//! so tests can play a rep, a workflow or an import changing a record behind handoff's back.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use handoff_hubspot::emulator::{EmulatorConfig, HubSpotEmulator};
//! let emu = HubSpotEmulator::new(EmulatorConfig::default());
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let running = emu.start("127.0.0.1:0".parse().unwrap(), shutdown.clone()).await?;
//! let base_url = running.base_url(); // point HubSpotConfig::base_url here
//! # Ok(()) }
//! ```

mod batch;
mod delivery;
pub mod engagements;
mod errors;
mod filter;
mod gate;
pub mod history;
pub mod notes;
mod pipelines;
mod routes;
mod store;
pub mod users;
mod writers;

pub use delivery::{
    DeliveryError, WebhookRetry, DEFAULT_QUEUE_CAPACITY, MAX_ATTEMPTS, MAX_EVENTS_PER_REQUEST,
};
pub use handoff_connector::emulator::{Fault, Faults, Running};
pub use history::WriteSource;
pub use store::EmulatorError;
pub use users::Availability;

use crate::objects::ObjectType;
use delivery::{Outbox, Target};
use handoff_connector::emulator::{serve, write_state_file, RateWindow};
use serde_json::{Map, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use store::{EventDraft, Portal, Selection};
use tokio_util::sync::CancellationToken;

/// How the emulated portal behaves.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The private-app token accepted as `Authorization: Bearer <token>`.
    pub token: String,
    /// The app's client secret, which signs webhook deliveries (v3 and v1).
    pub client_secret: String,
    /// The portal (hub) id in webhook events (`portalId`).
    pub portal_id: u64,
    /// The app id in webhook events (`appId`).
    pub app_id: u64,
    /// Enforce the ten-second quota (`ten_second_limit` per `ten_second_window`) and 5
    /// searches / s per token (default true).
    pub rate_limits: bool,
    /// Requests per ten-second window (default 190, a private app's burst limit, NOTES §1.4).
    pub ten_second_limit: u32,
    /// That window (default 10 s; tests shorten it).
    pub ten_second_window: Duration,
    /// Count the window as sliding (the last `ten_second_window` before each request) instead
    /// of fixed (default false).
    pub sliding_window: bool,
    /// Where webhooks are POSTed; `None` delivers none.
    pub webhook_target: Option<url::Url>,
    /// How failed deliveries are retried (default [`WebhookRetry::FAST`]; HubSpot's own
    /// schedule is [`WebhookRetry::HUBSPOT`], NOTES §1.1).
    pub webhook_retry: WebhookRetry,
    /// The most events waiting for delivery (default [`DEFAULT_QUEUE_CAPACITY`]); later ones
    /// are dropped and counted in [`HubSpotEmulator::dropped_webhook_events`].
    pub webhook_queue_capacity: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            token: "pat-na1-emulator-token".into(),
            client_secret: "emulator-client-secret".into(),
            portal_id: 62515,
            app_id: 54321,
            rate_limits: true,
            ten_second_limit: 190,
            ten_second_window: Duration::from_secs(10),
            sliding_window: false,
            webhook_target: None,
            webhook_retry: WebhookRetry::default(),
            webhook_queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("token", &"[redacted]")
            .field("client_secret", &"[redacted]")
            .field("portal_id", &self.portal_id)
            .field("app_id", &self.app_id)
            .field("rate_limits", &self.rate_limits)
            .field("ten_second_limit", &self.ten_second_limit)
            .field("ten_second_window", &self.ten_second_window)
            .field("sliding_window", &self.sliding_window)
            .field(
                "webhook_target",
                &self.webhook_target.as_ref().map(|u| u.as_str()),
            )
            .field("webhook_retry", &self.webhook_retry)
            .field("webhook_queue_capacity", &self.webhook_queue_capacity)
            .finish()
    }
}

/// The emulated portal. Cheap to clone: clones share everything.
#[derive(Clone, Debug)]
pub struct HubSpotEmulator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: EmulatorConfig,
    portal: Mutex<Portal>,
    ten_second_window: RateWindow,
    search_window: RateWindow,
    faults: Faults,
    requests: AtomicU64,
    /// Requests refused by the ten-second quota (429).
    rate_limited: AtomicU64,
    /// Writes whose answer is lost: performed, then answered 500
    /// ([`HubSpotEmulator::lose_next_write_answers`]).
    lost_answers: AtomicU32,
    /// A pinned clock (UTC epoch ms) for tests; 0 follows the system clock.
    clock: handoff_connector::emulator::PinnedClock,
    outbox: Outbox,
}

impl Inner {
    fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
    }

    fn request_count(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    fn target(&self) -> Option<Target> {
        Some(Target {
            url: self.config.webhook_target.clone()?,
            client_secret: self.config.client_secret.clone(),
            portal_id: self.config.portal_id,
            app_id: self.config.app_id,
        })
    }
}

fn parse_kind(object_type: &str) -> Result<ObjectType, EmulatorError> {
    object_type
        .parse()
        .map_err(|_| EmulatorError::UnknownObjectType(object_type.to_string()))
}

fn parse_id(kind: ObjectType, id: &str) -> Result<u64, EmulatorError> {
    id.parse().map_err(|_| EmulatorError::NotFound {
        object_type: kind.name().to_string(),
        id: id.to_string(),
    })
}

impl HubSpotEmulator {
    /// An empty portal (no records, no owners).
    pub fn new(config: EmulatorConfig) -> Self {
        let ten_second_window = if config.sliding_window {
            RateWindow::sliding(config.ten_second_limit.max(1), config.ten_second_window)
        } else {
            RateWindow::new(config.ten_second_limit.max(1), config.ten_second_window)
        };
        let search_window = RateWindow::new(5, Duration::from_secs(1));
        ten_second_window.set_enabled(config.rate_limits);
        search_window.set_enabled(config.rate_limits);
        let outbox = Outbox::new(config.webhook_queue_capacity, config.webhook_retry);
        Self {
            inner: Arc::new(Inner {
                config,
                portal: Mutex::new(Portal::default()),
                ten_second_window,
                search_window,
                faults: Faults::default(),
                requests: AtomicU64::new(0),
                rate_limited: AtomicU64::new(0),
                lost_answers: AtomicU32::new(0),
                clock: Default::default(),
                outbox,
            }),
        }
    }

    /// The configuration the emulator was built with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.inner.config
    }

    /// The portal's clock: UTC epoch ms from the system clock, unless pinned with
    /// [`HubSpotEmulator::set_clock`].
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// Test hook: pins the clock every write stamps (`createdate`, `hs_lastmodifieddate`,
    /// `occurredAt`) to `ms`, or releases it with `None`. Lets tests make records share one
    /// millisecond deterministically.
    pub fn set_clock(&self, ms: Option<i64>) {
        self.inner.clock.set(ms);
    }

    pub(crate) fn portal(&self) -> MutexGuard<'_, Portal> {
        self.inner.portal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How API writes with the private-app token appear in property history: `INTEGRATION`
    /// with the app id as `sourceId`.
    pub(crate) fn api_source(&self) -> WriteSource {
        WriteSource::integration(self.inner.config.app_id)
    }

    /// Queues the webhook events of a write (when a target is configured).
    pub(crate) fn emit(&self, events: Vec<EventDraft>) {
        if let Some(target) = self.inner.target() {
            self.inner.outbox.enqueue(&target, events);
        }
    }

    /// The axum router serving the HubSpot API (without webhook delivery; see
    /// [`HubSpotEmulator::start`]).
    pub fn router(&self) -> axum::Router {
        routes::router(self.clone())
    }

    /// Serves the API on `addr` (port 0 picks one) and, when `webhook_target` is set, starts
    /// the webhook deliverer; both stop when `shutdown` is cancelled.
    pub async fn start(
        &self,
        addr: SocketAddr,
        shutdown: CancellationToken,
    ) -> std::io::Result<Running> {
        let running = serve(self.router(), addr, shutdown.clone()).await?;
        self.spawn_webhook_delivery(shutdown);
        Ok(running)
    }

    /// Starts the webhook deliverer in the background when `webhook_target` is set (returns
    /// whether it did); it stops when `shutdown` is cancelled. [`HubSpotEmulator::start`] calls
    /// it: call it only when serving [`HubSpotEmulator::router`] some other way, and once, as
    /// two deliverers would send batches out of order.
    pub fn spawn_webhook_delivery(&self, shutdown: CancellationToken) -> bool {
        let Some(target) = self.inner.target() else {
            return false;
        };
        let inner = self.inner.clone();
        tokio::spawn(async move { inner.outbox.run(target, shutdown).await });
        true
    }

    // ---- seeding and inspection (no HTTP) ------------------------------------------------

    /// Creates a record (`contacts`, `companies`, `deals`, `tickets` or a type id) as if
    /// through the UI (`changeSource: CRM`), emitting its creation webhook; returns its id.
    ///
    /// # Panics
    /// On an unknown object type (a programming error in the caller).
    pub fn create_object(&self, object_type: &str, properties: Map<String, Value>) -> String {
        let kind = parse_kind(object_type).unwrap_or_else(|e| panic!("{e}"));
        let now = self.now_ms();
        let mut portal = self.portal();
        let (id, events) = portal.create(kind, &properties, now, &WriteSource::seed());
        drop(portal);
        self.emit(events);
        id.to_string()
    }

    /// Sets properties on a record (`null` or `""` clears one), emitting one
    /// `….propertyChange` webhook per changed property (`changeSource: CRM`; history
    /// `sourceType: CRM_UI` without a user).
    pub fn update_object(
        &self,
        object_type: &str,
        id: &str,
        properties: Map<String, Value>,
    ) -> Result<(), EmulatorError> {
        self.update_as(object_type, id, properties, &WriteSource::seed())
    }

    /// Associates two records (default association, stored in both directions).
    pub fn associate(
        &self,
        from_type: &str,
        from_id: &str,
        to_type: &str,
        to_id: &str,
    ) -> Result<(), EmulatorError> {
        let (from, to) = (parse_kind(from_type)?, parse_kind(to_type)?);
        let (a, b) = (parse_id(from, from_id)?, parse_id(to, to_id)?);
        self.portal().associate(from, a, to, b).map(|_| ())
    }

    /// Adds an owner (and their team, made primary, created on first use); returns the owner
    /// id.
    pub fn add_owner(&self, email: &str, first: &str, last: &str, team: Option<&str>) -> String {
        self.portal()
            .add_owner(email, first, last, team, self.now_ms())
            .to_string()
    }

    /// A record as the API returns it (every property, with associations), if it exists.
    pub fn get(&self, object_type: &str, id: &str) -> Option<Value> {
        let kind = parse_kind(object_type).ok()?;
        let n = id.parse().ok()?;
        let portal = self.portal();
        let obj = portal.object(kind, n)?;
        serde_json::to_value(portal.render(kind, obj, &Selection::All, &ObjectType::EVERY)).ok()
    }

    /// Every record of a type as the API returns it (every property, with associations),
    /// sorted by numeric id. Empty for an unknown type.
    pub fn objects(&self, object_type: &str) -> Vec<Value> {
        let Ok(kind) = parse_kind(object_type) else {
            return Vec::new();
        };
        let portal = self.portal();
        portal
            .table(kind)
            .map(|t| {
                t.values()
                    .filter_map(|o| {
                        serde_json::to_value(portal.render(
                            kind,
                            o,
                            &Selection::All,
                            &ObjectType::ALL,
                        ))
                        .ok()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every owner, as `GET /crm/v3/owners` returns them, by id.
    pub fn owners(&self) -> Vec<Value> {
        self.portal()
            .owners()
            .values()
            .map(|o| o.to_json())
            .collect()
    }

    /// Failures to inject into upcoming requests (served before auth and limits).
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// The next `count` writes (POST, PATCH, PUT, DELETE other than searches and batch reads)
    /// are performed, then answered 500 as if the answer was lost on the way (a timeout, or the
    /// caller dying after HubSpot committed): the caller cannot know the outcome, and its retry
    /// must find what the first try made.
    pub fn lose_next_write_answers(&self, count: u32) {
        self.inner.lost_answers.store(count, Ordering::SeqCst);
    }

    /// Takes one lost answer for a write, if any are queued.
    pub(crate) fn take_lost_answer(&self) -> bool {
        self.inner
            .lost_answers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Turns the rate limits on or off.
    pub fn set_rate_limits(&self, on: bool) {
        self.inner.ten_second_window.set_enabled(on);
        self.inner.search_window.set_enabled(on);
    }

    /// Requests the ten-second quota refused (429) so far.
    pub fn rate_limited_count(&self) -> u64 {
        self.inner.rate_limited.load(Ordering::SeqCst)
    }

    /// HTTP requests served so far (including refused ones).
    pub fn request_count(&self) -> u64 {
        self.inner.request_count()
    }

    /// Writes `dir/hubspot/{contacts,companies,deals,tickets,owners}.json`: JSON arrays of the
    /// records (with associations) and owners, exactly as the API returns them.
    pub fn write_state(&self, dir: &Path) -> std::io::Result<()> {
        self.write_state_files(dir).map(|_| ())
    }

    /// [`HubSpotEmulator::write_state`], returning the paths of the files written.
    pub fn write_state_files(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut paths = Vec::new();
        for kind in ObjectType::ALL {
            paths.push(write_state_file(
                dir,
                "hubspot",
                kind.name(),
                &self.objects(kind.name()),
            )?);
        }
        paths.push(write_state_file(dir, "hubspot", "owners", &self.owners())?);
        Ok(paths)
    }

    // ---- webhooks ------------------------------------------------------------------------

    /// Webhook events queued or being delivered.
    pub fn pending_webhooks(&self) -> usize {
        self.inner.outbox.pending()
    }

    /// Waits until no webhook event is pending; false if `timeout` passed first.
    pub async fn wait_webhooks_drained(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.pending_webhooks() == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Delivery requests the target answered with 2xx.
    pub fn delivered_webhook_requests(&self) -> u64 {
        self.inner.outbox.delivered_requests()
    }

    /// Events given up on: the queue was full, or refused with a status HubSpot does not
    /// retry, or out of attempts.
    pub fn dropped_webhook_events(&self) -> u64 {
        self.inner.outbox.dropped_events()
    }

    /// Test hook: POSTs `events` as given (one JSON array), signed like a real delivery, once,
    /// without retries; returns the target's HTTP status.
    pub async fn deliver_raw(&self, events: Vec<Value>) -> Result<u16, DeliveryError> {
        let target = self.inner.target().ok_or(DeliveryError::NoTarget)?;
        self.inner.outbox.post(&target, &events).await
    }
}
