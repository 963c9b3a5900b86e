//! Project templates and instantiation jobs: `GET /project_templates`,
//! `GET /teams/{team_gid}/project_templates`, `GET /project_templates/{gid}`,
//! `POST /project_templates/{gid}/instantiateProject`, `GET /jobs/{gid}`.

use super::{
    body_data, check_team, list, one, opt_string, Answer, Created, MAX_RUNNING_JOBS, NAMED,
};
use crate::emulator::guard::ApiError;
use crate::emulator::paging::Params;
use crate::emulator::store::{JobOutcome, JobRec, Store};
use crate::emulator::AsanaEmulator;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn templates_json(store: &Store) -> Vec<Value> {
    store
        .templates
        .iter()
        .map(|t| store.template_json(t))
        .collect()
}

/// `GET /project_templates?team=|workspace=`.
pub(crate) async fn list_templates(
    State(emu): State<AsanaEmulator>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let params = Params::parse(q.as_deref());
    let store = emu.store();
    match (params.get("team"), params.get("workspace")) {
        (Some(team), _) => check_team(&store, team)?,
        (None, Some(ws)) if ws == store.workspace_gid => {}
        (None, Some(ws)) => {
            return Err(ApiError::bad_request(format!(
                "workspace: Not a recognized ID: {ws}"
            )))
        }
        (None, None) => return Err(ApiError::bad_request("workspace: Missing input")),
    }
    list(
        templates_json(&store),
        &params,
        NAMED,
        "/project_templates",
        &headers,
    )
}

/// `GET /teams/{team_gid}/project_templates`.
pub(crate) async fn team_templates(
    State(emu): State<AsanaEmulator>,
    Path(team_gid): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Answer {
    let params = Params::parse(q.as_deref());
    let store = emu.store();
    if team_gid != store.team_gid {
        return Err(ApiError::unknown_object(&team_gid));
    }
    let route = format!("/teams/{team_gid}/project_templates");
    list(templates_json(&store), &params, NAMED, &route, &headers)
}

/// `GET /project_templates/{project_template_gid}`.
pub(crate) async fn get_template(
    State(emu): State<AsanaEmulator>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
) -> Answer {
    let store = emu.store();
    let t = store
        .template(&gid)
        .ok_or_else(|| ApiError::unknown_object(&gid))?;
    Ok(one(
        store.template_json(t),
        &Params::parse(q.as_deref()),
        &[],
    ))
}

/// `POST /project_templates/{project_template_gid}/instantiateProject` → `201 {"data": JobResponse}`.
///
/// The emulator requires `team` (Asana defaults it to the template's team).
pub(crate) async fn instantiate(
    State(emu): State<AsanaEmulator>,
    Path(gid): Path<String>,
    body: Bytes,
) -> Created {
    let now = Instant::now();
    let mut store = emu.store();
    if store.template(&gid).is_none() {
        return Err(ApiError::unknown_object(&gid));
    }
    let data = body_data(&body)?;
    let name = opt_string(&data, "name")?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("name: Missing input"))?;
    let team =
        opt_string(&data, "team")?.ok_or_else(|| ApiError::bad_request("team: Missing input"))?;
    check_team(&store, &team)?;
    if emu.job_limit_on() {
        let (running, soonest) = store.running_jobs(now);
        if running >= MAX_RUNNING_JOBS {
            let secs = soonest.as_secs_f64().ceil().max(1.0) as u64;
            return Err(ApiError::rate_limited(secs));
        }
    }
    let job_gid = store.gid();
    let project_gid = store.add_project(name.clone(), Some(&gid));
    store.jobs.push(JobRec {
        gid: job_gid.clone(),
        project_gid,
        due: now + Duration::from_millis(emu.inner.config.job_delay_ms),
        will_fail: emu.take_failing_job(),
        outcome: JobOutcome::Pending,
    });
    store.settle_jobs(now);
    let job = store.job(&job_gid).map(|j| store.job_json(j));
    Ok((StatusCode::CREATED, Json(json!({ "data": job }))))
}

/// `GET /jobs/{job_gid}`.
pub(crate) async fn get_job(State(emu): State<AsanaEmulator>, Path(gid): Path<String>) -> Answer {
    let store = emu.store();
    let job = store
        .job(&gid)
        .ok_or_else(|| ApiError::unknown_object(&gid))?;
    Ok(Json(json!({ "data": store.job_json(job) })))
}
