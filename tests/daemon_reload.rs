//! Reloading the configuration of a running daemon, black-box.
//!
//! * `POST /admin/reload` (what `handoff reload` sends) swaps in new routing rules at once:
//!   the next lead is routed by them, and the status shows the new version.
//! * A broken rules file is refused naming its file and line; the running rules stay, and the
//!   status shows the error next to the live version.
//! * A changed restart-only key (`listen`) is applied only at the next restart and named so.
//! * `systemctl reload` sends SIGHUP to `handoff run`: the child daemon reloads.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// Every lead to `team`'s reps, round robin, open around the clock.
fn rules(team: &str) -> String {
    format!(
        r#"name: reload-test
teams:
  - name: West
    time_zone: UTC
    hours: {{ days: [mon, tue, wed, thu, fri, sat, sun], open: "00:00", close: "23:59" }}
    groups:
      - {{ manager: cleo.central@example.com, reps: [wendy.west@example.com, walt.west@example.com] }}
  - name: East
    time_zone: UTC
    hours: {{ days: [mon, tue, wed, thu, fri, sat, sun], open: "00:00", close: "23:59" }}
    groups:
      - {{ manager: cal.central@example.com, reps: [erin.east@example.com, ed.east@example.com] }}
rules:
  - {{ name: everyone, strategy: round_robin, pool: {{ team: {team} }} }}
fallback: {{ owner: cal.central@example.com }}
"#
    )
}

async fn reload(env: &TestEnv) -> (u16, Value) {
    let r = env
        .http
        .post(format!("http://{}/admin/reload", env.admin_addr))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Creates a HubSpot contact and waits for its owner (read as the raw property: the test's
/// config may be broken on purpose, so nothing here loads it).
async fn routed_owner(env: &TestEnv, email: &str) -> String {
    let id = env.new_lead(email);
    let owner = || {
        env.prop("contacts", &id, "hubspot_owner_id")
            .and_then(|o| env.owner_email(&o))
    };
    assert!(
        wait_until(WAIT, || owner().is_some()).await,
        "lead {id} not routed"
    );
    owner().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_rules_apply_at_once_and_broken_ones_leave_the_running_set() {
    let mut env = TestEnv::new(Options::default()).await;
    env.use_rules(&rules("West"), "");
    env.start_in_process().await;
    let before = env.status().await.config.expect("the live version");
    assert_eq!(before.reloads, 0);
    let owner = routed_owner(&env, "first@northwind-traders.io").await;
    assert!(owner.ends_with(".west@example.com"), "{owner}");

    std::fs::write(env.dir.path().join("routing.yaml"), rules("East")).unwrap();
    let (code, v) = reload(&env).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["reloads"], 1);
    assert_ne!(v["version"], before.version.as_str());
    assert_eq!(v["needs_restart"], serde_json::json!([]));
    let owner = routed_owner(&env, "second@northwind-traders.io").await;
    assert!(owner.ends_with(".east@example.com"), "{owner}");

    // A broken file: refused with its file and line, the East rules stay.
    std::fs::write(
        env.dir.path().join("routing.yaml"),
        rules("East").replace("strategy: round_robin", "strategy: by_magic"),
    )
    .unwrap();
    let (code, v) = reload(&env).await;
    assert_eq!(code, 422, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("routing.yaml:"), "{error}");
    assert!(error.contains("by_magic"), "{error}");
    let status = env.status().await.config.unwrap();
    assert_eq!(status.reloads, 1);
    assert_eq!(status.version, v_version(&env).await);
    assert!(status.last_error.as_deref().unwrap().contains("by_magic"));
    let owner = routed_owner(&env, "third@northwind-traders.io").await;
    assert!(owner.ends_with(".east@example.com"), "{owner}");

    // A restart-only key: the rest applies, the key is named.
    std::fs::write(env.dir.path().join("routing.yaml"), rules("West")).unwrap();
    let config = std::fs::read_to_string(&env.config_path).unwrap();
    let port = env.daemon_url.port().unwrap();
    std::fs::write(
        &env.config_path,
        config.replacen(&format!(":{port}\n"), &format!(":{}\n", port + 1), 1),
    )
    .unwrap();
    let (code, v) = reload(&env).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["needs_restart"], serde_json::json!(["listen"]));
    assert_eq!(v["last_error"], Value::Null);
    let owner = routed_owner(&env, "fourth@northwind-traders.io").await;
    assert!(owner.ends_with(".west@example.com"), "{owner}");
}

async fn v_version(env: &TestEnv) -> String {
    env.status().await.config.unwrap().version
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_child_daemon() {
    let mut env = TestEnv::new(Options::default()).await;
    env.use_rules(&rules("West"), "");
    env.start_child().await;
    let before = env.status().await.config.expect("the live version");
    std::fs::write(env.dir.path().join("routing.yaml"), rules("East")).unwrap();
    let pid = env.child_pid().expect("a child daemon");
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut reloaded = false;
    for _ in 0..100 {
        let now = env.status().await.config.unwrap();
        if now.reloads == 1 {
            assert_ne!(now.version, before.version);
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reloaded, "no reload after SIGHUP: {}", env.child_log());
    let owner = routed_owner(&env, "hup@northwind-traders.io").await;
    assert!(owner.ends_with(".east@example.com"), "{owner}");
    env.kill_child();
}
