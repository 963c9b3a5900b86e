//! Projects and their sections: `GET /projects`, `GET`/`PUT /projects/{gid}`,
//! `GET /projects/{gid}/sections`.

use super::{body_data, check_team, list, one, opt_string, Answer, NAMED, PROJECT_OPT_IN};
use crate::emulator::guard::ApiError;
use crate::emulator::paging::Params;
use crate::emulator::store::now_rfc3339;
use crate::emulator::AsanaEmulator;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde_json::Value;

/// `GET /projects?workspace=&team=&archived=`.
pub(crate) async fn list_projects(
    State(emu): State<AsanaEmulator>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let params = Params::parse(q.as_deref());
    let store = emu.store();
    if let Some(team) = params.get("team") {
        check_team(&store, team)?;
    }
    if let Some(ws) = params
        .get("workspace")
        .filter(|w| *w != store.workspace_gid)
    {
        return Err(ApiError::bad_request(format!(
            "workspace: Not a recognized ID: {ws}"
        )));
    }
    let archived = match params.get("archived") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::bad_request("archived: Invalid value")),
    };
    let projects = store
        .projects
        .iter()
        .filter(|p| archived.is_none_or(|a| p.archived == a))
        .map(|p| store.project_json(p))
        .collect();
    list(projects, &params, NAMED, "/projects", &headers)
}

/// `GET /projects/{project_gid}`.
pub(crate) async fn get_project(
    State(emu): State<AsanaEmulator>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
) -> Answer {
    let store = emu.store();
    let p = store
        .project(&gid)
        .ok_or_else(|| ApiError::unknown_object(&gid))?;
    Ok(one(
        store.project_json(p),
        &Params::parse(q.as_deref()),
        PROJECT_OPT_IN,
    ))
}

/// `PUT /projects/{project_gid}`: sets `name`, `notes`, `archived`; other fields are ignored.
pub(crate) async fn put_project(
    State(emu): State<AsanaEmulator>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Answer {
    let mut store = emu.store();
    if store.project(&gid).is_none() {
        return Err(ApiError::unknown_object(&gid));
    }
    let data = body_data(&body)?;
    let name = opt_string(&data, "name")?;
    if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::bad_request("name: Cannot be empty"));
    }
    let notes = opt_string(&data, "notes")?;
    let archived = match data.get("archived") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ApiError::bad_request("archived: Invalid value")),
    };
    let p = store.project_mut(&gid).expect("checked above");
    if let Some(name) = name {
        p.name = name;
    }
    if let Some(notes) = notes {
        p.notes = notes;
    }
    if let Some(archived) = archived {
        p.archived = archived;
    }
    p.modified_at = now_rfc3339();
    let p = store.project(&gid).expect("checked above");
    Ok(one(
        store.project_json(p),
        &Params::parse(q.as_deref()),
        PROJECT_OPT_IN,
    ))
}

/// `GET /projects/{project_gid}/sections`.
pub(crate) async fn project_sections(
    State(emu): State<AsanaEmulator>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let params = Params::parse(q.as_deref());
    let store = emu.store();
    if store.project(&gid).is_none() {
        return Err(ApiError::unknown_object(&gid));
    }
    let sections = store
        .sections
        .iter()
        .filter(|s| s.project_gid == gid)
        .map(|s| store.section_json(s))
        .collect();
    let route = format!("/projects/{gid}/sections");
    list(sections, &params, NAMED, &route, &headers)
}
