//! Asana behind handoff's PM-tool seam: [`AsanaPm`] implements
//! [`handoff_connector::ProjectTool`] for one team, and [`connect`] builds it from the `pm:`
//! section of `handoff.yaml` ([`AsanaSection`]).
//!
//! ```yaml
//! pm:
//!   type: asana
//!   token: { env: ASANA_TOKEN }    # personal access token or service account
//!   workspace_gid: "1200000000000001"
//!   team_gid: "1200000000000002"   # the team that owns onboarding projects
//!   requests_per_minute: 1500      # 150 on free domains, 1,500 on paid (NOTES §4.2)
//! ```
//!
//! Templates are named as Asana shows them (`GET /teams/{team}/project_templates`, read once
//! and cached); a project is found by its exact name in the team (`GET /projects?team=`), and
//! created with `POST /project_templates/{gid}/instantiateProject`, an asynchronous job polled
//! at `GET /jobs/{gid}` (NOTES §4.6).

use crate::{AsanaClient, AsanaConfig, VENDOR};
use futures::future::BoxFuture;
use handoff_connector::{
    ConnectorError, Creation, IdempotencyKey, PmConnection, ProjectRef, ProjectTool, SecretRef,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// `pm:` with `type: asana` (every key but `type`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsanaSection {
    /// API root, `https://app.asana.com/api/1.0/` in production.
    #[serde(default = "default_base_url")]
    pub base_url: url::Url,
    /// Personal access token or service-account token.
    pub token: SecretRef,
    pub workspace_gid: String,
    /// Team that owns onboarding projects (and their templates).
    pub team_gid: String,
    /// API calls per minute for this token (Asana: 150 on free domains, 1,500 on paid).
    #[serde(default = "default_rate")]
    pub requests_per_minute: u32,
    /// How often a project-creation job is polled, ms (default 1,000).
    #[serde(default = "default_job_poll_ms")]
    pub job_poll_ms: u64,
}

fn default_base_url() -> url::Url {
    crate::config::DEFAULT_BASE_URL
        .parse()
        .expect("literal URL")
}
fn default_rate() -> u32 {
    crate::config::DEFAULT_REQUESTS_PER_MINUTE
}
fn default_job_poll_ms() -> u64 {
    1_000
}

/// Builds the Asana PM tool from its section.
///
/// Errors: [`ConnectorError::Config`] naming the field (`pm.token: environment variable
/// ASANA_TOKEN is not set`), never the token; or a zero budget.
pub fn connect(section: &AsanaSection) -> Result<PmConnection, ConnectorError> {
    let token = section
        .token
        .resolve()
        .map_err(|e| ConnectorError::Config {
            vendor: VENDOR,
            reason: format!("pm.token: {e}"),
        })?;
    let mut config = AsanaConfig::new(
        section.base_url.clone(),
        token,
        section.workspace_gid.clone(),
        section.team_gid.clone(),
    );
    config.requests_per_minute = section.requests_per_minute;
    config.job_poll_interval_ms = section.job_poll_ms;
    let client = AsanaClient::new(&config).map_err(ConnectorError::from)?;
    Ok(PmConnection {
        tool: Arc::new(AsanaPm::new(
            client,
            section.team_gid.clone(),
            Duration::from_millis(section.job_poll_ms.max(1)),
        )),
    })
}

/// Asana as handoff's PM tool, for one team.
pub struct AsanaPm {
    client: AsanaClient,
    team_gid: String,
    /// `pm.job_poll_ms`: the pause between two polls of a creation job.
    job_poll: Duration,
    /// Template name → gid, read once.
    templates: tokio::sync::OnceCell<HashMap<String, String>>,
}

impl AsanaPm {
    /// The tool over `client`, creating projects in `team_gid`, polling creation jobs every
    /// `job_poll`.
    pub fn new(client: AsanaClient, team_gid: String, job_poll: Duration) -> Self {
        Self {
            client,
            team_gid,
            job_poll,
            templates: tokio::sync::OnceCell::new(),
        }
    }

    async fn template_gid(&self, name: &str) -> Result<String, ConnectorError> {
        let templates = self
            .templates
            .get_or_try_init(|| async {
                let list = self
                    .client
                    .list_project_templates(&self.team_gid)
                    .await
                    .map_err(ConnectorError::from)?;
                Ok::<_, ConnectorError>(
                    list.into_iter()
                        .filter_map(|t| Some((t.name?, t.gid)))
                        .collect::<HashMap<_, _>>(),
                )
            })
            .await?;
        templates.get(name).cloned().ok_or_else(|| {
            let mut found: Vec<_> = templates.keys().cloned().collect();
            found.sort();
            ConnectorError::NotFound {
                vendor: VENDOR,
                what: format!(
                    "project template named `{name}` in team {} (closed_won.tiers[].project_template); found: {}",
                    self.team_gid,
                    found.join(", ")
                ),
            }
        })
    }
}

/// The project's page in Asana's UI.
fn project_url(gid: &str) -> String {
    format!("https://app.asana.com/0/{gid}/list")
}

fn project(p: crate::ProjectCompact) -> ProjectRef {
    ProjectRef {
        url: project_url(&p.gid),
        name: p.name.unwrap_or_default(),
        id: p.gid,
    }
}

impl ProjectTool for AsanaPm {
    fn system(&self) -> &'static str {
        VENDOR
    }

    fn find_project<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ProjectRef>, ConnectorError>> {
        Box::pin(async move {
            let found = self
                .client
                .find_project_by_name(&self.team_gid, name)
                .await
                .map_err(ConnectorError::from)?;
            Ok(found.map(project))
        })
    }

    fn create_from_template<'a>(
        &'a self,
        template: &'a str,
        name: &'a str,
        _key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Creation, ConnectorError>> {
        Box::pin(async move {
            let gid = self.template_gid(template).await?;
            let job = self
                .client
                .instantiate_project(&gid, name, &self.team_gid)
                .await
                .map_err(ConnectorError::from)?;
            let job_id = job.gid.clone();
            Ok(match job_project(job)? {
                Some(p) => Creation::Ready(p),
                None => Creation::Running { job_id },
            })
        })
    }

    fn poll_job<'a>(
        &'a self,
        job_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ProjectRef>, ConnectorError>> {
        Box::pin(async move {
            let job = self
                .client
                .get_job(job_id)
                .await
                .map_err(ConnectorError::from)?;
            job_project(job)
        })
    }

    fn job_poll_interval(&self) -> Duration {
        self.job_poll
    }
}

/// The job's project when it succeeded, `None` while it runs; a failed job is an error.
fn job_project(job: crate::Job) -> Result<Option<ProjectRef>, ConnectorError> {
    Ok(crate::client::finished(job)?.map(project))
}
