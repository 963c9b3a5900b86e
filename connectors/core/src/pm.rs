//! The project-management seam: what the closed-won flow asks of a PM tool (Asana today; a
//! second tool is one more crate implementing [`ProjectTool`]).
//!
//! Project creation is not idempotent at any PM vendor handoff supports, so the contract is
//! "find by name, else create": a project's name carries the deal it is for, and the executor
//! calls [`ProjectTool::find_project`] before creating again whenever an earlier attempt's
//! outcome is unknown. Creation from a template may run as a job on the vendor's side (Asana
//! `instantiateProject` answers with a job): [`Creation::Running`] hands the job back, and
//! [`ProjectTool::poll_job`] reads it until the project exists.

use crate::{ConnectorError, IdempotencyKey};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// A project in the PM tool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRef {
    /// The vendor's id (Asana gid).
    pub id: String,
    pub name: String,
    /// The project in the tool's UI.
    pub url: String,
}

/// What [`ProjectTool::create_from_template`] started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Creation {
    /// The project exists.
    Ready(ProjectRef),
    /// The vendor builds it in the background: poll this job id.
    Running { job_id: String },
}

/// A project-management tool.
pub trait ProjectTool: Send + Sync {
    /// The system name: `asana`.
    fn system(&self) -> &'static str;

    /// The project named exactly `name`, if one exists (the idempotency lookup).
    fn find_project<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ProjectRef>, ConnectorError>>;

    /// Starts a project named `name` from the template named `template` (the admin's name for
    /// it, as the tool shows it). `key` is the step's idempotency key, for vendors that accept
    /// one. Errors: [`ConnectorError::NotFound`] when no template has that name (a config
    /// problem: the message lists the templates found).
    fn create_from_template<'a>(
        &'a self,
        template: &'a str,
        name: &'a str,
        key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Creation, ConnectorError>>;

    /// The project a creation job made, or `None` while the job still runs. A failed job is
    /// an error (retryable when the vendor says so).
    fn poll_job<'a>(
        &'a self,
        job_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ProjectRef>, ConnectorError>>;

    /// How long to wait between two [`ProjectTool::poll_job`] calls (each is an API call
    /// against the tool's rate limit); 1 s unless the tool's config says otherwise.
    fn job_poll_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
}
