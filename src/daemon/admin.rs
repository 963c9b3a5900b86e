//! The admin API on the loopback address (`admin_listen`): what `handoff status`, `audit` and
//! `dead-letters` read while the daemon runs (sled lets only one process open the database).
//!
//! `GET /admin/status`, `GET /admin/audit/{record}`, `GET /admin/dead-letters`,
//! `POST /admin/dead-letters/{id}/replay`. JSON in and out.

use crate::state::Store;
use axum::extract::{Path, State};
use axum::http::StatusCode;
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
        .with_state(Admin {
            store,
            wake,
            executor_wake,
        })
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
