//! Error classes shared by every connector.
//!
//! The retry layer and the daemon's dead-letter logic read only the [`ErrorClass`]; the variant
//! carries what an operator needs in the log (vendor, status, the vendor's message).

use std::time::Duration;

/// How the daemon should react to a failed vendor call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Timeouts, connection errors, 5xx: retry with backoff.
    Retryable,
    /// 429 or a vendor's "ratelimited" body: wait `Retry-After` (or backoff), then retry.
    RateLimited,
    /// 401/403: the token expired or lacks a scope; refresh once, else park the work.
    AuthExpired,
    /// Any other 4xx or a body the vendor will never accept: do not retry, dead-letter.
    Permanent,
}

impl ErrorClass {
    /// Whether a failure of this class counts towards `delivery.max_attempts`. Waiting for a
    /// vendor's rate budget or daily allocation does not, so it only ever delays work and never
    /// sends it to dead letters.
    pub fn counts_as_attempt(self) -> bool {
        self != ErrorClass::RateLimited
    }
}

/// A failed call to a vendor API.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{vendor} rate limit reached (retry after {retry_after:?})")]
    RateLimited {
        vendor: &'static str,
        /// From the `Retry-After` header (seconds), when the vendor sent one.
        retry_after: Option<Duration>,
    },
    #[error("{vendor} rejected the credentials (HTTP {status}): {message}")]
    Auth {
        vendor: &'static str,
        status: u16,
        message: String,
    },
    #[error("{vendor} call failed transiently: {reason}")]
    Transient {
        vendor: &'static str,
        reason: String,
    },
    #[error("{vendor} refused the request (HTTP {status}): {message}")]
    Rejected {
        vendor: &'static str,
        status: u16,
        message: String,
    },
    #[error("{vendor} has no {what}")]
    NotFound { vendor: &'static str, what: String },
    #[error("{vendor} answered with a body handoff cannot read: {reason}")]
    Decode {
        vendor: &'static str,
        reason: String,
    },
    #[error("{vendor} client is misconfigured: {reason}")]
    Config {
        vendor: &'static str,
        reason: String,
    },
}

impl ConnectorError {
    /// The class the retry layer acts on.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::RateLimited { .. } => ErrorClass::RateLimited,
            Self::Auth { .. } => ErrorClass::AuthExpired,
            Self::Transient { .. } => ErrorClass::Retryable,
            Self::Rejected { .. }
            | Self::NotFound { .. }
            | Self::Decode { .. }
            | Self::Config { .. } => ErrorClass::Permanent,
        }
    }

    /// Whether a retry may succeed (rate limits and transient failures).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.class(),
            ErrorClass::Retryable | ErrorClass::RateLimited
        )
    }

    /// The vendor's `Retry-After`, which overrides the computed backoff delay.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The vendor name this error came from.
    pub fn vendor(&self) -> &'static str {
        match self {
            Self::RateLimited { vendor, .. }
            | Self::Auth { vendor, .. }
            | Self::Transient { vendor, .. }
            | Self::Rejected { vendor, .. }
            | Self::NotFound { vendor, .. }
            | Self::Decode { vendor, .. }
            | Self::Config { vendor, .. } => vendor,
        }
    }
}

/// Why a webhook delivery was refused before its body was parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("header {0} is malformed")]
    MalformedHeader(&'static str),
    #[error("request timestamp is {age_ms} ms away from now (window {window_ms} ms)")]
    Stale { age_ms: i64, window_ms: i64 },
    #[error("signature does not match the body")]
    Mismatch,
    /// Deliveries verified by their content rather than a signature (Salesforce Outbound
    /// Messages carry the sending org's id): what is wrong with it, for the log.
    #[error("{0}")]
    WrongSender(String),
}
