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

use crate::ConnectorError;
use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{header, Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{de::DeserializeOwned, Serialize};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// Inspects a decoded 2xx body and turns an in-body error into a [`ConnectorError`].
pub type BodyCheck = fn(vendor: &'static str, body: &serde_json::Value) -> Option<ConnectorError>;

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
        })
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
        let encoded = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| ConnectorError::Decode {
                vendor: self.vendor,
                reason: format!("request body: {e}"),
            })?),
            None => None,
        };
        let value = self
            .retrying(|| self.send_once(method.clone(), path, encoded.clone(), None))
            .await?;
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
            .retrying(|| {
                self.send_once(
                    method.clone(),
                    path,
                    Some(encoded.clone()),
                    Some("application/x-www-form-urlencoded"),
                )
            })
            .await?;
        serde_json::from_value(value).map_err(|e| ConnectorError::Decode {
            vendor: self.vendor,
            reason: format!("{method} {path}: {e}"),
        })
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
            .when(ConnectorError::is_retryable)
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

    async fn send_once(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: Option<&'static str>,
    ) -> Result<serde_json::Value, ConnectorError> {
        self.limiter.until_ready().await;
        let url = self
            .config
            .base_url
            .join(path.trim_start_matches('/'))
            .map_err(|e| ConnectorError::Config {
                vendor: self.vendor,
                reason: format!("bad path {path}: {e}"),
            })?;
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(self.config.token.expose_secret());
        if let Some(body) = body {
            request = request
                .header(
                    header::CONTENT_TYPE,
                    content_type.unwrap_or("application/json; charset=utf-8"),
                )
                .body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ConnectorError::Transient {
                vendor: self.vendor,
                reason: transport_reason(&e),
            })?;
        let status = response.status();
        let retry_after = parse_retry_after(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ConnectorError::Transient {
                vendor: self.vendor,
                reason: transport_reason(&e),
            })?;
        if !status.is_success() {
            return Err(classify_status(self.vendor, status, retry_after, &bytes));
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
}
