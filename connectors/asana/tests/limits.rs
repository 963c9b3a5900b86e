//! Rate limits and injected faults: the client honours `Retry-After`, and the emulator refuses
//! a sixth concurrent instantiation job with Asana's 429.

mod common;

use common::{seed_enterprise, start};
use handoff_asana::EmulatorConfig;
use handoff_connector::emulator::Fault;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[tokio::test]
async fn client_waits_out_a_429_with_retry_after() {
    let h = start(EmulatorConfig::default()).await;
    seed_enterprise(&h.emu);
    h.emu.faults().inject(
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );

    let raw = reqwest::Client::new()
        .get(h.url("users/me"))
        .bearer_auth(h.token())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 429);
    assert_eq!(raw.headers()["retry-after"], "1");
    let body: Value = raw.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["message"],
        "You've made too many requests and hit a rate limit. Please retry after the given amount of time."
    );

    h.emu.faults().inject(
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let started = Instant::now();
    let templates = h
        .client
        .list_project_templates(&h.config.team_gid)
        .await
        .expect("retried after the 429");
    assert_eq!(templates.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After was honoured"
    );
    assert_eq!(h.emu.faults().served(), 2);
}

#[tokio::test]
async fn server_errors_carry_a_phrase_and_are_retried() {
    let h = start(EmulatorConfig::default()).await;
    h.emu.faults().inject(Fault::ServerError, 1);
    let raw = reqwest::Client::new()
        .get(h.url("workspaces"))
        .bearer_auth(h.token())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 500);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["errors"][0]["message"], "Server Error");
    assert!(body["errors"][0]["phrase"]
        .as_str()
        .is_some_and(|p| p.split(' ').count() == 5));

    h.emu.faults().inject(Fault::ServerError, 2);
    let project = h.emu.add_project("Hand-made");
    let got = h.client.get_project(&project).await.unwrap();
    assert_eq!(got.name.as_deref(), Some("Hand-made"));
    assert_eq!(h.emu.faults().served(), 3);
}

#[tokio::test]
async fn sixth_concurrent_instantiation_job_is_refused() {
    let h = start(EmulatorConfig {
        job_delay_ms: 60_000,
        ..EmulatorConfig::default()
    })
    .await;
    let template = seed_enterprise(&h.emu);
    let http = reqwest::Client::new();
    let url = h.url(&format!("project_templates/{template}/instantiateProject"));
    let post = |i: usize| {
        http.post(&url)
            .bearer_auth(h.token())
            .json(&json!({ "data": { "name": format!("Onboarding {i}"), "team": h.config.team_gid } }))
            .send()
    };
    for i in 0..5 {
        let r = post(i).await.unwrap();
        assert_eq!(r.status(), 201, "job {i} accepted");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["data"]["status"], "in_progress");
    }
    let refused = post(5).await.unwrap();
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with("You've made too many requests"));

    h.emu.set_rate_limits(false);
    assert_eq!(post(6).await.unwrap().status(), 201, "limit lifted");
}

#[tokio::test]
async fn pages_carry_next_page_and_bad_limits_are_refused() {
    let h = start(EmulatorConfig::default()).await;
    for i in 0..3 {
        h.emu.add_project(format!("P{i}"));
    }
    let http = reqwest::Client::new();
    let get = |path: String| http.get(h.url(&path)).bearer_auth(h.token()).send();
    let team = &h.config.team_gid;
    let first: Value = get(format!("projects?team={team}&limit=2"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        first["data"][0].as_object().unwrap().len(),
        3,
        "compact: gid, resource_type, name"
    );
    let path = first["next_page"]["path"].as_str().unwrap();
    let second: Value = get(path.to_string()).await.unwrap().json().await.unwrap();
    assert_eq!(second["data"][0]["name"], "P2");
    assert!(second["next_page"].is_null());

    let bad = get(format!("projects?team={team}&limit=0")).await.unwrap();
    assert_eq!(bad.status(), 400);
    let missing = get("nowhere".into()).await.unwrap();
    assert_eq!(missing.status(), 404);
}
