//! sObject Collections (NOTES §2.4; Postman `composite/`):
//!
//! * `POST composite/sobjects` — create ≤ 200 records (mixed types, `attributes.type`, no
//!   `Id`); `PATCH composite/sobjects` — update ≤ 200 (with `Id`); `PATCH
//!   composite/sobjects/{SObject}` — the Postman item's form of update; `DELETE
//!   composite/sobjects?ids=&allOrNone=` — delete ≤ 200. Answers: 200 with one SaveResult
//!   `{id, success, errors}` per record, in order. With `allOrNone`, nothing is written unless
//!   every record succeeds; the others then fail `ALL_OR_NONE_OPERATION_ROLLED_BACK`
//!   (unverified code).
//! * `GET composite/sobjects/{SObject}?ids=&fields=` — retrieve ≤ 2,000; `null` for an id not
//!   found (unverified).
//! * More records or ids than allowed → 400 `EXCEEDED_ID_LIMIT`; an update without `Id` →
//!   `MISSING_ARGUMENT` (unverified codes).

use super::errors::ApiError;
use super::gate::Caller;
use super::org::Row;
use super::routes::{
    body, def, failed, list, object, param, saved, version, writer, ApiResult, Params,
};
use super::schema::ObjectDef;
use super::SalesforceEmulator;
use crate::error::ApiErrorItem;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde_json::{json, Value};

/// Most records per collection write, most ids per collection retrieve (§2.4).
const COLLECTION_WRITE: usize = 200;
const COLLECTION_READ: usize = 2000;

/// `{allOrNone, records}` → the records (with `attributes.type`), checked against the limit.
fn collection_body(bytes: &[u8]) -> Result<(bool, Vec<Row>), ApiError> {
    let v = object(body(bytes)?)?;
    let all_or_none = v.get("allOrNone").and_then(Value::as_bool).unwrap_or(false);
    let records = match v.get("records") {
        Some(Value::Array(a)) => a
            .iter()
            .cloned()
            .map(object)
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(ApiError::bad(
                "JSON_PARSER_ERROR",
                "records must be an array",
            ))
        }
    };
    if records.len() > COLLECTION_WRITE {
        return Err(ApiError::bad(
            "EXCEEDED_ID_LIMIT",
            format!("record limit exceeded: at most {COLLECTION_WRITE}"),
        ));
    }
    Ok((all_or_none, records))
}

/// Runs `op` on each record; with `all_or_none`, on a copy of the org committed only if every
/// record succeeded.
fn apply_all(
    emu: &SalesforceEmulator,
    all_or_none: bool,
    records: Vec<Row>,
    mut op: impl FnMut(&mut super::org::Org, Row, i64) -> Result<String, ApiError>,
) -> Vec<Value> {
    let mut org = emu.org();
    // Stamped while the org is held, so stamps follow commit order.
    let now = emu.stamp_ms();
    let mut work = if all_or_none { Some(org.clone()) } else { None };
    let target = work.as_mut().unwrap_or(&mut org);
    let outcomes: Vec<Result<String, ApiError>> =
        records.into_iter().map(|r| op(target, r, now)).collect();
    let ok = outcomes.iter().all(Result::is_ok);
    if let (Some(done), true) = (work, ok) {
        *org = done;
    }
    outcomes
        .into_iter()
        .map(|o| match o {
            Ok(id) if ok || !all_or_none => saved(&id, None),
            Ok(_) => failed(vec![ApiErrorItem {
                message: "The transaction was rolled back since another operation in the same transaction failed.".into(),
                error_code: "ALL_OR_NONE_OPERATION_ROLLED_BACK".into(),
                fields: vec![],
            }]),
            Err(e) => failed(e.items),
        })
        .collect()
}

fn record_type(emu: &SalesforceEmulator, r: &Row) -> Result<&'static ObjectDef, ApiError> {
    let t = r
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad("JSON_PARSER_ERROR", "each record needs attributes.type"))?;
    def(emu, t)
}

pub(super) async fn create(
    State(emu): State<SalesforceEmulator>,
    Path(v): Path<String>,
    Extension(c): Extension<Caller>,
    bytes: Bytes,
) -> ApiResult {
    version(&v)?;
    let (all, records) = collection_body(&bytes)?;
    let defs = records
        .iter()
        .map(|r| record_type(&emu, r))
        .collect::<Result<Vec<_>, _>>()?;
    let w = writer(&c);
    let mut defs = defs.into_iter();
    let results = apply_all(&emu, all, records, |org, r, now| {
        let def = defs
            .next()
            .ok_or_else(|| ApiError::malformed("record without a type"))?;
        if r.contains_key("Id") {
            return Err(ApiError::bad(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "records to create must not have an Id",
            ));
        }
        org.create(def, &r, &w, now)
    });
    Ok(Json(results).into_response())
}

async fn update_records(
    emu: &SalesforceEmulator,
    caller: &Caller,
    bytes: &[u8],
    typed: Option<&'static ObjectDef>,
) -> ApiResult {
    let (all, records) = collection_body(bytes)?;
    let defs = records
        .iter()
        .map(|r| match typed {
            Some(d) => Ok(d),
            None => record_type(emu, r),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let w = writer(caller);
    let mut defs = defs.into_iter();
    let results = apply_all(emu, all, records, |org, mut r, now| {
        let def = defs
            .next()
            .ok_or_else(|| ApiError::malformed("record without a type"))?;
        let id = match r.remove("Id") {
            Some(Value::String(id)) => id,
            _ => {
                return Err(ApiError::with_fields(
                    StatusCode::BAD_REQUEST,
                    "MISSING_ARGUMENT",
                    "Id not specified in an update call",
                    vec!["Id".into()],
                ))
            }
        };
        org.update(def, &id, &r, &w, now).map(|_| id)
    });
    Ok(Json(results).into_response())
}

pub(super) async fn update(
    State(emu): State<SalesforceEmulator>,
    Path(v): Path<String>,
    Extension(c): Extension<Caller>,
    bytes: Bytes,
) -> ApiResult {
    version(&v)?;
    update_records(&emu, &c, &bytes, None).await
}

pub(super) async fn update_typed(
    State(emu): State<SalesforceEmulator>,
    Path((v, sobject)): Path<(String, String)>,
    Extension(c): Extension<Caller>,
    bytes: Bytes,
) -> ApiResult {
    version(&v)?;
    let def = def(&emu, &sobject)?;
    update_records(&emu, &c, &bytes, Some(def)).await
}

pub(super) async fn retrieve(
    State(emu): State<SalesforceEmulator>,
    Path((v, sobject)): Path<(String, String)>,
    Query(p): Params,
) -> ApiResult {
    let v = version(&v)?;
    let def = def(&emu, &sobject)?;
    let ids = list(&p, "ids");
    if ids.len() > COLLECTION_READ {
        return Err(ApiError::bad(
            "EXCEEDED_ID_LIMIT",
            format!("at most {COLLECTION_READ} ids"),
        ));
    }
    let org = emu.org();
    let mut names = vec!["Id".to_string()];
    for f in list(&p, "fields") {
        let (name, _) = org
            .field(def, &f)
            .ok_or_else(|| ApiError::invalid_field(def.name, &f))?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let records: Vec<Value> = ids
        .iter()
        .map(|id| {
            org.live(def.name, id)
                .map_or(Value::Null, |row| org.render(def, row, Some(&names), v))
        })
        .collect();
    Ok(Json(records).into_response())
}

pub(super) async fn delete(
    State(emu): State<SalesforceEmulator>,
    Path(v): Path<String>,
    Query(p): Params,
    Extension(c): Extension<Caller>,
) -> ApiResult {
    version(&v)?;
    let ids = list(&p, "ids");
    if ids.len() > COLLECTION_WRITE {
        return Err(ApiError::bad(
            "EXCEEDED_ID_LIMIT",
            format!("at most {COLLECTION_WRITE} ids"),
        ));
    }
    let all = param(&p, "allOrNone") == Some("true");
    let w = writer(&c);
    let rows: Vec<Row> = ids
        .iter()
        .map(|id| {
            let mut r = Row::new();
            r.insert("Id".into(), json!(id));
            r
        })
        .collect();
    let results = apply_all(&emu, all, rows, |org, r, now| {
        let id = r
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let def = super::schema::object_of_id(&id)
            .ok_or_else(|| ApiError::not_found("The requested resource does not exist"))?;
        org.delete(def, &id, &w, now).map(|_| id)
    });
    Ok(Json(results).into_response())
}
