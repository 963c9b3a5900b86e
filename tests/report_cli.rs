//! `handoff report --state-dir`, run as a child process on a store filled here: it prints the
//! figures, writes the HTML page, prints JSON with `--json`, honours `--since`, adds the case
//! view only when the trail holds case entries, and says the store is locked (not a bare sled
//! error) while another process holds it.

use handoff::flows::lead_state::{LeadState, LeadStatus};
use handoff::state::{AuditEntry, Store};
use serde_json::json;
use std::path::Path;
use std::process::Output;

/// 2026-01-01T00:00:00Z, UTC ms.
const T0: i64 = 1_767_225_600_000;

fn handoff(args: &[&str], dir: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_handoff"))
        .args(args)
        .current_dir(dir)
        .env_remove("HANDOFF_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("run handoff")
}

fn entry(at_ms: i64, id: &str, kind: &str, detail: serde_json::Value) -> AuditEntry {
    AuditEntry::new(at_ms, &format!("hubspot:contacts:{id}"), kind, kind, detail)
}

fn touch(at_ms: i64, id: &str, elapsed_ms: i64, met: bool) -> AuditEntry {
    entry(
        at_ms,
        id,
        "first_touch",
        json!({"team": "West", "by": "claim", "elapsed_ms": elapsed_ms,
               "business_elapsed_ms": elapsed_ms, "policy": "demo_request", "met": met}),
    )
}

/// Two West leads touched after 3 and 7 minutes (one late), one breached lead in the next
/// hour, and rep a@x.com owning two open leads.
async fn fill(store: &Store) {
    let routed = json!({"owner_email": "a@x.com", "team": "West", "policy": "demo_request"});
    store
        .append_audit(&[
            entry(T0, "1", "routed", routed.clone()),
            touch(T0 + 180_000, "1", 180_000, true),
            entry(T0, "2", "routed", routed.clone()),
            touch(T0 + 420_000, "2", 420_000, false),
            entry(T0 + 3_600_000, "3", "routed", routed),
            entry(
                T0 + 3_960_000,
                "3",
                "sla_breached",
                json!({"team": "West", "policy": "demo_request"}),
            ),
        ])
        .unwrap();
    for id in ["1", "3"] {
        let lead = LeadState {
            record_key: format!("hubspot:contacts:{id}"),
            record_id: id.into(),
            owner_id: "7".into(),
            owner_email: "a@x.com".into(),
            team: Some("West".into()),
            manager_email: None,
            received_ms: T0,
            assigned_ms: T0,
            policy: Some("demo_request".into()),
            sla_due_ms: None,
            assignments: 1,
            status: LeadStatus::Open,
        };
        let (key, value) = lead.entry();
        store.put_json(&key, &value).unwrap();
    }
    store.durable().await.unwrap();
}

#[test]
fn report_reads_a_stopped_daemons_store_and_writes_the_page() {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    let state = d.join("state");
    {
        // The runtime (and with it the store's flusher) is gone before the CLI opens the store.
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let store = Store::open(&state).unwrap();
            fill(&store).await;
        });
    }
    let state_arg = state.to_str().unwrap();
    let out = handoff(
        &["report", "--state-dir", state_arg, "--html", "report.html"],
        d,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Calendar [3, 7] min: p50 3.0, p90 7.0. SLA: 1 met, 2 missed (late touch, breach).
    assert!(
        stdout.contains("p50 3.0 min / p90 7.0 min (calendar)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SLA met:        33.3% (1 met, 2 missed, 0 pending)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("a@x.com") && stdout.contains("wrote report.html"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(d.join("report.html")).unwrap();
    for chart in ["speed-to-lead", "sla-breaches", "load-per-rep"] {
        assert!(
            html.contains(&format!("<svg id=\"{chart}\"")),
            "missing {chart}"
        );
    }
    // A lead-only trail: no case view anywhere.
    assert!(!stdout.contains("Cases:"), "{stdout}");
    assert!(!html.contains("Support cases"));

    let out = handoff(
        &[
            "report",
            "--state-dir",
            state_arg,
            "--json",
            "--since",
            "2026-01-01T01:00:00Z",
        ],
        d,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json.get("cases").is_none(), "{json}");
    assert_eq!(json["since_ms"], T0 + 3_600_000);
    assert_eq!(json["overall"]["first_touches"], 0);
    assert_eq!(json["overall"]["sla_missed"], 1);
    assert_eq!(
        json["breaches_per_hour"],
        json!([{"hour_ms": T0 + 3_600_000, "count": 1}])
    );
    assert_eq!(json["load"][0]["open"], 2);

    let bad = handoff(
        &["report", "--state-dir", state_arg, "--since", "yesterday"],
        d,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));
}

fn case(at_ms: i64, id: &str, kind: &str, detail: serde_json::Value) -> AuditEntry {
    AuditEntry::new(at_ms, &format!("salesforce:Case:{id}"), kind, kind, detail)
}

#[test]
fn report_shows_the_case_view_when_the_trail_holds_case_entries() {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    let state = d.join("state");
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let store = Store::open(&state).unwrap();
            fill(&store).await;
            let response = |at_ms: i64, id: &str, waited_ms: i64, within: bool| {
                case(
                    at_ms,
                    id,
                    "case_first_response",
                    json!({"by": "comment", "at_ms": at_ms, "waited_ms": waited_ms, "tier": "L1",
                           "priority": "High", "agent_email": "ana@x.test", "policy": "p",
                           "within_sla": within}),
                )
            };
            store
                .append_audit(&[
                    case(
                        T0,
                        "1",
                        "case_opened",
                        json!({"bot": true, "priority": "High", "origin": "Chat"}),
                    ),
                    case(
                        T0,
                        "2",
                        "case_opened",
                        json!({"bot": false, "priority": "High", "origin": "Email"}),
                    ),
                    response(T0 + 120_000, "1", 120_000, true),
                    response(T0 + 600_000, "2", 600_000, false),
                    case(
                        T0 + 3_600_000,
                        "2",
                        "case_escalated",
                        json!({"escalation": 1, "escalation_reason": "status Escalated",
                               "l1_ms": 3_600_000, "tier": "L2", "agent_email": "lee@x.test",
                               "reason": null, "outcome": "assigned"}),
                    ),
                ])
                .unwrap();
            store.durable().await.unwrap();
        });
    }
    let state_arg = state.to_str().unwrap();
    let out = handoff(
        &["report", "--state-dir", state_arg, "--html", "report.html"],
        d,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The lead figures are unchanged by the case entries.
    assert!(
        stdout.contains("SLA met:        33.3% (1 met, 2 missed, 0 pending)"),
        "{stdout}"
    );
    for line in [
        "Cases:",
        "opened:         2 (1 bot, 1 other)",
        "first response: p50 2.0 min / p90 10.0 min, 2 responses, 50.0% within SLA (1 of 2 with a policy)",
        "escalations:    1 to L2 in 1 case(s); 0 re-escalation(s)",
        "time in L1:     p50 1.0 h / p90 1.0 h (1 case(s))",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    let html = std::fs::read_to_string(d.join("report.html")).unwrap();
    for chart in ["case-first-response", "case-escalations", "case-tier-time"] {
        assert!(
            html.contains(&format!("<svg id=\"{chart}\"")),
            "missing {chart}"
        );
    }

    let out = handoff(&["report", "--state-dir", state_arg, "--json"], d);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = &json["cases"];
    assert_eq!(cases["first_response"]["p90_ms"], 600_000);
    assert_eq!(cases["first_response_by_priority"][0]["key"], "High");
    assert_eq!(
        cases["escalations_per_day"],
        json!([{"day_ms": T0, "count": 1, "re_escalations": 0}])
    );
    assert_eq!(cases["counts"]["opened_bot"], 1);
}

#[tokio::test]
async fn report_says_the_store_is_locked_while_another_process_holds_it() {
    let dir = tempfile::TempDir::new().unwrap();
    let state = dir.path().join("state");
    let held = Store::open(&state).unwrap();
    let out = handoff(
        &["report", "--state-dir", state.to_str().unwrap()],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is locked by another process"), "{stderr}");
    assert!(stderr.contains("--admin"), "{stderr}");
    drop(held);
}

#[tokio::test]
async fn report_reads_a_running_daemon_through_the_admin_api() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(&dir.path().join("state")).unwrap();
    fill(&store).await;
    let notify = std::sync::Arc::new(tokio::sync::Notify::new());
    let router = handoff::daemon::admin::router(handoff::daemon::admin::Admin {
        store: store.clone(),
        wake: notify.clone(),
        executor_wake: notify,
        live: None,
        replayer: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let client = handoff::admin_client::AdminClient::new(addr, std::path::PathBuf::new());
    let all = client.report_remote(None).await.unwrap();
    assert_eq!((all.overall.sla_met, all.overall.sla_missed), (1, 2));
    let since: jiff::Timestamp = "2026-01-01T01:00:00Z".parse().unwrap();
    let later = client.report_remote(Some(since)).await.unwrap();
    assert_eq!(later.since_ms, Some(T0 + 3_600_000));
    assert_eq!(later.overall.first_touches, 0);

    let bad = reqwest::get(format!("http://{addr}/admin/report?since=yesterday"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // A page in the operator's browser cannot read it, nor a rebound DNS name.
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/admin/status");
    let from_page = http
        .get(&url)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(from_page.status(), 403);
    let rebound = http
        .get(&url)
        .header("host", format!("evil.example:{}", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);

    // The CLI with --admin prints the same figures (the store stays held by this process).
    let d = dir.path().to_path_buf();
    let admin = addr.to_string();
    let out = tokio::task::spawn_blocking(move || handoff(&["report", "--admin", &admin], &d))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("SLA met:        33.3%"), "{stdout}");
    server.abort();

    // Nothing listens on a released port: --admin does not fall back to a store.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let nobody = handoff::admin_client::AdminClient::new(free, std::path::PathBuf::new());
    let gone = nobody.report_remote(None).await;
    assert!(
        matches!(
            gone,
            Err(handoff::admin_client::AdminError::Unreachable { .. })
        ),
        "{:?}",
        gone.err()
    );
}
