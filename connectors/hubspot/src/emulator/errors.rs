//! HubSpot's error responses, as the emulator sends them.
//!
//! Body: the CRM specs' `Error` schema plus the `status:"error"` field real responses carry
//! (`{"status":"error","message","correlationId","category",["context"]}`, `NOTES.md` §1.4).
//! 429 bodies follow responses observed from HubSpot:
//! `{"status":"error","message":"You have reached your ten_secondly_rolling limit.",
//! "errorType":"RATE_LIMIT","correlationId","policyName":"TEN_SECONDLY_ROLLING","groupName"}`
//! (search: `"You have reached your secondly limit."`, policy `SECONDLY`).

use crate::wire::ErrorBody;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

/// A HubSpot error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub body: Box<ErrorBody>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, category: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: Box::new(ErrorBody {
                status: "error".into(),
                message: message.into(),
                correlation_id: uuid::Uuid::new_v4().to_string(),
                category: Some(category.into()),
                ..Default::default()
            }),
            retry_after_secs: None,
        }
    }

    /// 400 `VALIDATION_ERROR`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    /// 404 `OBJECT_NOT_FOUND` for a record id.
    pub fn object_not_found(id: &str) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            "Object not found.  objectId are usually numeric.",
        );
        e.body.context = Some(serde_json::json!({ "id": [id] }));
        e
    }

    /// 404 for a resource that is not there (owners, pipelines).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", message)
    }

    /// 401 `INVALID_AUTHENTICATION`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )
    }

    /// 500 with HubSpot's generic message (injected faults).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "internal error",
        )
    }

    /// 429 for the ten-second bucket (`search == false`) or search's per-second limit.
    pub fn rate_limited(search: bool, retry_after_secs: u64, app_id: u64, portal_id: u64) -> Self {
        let (message, policy, group) = if search {
            ("You have reached your secondly limit.", "SECONDLY", None)
        } else {
            (
                "You have reached your ten_secondly_rolling limit.",
                "TEN_SECONDLY_ROLLING",
                Some(format!(
                    "publicapi:private_app-api-calls-ten-secondly:{app_id}:{portal_id}"
                )),
            )
        };
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: Box::new(ErrorBody {
                status: "error".into(),
                message: message.into(),
                correlation_id: uuid::Uuid::new_v4().to_string(),
                error_type: Some("RATE_LIMIT".into()),
                policy_name: Some(policy.into()),
                group_name: group,
                ..Default::default()
            }),
            retry_after_secs: Some(retry_after_secs),
        }
    }

    /// A body-decoding failure (axum's `JsonRejection` text).
    pub fn bad_json(reason: impl std::fmt::Display) -> Self {
        Self::validation(format!("Invalid input JSON: {reason}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body: Value = serde_json::to_value(&self.body).unwrap_or(Value::Null);
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
        }
        response
    }
}
