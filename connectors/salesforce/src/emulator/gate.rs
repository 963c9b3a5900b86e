//! What every REST request under `/services/data/vXX.X/` passes before its handler, in order:
//! injected faults, the bearer (a live session), the daily allocation; and the
//! `Sforce-Limit-Info` header on the way out.
//!
//! * Every REST response carries `Sforce-Limit-Info: api-usage=<used>/<limit>` (§2.2). The
//!   Versions list (`GET /services/data/`) needs no session and does not count (§2.2).
//! * A bad or expired bearer → 401 `INVALID_SESSION_ID` (§2.6).
//! * Once `used` reaches the daily limit → 403 `REQUEST_LIMIT_EXCEEDED` (§2.2; no 429, no
//!   `Retry-After`), not counted.
//! * Injected faults: `ServerError` → 500; `RateLimited` → 403 `REQUEST_LIMIT_EXCEEDED`
//!   (Salesforce's limits come as 403s; the fault's `retry_after_secs` is not sent: Salesforce
//!   sends no `Retry-After`).
//! * `Sforce-Auto-Assign` (S6, case-insensitive): `FALSE` turns assignment rules off for the
//!   write; absent (the default), `TRUE` or an AssignmentRule id leave them on.

use super::errors::ApiError;
use super::SalesforceEmulator;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use handoff_connector::emulator::Fault;
use std::sync::atomic::Ordering;

/// The session's user and the write options of one request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The session's user (`005…`): writes are recorded as theirs.
    pub user_id: String,
    /// `Sforce-Auto-Assign` is not `FALSE`.
    pub auto_assign: bool,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn with_usage(emu: &SalesforceEmulator, mut response: Response) -> Response {
    let (used, max) = emu.api_usage();
    if let Ok(v) = HeaderValue::from_str(&format!("api-usage={used}/{max}")) {
        response.headers_mut().insert("sforce-limit-info", v);
    }
    response
}

/// The middleware.
pub async fn gate(
    State(emu): State<SalesforceEmulator>,
    mut request: Request,
    next: Next,
) -> Response {
    let inner = &emu.inner;
    inner.requests.fetch_add(1, Ordering::SeqCst);
    let path = request.uri().path();
    if path == "/services/data" || path == "/services/data/" {
        return next.run(request).await;
    }
    if let Some(fault) = inner.faults.take() {
        let error = match fault {
            Fault::ServerError => ApiError::internal(),
            Fault::RateLimited { .. } => ApiError::limit_exceeded(emu.api_usage().1),
        };
        return with_usage(&emu, error.into_response());
    }
    let Some(user_id) = bearer(request.headers()).and_then(|t| emu.session_user(t)) else {
        return with_usage(&emu, ApiError::session().into_response());
    };
    let limit = inner.daily_limit.load(Ordering::SeqCst);
    let counted = inner
        .api_used
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
            (used < limit).then_some(used + 1)
        });
    if counted.is_err() {
        return with_usage(&emu, ApiError::limit_exceeded(limit).into_response());
    }
    let auto_assign = request
        .headers()
        .get("sforce-auto-assign")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"));
    request.extensions_mut().insert(Caller {
        user_id,
        auto_assign,
    });
    let write = request.method() != axum::http::Method::GET;
    let response = next.run(request).await;
    if write && response.status().is_success() && emu.take_lost_answer() {
        return with_usage(&emu, ApiError::internal().into_response());
    }
    with_usage(&emu, response)
}
