//! The emulated REST endpoints (NOTES §2.2–§2.4, S9, S12; Postman `rest/`, `composite/`,
//! `auth/`), all under `/services/data/vXX.X/` for versions 64.0–68.0:
//!
//! * `GET /services/data/` — the versions list (S12 shape, unverified);
//! * `GET limits` — `{"DailyApiRequests": {"Max", "Remaining"}}`;
//! * `GET query?q=`, `GET queryAll?q=`, `GET query/<locator>-<offset>` — [`super::query`];
//! * `POST sobjects/{SObject}` → 201 `{id, success, errors}`; `GET|PATCH|DELETE
//!   sobjects/{SObject}/{id}` (`?fields=`) → record / 204 / 204;
//! * `GET|PATCH sobjects/{SObject}/{field}/{value}` — read / upsert by external id (S9): 201
//!   `{id, success, errors, created: true}` when created, 200 `{…, created: false}` when one
//!   record matched (S9, unverified), 300 with the matching records' URLs when several did
//!   (nothing changed), 404 `NOT_FOUND` for an unknown field (S9, unverified) or, with
//!   `?updateOnly=true`, no match;
//! * `composite/sobjects` — [`super::collections`];
//! * `POST /services/oauth2/token` — [`super::oauth`].

use super::collections;
use super::errors::ApiError;
use super::gate::Caller;
use super::org::Row;
use super::query::{run, MAX_BATCH};
use super::schema::ObjectDef;
use super::write::Writer;
use super::SalesforceEmulator;
use crate::error::ApiErrorItem;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Extension, Json, Router};
use serde_json::{json, Value};

pub(super) type ApiResult = Result<Response, ApiError>;
pub(super) type Params = Query<Vec<(String, String)>>;

/// The REST versions served, with their release names (S12).
pub const VERSIONS: [(&str, &str); 5] = [
    ("64.0", "Summer '25"),
    ("65.0", "Winter '26"),
    ("66.0", "Spring '26"),
    ("67.0", "Summer '26"),
    ("68.0", "Winter '27"),
];

/// The router: the token endpoint, then the REST API behind the gate.
pub fn router(emu: SalesforceEmulator) -> Router {
    let v = "/services/data/{version}";
    Router::new()
        .route("/services/data", get(versions))
        .route("/services/data/", get(versions))
        .route(&format!("{v}/limits"), get(limits))
        .route(&format!("{v}/query"), get(query))
        .route(&format!("{v}/query/"), get(query))
        .route(&format!("{v}/queryAll"), get(query_all))
        .route(&format!("{v}/queryAll/"), get(query_all))
        .route(&format!("{v}/query/{{locator}}"), get(query_more))
        .route(&format!("{v}/queryAll/{{locator}}"), get(query_more))
        .route(&format!("{v}/sobjects/{{sobject}}"), post(create))
        .route(
            &format!("{v}/sobjects/{{sobject}}/{{id}}"),
            get(read).patch(update).delete(delete),
        )
        .route(
            &format!("{v}/sobjects/{{sobject}}/{{field}}/{{value}}"),
            get(read_by_external_id).patch(upsert),
        )
        .route(
            &format!("{v}/composite/sobjects"),
            post(collections::create)
                .patch(collections::update)
                .delete(collections::delete),
        )
        .route(
            &format!("{v}/composite/sobjects/{{sobject}}"),
            get(collections::retrieve).patch(collections::update_typed),
        )
        .fallback(|| async {
            ApiError::not_found("The requested resource does not exist").into_response()
        })
        .layer(middleware::from_fn_with_state(
            emu.clone(),
            super::gate::gate,
        ))
        .route("/services/oauth2/token", post(super::oauth::token))
        .with_state(emu)
}

pub(super) fn version(v: &str) -> Result<&str, ApiError> {
    v.strip_prefix('v')
        .filter(|n| VERSIONS.iter().any(|(x, _)| x == n))
        .ok_or_else(|| ApiError::not_found("The requested resource does not exist"))
}

pub(super) fn def(emu: &SalesforceEmulator, name: &str) -> Result<&'static ObjectDef, ApiError> {
    emu.org()
        .resolve(name)
        .ok_or_else(|| ApiError::not_found("The requested resource does not exist"))
}

pub(super) fn body(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad("JSON_PARSER_ERROR", format!("Malformed JSON: {e}")))
}

pub(super) fn object(value: Value) -> Result<Row, ApiError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad("JSON_PARSER_ERROR", "expected a JSON object")),
    }
}

pub(super) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(super) fn list(params: &[(String, String)], name: &str) -> Vec<String> {
    param(params, name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub(super) fn writer(caller: &Caller) -> Writer {
    Writer {
        user: caller.user_id.clone(),
        auto_assign: caller.auto_assign,
        api: true,
    }
}

pub(super) fn saved(id: &str, created: Option<bool>) -> Value {
    let mut v = json!({ "id": id, "success": true, "errors": [] });
    if let Some(c) = created {
        v["created"] = json!(c);
    }
    v
}

pub(super) fn failed(items: Vec<ApiErrorItem>) -> Value {
    json!({ "id": null, "success": false, "errors": items })
}

async fn versions() -> Json<Value> {
    Json(Value::Array(
        VERSIONS
            .iter()
            .rev()
            .map(|(v, label)| json!({ "label": label, "url": format!("/services/data/v{v}"), "version": v }))
            .collect(),
    ))
}

async fn limits(State(emu): State<SalesforceEmulator>, Path(v): Path<String>) -> ApiResult {
    version(&v)?;
    let (used, max) = emu.api_usage();
    Ok(
        Json(json!({ "DailyApiRequests": { "Max": max, "Remaining": max.saturating_sub(used) } }))
            .into_response(),
    )
}

fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',').find_map(|p| {
                p.trim()
                    .strip_prefix("batchSize=")
                    .and_then(|n| n.trim().parse().ok())
            })
        })
        .unwrap_or(MAX_BATCH)
}

async fn run_query(
    emu: &SalesforceEmulator,
    v: &str,
    params: &[(String, String)],
    headers: &HeaderMap,
    caller: &Caller,
    all: bool,
) -> ApiResult {
    let v = version(v)?;
    let q = param(params, "q").ok_or_else(|| ApiError::malformed("missing q"))?;
    let org = emu.org();
    let mut locators = emu.locators();
    let answer = run(
        &org,
        &mut locators,
        &caller.user_id,
        q,
        all,
        batch_size(headers),
        v,
    )?;
    Ok(Json(answer).into_response())
}

async fn query(
    State(emu): State<SalesforceEmulator>,
    Path(v): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
    Extension(c): Extension<Caller>,
) -> ApiResult {
    run_query(&emu, &v, &p, &headers, &c, false).await
}

async fn query_all(
    State(emu): State<SalesforceEmulator>,
    Path(v): Path<String>,
    Query(p): Params,
    headers: HeaderMap,
    Extension(c): Extension<Caller>,
) -> ApiResult {
    run_query(&emu, &v, &p, &headers, &c, true).await
}

async fn query_more(
    State(emu): State<SalesforceEmulator>,
    Path((v, locator)): Path<(String, String)>,
    Extension(c): Extension<Caller>,
) -> ApiResult {
    let v = version(&v)?;
    let answer = emu.locators().more(&locator, &c.user_id, v)?;
    Ok(Json(answer).into_response())
}

async fn create(
    State(emu): State<SalesforceEmulator>,
    Path((v, sobject)): Path<(String, String)>,
    Extension(c): Extension<Caller>,
    bytes: Bytes,
) -> ApiResult {
    version(&v)?;
    let def = def(&emu, &sobject)?;
    let fields = object(body(&bytes)?)?;
    let mut org = emu.org();
    let now = emu.stamp_ms();
    let id = org.create(def, &fields, &writer(&c), now)?;
    Ok((StatusCode::CREATED, Json(saved(&id, None))).into_response())
}

async fn read(
    State(emu): State<SalesforceEmulator>,
    Path((v, sobject, id)): Path<(String, String, String)>,
    Query(p): Params,
) -> ApiResult {
    let v = version(&v)?;
    let def = def(&emu, &sobject)?;
    let org = emu.org();
    let wanted = list(&p, "fields");
    let fields = if wanted.is_empty() {
        None
    } else {
        let mut names = vec!["Id".to_string()];
        for f in &wanted {
            let (name, _) = org
                .field(def, f)
                .ok_or_else(|| ApiError::invalid_field(def.name, f))?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Some(names)
    };
    let row = org
        .live(def.name, &id)
        .ok_or_else(|| ApiError::not_found("The requested resource does not exist"))?;
    Ok(Json(org.render(def, row, fields.as_deref(), v)).into_response())
}

async fn update(
    State(emu): State<SalesforceEmulator>,
    Path((v, sobject, id)): Path<(String, String, String)>,
    Extension(c): Extension<Caller>,
    bytes: Bytes,
) -> ApiResult {
    version(&v)?;
    let def = def(&emu, &sobject)?;
    let fields = object(body(&bytes)?)?;
    let mut org = emu.org();
    let now = emu.stamp_ms();
    org.update(def, &id, &fields, &writer(&c), now)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete(
    State(emu): State<SalesforceEmulator>,
    Path((v, sobject, id)): Path<(String, String, String)>,
    Extension(c): Extension<Caller>,
) -> ApiResult {
    version(&v)?;
    let def = def(&emu, &sobject)?;
    let mut org = emu.org();
    let now = emu.stamp_ms();
    org.delete(def, &id, &writer(&c), now)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The live records of `def` whose external id `field` is `value`, and the field's API name.
fn matching(
    org: &super::org::Org,
    def: &ObjectDef,
    field: &str,
    value: &str,
) -> Result<(String, Vec<String>), ApiError> {
    let (name, _) = org.field(def, field).ok_or_else(|| {
        ApiError::not_found(format!(
            "Provided external ID field does not exist or is not accessible: {field}"
        ))
    })?;
    let ids = if name == "Id" {
        org.live(def.name, value)
            .map(|_| vec![value.to_string()])
            .unwrap_or_default()
    } else {
        org.find_by(def, &name, value)
    };
    Ok((name, ids))
}

fn several(def: &ObjectDef, ids: &[String], v: &str) -> Response {
    let urls: Vec<String> = ids
        .iter()
        .map(|id| format!("/services/data/v{v}/sobjects/{}/{id}", def.name))
        .collect();
    (StatusCode::MULTIPLE_CHOICES, Json(urls)).into_response()
}

async fn read_by_external_id(
    State(emu): State<SalesforceEmulator>,
    Path((v, sobject, field, value)): Path<(String, String, String, String)>,
) -> ApiResult {
    let v = version(&v)?;
    let def = def(&emu, &sobject)?;
    let (_, ids) = matching(&emu.org(), def, &field, &value)?;
    match ids.as_slice() {
        [] => Err(ApiError::not_found("The requested resource does not exist")),
        [id] => {
            let org = emu.org();
            let row = org
                .live(def.name, id)
                .ok_or_else(|| ApiError::not_found(id.clone()))?;
            Ok(Json(org.render(def, row, None, v)).into_response())
        }
        _ => Ok(several(def, &ids, v)),
    }
}

async fn upsert(
    State(emu): State<SalesforceEmulator>,
    Path((v, sobject, field, value)): Path<(String, String, String, String)>,
    Query(p): Params,
    Extension(c): Extension<Caller>,
    bytes: Bytes,
) -> ApiResult {
    let v = version(&v)?;
    let def = def(&emu, &sobject)?;
    let mut fields = object(body(&bytes)?)?;
    // One hold of the org from the lookup to the write: two upserts of one key never both
    // create.
    let mut org = emu.org();
    let (name, ids) = matching(&org, def, &field, &value)?;
    let w = writer(&c);
    match ids.as_slice() {
        [] if param(&p, "updateOnly") == Some("true") || name == "Id" => {
            Err(ApiError::not_found("The requested resource does not exist"))
        }
        [] => {
            fields.insert(name, Value::String(value));
            let now = emu.stamp_ms();
            let id = org.create(def, &fields, &w, now)?;
            Ok((StatusCode::CREATED, Json(saved(&id, Some(true)))).into_response())
        }
        [id] => {
            fields.remove(&name);
            let now = emu.stamp_ms();
            org.update(def, id, &fields, &w, now)?;
            Ok(Json(saved(id, Some(false))).into_response())
        }
        _ => Ok(several(def, &ids, v)),
    }
}
