//! What every emulated request passes before its handler, and Asana's error answers.
//!
//! Order: injected [`Fault`]s first, then the bearer token (401 `Not Authorized`), then the
//! per-token quota of 1,500 requests per minute (429 + `Retry-After`). Error bodies are
//! `ErrorResponse` (`{"errors": [{"message", "help"?, "phrase"?}]}`, NOTES §4.4).

use super::AsanaEmulator;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use handoff_connector::emulator::Fault;
use serde_json::json;

/// Asana's 429 message (NOTES §4.2).
pub(crate) const RATE_LIMIT_MESSAGE: &str =
    "You've made too many requests and hit a rate limit. Please retry after the given amount of time.";

/// The `help` Asana attaches to client errors.
const HELP: &str = "For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors";

/// Words the 500 `phrase` is built from (the shape of node-asana-phrase's "6 sad squid snuggle
/// softly").
const ADJECTIVES: [&str; 4] = ["sad", "brave", "sleepy", "tidy"];
const ANIMALS: [&str; 4] = ["squid", "otters", "lemurs", "herons"];
const VERBS: [&str; 4] = ["snuggle", "juggle", "wander", "hum"];
const ADVERBS: [&str; 4] = ["softly", "boldly", "quietly", "gladly"];

/// An Asana error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    retry_after_secs: Option<u64>,
    phrase: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after_secs: None,
            phrase: None,
        }
    }

    /// 400, e.g. `team: Missing input`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 for a gid in the path that names nothing.
    pub fn unknown_object(gid: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("Unknown object: {gid}"))
    }

    /// 429 with `Retry-After` (seconds, at least 1).
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, RATE_LIMIT_MESSAGE)
        }
    }

    /// 500 `Server Error` with a support phrase derived from `n`.
    pub fn server_error(n: u32) -> Self {
        let n = n as usize;
        let phrase = format!(
            "{} {} {} {} {}",
            n % 9 + 2,
            ADJECTIVES[n % 4],
            ANIMALS[(n / 4) % 4],
            VERBS[(n / 16) % 4],
            ADVERBS[(n / 64) % 4]
        );
        Self {
            phrase: Some(phrase),
            ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Server Error")
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "message": self.message });
        if let Some(phrase) = self.phrase {
            error["phrase"] = json!(phrase);
        } else if self.status.is_client_error()
            && self.status != StatusCode::UNAUTHORIZED
            && self.status != StatusCode::TOO_MANY_REQUESTS
        {
            error["help"] = json!(HELP);
        }
        let mut response = (self.status, axum::Json(json!({ "errors": [error] }))).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Middleware: faults, then auth, then the per-token request quota.
pub(crate) async fn guard(
    State(emu): State<AsanaEmulator>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(fault) = emu.inner.faults.take() {
        return match fault {
            Fault::RateLimited { retry_after_secs } => {
                ApiError::rate_limited(retry_after_secs).into_response()
            }
            Fault::ServerError => ApiError::server_error(emu.inner.faults.served()).into_response(),
        };
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token.filter(|t| *t == emu.inner.config.token) else {
        return ApiError::new(StatusCode::UNAUTHORIZED, "Not Authorized").into_response();
    };
    if let Err(over) = emu.inner.rate.check(token) {
        return ApiError::rate_limited(over.retry_after_secs).into_response();
    }
    next.run(request).await
}
