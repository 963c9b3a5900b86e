//! Project instantiation end to end against the emulator: job polling, copying the template's
//! sections and tasks, at-most-once creation, lookup by name across pages, and job failures.

mod common;

use common::{seed_enterprise, start};
use handoff_asana::{AsanaClient, AsanaError, EmulatorConfig, JobStatus, NewTask, ProjectUpdate};
use handoff_connector::ErrorClass;
use serde_json::Value;

const NAME: &str = "Onboarding: Acme (deal 123)";

#[tokio::test]
async fn instantiation_job_yields_the_templates_sections_and_tasks() {
    let h = start(EmulatorConfig::default()).await;
    let template = seed_enterprise(&h.emu);
    let team = h.config.team_gid.clone();

    let templates = h.client.list_project_templates(&team).await.unwrap();
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0].gid, template);
    assert_eq!(
        templates[0].name.as_deref(),
        Some("Onboarding — Enterprise")
    );

    let job = h
        .client
        .instantiate_project(&template, NAME, &team)
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::InProgress);
    assert_eq!(job.resource_type.as_deref(), Some("job"));
    // As in Asana, the job names the project it is creating, and the project is findable by
    // name while the job runs (so a retry after a timed-out wait finds it instead of
    // instantiating twice).
    let pending = job.new_project.as_ref().expect("the job names its project");
    assert_eq!(h.emu.projects().len(), 1);
    let found = h.client.find_project_by_name(&team, NAME).await.unwrap();
    assert_eq!(found.map(|p| p.gid), Some(pending.gid.clone()));

    let project = h.client.wait_for_job(&job.gid).await.unwrap();
    assert_eq!(project.name.as_deref(), Some(NAME));
    let done = h.client.get_job(&job.gid).await.unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(
        done.new_project.as_ref().map(|p| p.gid.as_str()),
        Some(project.gid.as_str())
    );

    let full = h.client.get_project(&project.gid).await.unwrap();
    assert_eq!(
        full.team.as_ref().map(|t| t.gid.as_str()),
        Some(team.as_str())
    );
    assert_eq!(full.archived, Some(false));

    let sections = h.client.list_sections(&project.gid).await.unwrap();
    let names: Vec<_> = sections.iter().filter_map(|s| s.name.as_deref()).collect();
    assert_eq!(names, ["Kickoff", "Go-live"]);

    let tasks = h.client.list_tasks(&project.gid).await.unwrap();
    let placed: Vec<(String, String)> = tasks
        .iter()
        .map(|t| {
            let m = &t.memberships.as_ref().expect("memberships asked for")[0];
            let section = m.section.as_ref().and_then(|s| s.name.clone()).unwrap();
            (section, t.name.clone().unwrap())
        })
        .collect();
    assert_eq!(
        placed,
        [
            ("Kickoff".to_string(), "Intro call".to_string()),
            ("Kickoff".to_string(), "Share success plan".to_string()),
            ("Go-live".to_string(), "Production cutover".to_string()),
        ]
    );
    let projects = h.emu.projects();
    assert_eq!(
        projects[0]["created_from_template"]["gid"],
        Value::from(template)
    );
}

#[tokio::test]
async fn instantiate_project_once_twice_makes_one_project() {
    let h = start(EmulatorConfig::default()).await;
    let template = seed_enterprise(&h.emu);
    let team = h.config.team_gid.clone();

    let first = h
        .client
        .instantiate_project_once(&template, NAME, &team)
        .await
        .unwrap();
    let second = h
        .client
        .instantiate_project_once(&template, NAME, &team)
        .await
        .unwrap();
    assert_eq!(first.gid, second.gid);
    assert_eq!(h.emu.projects().len(), 1);
    assert_eq!(h.emu.tasks().len(), 3, "tasks were not copied twice");

    let other = h
        .client
        .instantiate_project_once(&template, "Onboarding: Globex (deal 9)", &team)
        .await
        .unwrap();
    assert_ne!(other.gid, first.gid);
    assert_eq!(h.emu.projects().len(), 2);
}

#[tokio::test]
async fn find_by_name_walks_past_the_first_page_and_skips_archived() {
    let h = start(EmulatorConfig::default()).await;
    let team = h.config.team_gid.clone();
    let mut target = String::new();
    for i in 0..150 {
        let gid = h
            .emu
            .add_project(format!("Onboarding: Customer {i} (deal {i})"));
        if i == 140 {
            target = gid;
        }
    }
    // The target sits past the first page of 100.
    let first: Value = reqwest::Client::new()
        .get(h.url(&format!(
            "projects?team={team}&archived=false&limit=100&opt_fields=name"
        )))
        .bearer_auth(h.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 100);
    assert!(first["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["gid"] != target.as_str()));
    assert!(first["next_page"]["offset"].is_string());

    let found = h
        .client
        .find_project_by_name(&team, "Onboarding: Customer 140 (deal 140)")
        .await
        .unwrap()
        .expect("project on page 2 is found");
    assert_eq!(found.gid, target);
    assert!(h
        .client
        .find_project_by_name(&team, "Onboarding: Nobody (deal 0)")
        .await
        .unwrap()
        .is_none());

    let archive = ProjectUpdate {
        archived: Some(true),
        ..Default::default()
    };
    h.client.update_project(&target, &archive).await.unwrap();
    assert!(h
        .client
        .find_project_by_name(&team, "Onboarding: Customer 140 (deal 140)")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn missing_team_is_a_400_with_asanas_error_shape() {
    let h = start(EmulatorConfig::default()).await;
    let template = seed_enterprise(&h.emu);
    let http = reqwest::Client::new();
    let url = h.url(&format!("project_templates/{template}/instantiateProject"));
    let response = http
        .post(&url)
        .bearer_auth(h.token())
        .json(&serde_json::json!({ "data": { "name": NAME } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["message"], "team: Missing input");

    let no_name = http
        .post(&url)
        .bearer_auth(h.token())
        .json(&serde_json::json!({ "data": { "team": h.config.team_gid } }))
        .send()
        .await
        .unwrap();
    assert_eq!(no_name.status(), 400);
    let body: Value = no_name.json().await.unwrap();
    assert_eq!(body["errors"][0]["message"], "name: Missing input");

    // Through the client: a 400 is permanent and nothing was created.
    let err = h
        .client
        .instantiate_project(&template, NAME, "999")
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(
        err.to_string().contains("team: Not a recognized ID: 999"),
        "{err}"
    );
    assert!(h.emu.projects().is_empty());
}

#[tokio::test]
async fn bad_token_is_401_not_authorized() {
    let h = start(EmulatorConfig::default()).await;
    let response = reqwest::Client::new()
        .get(h.url("users/me"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "errors": [{ "message": "Not Authorized" }] })
    );

    let mut config = h.config.clone();
    config.personal_access_token = "wrong".to_string().into();
    let err = AsanaClient::new(&config)
        .unwrap()
        .get_project("1")
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::AuthExpired);
}

#[tokio::test]
async fn failed_and_slow_jobs_surface_as_typed_errors() {
    let h = start(EmulatorConfig::default()).await;
    let template = seed_enterprise(&h.emu);
    let team = h.config.team_gid.clone();
    h.emu.fail_next_jobs(1);
    let err = h
        .client
        .instantiate_project_once(&template, NAME, &team)
        .await
        .unwrap_err();
    assert!(matches!(err, AsanaError::JobFailed { .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Permanent);
    // The failed job's project is archived: nothing active is left behind to be found.
    assert!(h.emu.projects().iter().all(|p| p["archived"] == true));
    assert!(h
        .client
        .find_project_by_name(&team, NAME)
        .await
        .unwrap()
        .is_none());

    let slow = start(EmulatorConfig {
        job_delay_ms: 60_000,
        ..EmulatorConfig::default()
    })
    .await;
    let template = seed_enterprise(&slow.emu);
    let mut config = slow.config.clone();
    config.job_timeout_s = 1;
    let client = AsanaClient::new(&config).unwrap();
    let job = client
        .instantiate_project(&template, NAME, &team)
        .await
        .unwrap();
    let err = client.wait_for_job(&job.gid).await.unwrap_err();
    assert!(matches!(err, AsanaError::JobTimedOut { .. }), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn tasks_can_be_added_and_projects_updated() {
    let h = start(EmulatorConfig::default()).await;
    let template = seed_enterprise(&h.emu);
    let team = h.config.team_gid.clone();
    let project = h
        .client
        .instantiate_project_once(&template, NAME, &team)
        .await
        .unwrap();

    let notes = ProjectUpdate {
        notes: Some("HubSpot deal 123, owner Jo".into()),
        ..Default::default()
    };
    let updated = h.client.update_project(&project.gid, &notes).await.unwrap();
    assert_eq!(updated.notes.as_deref(), Some("HubSpot deal 123, owner Jo"));
    assert_eq!(
        h.client.get_project(&project.gid).await.unwrap().notes,
        updated.notes
    );

    let task = h
        .client
        .create_task(&NewTask {
            name: "Send welcome pack".into(),
            projects: vec![project.gid.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(task.name.as_deref(), Some("Send welcome pack"));
    let tasks = h.client.list_tasks(&project.gid).await.unwrap();
    assert_eq!(tasks.len(), 4);
    assert!(tasks.iter().any(|t| t.gid == task.gid));

    let orphan = h
        .client
        .create_task(&NewTask {
            name: "No home".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        orphan.to_string().contains("workspace: Missing input"),
        "{orphan}"
    );
}
