//! The admin API on the loopback address (`admin_listen`): what `handoff status`, `audit` and
//! `dead-letters` read while the daemon runs (sled lets only one process open the database).
//!
//! `GET /admin/status`, `POST /admin/reload`, `POST /admin/replay` (a window of the change
//! feeds), `GET /admin/audit/{record}`, `GET /admin/dead-letters`,
//! `POST /admin/dead-letters/{id}/replay`, `GET /admin/report[?since=RFC3339]` (the
//! [`crate::report::Report`] of `handoff report`). JSON in and out.
//!
//! It has no authentication, so it is kept to the machine: the config refuses an `admin_listen`
//! that is not a loopback address, and [`local_only`] answers 403 to a request whose `Host` is
//! not a loopback name (a DNS-rebinding page) or that a browser sent (`Origin` or
//! `Sec-Fetch-Site`): a web page the operator has open cannot drive it. The CLI sends neither.

use super::reload::LiveFlows;
use super::window_replay::{ReplayError, ReplayRequest, Replayer};
use crate::state::Store;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;
use tokio::sync::Notify;

/// What the admin API serves from.
#[derive(Clone)]
pub struct Admin {
    pub store: Store,
    /// Notified after a replay (the worker has changes).
    pub wake: Arc<Notify>,
    /// Notified after a dead-letter replay (the executor may have sagas).
    pub executor_wake: Arc<Notify>,
    /// The daemon's flows: with them, the status carries the live config version and
    /// `POST /admin/reload` reloads; without, reload answers 503.
    pub live: Option<Arc<LiveFlows>>,
    /// Window replay (`POST /admin/replay`); without it, 503.
    pub replayer: Option<Arc<Replayer>>,
}

/// The admin router.
pub fn router(admin: Admin) -> Router {
    Router::new()
        .route("/admin/status", get(status))
        .route("/admin/reload", post(reload))
        .route("/admin/replay", post(window_replay))
        .route("/admin/audit/{record}", get(audit))
        .route("/admin/dead-letters", get(dead_letters))
        .route("/admin/dead-letters/{id}/replay", post(replay))
        .route("/admin/report", get(report))
        .with_state(admin)
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
        Ok(mut s) => {
            s.config = a.live.as_ref().map(|l| l.version());
            Json(s).into_response()
        }
        Err(e) => fail(e, StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// `POST /admin/reload`: 200 with the new [`crate::config::version::ConfigVersion`], or 422
/// with the error (the running configuration stays).
async fn reload(State(a): State<Admin>) -> Response {
    let Some(live) = a.live.clone() else {
        return fail(
            "this server has no configuration to reload",
            StatusCode::SERVICE_UNAVAILABLE,
        );
    };
    let now = handoff_connector::now_ms();
    match tokio::task::spawn_blocking(move || live.reload(now)).await {
        Ok(Ok(v)) => {
            a.wake.notify_one();
            Json(v).into_response()
        }
        Ok(Err(e)) => fail(e, StatusCode::UNPROCESSABLE_ENTITY),
        Err(e) => fail(e, StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// `POST /admin/replay` with a [`ReplayRequest`]: 200 with the
/// [`super::window_replay::ReplayReport`]; 400 for a bad window or object.
async fn window_replay(State(a): State<Admin>, Json(req): Json<ReplayRequest>) -> Response {
    let Some(replayer) = a.replayer.clone() else {
        return fail(
            "this server cannot replay a window",
            StatusCode::SERVICE_UNAVAILABLE,
        );
    };
    match replayer.replay(&req).await {
        Ok(report) => {
            a.wake.notify_one();
            Json(report).into_response()
        }
        Err(e @ (ReplayError::EmptyWindow { .. } | ReplayError::UnknownObject(_))) => {
            fail(e, StatusCode::BAD_REQUEST)
        }
        Err(e) => fail(e, StatusCode::BAD_GATEWAY),
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
