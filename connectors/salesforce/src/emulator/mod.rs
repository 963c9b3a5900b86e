//! `SalesforceEmulator`: an in-memory Salesforce org behind axum, for handoff's tests,
//! `handoff sandbox --crm salesforce` and `handoff emulate salesforce`.
//!
//! It serves the token endpoint ([`oauth`]: JWT bearer and refresh token) and the REST API
//! ([`routes`]: versions, limits, SOQL `query`/`queryAll` with 2,000-record batches and query
//! locators ([`query`], parsed by [`soql`], evaluated by [`eval`]), sObject CRUD, upsert by
//! external id, sObject Collections), with Salesforce's error array ([`errors`]), the
//! `Sforce-Limit-Info` header and the daily allocation's 403 ([`gate`]). The org ([`org`],
//! [`schema`]) keeps system fields, required fields, picklists, stage-derived `IsClosed`/
//! `IsWon`, queues as owners, converted leads read-only, two history rows per owner
//! change ([`write`]), and a Case's `CaseComment`s and `LiveChatTranscript`s (S7; seeded with
//! [`SalesforceEmulator::add_case_comment`] and [`SalesforceEmulator::add_transcript`]).
//!
//! Writers: API calls write as the session's user (the JWT `sub` user or the refresh-token
//! user: the integration user); [`SalesforceEmulator::create`] and
//! [`SalesforceEmulator::update`] as an admin in the UI; [`SalesforceEmulator::create_as`] and
//! [`SalesforceEmulator::update_as`] as any user, so tests can play a rep changing an owner
//! behind handoff's back.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use handoff_salesforce::emulator::{EmulatorConfig, SalesforceEmulator};
//! let emu = SalesforceEmulator::new(EmulatorConfig::default());
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let running = emu.start("127.0.0.1:0".parse().unwrap(), shutdown.clone()).await?;
//! let login_url = running.base_url(); // `crm.login_url`; tokens name the same instance_url
//! # Ok(()) }
//! ```

pub mod collections;
mod control;
pub mod convert;
pub mod errors;
pub mod eval;
pub mod gate;
pub mod ids;
pub mod lex;
pub mod oauth;
pub mod org;
pub mod query;
pub mod routes;
pub mod schema;
pub mod soql;
pub mod write;

pub use control::ChangeMark;
pub use convert::Conversion;
pub use errors::{ApiError, OAuthError};
pub use handoff_connector::emulator::{Fault, Faults, Running};
pub use schema::{LeadStatus, Stage};

use handoff_connector::emulator::serve;
use handoff_connector::now_ms;
use oauth::Session;
use org::Org;
use query::Locators;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

/// The test-only RSA private key (PKCS#8 PEM) whose public half the emulator trusts by
/// default: `tests/data/jwt_test_private.pem`. Never use it outside tests and the sandbox.
pub const TEST_PRIVATE_KEY_PEM: &str = include_str!("../../tests/data/jwt_test_private.pem");
/// The public half of [`TEST_PRIVATE_KEY_PEM`]: `tests/data/jwt_test_public.pem`.
pub const TEST_PUBLIC_KEY_PEM: &str = include_str!("../../tests/data/jwt_test_public.pem");

/// How the emulated org behaves.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The connected app's consumer key (JWT `iss`, refresh `client_id`). Default
    /// `3MVG9emulator.consumer.key`.
    pub client_id: String,
    /// The consumer secret a refresh must send; `None` accepts none. Default
    /// `emulator-consumer-secret`.
    pub client_secret: Option<String>,
    /// The one refresh token accepted. Default `5Aep861emulator.refresh.token`.
    pub refresh_token: String,
    /// The integration user's username (JWT `sub`); created with the org. Default
    /// `handoff-integration@emulated-org.example`.
    pub username: String,
    /// The certificate's public key (PEM) JWT assertions are checked with. Default
    /// [`TEST_PUBLIC_KEY_PEM`].
    pub jwt_public_key_pem: String,
    /// Accepted JWT audiences besides the emulator's own base URL. Default
    /// `https://login.salesforce.com`, `https://test.salesforce.com` (S1).
    pub audiences: Vec<String>,
    /// Sessions end this long after issue, ms; `None` (default): only
    /// [`SalesforceEmulator::expire_sessions`] ends them.
    pub session_ttl_ms: Option<i64>,
    /// The org's daily API allocation (`Sforce-Limit-Info` limit). Default 100,000 (Enterprise
    /// base, §2.2).
    pub daily_limit: u64,
    /// Lead status picklist ([`schema::default_lead_statuses`]).
    pub lead_statuses: Vec<LeadStatus>,
    /// Opportunity stages ([`schema::default_stages`]).
    pub stages: Vec<Stage>,
    /// Custom fields an admin created, per SObject. Default: `Handoff_Idempotency_Key__c`
    /// (external id) on Case and on Lead (where a marketing CRM hands leads to Salesforce).
    pub custom_fields: BTreeMap<String, Vec<String>>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            client_id: "3MVG9emulator.consumer.key".into(),
            client_secret: Some("emulator-consumer-secret".into()),
            refresh_token: "5Aep861emulator.refresh.token".into(),
            username: "handoff-integration@emulated-org.example".into(),
            jwt_public_key_pem: TEST_PUBLIC_KEY_PEM.into(),
            audiences: vec![
                "https://login.salesforce.com".into(),
                "https://test.salesforce.com".into(),
            ],
            session_ttl_ms: None,
            daily_limit: 100_000,
            lead_statuses: schema::default_lead_statuses(),
            stages: schema::default_stages(),
            custom_fields: ["Case", "Lead"]
                .into_iter()
                .map(|o| {
                    (
                        o.to_string(),
                        vec!["Handoff_Idempotency_Key__c".to_string()],
                    )
                })
                .collect(),
        }
    }
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("refresh_token", &"[redacted]")
            .field("username", &self.username)
            .field("daily_limit", &self.daily_limit)
            .field("session_ttl_ms", &self.session_ttl_ms)
            .finish_non_exhaustive()
    }
}

/// A seeding or inspection call the org refused.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// An SObject the emulator does not model.
    #[error("the emulator has no SObject {0}")]
    UnknownObject(String),
    /// What the REST API would have answered.
    #[error("{0}")]
    Api(ApiError),
}

impl From<ApiError> for EmulatorError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

/// A clock an org can follow ([`SalesforceEmulator::follow_clock`]): now, UTC epoch ms.
pub type ClockFn = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The emulated org. Cheap to clone: clones share everything.
#[derive(Clone)]
pub struct SalesforceEmulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: EmulatorConfig,
    jwt_key: Option<jsonwebtoken::DecodingKey>,
    org: Mutex<Org>,
    locators: Mutex<Locators>,
    sessions: Mutex<HashMap<String, Session>>,
    faults: Faults,
    /// Writes whose answer is lost: performed, then answered 500 ([`SalesforceEmulator::lose_next_write_answers`]).
    lost_answers: std::sync::atomic::AtomicU32,
    requests: AtomicU64,
    token_requests: AtomicU64,
    issued: AtomicU64,
    api_used: AtomicU64,
    daily_limit: AtomicU64,
    /// A pinned clock (UTC epoch ms); 0 follows the system clock.
    clock: handoff_connector::emulator::PinnedClock,
    /// A clock to follow instead (a simulated one), if set.
    follow: Mutex<Option<ClockFn>>,
    base_url: Mutex<Option<url::Url>>,
}

impl std::fmt::Debug for SalesforceEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceEmulator")
            .field("config", &self.inner.config)
            .field("base_url", &self.base_url().map(|u| u.to_string()))
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SalesforceEmulator {
    /// An org with its integration user (`config.username`) and an admin UI user, no records.
    pub fn new(config: EmulatorConfig) -> Self {
        let jwt_key =
            jsonwebtoken::DecodingKey::from_rsa_pem(config.jwt_public_key_pem.as_bytes()).ok();
        let org = Org::new(&config, now_ms() / 1000 * 1000);
        let daily_limit = AtomicU64::new(config.daily_limit);
        Self {
            inner: Arc::new(Inner {
                config,
                jwt_key,
                org: Mutex::new(org),
                locators: Mutex::new(Locators::default()),
                sessions: Mutex::new(HashMap::new()),
                faults: Faults::default(),
                lost_answers: Default::default(),
                requests: AtomicU64::new(0),
                token_requests: AtomicU64::new(0),
                issued: AtomicU64::new(0),
                api_used: AtomicU64::new(0),
                daily_limit,
                clock: Default::default(),
                follow: Mutex::new(None),
                base_url: Mutex::new(None),
            }),
        }
    }

    /// The configuration the emulator was built with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.inner.config
    }

    /// The axum router (token endpoint and REST API).
    pub fn router(&self) -> axum::Router {
        routes::router(self.clone())
    }

    /// Serves on `addr` (port 0 picks one) until `shutdown` is cancelled. The running
    /// address becomes the org's `instance_url` and a JWT audience.
    pub async fn start(
        &self,
        addr: SocketAddr,
        shutdown: CancellationToken,
    ) -> std::io::Result<Running> {
        let running = serve(self.router(), addr, shutdown).await?;
        *lock(&self.inner.base_url) = Some(running.base_url());
        Ok(running)
    }

    /// The base URL it serves on (after [`SalesforceEmulator::start`]).
    pub fn base_url(&self) -> Option<url::Url> {
        lock(&self.inner.base_url).clone()
    }

    /// Learns the base URL from a request's `Host` when the router is served by someone else
    /// (not [`SalesforceEmulator::start`]).
    pub(crate) fn learn_host(&self, headers: &axum::http::HeaderMap) {
        let mut base = lock(&self.inner.base_url);
        if base.is_none() {
            *base = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| format!("http://{h}/").parse().ok());
        }
    }

    /// `instance_url` in token responses: the base URL without its trailing `/`.
    pub fn instance_url(&self) -> String {
        self.base_url()
            .map(|u| u.as_str().trim_end_matches('/').to_string())
            .unwrap_or_else(|| "http://127.0.0.1".into())
    }

    pub(crate) fn org(&self) -> MutexGuard<'_, Org> {
        lock(&self.inner.org)
    }

    pub(crate) fn locators(&self) -> MutexGuard<'_, Locators> {
        lock(&self.inner.locators)
    }

    // ---- clock ----------------------------------------------------------------------------

    /// The org's clock, UTC epoch ms: the followed clock ([`SalesforceEmulator::follow_clock`])
    /// if set, else the pinned time, else the system clock.
    pub fn now_ms(&self) -> i64 {
        let follow = lock(&self.inner.follow).clone();
        match follow {
            Some(now) => now(),
            None => self.inner.clock.now_ms(),
        }
    }

    /// Makes writes stamp their times (`CreatedDate`, `SystemModstamp`, history) with `now`
    /// (UTC epoch ms; e.g. the sandbox's simulated clock, which must never go back), or with
    /// the pinned or system clock again with `None`. While a clock is followed,
    /// [`SalesforceEmulator::set_clock`] has no effect. Token checks always use the system
    /// clock.
    pub fn follow_clock(&self, now: Option<ClockFn>) {
        *lock(&self.inner.follow) = now;
    }

    /// Pins the clock writes stamp (`CreatedDate`, `SystemModstamp`, history) to `ms` (UTC),
    /// or follows the system clock again with `None`. Token checks always use the system
    /// clock.
    pub fn set_clock(&self, ms: Option<i64>) {
        self.inner.clock.set(ms);
    }

    /// The clock rounded down to the second, as stored datetimes are. Writers read it while
    /// they hold the org ([`SalesforceEmulator::org`]), so stamps never go back in commit
    /// order and a change feed that has read up to a stamp misses no earlier commit.
    pub(crate) fn stamp_ms(&self) -> i64 {
        self.now_ms().div_euclid(1000) * 1000
    }

    // ---- sessions and limits --------------------------------------------------------------

    /// Issues a session for `user_id`: `(access_token, identity URL)`.
    pub(crate) fn issue(&self, user_id: &str) -> (String, String) {
        let n = self.inner.issued.fetch_add(1, Ordering::SeqCst);
        let org_id = self.org_id();
        let token = oauth::new_token(&org_id, n);
        let expires_ms = self.inner.config.session_ttl_ms.map(|ttl| now_ms() + ttl);
        lock(&self.inner.sessions).insert(
            token.clone(),
            Session {
                user_id: user_id.to_string(),
                expires_ms,
            },
        );
        (
            token,
            format!("{}/id/{org_id}/{user_id}", self.instance_url()),
        )
    }

    /// The user of a live session.
    pub(crate) fn session_user(&self, token: &str) -> Option<String> {
        let sessions = lock(&self.inner.sessions);
        let s = sessions.get(token)?;
        s.expires_ms
            .is_none_or(|t| now_ms() < t)
            .then(|| s.user_id.clone())
    }

    /// An active user's id by username.
    pub(crate) fn user_by_username(&self, username: &str) -> Option<String> {
        self.org()
            .rows("User")
            .find(|u| {
                u.get("Username").and_then(Value::as_str) == Some(username)
                    && u.get("IsActive") == Some(&Value::Bool(true))
            })
            .and_then(|u| u.get("Id").and_then(Value::as_str).map(str::to_string))
    }

    /// Ends every session: the next API call with any issued token gets 401
    /// `INVALID_SESSION_ID`.
    pub fn expire_sessions(&self) {
        lock(&self.inner.sessions).clear();
    }

    /// Requests to the token endpoint so far.
    pub fn token_requests(&self) -> u64 {
        self.inner.token_requests.load(Ordering::SeqCst)
    }

    /// REST requests served so far (refused ones included; the token endpoint excluded).
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// Sets the daily allocation (calls already made keep counting).
    pub fn set_daily_limit(&self, max: u64) {
        self.inner.daily_limit.store(max, Ordering::SeqCst);
    }

    /// `(used, limit)` of the daily allocation, as `Sforce-Limit-Info` reports it.
    pub fn api_usage(&self) -> (u64, u64) {
        (
            self.inner.api_used.load(Ordering::SeqCst),
            self.inner.daily_limit.load(Ordering::SeqCst),
        )
    }

    /// Forgets the calls counted so far (a new day).
    pub fn reset_api_usage(&self) {
        self.inner.api_used.store(0, Ordering::SeqCst);
    }

    /// The next `count` writes (POST, PATCH, DELETE) are performed, then answered 500 as if
    /// the answer was lost on the way (a timeout, or the caller dying after the org committed):
    /// the caller cannot know the outcome, and its retry must find what the first try made.
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

    /// Failures to inject into upcoming REST requests (before auth and limits).
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Query locators open now.
    pub fn open_locators(&self) -> usize {
        self.locators().open_count()
    }
}
