//! [`AsanaClient`]: the Asana REST calls handoff makes, over the shared paced, retrying
//! [`VendorClient`].
//!
//! The onboarding flow: pick the project template for the customer's tier
//! ([`AsanaClient::list_project_templates`]), then [`AsanaClient::instantiate_project_once`],
//! which looks the project up by its exact name in the team first (Asana writes are not
//! idempotent), else instantiates it (`POST /project_templates/{gid}/instantiateProject`, an
//! asynchronous job) and polls `GET /jobs/{gid}` until the job succeeded.
//!
//! Bodies are wrapped in `{"data": …}` both ways; list endpoints page with `limit` (1–100) and
//! the `offset` token of `next_page` (NOTES §4.3). Non-2xx answers become classed
//! [`handoff_connector::ConnectorError`]s (the message keeps Asana's `errors[].message`).

use crate::model::{
    Envelope, Job, JobStatus, NamedResource, NewTask, Page, Project, ProjectCompact,
    ProjectTemplate, ProjectUpdate, Task,
};
use crate::{AsanaConfig, AsanaError, VENDOR};
use handoff_connector::{ConnectorError, VendorClient};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::time::Duration;

/// Largest `limit` Asana accepts on list endpoints.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Stops a paging loop whose server keeps handing out pages (e.g. a repeated offset).
const MAX_PAGES: usize = 10_000;

/// An Asana API client for one token. Cheap to clone; clones share the rate limiter.
#[derive(Clone)]
pub struct AsanaClient {
    http: VendorClient,
    workspace_gid: String,
    team_gid: String,
    job_poll_interval: Duration,
    job_timeout: Duration,
}

impl std::fmt::Debug for AsanaClient {
    /// Base URL and gids only; the token stays inside the [`VendorClient`].
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsanaClient")
            .field("base_url", &self.http.base_url().as_str())
            .field("workspace_gid", &self.workspace_gid)
            .field("team_gid", &self.team_gid)
            .finish_non_exhaustive()
    }
}

impl AsanaClient {
    /// Builds a client from `config` (budget `requests_per_minute` per 60 s, the core's retry
    /// policy). Errors with [`ConnectorError::Config`] on a zero budget or unusable base URL.
    pub fn new(config: &AsanaConfig) -> Result<Self, AsanaError> {
        let http = VendorClient::new(VENDOR, config.client_config()?)?;
        Ok(Self {
            http,
            workspace_gid: config.workspace_gid.clone(),
            team_gid: config.team_gid.clone(),
            job_poll_interval: config.job_poll_interval(),
            job_timeout: config.job_timeout(),
        })
    }

    /// The configured workspace gid.
    pub fn workspace_gid(&self) -> &str {
        &self.workspace_gid
    }

    /// The configured team gid (where onboarding projects go).
    pub fn team_gid(&self) -> &str {
        &self.team_gid
    }

    /// `GET /teams/{team_gid}/project_templates`: every project template of the team
    /// (`ProjectTemplateCompact`), following `next_page` offsets.
    pub async fn list_project_templates(
        &self,
        team_gid: &str,
    ) -> Result<Vec<ProjectTemplate>, AsanaError> {
        let path = format!("teams/{}/project_templates", seg(team_gid));
        self.get_all(&path, &[]).await
    }

    /// `POST /project_templates/{template_gid}/instantiateProject` with
    /// `{"data": {"name", "team"}}` (`ProjectTemplateInstantiateProjectRequest`); Asana answers
    /// `201 {"data": JobResponse}`. Not idempotent: see [`Self::instantiate_project_once`].
    pub async fn instantiate_project(
        &self,
        template_gid: &str,
        name: &str,
        team_gid: &str,
    ) -> Result<Job, AsanaError> {
        let path = format!("project_templates/{}/instantiateProject", seg(template_gid));
        let body = json!({ "data": { "name": name, "team": team_gid } });
        let job: Envelope<Job> = self.http.json(Method::POST, &path, Some(&body)).await?;
        Ok(job.data)
    }

    /// `GET /jobs/{job_gid}`.
    pub async fn get_job(&self, job_gid: &str) -> Result<Job, AsanaError> {
        let job: Envelope<Job> = self.get(&format!("jobs/{}", seg(job_gid))).await?;
        Ok(job.data)
    }

    /// Polls `GET /jobs/{job_gid}` every `job_poll_interval_ms` until `status` is `succeeded`
    /// and returns its `new_project`. Errors: [`AsanaError::JobFailed`] on `failed`,
    /// [`AsanaError::JobTimedOut`] after `job_timeout_s`, [`AsanaError::JobWithoutProject`]
    /// when a succeeded job names no project.
    pub async fn wait_for_job(&self, job_gid: &str) -> Result<ProjectCompact, AsanaError> {
        let started = tokio::time::Instant::now();
        loop {
            let job = self.get_job(job_gid).await?;
            if let Some(project) = finished(job)? {
                return Ok(project);
            }
            let waited = started.elapsed();
            if waited >= self.job_timeout {
                return Err(AsanaError::JobTimedOut {
                    job_gid: job_gid.to_string(),
                    waited,
                });
            }
            let left = self.job_timeout - waited;
            tokio::time::sleep(self.job_poll_interval.min(left)).await;
        }
    }

    /// The unarchived project of `team_gid` named exactly `name`, if any:
    /// `GET /projects?team=&archived=false&limit=100&opt_fields=name`, page by page, stopping
    /// at the first match. (Asana marks the `team` filter deprecated but still serves it.)
    pub async fn find_project_by_name(
        &self,
        team_gid: &str,
        name: &str,
    ) -> Result<Option<ProjectCompact>, AsanaError> {
        let query = [
            ("team", team_gid),
            ("archived", "false"),
            ("opt_fields", "name"),
        ];
        let mut offset: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page: Page<ProjectCompact> =
                self.page("projects", &query, offset.as_deref()).await?;
            if let Some(hit) = page
                .data
                .into_iter()
                .find(|p| p.name.as_deref() == Some(name))
            {
                return Ok(Some(hit));
            }
            match next_offset(page.next_page, offset.as_deref())? {
                Some(next) => offset = Some(next),
                None => return Ok(None),
            }
        }
        Err(too_many_pages("projects"))
    }

    /// Creates the project at most once: returns the team's project named `name` when it
    /// exists, else instantiates `template_gid` and waits for the job. This is the call the
    /// outbox makes; a retry after a crash or a [`AsanaError::JobTimedOut`] finds the project
    /// Asana already made instead of making a second one.
    pub async fn instantiate_project_once(
        &self,
        template_gid: &str,
        name: &str,
        team_gid: &str,
    ) -> Result<ProjectCompact, AsanaError> {
        if let Some(existing) = self.find_project_by_name(team_gid, name).await? {
            tracing::info!(project_gid = %existing.gid, "asana project already exists, not instantiating");
            return Ok(existing);
        }
        let job = self
            .instantiate_project(template_gid, name, team_gid)
            .await?;
        tracing::info!(job_gid = %job.gid, template_gid, "asana project instantiation started");
        let job_gid = job.gid.clone();
        match finished(job)? {
            Some(project) => Ok(project),
            None => self.wait_for_job(&job_gid).await,
        }
    }

    /// `GET /projects/{project_gid}` (`ProjectResponse`).
    pub async fn get_project(&self, project_gid: &str) -> Result<Project, AsanaError> {
        let project: Envelope<Project> =
            self.get(&format!("projects/{}", seg(project_gid))).await?;
        Ok(project.data)
    }

    /// `PUT /projects/{project_gid}` with `{"data": fields}`; returns the updated project.
    pub async fn update_project(
        &self,
        project_gid: &str,
        fields: &ProjectUpdate,
    ) -> Result<Project, AsanaError> {
        let path = format!("projects/{}", seg(project_gid));
        let body = Envelope { data: fields };
        let project: Envelope<Project> = self.http.json(Method::PUT, &path, Some(&body)).await?;
        Ok(project.data)
    }

    /// `GET /projects/{project_gid}/sections`: the project's sections (`SectionCompact`).
    pub async fn list_sections(&self, project_gid: &str) -> Result<Vec<NamedResource>, AsanaError> {
        let path = format!("projects/{}/sections", seg(project_gid));
        self.get_all(&path, &[]).await
    }

    /// `GET /projects/{project_gid}/tasks` with `opt_fields` for name, subtype, completion and
    /// `memberships` (project and section names).
    pub async fn list_tasks(&self, project_gid: &str) -> Result<Vec<Task>, AsanaError> {
        let path = format!("projects/{}/tasks", seg(project_gid));
        let fields = "name,resource_subtype,completed,notes,memberships.project.name,memberships.section.name";
        self.get_all(&path, &[("opt_fields", fields)]).await
    }

    /// `POST /tasks` with `{"data": task}`; Asana answers `201 {"data": TaskResponse}`.
    pub async fn create_task(&self, task: &NewTask) -> Result<Task, AsanaError> {
        let body = Envelope { data: task };
        let created: Envelope<Task> = self.http.json(Method::POST, "tasks", Some(&body)).await?;
        Ok(created.data)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, AsanaError> {
        Ok(self.http.json::<(), T>(Method::GET, path, None).await?)
    }

    /// One page of a list endpoint with `limit=100`.
    async fn page<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        offset: Option<&str>,
    ) -> Result<Page<T>, AsanaError> {
        let limit = MAX_PAGE_SIZE.to_string();
        // Build the query in a block: the serializer is not `Send` and must not live across the
        // await below.
        let url = {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.extend_pairs(query);
            q.append_pair("limit", &limit);
            if let Some(offset) = offset {
                q.append_pair("offset", offset);
            }
            format!("{path}?{}", q.finish())
        };
        self.get(&url).await
    }

    /// Every item of a list endpoint, following `next_page.offset` to the end.
    async fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, AsanaError> {
        let mut items = Vec::new();
        let mut offset: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page: Page<T> = self.page(path, query, offset.as_deref()).await?;
            items.extend(page.data);
            match next_offset(page.next_page, offset.as_deref())? {
                Some(next) => offset = Some(next),
                None => return Ok(items),
            }
        }
        Err(too_many_pages(path))
    }
}

/// `Some(project)` for a succeeded job, `None` while it runs, an error when it failed.
pub(crate) fn finished(job: Job) -> Result<Option<ProjectCompact>, AsanaError> {
    match job.status {
        JobStatus::Succeeded => job
            .new_project
            .map(Some)
            .ok_or(AsanaError::JobWithoutProject { job_gid: job.gid }),
        JobStatus::Failed => Err(AsanaError::JobFailed { job_gid: job.gid }),
        JobStatus::NotStarted | JobStatus::InProgress | JobStatus::Unknown => Ok(None),
    }
}

/// The next offset, refusing one equal to the current (a server loop).
fn next_offset(
    next: Option<crate::model::NextPage>,
    current: Option<&str>,
) -> Result<Option<String>, AsanaError> {
    match next {
        None => Ok(None),
        Some(n) if Some(n.offset.as_str()) == current => Err(ConnectorError::Decode {
            vendor: VENDOR,
            reason: format!("next_page repeats offset {}", n.offset),
        }
        .into()),
        Some(n) => Ok(Some(n.offset)),
    }
}

fn too_many_pages(path: &str) -> AsanaError {
    ConnectorError::Decode {
        vendor: VENDOR,
        reason: format!("{path}: more than {MAX_PAGES} pages"),
    }
    .into()
}

/// A gid as one URL path segment (percent-encoded, so a stray `/` or `?` cannot change the
/// path).
fn seg(gid: &str) -> String {
    url::form_urlencoded::byte_serialize(gid.as_bytes()).collect()
}
