//! `write_state` writes the emulator's projects, tasks and templates as JSON arrays.

mod common;

use common::{seed_enterprise, start};
use handoff_asana::EmulatorConfig;
use serde_json::Value;

#[tokio::test]
async fn write_state_files_hold_projects_tasks_and_templates() {
    let h = start(EmulatorConfig::default()).await;
    let template = seed_enterprise(&h.emu);
    let team = h.config.team_gid.clone();
    let project = h
        .client
        .instantiate_project_once(&template, "Onboarding: Acme (deal 123)", &team)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let paths = h.emu.write_state(dir.path()).unwrap();
    assert_eq!(paths.len(), 3);
    let read = |name: &str| -> Vec<Value> {
        let text = std::fs::read(dir.path().join("asana").join(name)).unwrap();
        serde_json::from_slice(&text).unwrap()
    };
    let projects = read("projects.json");
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0]["gid"], Value::from(project.gid.clone()));
    assert_eq!(projects[0]["name"], "Onboarding: Acme (deal 123)");
    assert_eq!(projects[0]["team"]["gid"], Value::from(team));
    let tasks = read("tasks.json");
    assert_eq!(tasks.len(), 3);
    assert!(tasks
        .iter()
        .all(|t| t["memberships"][0]["project"]["gid"] == project.gid.as_str()));
    let templates = read("project_templates.json");
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0]["resource_type"], "project_template");
}
