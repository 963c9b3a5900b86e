//! Salesforce's REST error bodies and how they are classed.
//!
//! Errors are a JSON **array** of `{"message", "errorCode", "fields"}` (NOTES §2.6), e.g.
//! `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`. Every
//! [`ConnectorError`] built here names the vendor (`salesforce`), the HTTP status, and each
//! item's `errorCode`, `message` and `fields`, so an operator can act on a dead letter.
//!
//! | answer | class |
//! | --- | --- |
//! | 401 (`INVALID_SESSION_ID`) | [`ConnectorError::Auth`]: the client refreshes once and retries |
//! | 403 `REQUEST_LIMIT_EXCEEDED`, usage at the allocation (§2.2) | [`ConnectorError::RateLimited`], wait `limit_wait` (handed back to the daemon) |
//! | 403 `REQUEST_LIMIT_EXCEEDED`, usage below it (the concurrent long-running request limit, §2.2) | [`ConnectorError::RateLimited`], wait [`CONCURRENCY_WAIT`] (retried in the client) |
//! | other 403 | [`ConnectorError::Auth`] (permissions) |
//! | 404 | [`ConnectorError::NotFound`] |
//! | 408, 5xx | [`ConnectorError::Transient`] |
//! | 300 (an external id matching several records, §2.4 / S9) and other 4xx | [`ConnectorError::Rejected`] |

use crate::limits::parse_limit_info;
use handoff_connector::ConnectorError;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The vendor name in errors, record keys and metrics.
pub const VENDOR: &str = "salesforce";

/// How long a call waits after a `REQUEST_LIMIT_EXCEEDED` that the daily allocation does not
/// explain (the concurrent long-running request limit, NOTES §2.2): 2 s, retried in the client.
pub const CONCURRENCY_WAIT: Duration = Duration::from_secs(2);

/// One item of Salesforce's error array (NOTES §2.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiErrorItem {
    /// The readable message.
    pub message: String,
    /// The code (`MALFORMED_QUERY`, `INVALID_SESSION_ID`, …).
    pub error_code: String,
    /// The fields the error is about, when any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// The items of an error body, when it is Salesforce's error array.
pub fn parse_items(body: &[u8]) -> Option<Vec<ApiErrorItem>> {
    serde_json::from_slice::<Vec<ApiErrorItem>>(body)
        .ok()
        .filter(|items| !items.is_empty())
}

/// `ERROR_CODE: message (fields: A, B)` for each item, joined with `; `; or an excerpt of a
/// body that is not the error array.
pub fn describe(body: &[u8]) -> String {
    match parse_items(body) {
        Some(items) => items
            .iter()
            .map(|i| {
                let mut s = format!("{}: {}", i.error_code, i.message);
                if !i.fields.is_empty() {
                    s.push_str(&format!(" (fields: {})", i.fields.join(", ")));
                }
                s
            })
            .collect::<Vec<_>>()
            .join("; "),
        None => {
            let text = String::from_utf8_lossy(body);
            let mut s: String = text.chars().take(300).collect();
            if text.chars().count() > 300 {
                s.push('…');
            }
            s
        }
    }
}

/// Whether the body carries `code` as an item's `errorCode`.
pub fn has_code(body: &[u8], code: &str) -> bool {
    parse_items(body).is_some_and(|items| items.iter().any(|i| i.error_code == code))
}

/// Classes a non-2xx REST answer (see the module table). `limit_wait` is the wait reported
/// when the org's daily allocation is used up.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    limit_wait: Duration,
) -> ConnectorError {
    let code = status.as_u16();
    let text = describe(body);
    match code {
        401 => ConnectorError::Auth {
            vendor: VENDOR,
            status: code,
            message: text,
        },
        403 if has_code(body, "REQUEST_LIMIT_EXCEEDED") => {
            let at_allocation = headers
                .get("sforce-limit-info")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_limit_info)
                .is_none_or(|(used, max)| used >= max);
            ConnectorError::RateLimited {
                vendor: VENDOR,
                retry_after: Some(if at_allocation {
                    limit_wait
                } else {
                    CONCURRENCY_WAIT
                }),
            }
        }
        403 => ConnectorError::Auth {
            vendor: VENDOR,
            status: code,
            message: text,
        },
        404 => ConnectorError::NotFound {
            vendor: VENDOR,
            what: format!("such record or resource (HTTP 404): {text}"),
        },
        408 | 500..=599 => ConnectorError::Transient {
            vendor: VENDOR,
            reason: format!("HTTP {code}: {text}"),
        },
        300 => ConnectorError::Rejected {
            vendor: VENDOR,
            status: code,
            message: format!("the external id matches several records: {text}"),
        },
        _ => ConnectorError::Rejected {
            vendor: VENDOR,
            status: code,
            message: text,
        },
    }
}

/// A `ConnectorError::Config` about this connector.
pub fn config(reason: impl Into<String>) -> ConnectorError {
    ConnectorError::Config {
        vendor: VENDOR,
        reason: reason.into(),
    }
}

/// A `ConnectorError::Decode` about this connector.
pub fn decode(reason: impl Into<String>) -> ConnectorError {
    ConnectorError::Decode {
        vendor: VENDOR,
        reason: reason.into(),
    }
}

impl From<crate::soql::SoqlError> for ConnectorError {
    fn from(e: crate::soql::SoqlError) -> Self {
        config(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_connector::ErrorClass;

    fn headers(usage: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("sforce-limit-info", usage.parse().unwrap());
        h
    }

    #[test]
    fn error_arrays_are_classed_and_described() {
        let wait = Duration::from_secs(300);
        let body = br#"[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]"#;
        let err = classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), body, wait);
        assert_eq!(err.class(), ErrorClass::Permanent);
        let text = err.to_string();
        for part in ["salesforce", "400", "REQUIRED_FIELD_MISSING", "LastName"] {
            assert!(text.contains(part), "{text}");
        }

        let limit = br#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        let daily = classify(
            StatusCode::FORBIDDEN,
            &headers("api-usage=10/10"),
            limit,
            wait,
        );
        assert_eq!(daily.class(), ErrorClass::RateLimited);
        assert_eq!(daily.retry_after(), Some(wait));
        let burst = classify(
            StatusCode::FORBIDDEN,
            &headers("api-usage=3/10"),
            limit,
            wait,
        );
        assert_eq!(burst.retry_after(), Some(CONCURRENCY_WAIT));

        let session =
            br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;
        let auth = classify(StatusCode::UNAUTHORIZED, &HeaderMap::new(), session, wait);
        assert!(matches!(auth, ConnectorError::Auth { status: 401, .. }));
        let perm = classify(StatusCode::FORBIDDEN, &HeaderMap::new(), b"[]", wait);
        assert_eq!(perm.class(), ErrorClass::AuthExpired);
        let gone = classify(
            StatusCode::SERVICE_UNAVAILABLE,
            &HeaderMap::new(),
            b"",
            wait,
        );
        assert_eq!(gone.class(), ErrorClass::Retryable);
        let several = classify(StatusCode::MULTIPLE_CHOICES, &HeaderMap::new(), b"[]", wait);
        assert_eq!(several.class(), ErrorClass::Permanent);
    }
}
