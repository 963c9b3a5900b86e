//! The emulator's in-memory Asana: templates, projects, sections, tasks and instantiation jobs,
//! and their JSON as Asana renders them (`ProjectTemplateResponse`, `ProjectResponse`,
//! `SectionResponse`, `TaskResponse`, `JobResponse` in `asana_oas.yaml`).
//!
//! Jobs settle lazily: every read first turns jobs whose `job_delay_ms` has passed into their
//! outcome, creating the project with the template's sections and tasks on success.

use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Name the emulated workspace (organization) reports.
const WORKSPACE_NAME: &str = "Emulated Organization";
/// Name the emulated team reports.
const TEAM_NAME: &str = "Customer Success";
/// The token's user (`GET /users/me`).
const USER_GID: &str = "1100000000000001";
const USER_NAME: &str = "handoff integration";
const USER_EMAIL: &str = "handoff@example.com";

pub(crate) struct TemplateRec {
    pub gid: String,
    pub name: String,
    pub sections: Vec<(String, Vec<String>)>,
}

pub(crate) struct ProjectRec {
    pub gid: String,
    pub name: String,
    pub notes: String,
    pub archived: bool,
    pub created_at: String,
    pub modified_at: String,
    pub template_gid: Option<String>,
}

pub(crate) struct SectionRec {
    pub gid: String,
    pub name: String,
    pub project_gid: String,
    pub created_at: String,
}

pub(crate) struct TaskRec {
    pub gid: String,
    pub name: String,
    pub notes: String,
    pub project_gid: Option<String>,
    pub section_gid: Option<String>,
    pub created_at: String,
    pub modified_at: String,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum JobOutcome {
    Pending,
    Succeeded { project_gid: String },
    Failed,
}

pub(crate) struct JobRec {
    pub gid: String,
    pub due: Instant,
    pub will_fail: bool,
    pub outcome: JobOutcome,
    /// The project the job creates: it exists (findable by name) from the moment the job
    /// starts, as in Asana, whose `JobResponse.new_project` is set while the job runs.
    pub project_gid: String,
}

/// Everything the emulator holds.
pub(crate) struct Store {
    next_gid: u64,
    pub workspace_gid: String,
    pub team_gid: String,
    pub templates: Vec<TemplateRec>,
    pub projects: Vec<ProjectRec>,
    pub sections: Vec<SectionRec>,
    pub tasks: Vec<TaskRec>,
    pub jobs: Vec<JobRec>,
}

/// Now as Asana writes timestamps: RFC 3339 UTC with milliseconds.
pub(crate) fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn named(gid: &str, resource_type: &str, name: &str) -> Value {
    json!({ "gid": gid, "resource_type": resource_type, "name": name })
}

impl Store {
    pub fn new(workspace_gid: String, team_gid: String) -> Self {
        Self {
            next_gid: 1_210_000_000_000_001,
            workspace_gid,
            team_gid,
            templates: Vec::new(),
            projects: Vec::new(),
            sections: Vec::new(),
            tasks: Vec::new(),
            jobs: Vec::new(),
        }
    }

    /// A fresh 16-digit gid, as Asana's look.
    pub fn gid(&mut self) -> String {
        let gid = self.next_gid;
        self.next_gid += 1;
        gid.to_string()
    }

    pub fn workspace_compact(&self) -> Value {
        named(&self.workspace_gid, "workspace", WORKSPACE_NAME)
    }

    pub fn team_compact(&self) -> Value {
        named(&self.team_gid, "team", TEAM_NAME)
    }

    pub fn user_compact(&self) -> Value {
        named(USER_GID, "user", USER_NAME)
    }

    /// `UserResponse` of the token's user.
    pub fn me(&self) -> Value {
        json!({
            "gid": USER_GID, "resource_type": "user", "name": USER_NAME, "email": USER_EMAIL,
            "photo": null, "workspaces": [self.workspace_compact()],
        })
    }

    pub fn add_template(&mut self, name: String, sections: Vec<(String, Vec<String>)>) -> String {
        let gid = self.gid();
        self.templates.push(TemplateRec {
            gid: gid.clone(),
            name,
            sections,
        });
        gid
    }

    /// Creates a project in the team; with a template, copies its sections and tasks.
    pub fn add_project(&mut self, name: String, template_gid: Option<&str>) -> String {
        let gid = self.gid();
        let now = now_rfc3339();
        let layout = template_gid
            .and_then(|t| self.templates.iter().find(|r| r.gid == t))
            .map(|t| t.sections.clone())
            .unwrap_or_default();
        self.projects.push(ProjectRec {
            gid: gid.clone(),
            name,
            notes: String::new(),
            archived: false,
            created_at: now.clone(),
            modified_at: now.clone(),
            template_gid: template_gid.map(str::to_string),
        });
        for (section_name, task_names) in layout {
            let section_gid = self.gid();
            self.sections.push(SectionRec {
                gid: section_gid.clone(),
                name: section_name,
                project_gid: gid.clone(),
                created_at: now.clone(),
            });
            for task_name in task_names {
                let task_gid = self.gid();
                self.tasks.push(TaskRec {
                    gid: task_gid,
                    name: task_name,
                    notes: String::new(),
                    project_gid: Some(gid.clone()),
                    section_gid: Some(section_gid.clone()),
                    created_at: now.clone(),
                    modified_at: now.clone(),
                });
            }
        }
        gid
    }

    /// Settles every job whose delay has passed at `now`. A failed job's project is archived.
    pub fn settle_jobs(&mut self, now: Instant) {
        let due: Vec<usize> = (0..self.jobs.len())
            .filter(|&i| self.jobs[i].outcome == JobOutcome::Pending && self.jobs[i].due <= now)
            .collect();
        for i in due {
            let project_gid = self.jobs[i].project_gid.clone();
            let outcome = if self.jobs[i].will_fail {
                if let Some(p) = self.project_mut(&project_gid) {
                    p.archived = true;
                }
                JobOutcome::Failed
            } else {
                JobOutcome::Succeeded { project_gid }
            };
            self.jobs[i].outcome = outcome;
        }
    }

    /// Jobs still in progress at `now` and how long until the first of them settles.
    pub fn running_jobs(&self, now: Instant) -> (usize, Duration) {
        let running = self
            .jobs
            .iter()
            .filter(|j| j.outcome == JobOutcome::Pending);
        let count = running.clone().count();
        let soonest = running
            .map(|j| j.due.saturating_duration_since(now))
            .min()
            .unwrap_or_default();
        (count, soonest)
    }

    pub fn template(&self, gid: &str) -> Option<&TemplateRec> {
        self.templates.iter().find(|t| t.gid == gid)
    }

    pub fn project(&self, gid: &str) -> Option<&ProjectRec> {
        self.projects.iter().find(|p| p.gid == gid)
    }

    pub fn project_mut(&mut self, gid: &str) -> Option<&mut ProjectRec> {
        self.projects.iter_mut().find(|p| p.gid == gid)
    }

    pub fn section(&self, gid: &str) -> Option<&SectionRec> {
        self.sections.iter().find(|s| s.gid == gid)
    }

    pub fn job(&self, gid: &str) -> Option<&JobRec> {
        self.jobs.iter().find(|j| j.gid == gid)
    }

    /// `ProjectTemplateResponse` (no `sections`: Asana's template schema has none).
    pub fn template_json(&self, t: &TemplateRec) -> Value {
        json!({
            "gid": t.gid, "resource_type": "project_template", "name": t.name,
            "description": "", "html_description": "<body></body>", "public": false,
            "owner": self.user_compact(), "team": self.team_compact(), "requested_dates": [],
            "color": null, "requested_roles": [],
        })
    }

    /// `ProjectResponse`, including the opt-in `created_from_template`.
    pub fn project_json(&self, p: &ProjectRec) -> Value {
        let from_template = p
            .template_gid
            .as_deref()
            .and_then(|g| self.template(g))
            .map(|t| named(&t.gid, "project_template", &t.name))
            .unwrap_or(Value::Null);
        json!({
            "gid": p.gid, "resource_type": "project", "name": p.name, "archived": p.archived,
            "color": null, "created_at": p.created_at, "modified_at": p.modified_at,
            "notes": p.notes, "privacy_setting": "public_to_workspace", "default_view": "list",
            "due_on": null, "start_on": null, "current_status": null,
            "current_status_update": null, "custom_fields": [], "custom_field_settings": [],
            "completed": false, "completed_at": null, "completed_by": null,
            "members": [self.user_compact()], "followers": [self.user_compact()],
            "owner": self.user_compact(), "team": self.team_compact(),
            "workspace": self.workspace_compact(),
            "permalink_url": format!("https://app.asana.com/1/{}/project/{}", self.workspace_gid, p.gid),
            "created_from_template": from_template,
        })
    }

    pub fn project_compact(&self, gid: &str) -> Value {
        match self.project(gid) {
            Some(p) => named(&p.gid, "project", &p.name),
            None => Value::Null,
        }
    }

    /// `SectionResponse`.
    pub fn section_json(&self, s: &SectionRec) -> Value {
        json!({
            "gid": s.gid, "resource_type": "section", "name": s.name, "created_at": s.created_at,
            "project": self.project_compact(&s.project_gid),
        })
    }

    /// `TaskResponse` (the fields a fresh task has).
    pub fn task_json(&self, t: &TaskRec) -> Value {
        let memberships: Vec<Value> = t
            .project_gid
            .iter()
            .map(|p| {
                let section = t
                    .section_gid
                    .as_deref()
                    .and_then(|s| self.section(s))
                    .map(|s| named(&s.gid, "section", &s.name))
                    .unwrap_or(Value::Null);
                json!({ "project": self.project_compact(p), "section": section })
            })
            .collect();
        let projects: Vec<Value> = t
            .project_gid
            .iter()
            .map(|p| self.project_compact(p))
            .collect();
        json!({
            "gid": t.gid, "resource_type": "task", "resource_subtype": "default_task",
            "name": t.name, "notes": t.notes, "completed": false, "completed_at": null,
            "created_at": t.created_at, "modified_at": t.modified_at, "due_on": null,
            "due_at": null, "start_on": null, "assignee": null, "parent": null,
            "num_subtasks": 0, "tags": [], "followers": [self.user_compact()],
            "memberships": memberships, "projects": projects,
            "workspace": self.workspace_compact(),
            "permalink_url": format!("https://app.asana.com/1/{}/task/{}", self.workspace_gid, t.gid),
        })
    }

    /// `JobResponse`: `new_project` is the project being created (set while the job runs).
    pub fn job_json(&self, j: &JobRec) -> Value {
        let (status, new_project) = match &j.outcome {
            JobOutcome::Pending => ("in_progress", self.project_compact(&j.project_gid)),
            JobOutcome::Succeeded { project_gid } => {
                ("succeeded", self.project_compact(project_gid))
            }
            JobOutcome::Failed => ("failed", Value::Null),
        };
        json!({
            "gid": j.gid, "resource_type": "job", "status": status,
            "new_project": new_project, "new_task": null, "new_project_template": null,
        })
    }
}
