//! The admin API on the loopback address (`admin_listen`): what `handoff status`, `audit` and
//! `dead-letters` read while the daemon runs (sled lets only one process open the database).
//!
//! `GET /admin/status`, `GET /admin/audit/{record}`, `GET /admin/dead-letters`,
//! `POST /admin/dead-letters/{id}/replay`, `GET /admin/report[?since=RFC3339]` (the
//! [`crate::report::Report`] of `handoff report`). JSON in and out.
//!
//! It has no authentication, so it is kept to the machine: the config refuses an `admin_listen`
//! that is not a loopback address, and [`local_only`] answers 403 to a request whose `Host` is
//! not a loopback name (a DNS-rebinding page) or that a browser sent (`Origin` or
//! `Sec-Fetch-Site`): a web page the operator has open cannot drive it. The CLI sends neither.

use crate::state::Store;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Clone)]
struct Admin {
    store: Store,
    wake: Arc<Notify>,
    executor_wake: Arc<Notify>,
}

/// The admin router.
pub fn router(store: Store, wake: Arc<Notify>, executor_wake: Arc<Notify>) -> Router {
    Router::new()
        .route("/admin/status", get(status))
        .route("/admin/audit/{record}", get(audit))
        .route("/admin/dead-letters", get(dead_letters))
        .route("/admin/dead-letters/{id}/replay", post(replay))
        .route("/admin/report", get(report))
        .with_state(Admin {
            store,
            wake,
            executor_wake,
        })
        .layer(middleware::from_fn(local_only))
}

/// 403 unless the request comes from a local program: its `Host` names a loopback address
/// (`127.0.0.1`, `[::1]`, `localhost`, any port) and no browser header (`Origin`,
/// `Sec-Fetch-Site`) is present.
pub async fn local_only(request: Request, next: Next) -> Response {
    match refusal(request.headers()) {
        Some(reason) => {
            tracing::warn!(reason, "admin request refused");
            fail(reason, StatusCode::FORBIDDEN)
        }
        None => next.run(request).await,
    }
}

/// Why the admin API refuses a request with `headers`, if it does.
fn refusal(headers: &HeaderMap) -> Option<&'static str> {
    if headers.contains_key(header::ORIGIN) || headers.contains_key("sec-fetch-site") {
        return Some("the admin API does not answer browsers");
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok())?;
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback).then_some("the admin API answers only requests for a loopback host")
}

fn fail(e: impl std::fmt::Display, code: StatusCode) -> Response {
    (code, Json(serde_json::json!({"error": e.to_string()}))).into_response()
}

async fn status(State(a): State<Admin>) -> Response {
    match a.store.status() {
        Ok(s) => Json(s).into_response(),
        Err(e) => fail(e, StatusCode::INTERNAL_SERVER_ERROR),
    }
}

async fn audit(State(a): State<Admin>, Path(record): Path<String>) -> Response {
    match crate::cli_support::audit_report(&a.store, &record) {
        Ok(r) => Json(r).into_response(),
        Err(e) => fail(e, StatusCode::INTERNAL_SERVER_ERROR),
    }
}

async fn dead_letters(State(a): State<Admin>) -> Response {
    match a.store.dead_letters() {
        Ok(d) => Json(d).into_response(),
        Err(e) => fail(e, StatusCode::INTERNAL_SERVER_ERROR),
    }
}

async fn replay(State(a): State<Admin>, Path(id): Path<u64>) -> Response {
    match a
        .store
        .replay_dead_letter(id, handoff_connector::now_ms())
        .await
    {
        Ok(letter) => {
            a.wake.notify_one();
            a.executor_wake.notify_one();
            Json(letter).into_response()
        }
        Err(crate::state::StateError::NoSuchDeadLetter(id)) => fail(
            format!("no dead letter with id {id}"),
            StatusCode::NOT_FOUND,
        ),
        Err(e) => fail(e, StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// `?since=` of `GET /admin/report`: an RFC 3339 time (`2026-03-02T00:00:00Z`).
#[derive(serde::Deserialize)]
struct ReportQuery {
    since: Option<String>,
}

/// The report over the audit entries since `since` (all when absent); 400 on a bad time.
async fn report(State(a): State<Admin>, Query(q): Query<ReportQuery>) -> Response {
    let since_ms = match q.since.as_deref().map(str::parse::<jiff::Timestamp>) {
        None => None,
        Some(Ok(t)) => Some(t.as_millisecond()),
        Some(Err(e)) => {
            return fail(
                format!("since: expected an RFC 3339 time such as 2026-03-02T00:00:00Z: {e}"),
                StatusCode::BAD_REQUEST,
            )
        }
    };
    let store = a.store.clone();
    let computed = tokio::task::spawn_blocking(move || {
        crate::report::from_store(&store, since_ms, handoff_connector::now_ms())
    })
    .await;
    match computed {
        Ok(Ok(r)) => Json(r).into_response(),
        Ok(Err(e)) => fail(e, StatusCode::INTERNAL_SERVER_ERROR),
        Err(e) => fail(e, StatusCode::INTERNAL_SERVER_ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_local_programs_are_answered() {
        for host in [
            "127.0.0.1:9465",
            "localhost:9465",
            "[::1]:9465",
            "127.0.0.1",
            "LOCALHOST",
        ] {
            assert_eq!(refusal(&headers(&[("host", host)])), None, "{host}");
        }
        for host in [
            "evil.example:9465",
            "10.0.0.5:9465",
            "[2001:db8::1]:9465",
            "localhost.evil.example",
        ] {
            assert!(refusal(&headers(&[("host", host)])).is_some(), "{host}");
        }
        let browser = headers(&[
            ("host", "127.0.0.1:9465"),
            ("origin", "https://evil.example"),
        ]);
        assert!(refusal(&browser).is_some());
        let fetch = headers(&[("host", "127.0.0.1:9465"), ("sec-fetch-site", "cross-site")]);
        assert!(refusal(&fetch).is_some());
    }
}
