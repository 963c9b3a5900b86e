//! Asana's JSON shapes as handoff reads them, with Asana's field names (`asana_oas.yaml`
//! `components/schemas`). Only the fields handoff uses are typed; every struct ignores the rest,
//! so a richer answer (more `opt_fields`) still decodes.

use serde::{Deserialize, Serialize};

/// The `{"data": …}` wrapper around every Asana request and response body (NOTES §4.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub data: T,
}

/// One page of a list endpoint: `{"data": [...], "next_page": NextPage | null}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Absent when the request had no `limit`, `null` on the last page.
    #[serde(default)]
    pub next_page: Option<NextPage>,
}

/// `NextPage`: the offset token for the next page, with a relative `path` and a full `uri`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextPage {
    pub offset: String,
    pub path: String,
    pub uri: String,
}

/// `ErrorResponse`: `{"errors": [{"message", "help", "phrase"}]}` (`phrase` on 500s only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub errors: Vec<ErrorDetail>,
}

/// `Error` in the spec: one entry of [`ErrorResponse::errors`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phrase: Option<String>,
}

/// `ProjectTemplateCompact`: `gid`, `resource_type` (`project_template`), `name`.
pub type ProjectTemplate = NamedResource;

/// `ProjectCompact`: `gid`, `resource_type` (`project`), `name`.
pub type ProjectCompact = NamedResource;

/// Asana's compact representations (`TeamCompact`, `WorkspaceCompact`, `UserCompact`,
/// `SectionCompact`, `ProjectCompact`, `ProjectTemplateCompact`): `gid`, `resource_type`, `name`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedResource {
    pub gid: String,
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// `ProjectResponse` (the fields handoff reads) as `GET /projects/{project_gid}` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub gid: String,
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Free-form description (plain text).
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub completed: Option<bool>,
    /// RFC 3339 UTC, e.g. `2012-02-22T02:06:58.147Z`.
    #[serde(default)]
    pub created_at: Option<String>,
    /// RFC 3339 UTC.
    #[serde(default)]
    pub modified_at: Option<String>,
    #[serde(default)]
    pub team: Option<NamedResource>,
    #[serde(default)]
    pub workspace: Option<NamedResource>,
    #[serde(default)]
    pub permalink_url: Option<String>,
}

impl Project {
    /// The compact form (`gid`, `resource_type`, `name`).
    pub fn compact(&self) -> ProjectCompact {
        ProjectCompact {
            gid: self.gid.clone(),
            resource_type: self.resource_type.clone(),
            name: self.name.clone(),
        }
    }
}

/// Fields of `ProjectUpdateRequest` handoff sets with `PUT /projects/{project_gid}`; `None`
/// fields are left out of the body and so left unchanged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProjectUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

/// `JobCompact.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    NotStarted,
    InProgress,
    Succeeded,
    Failed,
    /// A status this version of handoff does not know; treated as still running.
    #[serde(other)]
    Unknown,
}

/// `JobResponse`: an asynchronous Asana operation, e.g. a project instantiation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub gid: String,
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub resource_subtype: Option<String>,
    pub status: JobStatus,
    /// The instantiated project (set once the job has created it).
    #[serde(default)]
    pub new_project: Option<ProjectCompact>,
    #[serde(default)]
    pub new_task: Option<NamedResource>,
    #[serde(default)]
    pub new_project_template: Option<ProjectTemplate>,
}

/// `TaskCompact` plus the `TaskResponse` fields handoff reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub gid: String,
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub resource_subtype: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub completed: Option<bool>,
    /// `memberships[]`: the project and section the task sits in (opt-in on list endpoints).
    #[serde(default)]
    pub memberships: Option<Vec<TaskMembership>>,
}

/// One entry of `TaskResponse.memberships`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskMembership {
    #[serde(default)]
    pub project: Option<NamedResource>,
    #[serde(default)]
    pub section: Option<NamedResource>,
}

/// The `TaskCreateRequest` fields handoff sends to `POST /tasks`.
///
/// Asana needs a `workspace` unless `projects` (or a parent task) is given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewTask {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Project gids the task is added to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
}
