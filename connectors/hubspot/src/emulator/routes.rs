//! The emulated HubSpot endpoints (paths as in HubSpot's CRM v3 / associations v4 / owners /
//! pipelines specs, `vendor-specs/README.md`):
//!
//! * `GET|POST /crm/v3/objects/{type}` — list (paged with `after`, `limit` ≤ 100) / create;
//! * `GET|PATCH|DELETE /crm/v3/objects/{type}/{id}` — read (`properties`,
//!   `propertiesWithHistory`, `associations`, `idProperty` query) / update / archive;
//! * `POST /crm/v3/objects/{type}/batch/{read,create,update,upsert,archive}` — in
//!   [`super::batch`];
//! * `POST /crm/v3/objects/{type}/search` — see [`super::filter`]; `limit` ≤ 200, `after`
//!   offsets, an `after` of 10,000 or more → 400;
//! * `PUT /crm/v4/objects/{from}/{fromId}/associations/default/{to}/{toId}`,
//!   `GET /crm/v4/objects/{from}/{fromId}/associations/{to}`;
//! * `GET /crm/v3/owners`, `GET /crm/v3/owners/{ownerId}`;
//! * `GET /crm/v3/pipelines/{deals|tickets}[/{pipelineId}]`.
//!
//! `{type}` is `contacts`, `companies`, `deals`, `tickets` or the ids `0-1`, `0-2`, `0-3`,
//! `0-5`; or an engagement type `calls`, `emails`, `meetings` (`0-48`, `0-49`, `0-47`), whose
//! creation moves the associated contacts' "Last contacted" ([`super::engagements`]); or
//! `users` (`0-115`), the account's HubSpot users ([`super::users`]); or `notes` (`0-46`),
//! created with their associations (e.g. to a ticket, type 228) and checked as HubSpot checks
//! them ([`super::notes`]).
//!
//! API writes are recorded in property history as the private app's (`sourceType:
//! INTEGRATION`, `sourceId` = the app id; [`super::history`]).

use super::errors::ApiError;
use super::store::{association_type_id, Portal, Selection};
use super::{filter, pipelines, HubSpotEmulator};
use crate::objects::ObjectType;
use crate::search::{SearchRequest, MAX_LIMIT, MAX_RESULTS_PER_QUERY};
use crate::time::format_ms;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{middleware, Json, Router};
use handoff_connector::now_ms;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The largest `limit` of a list call.
const MAX_LIST_LIMIT: usize = 100;

pub(super) type ApiResult = Result<Response, ApiError>;
type Params = Query<Vec<(String, String)>>;

/// The emulator's router, with the gate (faults, auth, limits) in front of every route.
pub(crate) fn router(emu: HubSpotEmulator) -> Router {
    Router::new()
        .route(
            "/crm/v3/objects/{object_type}",
            get(list_objects).post(create_object),
        )
        .route("/crm/v3/objects/{object_type}/search", post(search))
        .route(
            "/crm/v3/objects/{object_type}/batch/{action}",
            post(super::batch::batch),
        )
        .route(
            "/crm/v3/objects/{object_type}/{id}",
            get(read_object).patch(update_object).delete(archive_object),
        )
        .route(
            "/crm/v4/objects/{from}/{from_id}/associations/default/{to}/{to_id}",
            put(associate_default),
        )
        .route(
            "/crm/v4/objects/{from}/{from_id}/associations/{to}",
            get(list_associations),
        )
        .route("/crm/v3/owners", get(list_owners))
        .route("/crm/v3/owners/", get(list_owners))
        .route("/crm/v3/owners/{owner_id}", get(read_owner))
        .route("/crm/v3/pipelines/{object_type}", get(list_pipelines))
        .route(
            "/crm/v3/pipelines/{object_type}/{pipeline_id}",
            get(read_pipeline),
        )
        .fallback(|| async { ApiError::not_found("Resource not found").into_response() })
        .layer(middleware::from_fn_with_state(
            emu.clone(),
            super::gate::gate,
        ))
        .with_state(emu)
}

// ---- query and body helpers -------------------------------------------------------------

/// Every value of a (possibly repeated, comma-separated) query parameter.
fn list_param(params: &[(String, String)], name: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn one_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(super) fn kind(object_type: &str) -> Result<ObjectType, ApiError> {
    object_type
        .parse()
        .map_err(|e: crate::objects::UnknownObjectType| ApiError::validation(e.to_string()))
}

pub(super) fn body<T>(json: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    json.map(|Json(v)| v).map_err(ApiError::bad_json)
}

fn association_kinds(params: &[(String, String)]) -> Vec<ObjectType> {
    list_param(params, "associations")
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

pub(super) fn selection(props: &[String]) -> Selection<'_> {
    if props.is_empty() {
        Selection::Default
    } else {
        Selection::Named(props)
    }
}

/// Finds a record by id, or by `id_property` when given.
pub(super) fn locate(
    portal: &Portal,
    kind: ObjectType,
    id: &str,
    id_property: Option<&str>,
) -> Option<u64> {
    match id_property {
        Some(p) if p != "hs_object_id" => portal.find_by(kind, p, id),
        _ => portal.find_by(kind, "hs_object_id", id),
    }
}

pub(super) fn batch_envelope(started: i64, results: Vec<Value>, errors: Vec<Value>) -> Value {
    let mut out = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": format_ms(started),
        "completedAt": format_ms(now_ms()),
    });
    if !errors.is_empty() {
        out["numErrors"] = json!(errors.len());
        out["errors"] = json!(errors);
    }
    out
}

pub(super) fn not_found_error(kind: ObjectType, ids: Vec<String>) -> Value {
    json!({
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": format!(
            "Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.",
            kind.singular().to_uppercase()
        ),
        "context": {"ids": ids},
    })
}

pub(super) fn to_value<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

// ---- objects ----------------------------------------------------------------------------

async fn list_objects(
    State(emu): State<HubSpotEmulator>,
    Path(object_type): Path<String>,
    Query(params): Params,
) -> ApiResult {
    let kind = kind(&object_type)?;
    let limit = one_param(&params, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, MAX_LIST_LIMIT);
    let after: u64 = match one_param(&params, "after") {
        Some(a) => a
            .parse()
            .map_err(|_| ApiError::validation(format!("Invalid after token: {a}")))?,
        None => 0,
    };
    let archived = one_param(&params, "archived") == Some("true");
    let props = list_param(&params, "properties");
    let with_history = list_param(&params, "propertiesWithHistory");
    let assoc = association_kinds(&params);
    let portal = emu.portal();
    let mut results = Vec::new();
    let mut next = None;
    if !archived {
        if let Some(table) = portal.table(kind) {
            let mut iter = table.range(after..);
            for (_, obj) in iter.by_ref().take(limit) {
                let mut api = portal.render(kind, obj, &selection(&props), &assoc);
                api.properties_with_history = Portal::history(obj, &with_history);
                results.push(to_value(api));
            }
            next = iter.next().map(|(id, _)| *id);
        }
    }
    let mut out = json!({ "results": results });
    if let Some(n) = next {
        out["paging"] = json!({"next": {"after": n.to_string(), "link": format!("?after={n}")}});
    }
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
pub(super) struct CreateInput {
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default)]
    associations: Vec<AssociationInput>,
}

#[derive(Deserialize)]
struct AssociationInput {
    to: IdRef,
    #[serde(default)]
    types: Vec<AssociationSpec>,
}

#[derive(Deserialize)]
struct IdRef {
    #[serde(deserialize_with = "id_string")]
    id: String,
}

/// Spec `AssociationSpec`: both fields required; the category is `HUBSPOT_DEFINED`,
/// `USER_DEFINED` or `INTEGRATOR_DEFINED` (the emulator knows only HubSpot-defined types).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssociationSpec {
    association_category: String,
    association_type_id: u32,
}

pub(super) fn id_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    crate::search::stringish(&v).ok_or_else(|| serde::de::Error::custom("id must be a string"))
}

/// Creates one record with its inline associations; returns its id.
pub(super) fn create_one(
    emu: &HubSpotEmulator,
    kind: ObjectType,
    input: &CreateInput,
) -> Result<u64, ApiError> {
    if kind == ObjectType::Notes {
        super::notes::check(&input.properties)?;
    }
    // Resolve association targets first so a bad input creates nothing.
    let mut links = Vec::new();
    for a in &input.associations {
        for spec in &a.types {
            if spec.association_category != "HUBSPOT_DEFINED" {
                return Err(ApiError::validation(format!(
                    "associationCategory {} with associationTypeId {} is not defined in this portal",
                    spec.association_category, spec.association_type_id
                )));
            }
            let to = ObjectType::EVERY
                .into_iter()
                .find(|t| association_type_id(kind, *t) == Some(spec.association_type_id))
                .ok_or_else(|| {
                    ApiError::validation(format!(
                        "associationTypeId {} is not valid from {kind}",
                        spec.association_type_id
                    ))
                })?;
            let to_id: u64 =
                a.to.id
                    .parse()
                    .map_err(|_| ApiError::object_not_found(&a.to.id))?;
            links.push((to, to_id));
        }
    }
    let now = emu.now_ms();
    let mut portal = emu.portal();
    for (to, to_id) in &links {
        if portal.object(*to, *to_id).is_none() {
            return Err(ApiError::object_not_found(&to_id.to_string()));
        }
    }
    let (id, mut events) = portal.create(kind, &input.properties, now, &emu.api_source());
    for (to, to_id) in links {
        portal
            .associate(kind, id, to, to_id)
            .map_err(|e| ApiError::validation(e.to_string()))?;
    }
    events.extend(super::engagements::on_created(&mut portal, kind, id, now));
    drop(portal);
    emu.emit(events);
    Ok(id)
}

pub(super) fn render_by_id(emu: &HubSpotEmulator, kind: ObjectType, id: u64) -> Value {
    let portal = emu.portal();
    portal
        .object(kind, id)
        .map(|o| to_value(portal.render(kind, o, &Selection::All, &[])))
        .unwrap_or(Value::Null)
}

async fn create_object(
    State(emu): State<HubSpotEmulator>,
    Path(object_type): Path<String>,
    json: Result<Json<CreateInput>, JsonRejection>,
) -> ApiResult {
    let kind = kind(&object_type)?;
    let input = body(json)?;
    let id = create_one(&emu, kind, &input)?;
    Ok((StatusCode::CREATED, Json(render_by_id(&emu, kind, id))).into_response())
}

async fn read_object(
    State(emu): State<HubSpotEmulator>,
    Path((object_type, id)): Path<(String, String)>,
    Query(params): Params,
) -> ApiResult {
    let kind = kind(&object_type)?;
    let props = list_param(&params, "properties");
    let with_history = list_param(&params, "propertiesWithHistory");
    let assoc = association_kinds(&params);
    let portal = emu.portal();
    let found = locate(&portal, kind, &id, one_param(&params, "idProperty"))
        .and_then(|n| portal.object(kind, n))
        .ok_or_else(|| ApiError::object_not_found(&id))?;
    let mut obj = portal.render(kind, found, &selection(&props), &assoc);
    obj.properties_with_history = Portal::history(found, &with_history);
    Ok(Json(to_value(obj)).into_response())
}

#[derive(Deserialize)]
struct UpdateBody {
    #[serde(default)]
    properties: Map<String, Value>,
}

async fn update_object(
    State(emu): State<HubSpotEmulator>,
    Path((object_type, id)): Path<(String, String)>,
    Query(params): Params,
    json: Result<Json<UpdateBody>, JsonRejection>,
) -> ApiResult {
    let kind = kind(&object_type)?;
    let input = body(json)?;
    let mut portal = emu.portal();
    let n = locate(&portal, kind, &id, one_param(&params, "idProperty"))
        .ok_or_else(|| ApiError::object_not_found(&id))?;
    let events = portal
        .update(kind, n, &input.properties, emu.now_ms(), &emu.api_source())
        .map_err(|_| ApiError::object_not_found(&id))?;
    drop(portal);
    emu.emit(events);
    Ok(Json(render_by_id(&emu, kind, n)).into_response())
}

async fn archive_object(
    State(emu): State<HubSpotEmulator>,
    Path((object_type, id)): Path<(String, String)>,
) -> ApiResult {
    let kind = kind(&object_type)?;
    let mut portal = emu.portal();
    // Archiving a record that is not there succeeds, as in HubSpot.
    let events = match id.parse::<u64>() {
        Ok(n) => portal
            .archive(kind, n, emu.now_ms(), &emu.api_source())
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    drop(portal);
    emu.emit(events);
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- search -----------------------------------------------------------------------------

async fn search(
    State(emu): State<HubSpotEmulator>,
    Path(object_type): Path<String>,
    json: Result<Json<SearchRequest>, JsonRejection>,
) -> ApiResult {
    let kind = kind(&object_type)?;
    let req = body(json)?;
    filter::validate(&req).map_err(ApiError::validation)?;
    let limit = req.limit.unwrap_or(10);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::validation(format!(
            "limit must be between 1 and {MAX_LIMIT}; got {limit}."
        )));
    }
    let offset: u64 = match req.after.as_deref() {
        Some(a) => a
            .parse()
            .map_err(|_| ApiError::validation(format!("Invalid after token: {a}")))?,
        None => 0,
    };
    if offset >= MAX_RESULTS_PER_QUERY {
        return Err(ApiError::validation(format!(
            "Search can page through at most {MAX_RESULTS_PER_QUERY} results per query; after={offset} is past that. Narrow the query's filters instead."
        )));
    }
    let portal = emu.portal();
    let mut hits: Vec<_> = portal
        .table(kind)
        .map(|t| {
            t.values()
                .filter(|o| filter::matches(o, &req, kind.default_properties()))
                .collect()
        })
        .unwrap_or_default();
    filter::sort(&mut hits, &req.sorts);
    let total = hits.len() as u64;
    let start = offset.min(total) as usize;
    let end = (offset + u64::from(limit)).min(total) as usize;
    let results: Vec<Value> = hits[start..end]
        .iter()
        .map(|o| to_value(portal.render(kind, o, &selection(&req.properties), &[])))
        .collect();
    let mut out = json!({ "total": total, "results": results });
    if (end as u64) < total {
        out["paging"] =
            json!({"next": {"after": end.to_string(), "link": format!("?after={end}")}});
    }
    Ok(Json(out).into_response())
}

// ---- associations v4 --------------------------------------------------------------------

async fn associate_default(
    State(emu): State<HubSpotEmulator>,
    Path((from, from_id, to, to_id)): Path<(String, String, String, String)>,
) -> ApiResult {
    let (from, to) = (kind(&from)?, kind(&to)?);
    let parse = |id: &str| {
        id.parse::<u64>()
            .map_err(|_| ApiError::object_not_found(id))
    };
    let (a, b) = (parse(&from_id)?, parse(&to_id)?);
    let started = now_ms();
    let type_id = emu
        .portal()
        .associate(from, a, to, b)
        .map_err(|e| match e {
            super::store::EmulatorError::NotFound { id, .. } => ApiError::object_not_found(&id),
            other => ApiError::validation(other.to_string()),
        })?;
    let back = association_type_id(to, from).unwrap_or(type_id);
    let spec = |from_id: u64, to_id: u64, type_id: u32| {
        json!({
            "from": {"id": from_id.to_string()},
            "to": {"id": to_id.to_string()},
            "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
        })
    };
    let results = vec![spec(a, b, type_id), spec(b, a, back)];
    Ok(Json(batch_envelope(started, results, vec![])).into_response())
}

async fn list_associations(
    State(emu): State<HubSpotEmulator>,
    Path((from, from_id, to)): Path<(String, String, String)>,
) -> ApiResult {
    let (from, to) = (kind(&from)?, kind(&to)?);
    let id: u64 = from_id
        .parse()
        .map_err(|_| ApiError::object_not_found(&from_id))?;
    let portal = emu.portal();
    if portal.object(from, id).is_none() {
        return Err(ApiError::object_not_found(&from_id));
    }
    let type_id = association_type_id(from, to);
    let results: Vec<Value> = portal
        .associated(from, id, to)
        .into_iter()
        .map(|other| {
            json!({
                "toObjectId": other,
                "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": null}],
            })
        })
        .collect();
    Ok(Json(json!({ "results": results })).into_response())
}

// ---- owners and pipelines ---------------------------------------------------------------

async fn list_owners(State(emu): State<HubSpotEmulator>, Query(params): Params) -> ApiResult {
    let limit = one_param(&params, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 500);
    let after: u64 = one_param(&params, "after")
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let email = one_param(&params, "email");
    let archived = one_param(&params, "archived") == Some("true");
    let portal = emu.portal();
    let mut matching = portal
        .owners()
        .range(after..)
        .filter(|(_, o)| !archived && email.is_none_or(|e| o.email.eq_ignore_ascii_case(e)));
    let results: Vec<Value> = matching
        .by_ref()
        .take(limit)
        .map(|(_, o)| o.to_json())
        .collect();
    let mut out = json!({ "results": results });
    if let Some((next, _)) = matching.next() {
        out["paging"] =
            json!({"next": {"after": next.to_string(), "link": format!("?after={next}")}});
    }
    Ok(Json(out).into_response())
}

async fn read_owner(State(emu): State<HubSpotEmulator>, Path(owner_id): Path<String>) -> ApiResult {
    let portal = emu.portal();
    owner_id
        .parse::<u64>()
        .ok()
        .and_then(|id| portal.owners().get(&id))
        .map(|o| Json(o.to_json()).into_response())
        .ok_or_else(|| ApiError::not_found(format!("Owner {owner_id} not found")))
}

fn pipelines_for(object_type: &str) -> Result<Vec<Value>, ApiError> {
    match kind(object_type)? {
        ObjectType::Deals => Ok(vec![pipelines::sales()]),
        ObjectType::Tickets => Ok(vec![pipelines::support()]),
        other => Err(ApiError::validation(format!("{other} have no pipelines"))),
    }
}

async fn list_pipelines(Path(object_type): Path<String>) -> ApiResult {
    Ok(Json(json!({ "results": pipelines_for(&object_type)? })).into_response())
}

async fn read_pipeline(Path((object_type, pipeline_id)): Path<(String, String)>) -> ApiResult {
    pipelines_for(&object_type)?
        .into_iter()
        .find(|p| p["id"] == pipeline_id.as_str())
        .map(|p| Json(p).into_response())
        .ok_or_else(|| ApiError::not_found(format!("Pipeline {pipeline_id} not found")))
}
