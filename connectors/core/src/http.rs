//! The paced, retrying HTTP client every connector calls its vendor through.
//!
//! * **Pacing**: one [`governor`] limiter per vendor budget, shared by every clone of the client,
//!   so all flows together stay inside the vendor's quota (e.g. HubSpot private apps: 190
//!   requests per 10 s).
//! * **Retries**: 429, 5xx, timeouts and connection errors are retried with exponential backoff
//!   and *full jitter* (delay drawn uniformly from `0..=computed`), using [`backon`]. A vendor's
//!   `Retry-After` (seconds) replaces the computed delay.
//! * **Classification**: status codes become [`ConnectorError`] variants; a vendor whose errors
//!   come in a 200 body (Slack's `{"ok": false}`) installs a [`BodyCheck`].
//! * **Secrets**: the bearer token is a [`SecretString`]; it is never formatted into logs or
//!   errors.
//! * **Expiring tokens** (OAuth): [`VendorClient::with_token_source`] takes the bearer (and the
//!   base URL, when the token names one) from a [`TokenSource`]; a 401 refreshes the token once
//!   through the source and retries the call once; a second 401 is [`ConnectorError::Auth`].
//! * **Vendor hooks**: [`VendorHooks`] lets a connector refuse a call before it is sent (a
//!   budget the vendor would refuse anyway), read every response's headers (Salesforce
//!   `Sforce-Limit-Info`) and class its error bodies itself (Salesforce's 403
//!   `REQUEST_LIMIT_EXCEEDED` is a rate limit, not an auth failure);
//!   [`VendorClient::json_with_headers`] adds request headers to one call.

use crate::auth::{AccessToken, SharedTokenSource};
use crate::ConnectorError;
use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;
use reqwest::{header, Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{de::DeserializeOwned, Serialize};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// Inspects a decoded 2xx body and turns an in-body error into a [`ConnectorError`].
pub type BodyCheck = fn(vendor: &'static str, body: &serde_json::Value) -> Option<ConnectorError>;

/// What a connector adds to every call its [`VendorClient`] makes. Every method has a default
/// that changes nothing.
pub trait VendorHooks: Send + Sync {
    /// Runs before each attempt; an error fails the attempt without sending it and is treated
    /// like the vendor's own answer (a [`ConnectorError::RateLimited`] is retried or handed
    /// back as usual).
    fn before_send(&self) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// A pacer for the vendor's reported window quota ([`crate::pacing`]), consulted before
    /// each attempt and told each answer; `None` (the default) paces by the local budget only.
    fn pacer(&self) -> Option<&crate::pacing::WindowPacer> {
        None
    }

    /// Sees the status and headers of every response, success or not.
    fn on_response(&self, status: StatusCode, headers: &HeaderMap) {
        let _ = (status, headers);
    }

    /// Classes a non-2xx answer from its status, headers and body; `None` leaves it to
    /// [`classify_status`].
    fn classify(
        &self,
        vendor: &'static str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<ConnectorError> {
        let _ = (vendor, status, headers, body);
        None
    }
}

/// How to reach one vendor account.
#[derive(Clone)]
pub struct ClientConfig {
    /// API root, e.g. `https://api.hubapi.com` or an emulator's `http://127.0.0.1:PORT`.
    pub base_url: url::Url,
    /// Bearer token (HubSpot private-app token, Slack bot token, Asana PAT).
    pub token: SecretString,
    /// Requests allowed per `window` (the vendor's quota for this token).
    pub requests_per_window: u32,
    /// The quota's window.
    pub window: Duration,
    /// Retries after the first attempt before giving up.
    pub max_retries: usize,
    /// First backoff delay (before jitter).
    pub min_delay: Duration,
    /// Largest backoff delay (before jitter).
    pub max_delay: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url.as_str())
            .field("token", &"[redacted]")
            .field("requests_per_window", &self.requests_per_window)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// A config with conservative defaults: 100 requests per 10 s, 5 retries from 200 ms up to
    /// 30 s, 30 s timeout.
    pub fn new(base_url: url::Url, token: SecretString) -> Self {
        Self {
            base_url,
            token,
            requests_per_window: 100,
            window: Duration::from_secs(10),
            max_retries: 5,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A vendor API client: base URL, bearer token, shared rate limiter and retry policy.
///
/// Cheap to clone; clones share the limiter.
#[derive(Clone)]
pub struct VendorClient {
    vendor: &'static str,
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    limiter: Arc<DefaultDirectRateLimiter>,
    body_check: Option<BodyCheck>,
    token_source: Option<SharedTokenSource>,
    hooks: Option<Arc<dyn VendorHooks>>,
    retry_after_cap: Option<Duration>,
}

impl VendorClient {
    /// Builds a client. Errors with [`ConnectorError::Config`] when the quota is zero or the
    /// HTTP client cannot be built.
    pub fn new(vendor: &'static str, config: ClientConfig) -> Result<Self, ConnectorError> {
        let bad = |reason: String| ConnectorError::Config { vendor, reason };
        let burst = NonZeroU32::new(config.requests_per_window)
            .ok_or_else(|| bad("requests_per_window must be at least 1".into()))?;
        let period = config.window / config.requests_per_window;
        let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
            .ok_or_else(|| bad("rate window must be longer than zero".into()))?
            .allow_burst(burst);
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("handoff/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            vendor,
            http,
            config: Arc::new(config),
            limiter: Arc::new(RateLimiter::direct(quota)),
            body_check: None,
            token_source: None,
            hooks: None,
            retry_after_cap: None,
        })
    }

    /// Takes the bearer from `source` instead of [`ClientConfig::token`] (which is then
    /// unused), and the base URL from the token when it names one (Salesforce `instance_url`;
    /// paths stay relative to it). A 401 refreshes the token through the source and retries
    /// the call once; a second 401 is [`ConnectorError::Auth`]. Share one source (a
    /// [`crate::auth::SingleFlight`]) between every client of an account.
    pub fn with_token_source(mut self, source: SharedTokenSource) -> Self {
        self.token_source = Some(source);
        self
    }

    /// Installs the connector's [`VendorHooks`].
    pub fn with_hooks(mut self, hooks: Arc<dyn VendorHooks>) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// A [`ConnectorError::RateLimited`] whose `retry_after` is longer than `cap` goes back to
    /// the caller at once instead of being slept on in the client (the daemon parks the work
    /// and retries later: e.g. a daily allocation that is used up). Without a cap every
    /// `Retry-After` is honoured in the client.
    pub fn with_retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = Some(cap);
        self
    }

    /// Installs a check for errors a vendor reports inside a 2xx body.
    pub fn with_body_check(mut self, check: BodyCheck) -> Self {
        self.body_check = Some(check);
        self
    }

    /// The vendor name used in errors and metrics.
    pub fn vendor(&self) -> &'static str {
        self.vendor
    }

    /// The API root this client talks to.
    pub fn base_url(&self) -> &url::Url {
        &self.config.base_url
    }

    /// Sends a JSON request (`body` serialised as JSON, or none) to `path` (relative to the base
    /// URL, with its query) and decodes the JSON answer, retrying retryable failures.
    ///
    /// A 204 or empty body decodes as JSON `null`.
    pub async fn json<B, T>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ConnectorError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        self.json_with_headers(method, path, body, &HeaderMap::new())
            .await
    }

    /// [`VendorClient::json`] with extra request `headers` (e.g. Salesforce
    /// `Sforce-Auto-Assign: FALSE`); they never replace `Authorization` or `Content-Type`.
    pub async fn json_with_headers<B, T>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        headers: &HeaderMap,
    ) -> Result<T, ConnectorError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let encoded = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| ConnectorError::Decode {
                vendor: self.vendor,
                reason: format!("request body: {e}"),
            })?),
            None => None,
        };
        let value = self.execute(&method, path, encoded, None, headers).await?;
        serde_json::from_value(value).map_err(|e| ConnectorError::Decode {
            vendor: self.vendor,
            reason: format!("{method} {path}: {e}"),
        })
    }

    /// Like [`VendorClient::json`] with a form-encoded body (`application/x-www-form-urlencoded`).
    pub async fn form<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<T, ConnectorError> {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish()
            .into_bytes();
        let value = self
            .execute(
                &method,
                path,
                Some(encoded),
                Some("application/x-www-form-urlencoded"),
                &HeaderMap::new(),
            )
            .await?;
        serde_json::from_value(value).map_err(|e| ConnectorError::Decode {
            vendor: self.vendor,
            reason: format!("{method} {path}: {e}"),
        })
    }

    /// One call: with a token source, the token's bearer and base URL, and on a 401 one
    /// refresh and one more try.
    async fn execute(
        &self,
        method: &Method,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: Option<&'static str>,
        headers: &HeaderMap,
    ) -> Result<serde_json::Value, ConnectorError> {
        let attempt = |token: Option<AccessToken>| {
            let body = body.clone();
            let token = token.clone();
            async move {
                self.retrying(|| {
                    self.send_once(
                        method.clone(),
                        path,
                        body.clone(),
                        content_type,
                        headers,
                        token.as_ref(),
                    )
                })
                .await
            }
        };
        let Some(source) = &self.token_source else {
            return attempt(None).await;
        };
        let token = source.token().await?;
        match attempt(Some(token.clone())).await {
            Err(ConnectorError::Auth { status: 401, .. }) => {
                tracing::debug!(
                    vendor = self.vendor,
                    "access token refused; refreshing once"
                );
                let fresh = source.refresh(&token).await?;
                attempt(Some(fresh)).await
            }
            other => other,
        }
    }

    async fn retrying<F, Fut>(&self, attempt: F) -> Result<serde_json::Value, ConnectorError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<serde_json::Value, ConnectorError>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.config.min_delay)
            .with_max_delay(self.config.max_delay)
            .with_max_times(self.config.max_retries);
        let vendor = self.vendor;
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|err: &ConnectorError| err.is_retryable() && !self.beyond_cap(err))
            .adjust(|err: &ConnectorError, computed: Option<Duration>| {
                // `None` means the retry budget is spent: keep it so.
                let computed = computed?;
                Some(err.retry_after().unwrap_or_else(|| full_jitter(computed)))
            })
            .notify(move |err: &ConnectorError, delay: Duration| {
                tracing::warn!(vendor, error = %err, delay_ms = delay.as_millis() as u64, "retrying vendor call");
            })
            .await
    }

    fn beyond_cap(&self, err: &ConnectorError) -> bool {
        match (self.retry_after_cap, err.retry_after()) {
            (Some(cap), Some(wait)) => wait > cap,
            _ => false,
        }
    }

    async fn send_once(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: Option<&'static str>,
        headers: &HeaderMap,
        token: Option<&AccessToken>,
    ) -> Result<serde_json::Value, ConnectorError> {
        if let Some(hooks) = &self.hooks {
            hooks.before_send()?;
        }
        self.limiter.until_ready().await;
        let base = token
            .and_then(|t| t.base_url.as_ref())
            .unwrap_or(&self.config.base_url);
        let url = base
            .join(path.trim_start_matches('/'))
            .map_err(|e| ConnectorError::Config {
                vendor: self.vendor,
                reason: format!("bad path {path}: {e}"),
            })?;
        let bearer = token.map_or(&self.config.token, |t| &t.secret);
        let mut extra = headers.clone();
        extra.remove(header::AUTHORIZATION);
        extra.remove(header::CONTENT_TYPE);
        let mut request = self
            .http
            .request(method, url)
            .headers(extra)
            .bearer_auth(bearer.expose_secret());
        if let Some(body) = body {
            request = request
                .header(
                    header::CONTENT_TYPE,
                    content_type.unwrap_or("application/json; charset=utf-8"),
                )
                .body(body);
        }
        let pacer = self.hooks.as_ref().and_then(|h| h.pacer());
        let slot = match pacer {
            Some(p) => Some(loop {
                match p.take() {
                    Ok(slot) => break slot,
                    Err(wait) => {
                        metrics::counter!("handoff_vendor_paced_total", "vendor" => self.vendor)
                            .increment(1);
                        tokio::time::sleep(wait).await;
                    }
                }
            }),
            None => None,
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                if let (Some(p), Some(slot)) = (pacer, slot) {
                    p.abandoned(slot);
                }
                return Err(ConnectorError::Transient {
                    vendor: self.vendor,
                    reason: transport_reason(&e),
                });
            }
        };
        let status = response.status();
        let response_headers = response.headers().clone();
        if let (Some(p), Some(slot)) = (pacer, slot) {
            p.answered(slot, &response_headers);
        }
        if let Some(hooks) = &self.hooks {
            hooks.on_response(status, &response_headers);
        }
        let retry_after = parse_retry_after(&response_headers);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ConnectorError::Transient {
                vendor: self.vendor,
                reason: transport_reason(&e),
            })?;
        if !status.is_success() {
            let hooked = self
                .hooks
                .as_ref()
                .and_then(|h| h.classify(self.vendor, status, &response_headers, &bytes));
            return Err(
                hooked.unwrap_or_else(|| classify_status(self.vendor, status, retry_after, &bytes))
            );
        }
        let value = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| ConnectorError::Decode {
                vendor: self.vendor,
                reason: e.to_string(),
            })?
        };
        if let Some(check) = self.body_check {
            if let Some(err) = check(self.vendor, &value) {
                return Err(err);
            }
        }
        Ok(value)
    }
}

/// A delay drawn uniformly from `0..=computed` (AWS "full jitter").
fn full_jitter(computed: Duration) -> Duration {
    let ms = computed.as_millis().min(u64::MAX as u128) as u64;
    Duration::from_millis(fastrand::u64(0..=ms))
}

/// `Retry-After` as delay-seconds (the form HubSpot, Slack and Asana send).
pub fn parse_retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Maps a non-2xx status to an error class, keeping a short excerpt of the vendor's message.
pub fn classify_status(
    vendor: &'static str,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> ConnectorError {
    let message = excerpt(body);
    match status.as_u16() {
        429 => ConnectorError::RateLimited {
            vendor,
            retry_after,
        },
        401 | 403 => ConnectorError::Auth {
            vendor,
            status: status.as_u16(),
            message,
        },
        404 => ConnectorError::NotFound {
            vendor,
            what: message,
        },
        408 | 500..=599 => ConnectorError::Transient {
            vendor,
            reason: format!("HTTP {}: {message}", status.as_u16()),
        },
        code => ConnectorError::Rejected {
            vendor,
            status: code,
            message,
        },
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        s.push('…');
    }
    s
}

fn transport_reason(e: &reqwest::Error) -> String {
    // reqwest errors carry the URL, never headers, so the token cannot leak here.
    if e.is_timeout() {
        format!("timeout: {e}")
    } else if e.is_connect() {
        format!("connect: {e}")
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_classes() {
        use crate::ErrorClass::*;
        let class = |code: u16| {
            classify_status("v", StatusCode::from_u16(code).unwrap(), None, b"{}").class()
        };
        assert_eq!(class(429), RateLimited);
        assert_eq!(class(401), AuthExpired);
        assert_eq!(class(503), Retryable);
        assert_eq!(class(400), Permanent);
        assert_eq!(class(404), Permanent);
    }

    #[test]
    fn retry_after_seconds_are_read() {
        let mut h = header::HeaderMap::new();
        h.insert(header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn full_jitter_stays_within_the_computed_delay() {
        for _ in 0..1000 {
            assert!(full_jitter(Duration::from_millis(50)) <= Duration::from_millis(50));
        }
    }

    #[test]
    fn debug_never_prints_the_token() {
        let cfg = ClientConfig::new(
            "http://127.0.0.1:1".parse().unwrap(),
            SecretString::from("pat-na1-very-secret"),
        );
        assert!(!format!("{cfg:?}").contains("very-secret"));
    }

    // ---- token source and hooks, against a local server --------------------------------

    use crate::auth::{SingleFlight, TokenSource};
    use futures::future::BoxFuture;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    /// Issues `token-1`, `token-2`, … with `base` as the token's base URL.
    struct Issuer {
        issued: AtomicU64,
        base: url::Url,
    }

    impl Issuer {
        fn issue(&self) -> BoxFuture<'_, Result<AccessToken, ConnectorError>> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(AccessToken {
                    secret: SecretString::from(format!("token-{n}")),
                    base_url: Some(self.base.clone()),
                    issued_at_ms: 0,
                })
            })
        }
    }

    impl TokenSource for Issuer {
        fn token(&self) -> BoxFuture<'_, Result<AccessToken, ConnectorError>> {
            self.issue()
        }
        fn refresh<'a>(
            &'a self,
            _: &'a AccessToken,
        ) -> BoxFuture<'a, Result<AccessToken, ConnectorError>> {
            self.issue()
        }
    }

    /// A server under `/api/` that accepts only bearer `accept`, echoes header `x-probe` and
    /// answers header `x-usage: 7`; returns its `/api/` URL.
    async fn server(accept: &'static str) -> url::Url {
        use axum::http::HeaderMap as Headers;
        let app = axum::Router::new().route(
            "/api/ping",
            axum::routing::get(move |headers: Headers| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let probe = headers
                    .get("x-probe")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                if auth != format!("Bearer {accept}") {
                    return (
                        StatusCode::UNAUTHORIZED,
                        [("x-usage", "7")],
                        axum::Json(serde_json::json!({"error": "expired"})),
                    );
                }
                (
                    StatusCode::OK,
                    [("x-usage", "7")],
                    axum::Json(serde_json::json!({"probe": probe})),
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/api/").parse().unwrap()
    }

    fn client_with(source: Arc<SingleFlight<Issuer>>) -> VendorClient {
        // The configured base URL is wrong on purpose: the token's must be used.
        let mut cfg = ClientConfig::new(
            "http://127.0.0.1:1/".parse().unwrap(),
            SecretString::from("unused"),
        );
        cfg.requests_per_window = 10_000;
        cfg.max_retries = 0;
        VendorClient::new("test", cfg)
            .unwrap()
            .with_token_source(source)
    }

    #[tokio::test]
    async fn fifty_calls_with_an_expired_token_share_one_refresh() {
        let base = server("token-2").await;
        let source = Arc::new(SingleFlight::new(Issuer {
            issued: AtomicU64::new(0),
            base,
        }));
        let client = client_with(source.clone());
        let calls = (0..50).map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .json::<(), serde_json::Value>(Method::GET, "ping", None)
                    .await
            })
        });
        for r in futures::future::join_all(calls).await {
            r.unwrap().expect("every call succeeds after the refresh");
        }
        // token-1 (first use) and token-2 (the one refresh).
        assert_eq!(source.inner().issued.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_second_401_is_an_auth_error_after_one_refresh() {
        let base = server("never").await;
        let source = Arc::new(SingleFlight::new(Issuer {
            issued: AtomicU64::new(0),
            base,
        }));
        let client = client_with(source.clone());
        let err = client
            .json::<(), serde_json::Value>(Method::GET, "ping", None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConnectorError::Auth { status: 401, .. }),
            "{err}"
        );
        assert_eq!(source.inner().issued.load(Ordering::SeqCst), 2);
    }

    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<String>>,
        refuse: std::sync::atomic::AtomicBool,
    }

    impl VendorHooks for Recorder {
        fn before_send(&self) -> Result<(), ConnectorError> {
            if self.refuse.load(Ordering::SeqCst) {
                return Err(ConnectorError::RateLimited {
                    vendor: "test",
                    retry_after: Some(Duration::from_secs(300)),
                });
            }
            Ok(())
        }
        fn on_response(&self, status: StatusCode, headers: &HeaderMap) {
            let usage = headers
                .get("x-usage")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            self.seen
                .lock()
                .unwrap()
                .push(format!("{} {usage}", status.as_u16()));
        }
        fn classify(
            &self,
            vendor: &'static str,
            status: StatusCode,
            _: &HeaderMap,
            _: &[u8],
        ) -> Option<ConnectorError> {
            (status == StatusCode::UNAUTHORIZED).then(|| ConnectorError::Rejected {
                vendor,
                status: 499,
                message: "classed by the hook".into(),
            })
        }
    }

    #[tokio::test]
    async fn hooks_see_responses_class_errors_and_refuse_calls() {
        let base = server("static").await;
        let mut cfg = ClientConfig::new(base, SecretString::from("static"));
        cfg.max_retries = 3;
        cfg.min_delay = Duration::from_millis(1);
        let hooks = Arc::new(Recorder::default());
        let client = VendorClient::new("test", cfg.clone())
            .unwrap()
            .with_hooks(hooks.clone())
            .with_retry_after_cap(Duration::from_secs(30));
        let mut headers = HeaderMap::new();
        headers.insert("x-probe", "FALSE".parse().unwrap());
        let answer: serde_json::Value = client
            .json_with_headers::<(), _>(Method::GET, "ping", None, &headers)
            .await
            .unwrap();
        assert_eq!(answer["probe"], "FALSE", "the extra header was sent");
        assert_eq!(*hooks.seen.lock().unwrap(), vec!["200 7".to_string()]);

        cfg.token = SecretString::from("wrong");
        let refused = VendorClient::new("test", cfg)
            .unwrap()
            .with_hooks(hooks.clone());
        let err = refused
            .json::<(), serde_json::Value>(Method::GET, "ping", None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConnectorError::Rejected { status: 499, .. }),
            "{err}"
        );
        assert_eq!(hooks.seen.lock().unwrap().last().unwrap(), "401 7");

        // A refusal past the cap comes back at once, without a request and without sleeping.
        hooks.refuse.store(true, Ordering::SeqCst);
        let before = hooks.seen.lock().unwrap().len();
        let started = std::time::Instant::now();
        let err = client
            .json::<(), serde_json::Value>(Method::GET, "ping", None)
            .await
            .unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(300)));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(hooks.seen.lock().unwrap().len(), before, "nothing was sent");
    }
}
