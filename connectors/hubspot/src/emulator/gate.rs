//! What every emulated request passes before its handler, in this order: injected faults,
//! the bearer token, then the rate limits; and the rate-limit headers on the way out.
//!
//! Limits (`NOTES.md` §1.2): 190 requests per 10 s per token (private app, Professional) with
//! `X-HubSpot-RateLimit-Max`, `X-HubSpot-RateLimit-Remaining`,
//! `X-HubSpot-RateLimit-Interval-Milliseconds` and the daily pair
//! `X-HubSpot-RateLimit-Daily`/`-Daily-Remaining`; CRM search has its own 5 requests / s bucket
//! and does not draw on the ten-second one (specs: `x-hubspot-rate-limit-exemptions:
//! ["ten-secondly"]`). Over quota → 429 with HubSpot's body and `Retry-After`.
//!
//! A write performed while answers are being lost
//! ([`super::HubSpotEmulator::lose_next_write_answers`]) is answered 500 instead of its result.

use super::errors::ApiError;
use super::HubSpotEmulator;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use handoff_connector::emulator::Fault;

/// Requests per day for a Professional private app.
pub(crate) const DAILY_LIMIT: u64 = 625_000;

fn is_search(method: &Method, path: &str) -> bool {
    method == Method::POST && path.ends_with("/search")
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn set(headers: &mut HeaderMap, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        headers.insert(name, v);
    }
}

/// The middleware: faults, auth, limits, headers.
pub(crate) async fn gate(
    State(emu): State<HubSpotEmulator>,
    request: Request,
    next: Next,
) -> Response {
    let inner = &emu.inner;
    inner.count_request();
    if let Some(fault) = inner.faults.take() {
        return match fault {
            Fault::RateLimited { retry_after_secs } => ApiError::rate_limited(
                false,
                retry_after_secs,
                inner.config.app_id,
                inner.config.portal_id,
            )
            .into_response(),
            Fault::ServerError => ApiError::internal().into_response(),
        };
    }
    let token = match bearer(request.headers()) {
        Some(t) if t == inner.config.token => t.to_string(),
        _ => return ApiError::unauthorized().into_response(),
    };
    let search = is_search(request.method(), request.uri().path());
    let window = if search {
        &inner.search_window
    } else {
        &inner.ten_second_window
    };
    let remaining = match window.check(&token) {
        Ok(remaining) => remaining,
        Err(over) => {
            let mut response = ApiError::rate_limited(
                search,
                over.retry_after_secs,
                inner.config.app_id,
                inner.config.portal_id,
            )
            .into_response();
            if !search {
                inner
                    .rate_limited
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                limit_headers(&emu, response.headers_mut(), 0);
            }
            return response;
        }
    };
    let write = request.method() != Method::GET
        && !search
        && !request.uri().path().ends_with("/batch/read");
    let mut response = next.run(request).await;
    if write && response.status().is_success() && emu.take_lost_answer() {
        response = ApiError::internal().into_response();
    }
    // An emulator without limits claims no quota (a client pacing from these headers would
    // otherwise hold itself to one that is not enforced).
    if !search && window.is_enabled() {
        limit_headers(&emu, response.headers_mut(), remaining);
    }
    response
}

fn limit_headers(emu: &HubSpotEmulator, headers: &mut HeaderMap, remaining: u32) {
    let inner = &emu.inner;
    let window = &inner.ten_second_window;
    set(headers, "x-hubspot-ratelimit-max", window.limit());
    set(headers, "x-hubspot-ratelimit-remaining", remaining);
    set(
        headers,
        "x-hubspot-ratelimit-interval-milliseconds",
        window.window().as_millis(),
    );
    set(headers, "x-hubspot-ratelimit-daily", DAILY_LIMIT);
    set(
        headers,
        "x-hubspot-ratelimit-daily-remaining",
        DAILY_LIMIT.saturating_sub(inner.request_count()),
    );
}
