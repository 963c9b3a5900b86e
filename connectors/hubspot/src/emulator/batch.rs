//! `POST /crm/v3/objects/{type}/batch/{read,create,update,upsert,archive}`: ≤ 100 inputs per
//! call (`read` honours `propertiesWithHistory`), answers in `BatchResponseSimplePublicObject` shape (`207` with `errors`/`numErrors`
//! when some ids are missing). Upsert matches on a unique-value `idProperty`
//! (`handoff_idempotency_key`, `email` on contacts, or `hs_object_id`): it updates the match or
//! creates a record carrying the key, and marks each result `new: true|false`.

use super::errors::ApiError;
use super::routes::{
    batch_envelope, body, create_one, id_string, kind, locate, not_found_error, render_by_id,
    selection, to_value, ApiResult, CreateInput,
};
use super::store::Portal;
use super::HubSpotEmulator;
use crate::client::IDEMPOTENCY_PROPERTY;
use crate::objects::ObjectType;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use handoff_connector::now_ms;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The most inputs a batch call accepts.
const MAX_BATCH_INPUTS: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BatchBody {
    #[serde(default)]
    inputs: Vec<Value>,
    #[serde(default)]
    properties: Vec<String>,
    /// Read: properties to return with their history (`BatchReadInputSimplePublicObjectId`).
    #[serde(default)]
    properties_with_history: Vec<String>,
    #[serde(default)]
    id_property: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdInput {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(default)]
    id_property: Option<String>,
    #[serde(default)]
    properties: Map<String, Value>,
}

fn parse_inputs<T: serde::de::DeserializeOwned>(inputs: Vec<Value>) -> Result<Vec<T>, ApiError> {
    inputs
        .into_iter()
        .map(|v| serde_json::from_value(v).map_err(ApiError::bad_json))
        .collect()
}

pub(super) async fn batch(
    State(emu): State<HubSpotEmulator>,
    Path((object_type, action)): Path<(String, String)>,
    json: Result<Json<BatchBody>, JsonRejection>,
) -> ApiResult {
    let kind = kind(&object_type)?;
    let input = body(json)?;
    if input.inputs.len() > MAX_BATCH_INPUTS {
        return Err(ApiError::validation(format!(
            "Too many inputs ({}); a batch accepts at most {MAX_BATCH_INPUTS}.",
            input.inputs.len()
        )));
    }
    let started = now_ms();
    match action.as_str() {
        "read" => batch_read(&emu, kind, input, started),
        "create" => {
            let inputs: Vec<CreateInput> = parse_inputs(input.inputs)?;
            let mut results = Vec::with_capacity(inputs.len());
            for i in &inputs {
                let id = create_one(&emu, kind, i)?;
                results.push(render_by_id(&emu, kind, id));
            }
            let out = batch_envelope(started, results, vec![]);
            Ok((StatusCode::CREATED, Json(out)).into_response())
        }
        "update" => {
            let inputs: Vec<IdInput> = parse_inputs(input.inputs)?;
            let mut results = Vec::new();
            let mut missing = Vec::new();
            for i in inputs {
                let mut portal = emu.portal();
                let prop = i.id_property.as_deref().or(input.id_property.as_deref());
                let Some(n) = locate(&portal, kind, &i.id, prop) else {
                    missing.push(i.id);
                    continue;
                };
                let events = portal
                    .update(kind, n, &i.properties, emu.now_ms(), &emu.api_source())
                    .unwrap_or_default();
                drop(portal);
                emu.emit(events);
                results.push(render_by_id(&emu, kind, n));
            }
            batch_answer(kind, started, results, missing)
        }
        "upsert" => batch_upsert(&emu, kind, parse_inputs(input.inputs)?, started),
        "archive" => {
            let inputs: Vec<IdInput> = parse_inputs(input.inputs)?;
            for i in inputs {
                if let Ok(n) = i.id.parse::<u64>() {
                    let events = emu
                        .portal()
                        .archive(kind, n, emu.now_ms(), &emu.api_source())
                        .unwrap_or_default();
                    emu.emit(events);
                }
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        other => Err(ApiError::not_found(format!("Unknown batch action {other}"))),
    }
}

fn batch_answer(
    kind: ObjectType,
    started: i64,
    results: Vec<Value>,
    missing: Vec<String>,
) -> ApiResult {
    if missing.is_empty() {
        Ok(Json(batch_envelope(started, results, vec![])).into_response())
    } else {
        let errors = vec![not_found_error(kind, missing)];
        Ok((
            StatusCode::MULTI_STATUS,
            Json(batch_envelope(started, results, errors)),
        )
            .into_response())
    }
}

fn batch_read(
    emu: &HubSpotEmulator,
    kind: ObjectType,
    input: BatchBody,
    started: i64,
) -> ApiResult {
    let inputs: Vec<IdInput> = parse_inputs(input.inputs)?;
    let portal = emu.portal();
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for i in inputs {
        match locate(&portal, kind, &i.id, input.id_property.as_deref())
            .and_then(|n| portal.object(kind, n))
        {
            Some(o) => {
                let mut api = portal.render(kind, o, &selection(&input.properties), &[]);
                api.properties_with_history = Portal::history(o, &input.properties_with_history);
                results.push(to_value(api));
            }
            None => missing.push(i.id),
        }
    }
    drop(portal);
    batch_answer(kind, started, results, missing)
}

/// Properties an upsert may match on (HubSpot requires a unique-value property).
fn unique_property(kind: ObjectType, name: &str) -> bool {
    name == IDEMPOTENCY_PROPERTY
        || name == "hs_object_id"
        || (kind == ObjectType::Contacts && name == "email")
}

fn batch_upsert(
    emu: &HubSpotEmulator,
    kind: ObjectType,
    inputs: Vec<IdInput>,
    started: i64,
) -> ApiResult {
    let mut results = Vec::with_capacity(inputs.len());
    for i in inputs {
        let prop = i
            .id_property
            .clone()
            .unwrap_or_else(|| "hs_object_id".into());
        if !unique_property(kind, &prop) {
            return Err(ApiError::validation(format!(
                "Property {prop} is not a unique-value property of {kind} and cannot be used as idProperty."
            )));
        }
        let mut portal = emu.portal();
        let (id, events, new) = match portal.find_by(kind, &prop, &i.id) {
            Some(n) => {
                let events = portal
                    .update(kind, n, &i.properties, emu.now_ms(), &emu.api_source())
                    .unwrap_or_default();
                (n, events, false)
            }
            None if prop == "hs_object_id" => {
                return Err(ApiError::object_not_found(&i.id));
            }
            None => {
                let mut props = i.properties.clone();
                props.insert(prop.clone(), Value::String(i.id.clone()));
                let (n, events) = portal.create(kind, &props, emu.now_ms(), &emu.api_source());
                (n, events, true)
            }
        };
        drop(portal);
        emu.emit(events);
        let mut obj = render_by_id(emu, kind, id);
        obj["new"] = json!(new);
        results.push(obj);
    }
    Ok(Json(batch_envelope(started, results, vec![])).into_response())
}
