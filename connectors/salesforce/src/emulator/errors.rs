//! The emulator's error answers: Salesforce's REST error array (NOTES §2.6) and the token
//! endpoint's RFC 6749 body (§2.6, S1).
//!
//! Error codes used, with their source:
//!
//! | code | status | source |
//! | --- | --- | --- |
//! | `INVALID_SESSION_ID` ("Session expired or invalid") | 401 | §2.6 |
//! | `REQUEST_LIMIT_EXCEEDED` | 403 | §2.2 |
//! | `MALFORMED_QUERY`, `INVALID_FIELD`, `REQUIRED_FIELD_MISSING` | 400 | §2.3, §2.6 |
//! | `NOT_FOUND` | 404 | §2.6 |
//! | `INVALID_QUERY_LOCATOR` | 400 | S11 (status unverified) |
//! | `CANNOT_UPDATE_CONVERTED_LEAD` (a converted lead is read-only) | 400 | not in the notes: unverified |
//! | `INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST` (a value outside a picklist) | 400 | unverified |
//! | `INVALID_FIELD_FOR_INSERT_UPDATE` (a derived or system field written) | 400 | unverified |
//! | `INVALID_CROSS_REFERENCE_KEY` (an owner that is no user or queue) | 400 | unverified |
//! | `INVALID_TYPE` (an unknown SObject in a query) | 400 | unverified |
//! | `JSON_PARSER_ERROR` (a body that is not JSON) | 400 | unverified (§2.6: "400 bad JSON") |
//! | `METHOD_NOT_ALLOWED` (writes to User, Group, history) | 405 | §2.6 lists 405; code unverified |
//! | `UNKNOWN_EXCEPTION` (injected 500s) | 500 | unverified |

use crate::error::ApiErrorItem;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A REST error answer: status and error array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error array (NOTES §2.6).
    pub items: Vec<ApiErrorItem>,
}

impl ApiError {
    /// One item.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            items: vec![ApiErrorItem {
                message: message.into(),
                error_code: code.into(),
                fields: Vec::new(),
            }],
        }
    }

    /// One item naming `fields`.
    pub fn with_fields(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        fields: Vec<String>,
    ) -> Self {
        let mut e = Self::new(status, code, message);
        e.items[0].fields = fields;
        e
    }

    /// 400 with `code`.
    pub fn bad(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 400 `MALFORMED_QUERY`.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::bad("MALFORMED_QUERY", message)
    }

    /// 400 `INVALID_FIELD` naming the field.
    pub fn invalid_field(object: &str, field: &str) -> Self {
        Self::with_fields(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            format!("No such column '{field}' on entity '{object}'."),
            vec![field.to_string()],
        )
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 401 `INVALID_SESSION_ID` (§2.6).
    pub fn session() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        )
    }

    /// 403 `REQUEST_LIMIT_EXCEEDED` (§2.2).
    pub fn limit_exceeded(max: u64) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            format!("TotalRequests Limit exceeded. The org's allocation is {max} requests per 24 hours."),
        )
    }

    /// 500 `UNKNOWN_EXCEPTION` (injected faults).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support.",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = serde_json::to_vec(&self.items).unwrap_or_default();
        write!(
            f,
            "HTTP {}: {}",
            self.status.as_u16(),
            crate::error::describe(&body)
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.items)).into_response()
    }
}

/// An RFC 6749 error from the token endpoint: 400 `{"error", "error_description"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// The RFC 6749 `error` (`invalid_grant`, `invalid_client`, `unsupported_grant_type`).
    pub error: &'static str,
    /// `error_description`.
    pub description: String,
}

impl OAuthError {
    /// `invalid_grant` with `description`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self {
            error: "invalid_grant",
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body =
            serde_json::json!({ "error": self.error, "error_description": self.description });
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}
