//! The HTTP face of the emulator: `GET|POST /api/<method>`, in the order Slack applies checks.
//!
//! 1. injected [`Fault`]s (429 with `Retry-After`, or 500);
//! 2. unknown method → HTTP 404 `{"ok":false,"error":"unknown_method"}`;
//! 3. arguments (query + form or JSON body, see [`Params`]);
//! 4. token: `Authorization: Bearer <token>` (or a `token` argument in a form body/query) —
//!    none → `not_authed`, wrong → `invalid_auth` (HTTP 200, as Slack);
//! 5. rate limits ([`super::rate`]) → 429 `ratelimited`;
//! 6. the method ([`super::methods`]): HTTP 200 with `ok: true`, or `ok: false` + `error`.

use super::methods;
use super::params::{ApiFail, Params};
use super::SlackEmulator;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use handoff_connector::emulator::Fault;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

/// Methods the emulator serves.
pub const METHODS: [&str; 6] = [
    "auth.test",
    "users.lookupByEmail",
    "conversations.open",
    "chat.postMessage",
    "chat.update",
    "conversations.history",
];

pub(crate) fn router(emulator: SlackEmulator) -> Router {
    Router::new()
        .route("/api/{method}", get(dispatch).post(dispatch))
        .with_state(emulator)
}

fn ok_false(fail: ApiFail) -> Value {
    let mut body = json!({"ok": false, "error": fail.code});
    if let Some(detail) = fail.detail {
        body["response_metadata"] = json!({"messages": [detail]});
    }
    body
}

fn rate_limited(retry_after_secs: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, retry_after_secs.to_string())],
        Json(json!({"ok": false, "error": "ratelimited"})),
    )
        .into_response()
}

async fn dispatch(
    State(emu): State<SlackEmulator>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    match emu.inner.faults.take() {
        Some(Fault::RateLimited { retry_after_secs }) => return rate_limited(retry_after_secs),
        Some(Fault::ServerError) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"ok": false, "error": "internal_error"})),
            )
                .into_response()
        }
        None => {}
    }
    if !METHODS.contains(&method.as_str()) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"ok": false, "error": "unknown_method"})),
        )
            .into_response();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let params = match Params::parse(query.as_deref(), content_type, &body) {
        Ok(p) => p,
        Err(fail) => return Json(ok_false(fail)).into_response(),
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let Some(token) = bearer.or_else(|| params.str("token")) else {
        return Json(ok_false("not_authed".into())).into_response();
    };
    if token != emu.inner.config.bot_token.expose_secret() {
        return Json(ok_false("invalid_auth".into())).into_response();
    }
    let channel = params.str("channel");
    if let Err(retry_after) = emu.inner.rate.check(&method, &token, channel.as_deref()) {
        return rate_limited(retry_after);
    }
    let answer = {
        let mut ws = emu.workspace();
        match method.as_str() {
            "auth.test" => methods::auth_test(&ws),
            "users.lookupByEmail" => methods::users_lookup_by_email(&ws, &params),
            "conversations.open" => methods::conversations_open(&mut ws, &params),
            "chat.postMessage" => methods::chat_post_message(&mut ws, &params),
            "chat.update" => methods::chat_update(&mut ws, &params),
            "conversations.history" => methods::conversations_history(&ws, &params),
            _ => Err(ApiFail::code("unknown_method")),
        }
    };
    match answer {
        Ok(body) => Json(body).into_response(),
        Err(fail) => Json(ok_false(fail)).into_response(),
    }
}
