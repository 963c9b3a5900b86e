//! Tasks: `GET /projects/{gid}/tasks`, `GET /tasks?project=|section=`, `POST /tasks`.

use super::{body_data, list, opt_string, Answer, Created, TASK_COMPACT};
use crate::emulator::guard::ApiError;
use crate::emulator::paging::Params;
use crate::emulator::store::{now_rfc3339, Store, TaskRec};
use crate::emulator::AsanaEmulator;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

fn tasks_where(store: &Store, keep: impl Fn(&TaskRec) -> bool) -> Vec<Value> {
    store
        .tasks
        .iter()
        .filter(|t| keep(t))
        .map(|t| store.task_json(t))
        .collect()
}

/// `GET /projects/{project_gid}/tasks`.
pub(crate) async fn project_tasks(
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
    let tasks = tasks_where(&store, |t| t.project_gid.as_deref() == Some(gid.as_str()));
    let route = format!("/projects/{gid}/tasks");
    list(tasks, &params, TASK_COMPACT, &route, &headers)
}

/// `GET /tasks?project=|section=`.
pub(crate) async fn list_tasks(
    State(emu): State<AsanaEmulator>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let params = Params::parse(q.as_deref());
    let store = emu.store();
    let tasks =
        match (params.get("project"), params.get("section")) {
            (Some(project), _) => {
                if store.project(project).is_none() {
                    return Err(ApiError::bad_request(format!(
                        "project: Not a recognized ID: {project}"
                    )));
                }
                tasks_where(&store, |t| t.project_gid.as_deref() == Some(project))
            }
            (None, Some(section)) => {
                if store.section(section).is_none() {
                    return Err(ApiError::bad_request(format!(
                        "section: Not a recognized ID: {section}"
                    )));
                }
                tasks_where(&store, |t| t.section_gid.as_deref() == Some(section))
            }
            (None, None) => return Err(ApiError::bad_request(
                "Must specify a `project` or `tag` if not specifying `assignee` and `workspace`",
            )),
        };
    list(tasks, &params, TASK_COMPACT, "/tasks", &headers)
}

/// `POST /tasks` → `201 {"data": TaskResponse}`. Takes `name`, `notes`, `projects` (the first
/// is used), `memberships[{project, section}]`, `workspace`.
pub(crate) async fn create_task(State(emu): State<AsanaEmulator>, body: Bytes) -> Created {
    let mut store = emu.store();
    let data = body_data(&body)?;
    let name = opt_string(&data, "name")?.unwrap_or_default();
    let notes = opt_string(&data, "notes")?.unwrap_or_default();
    let workspace = opt_string(&data, "workspace")?;
    let mut project = match data.get("projects") {
        Some(Value::Array(ps)) => ps.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    let mut section = None;
    if let Some(Value::Array(ms)) = data.get("memberships") {
        if let Some(m) = ms.first() {
            project = m.get("project").and_then(Value::as_str).map(str::to_string);
            section = m.get("section").and_then(Value::as_str).map(str::to_string);
        }
    }
    if project.is_none() && workspace.is_none() {
        return Err(ApiError::bad_request("workspace: Missing input"));
    }
    if let Some(ws) = workspace.filter(|w| *w != store.workspace_gid) {
        return Err(ApiError::bad_request(format!(
            "workspace: Not a recognized ID: {ws}"
        )));
    }
    if let Some(p) = project.as_deref().filter(|p| store.project(p).is_none()) {
        return Err(ApiError::bad_request(format!(
            "projects: Not a recognized ID: {p}"
        )));
    }
    if let Some(s) = section.as_deref() {
        let fits = store
            .section(s)
            .is_some_and(|s| Some(&s.project_gid) == project.as_ref());
        if !fits {
            return Err(ApiError::bad_request(format!(
                "section: Not a recognized ID: {s}"
            )));
        }
    }
    let now = now_rfc3339();
    let gid = store.gid();
    store.tasks.push(TaskRec {
        gid: gid.clone(),
        name,
        notes,
        project_gid: project,
        section_gid: section,
        created_at: now.clone(),
        modified_at: now,
    });
    let task = store
        .tasks
        .last()
        .map(|t| store.task_json(t))
        .unwrap_or(Value::Null);
    Ok((StatusCode::CREATED, Json(json!({ "data": task }))))
}
