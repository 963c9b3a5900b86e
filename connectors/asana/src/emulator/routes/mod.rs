//! The emulated Asana endpoints (paths and shapes from `asana_oas.yaml`; bodies in and out are
//! wrapped in `{"data": …}`), one module per resource family, plus the helpers they share.
//!
//! Messages the spec and docs show are used verbatim (`Not Authorized`, `<field>: Missing
//! input`, `Server Error`, the 429 text); the others (`Unknown object: <gid>`, `<field>: Not a
//! recognized ID: <gid>`, `No matching route for request`) follow Asana's observed style and
//! are not quoted in the spec.

pub(crate) mod projects;
pub(crate) mod tasks;
pub(crate) mod templates;

use super::guard::ApiError;
use super::paging::{page, select, without, Params};
use super::store::Store;
use super::AsanaEmulator;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Map, Value};

pub(crate) type Answer = Result<Json<Value>, ApiError>;
pub(crate) type Created = Result<(StatusCode, Json<Value>), ApiError>;

/// Compact keys of list endpoints per resource.
pub(crate) const NAMED: &[&str] = &["gid", "resource_type", "name"];
pub(crate) const TASK_COMPACT: &[&str] = &["gid", "resource_type", "name", "resource_subtype"];
/// Opt-in fields left out of a default `GET /projects/{gid}`.
pub(crate) const PROJECT_OPT_IN: &[&str] = &["created_from_template"];
/// Instantiation jobs one token may have in progress (NOTES §4.2).
pub(crate) const MAX_RUNNING_JOBS: usize = 5;

pub(crate) fn host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string()
}

/// One object: the full record (minus `opt_in`), or `gid` + `opt_fields`.
pub(crate) fn one(full: Value, params: &Params, opt_in: &[&str]) -> Json<Value> {
    let data = match params.opt_fields() {
        Some(fields) => select(&full, Some(&fields), &[]),
        None => without(&full, opt_in),
    };
    Json(json!({ "data": data }))
}

/// A list page of records rendered compact (or as `opt_fields` asks).
pub(crate) fn list(
    full: Vec<Value>,
    params: &Params,
    compact: &[&str],
    route: &str,
    h: &HeaderMap,
) -> Answer {
    let fields = params.opt_fields();
    let items = full
        .iter()
        .map(|v| select(v, fields.as_deref(), compact))
        .collect();
    page(items, params, route, &host(h)).map(Json)
}

/// The `data` object of a JSON request body.
pub(crate) fn body_data(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("Could not parse request data, invalid JSON"))?;
    match value.get("data") {
        Some(Value::Object(data)) => Ok(data.clone()),
        _ => Err(ApiError::bad_request("data: Missing input")),
    }
}

pub(crate) fn opt_string(data: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match data.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!("{key}: Invalid value"))),
    }
}

pub(crate) fn check_team(store: &Store, team: &str) -> Result<(), ApiError> {
    if team == store.team_gid {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "team: Not a recognized ID: {team}"
        )))
    }
}

/// `GET /workspaces`.
pub(crate) async fn workspaces(
    State(emu): State<AsanaEmulator>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let params = Params::parse(q.as_deref());
    let store = emu.store();
    let all = vec![store.workspace_compact()];
    list(all, &params, NAMED, "/workspaces", &headers)
}

/// `GET /users/me` (`UserResponse`).
pub(crate) async fn me(State(emu): State<AsanaEmulator>) -> Answer {
    Ok(Json(json!({ "data": emu.store().me() })))
}

/// Any other path.
pub(crate) async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "No matching route for request")
}
