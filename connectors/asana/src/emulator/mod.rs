//! [`AsanaEmulator`]: an axum server that answers like Asana's REST API for the calls handoff
//! makes (project templates, instantiation jobs, projects, sections, tasks, workspaces,
//! `users/me`), for tests, benchmarks and `handoff sandbox`.
//!
//! Behaviour follows `asana_oas.yaml` and NOTES §4: bearer token required (401
//! `Not Authorized`), `{"data": …}` bodies, `limit`/`offset` paging with `next_page`, compact
//! records unless `opt_fields`, `ErrorResponse` errors, 1,500 requests per minute per token and
//! at most 5 instantiation jobs in progress (429 + `Retry-After`). Injected
//! [`Faults`] are served before anything else. Jobs stay `in_progress` for `job_delay_ms`, then
//! `succeeded` with `new_project`; the project (with the template's sections and tasks) exists
//! from then on. The emulator does not deliver webhooks.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use handoff_asana::emulator::{AsanaEmulator, EmulatorConfig};
//! let emu = AsanaEmulator::new(EmulatorConfig::default());
//! let template = emu.add_template("Onboarding — Enterprise", vec![("Kickoff", vec!["Intro call"])]);
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let running = emu.start("127.0.0.1:0".parse().unwrap(), shutdown.clone()).await?;
//! // point AsanaConfig::base_url at running.base_url(), token = EmulatorConfig::token
//! # let _ = template; Ok(()) }
//! ```

mod guard;
mod paging;
mod routes;
mod store;

use axum::routing::get;
use axum::Router;
use handoff_connector::emulator::{serve, write_state_file, Faults, RateWindow, Running};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use store::Store;
use tokio_util::sync::CancellationToken;

/// How to set up an emulator.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The only bearer token accepted (a personal access token in real Asana).
    pub token: String,
    /// gid of the single workspace (organization).
    pub workspace_gid: String,
    /// gid of the single team; templates and projects live in it.
    pub team_gid: String,
    /// Enforce 1,500 requests/min per token and 5 running instantiation jobs (default true).
    pub rate_limits: bool,
    /// How long an instantiation job stays `in_progress`, in milliseconds (default 50).
    pub job_delay_ms: u64,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            token: "2/1100000000000001/1210000000000000:emulator".into(),
            workspace_gid: "1200000000000001".into(),
            team_gid: "1200000000000002".into(),
            rate_limits: true,
            job_delay_ms: 50,
        }
    }
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("token", &"[redacted]")
            .field("workspace_gid", &self.workspace_gid)
            .field("team_gid", &self.team_gid)
            .field("rate_limits", &self.rate_limits)
            .field("job_delay_ms", &self.job_delay_ms)
            .finish()
    }
}

/// Requests per minute per token (paid domains, NOTES §4.2).
pub const REQUESTS_PER_MINUTE: u32 = 1_500;

pub(crate) struct Inner {
    pub config: EmulatorConfig,
    pub store: Mutex<Store>,
    pub rate: RateWindow,
    pub faults: Faults,
    job_limit: AtomicBool,
    failing_jobs: AtomicU32,
}

/// An emulated Asana organization. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct AsanaEmulator {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for AsanaEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsanaEmulator")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AsanaEmulator {
    /// An empty organization: one workspace, one team, no templates or projects.
    pub fn new(config: EmulatorConfig) -> Self {
        let rate = RateWindow::new(REQUESTS_PER_MINUTE, Duration::from_secs(60));
        rate.set_enabled(config.rate_limits);
        let store = Store::new(config.workspace_gid.clone(), config.team_gid.clone());
        Self {
            inner: Arc::new(Inner {
                job_limit: AtomicBool::new(config.rate_limits),
                config,
                store: Mutex::new(store),
                rate,
                faults: Faults::default(),
                failing_jobs: AtomicU32::new(0),
            }),
        }
    }

    /// The configuration it was built with (token included: tests need it for the client).
    pub fn config(&self) -> &EmulatorConfig {
        &self.inner.config
    }

    /// The store with every due job settled. Never hold it across an `.await`.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        let mut store = self.inner.store.lock().unwrap_or_else(|p| p.into_inner());
        store.settle_jobs(Instant::now());
        store
    }

    pub(crate) fn job_limit_on(&self) -> bool {
        self.inner.job_limit.load(Ordering::Relaxed)
    }

    /// Whether the next job should fail (consumes one of [`Self::fail_next_jobs`]).
    pub(crate) fn take_failing_job(&self) -> bool {
        self.inner
            .failing_jobs
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Seeds a project template in the team: `sections` are `(section name, task names)` in
    /// order, copied into every project instantiated from it. Returns the template gid.
    pub fn add_template<S, T>(&self, name: impl Into<String>, sections: Vec<(S, Vec<T>)>) -> String
    where
        S: Into<String>,
        T: Into<String>,
    {
        let sections = sections
            .into_iter()
            .map(|(s, tasks)| (s.into(), tasks.into_iter().map(Into::into).collect()))
            .collect();
        self.store().add_template(name.into(), sections)
    }

    /// Seeds an empty project in the team (as if made by hand in Asana). Returns its gid.
    pub fn add_project(&self, name: impl Into<String>) -> String {
        self.store().add_project(name.into(), None)
    }

    /// The next `count` instantiation jobs end `failed` instead of `succeeded`.
    pub fn fail_next_jobs(&self, count: u32) {
        self.inner.failing_jobs.store(count, Ordering::SeqCst);
    }

    /// Every project as `GET /projects/{gid}` answers it (`ProjectResponse`, with `team`),
    /// plus the opt-in `created_from_template`.
    pub fn projects(&self) -> Vec<Value> {
        let store = self.store();
        store
            .projects
            .iter()
            .map(|p| store.project_json(p))
            .collect()
    }

    /// Every section (`SectionResponse`, with its `project`).
    pub fn sections(&self) -> Vec<Value> {
        let store = self.store();
        store
            .sections
            .iter()
            .map(|s| store.section_json(s))
            .collect()
    }

    /// Every task (`TaskResponse`, with `memberships` naming project and section).
    pub fn tasks(&self) -> Vec<Value> {
        let store = self.store();
        store.tasks.iter().map(|t| store.task_json(t)).collect()
    }

    /// Every project template (`ProjectTemplateResponse`).
    pub fn templates(&self) -> Vec<Value> {
        let store = self.store();
        store
            .templates
            .iter()
            .map(|t| store.template_json(t))
            .collect()
    }

    /// Writes `dir/asana/projects.json`, `dir/asana/tasks.json` and
    /// `dir/asana/project_templates.json` (JSON arrays); returns the paths.
    pub fn write_state(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        Ok(vec![
            write_state_file(dir, "asana", "projects", &self.projects())?,
            write_state_file(dir, "asana", "tasks", &self.tasks())?,
            write_state_file(dir, "asana", "project_templates", &self.templates())?,
        ])
    }

    /// Injected failures, served before auth and rate limits.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Turns the request quota and the running-jobs limit on or off.
    pub fn set_rate_limits(&self, on: bool) {
        self.inner.rate.set_enabled(on);
        self.inner.job_limit.store(on, Ordering::Relaxed);
    }

    /// The emulated API, served at the root (`/projects`, `/jobs/{gid}`, …).
    pub fn router(&self) -> Router {
        use axum::routing::post;
        Router::new()
            .route("/project_templates", get(routes::templates::list_templates))
            .route(
                "/project_templates/{gid}",
                get(routes::templates::get_template),
            )
            .route(
                "/project_templates/{gid}/instantiateProject",
                post(routes::templates::instantiate),
            )
            .route(
                "/teams/{team_gid}/project_templates",
                get(routes::templates::team_templates),
            )
            .route("/jobs/{gid}", get(routes::templates::get_job))
            .route("/projects", get(routes::projects::list_projects))
            .route(
                "/projects/{gid}",
                get(routes::projects::get_project).put(routes::projects::put_project),
            )
            .route(
                "/projects/{gid}/sections",
                get(routes::projects::project_sections),
            )
            .route("/projects/{gid}/tasks", get(routes::tasks::project_tasks))
            .route(
                "/tasks",
                get(routes::tasks::list_tasks).post(routes::tasks::create_task),
            )
            .route("/workspaces", get(routes::workspaces))
            .route("/users/me", get(routes::me))
            .fallback(routes::no_route)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                guard::guard,
            ))
            .with_state(self.clone())
    }

    /// Serves [`Self::router`] on `addr` (port 0 for any) until `shutdown` is cancelled.
    pub async fn start(
        &self,
        addr: SocketAddr,
        shutdown: CancellationToken,
    ) -> std::io::Result<Running> {
        serve(self.router(), addr, shutdown).await
    }
}
