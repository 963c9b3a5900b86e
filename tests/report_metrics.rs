//! The report's Prometheus gauges: the refresher computes them from the store at once, then
//! again every period (a later audit entry shows up without anyone scanning at scrape time),
//! and it stops on shutdown.

use handoff::flows::lead_state::{LeadState, LeadStatus};
use handoff::state::{AuditEntry, Store};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The value of the sample whose name and labels are exactly `series`, e.g.
/// `handoff_report_recycle_ratio` or `handoff_report_rejections{reason="duplicate"}`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Polls the Prometheus text every 20 ms until `series` has `value` (or 10 s pass).
async fn wait_for(
    handle: &metrics_exporter_prometheus::PrometheusHandle,
    series: &str,
    value: f64,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = handle.render();
        if sample(&text, series) == Some(value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} never became {value}; metrics:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn entry(at_ms: i64, record: &str, kind: &str, detail: serde_json::Value) -> AuditEntry {
    AuditEntry::new(at_ms, record, kind, kind, detail)
}

#[tokio::test]
async fn refresher_sets_the_gauges_and_keeps_them_fresh() {
    let handle = handoff::daemon::telemetry::metrics();
    let dir = tempfile::TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let t0 = 1_767_225_600_000_i64;
    let passed = json!([{"gate": "required:email", "passed": true, "reason": null, "detail": ""}]);
    let missing = json!([{"gate": "required:email", "passed": false, "reason": "missing_email", "detail": ""}]);
    store
        .append_audit(&[
            entry(t0, "hubspot:contacts:1", "gates", passed.clone()),
            entry(t0, "hubspot:contacts:1", "routed", json!({"owner_email": "a@x.com", "team": "West", "policy": "demo_request"})),
            entry(t0 + 90_000, "hubspot:contacts:1", "first_touch", json!({"team": "West", "by": "claim", "elapsed_ms": 90_000, "business_elapsed_ms": 30_000, "policy": "demo_request", "met": true})),
            entry(t0, "hubspot:contacts:2", "gates", passed),
            entry(t0, "hubspot:contacts:2", "routed", json!({"owner_email": "a@x.com", "team": "West", "policy": "demo_request"})),
            entry(t0 + 60_000, "hubspot:contacts:2", "rejected", json!({"reason": "duplicate", "team": "West"})),
            entry(t0 + 60_000, "hubspot:contacts:2", "recycled", json!({"reason": "duplicate", "by": "reject", "team": "West"})),
            entry(t0, "hubspot:contacts:3", "gates", missing),
        ])
        .unwrap();
    let lead = LeadState {
        record_key: "hubspot:contacts:1".into(),
        record_id: "1".into(),
        owner_id: "7".into(),
        owner_email: "a@x.com".into(),
        team: Some("West".into()),
        manager_email: None,
        received_ms: t0,
        assigned_ms: t0,
        policy: Some("demo_request".into()),
        sla_due_ms: Some(t0 + 300_000),
        assignments: 1,
        status: LeadStatus::Touched {
            at_ms: t0 + 90_000,
            by: "claim".into(),
        },
    };
    let (key, value) = lead.entry();
    store.put_json(&key, &value).unwrap();

    let shutdown = CancellationToken::new();
    let task = handoff::report::metrics::spawn_refresher(
        store.clone(),
        Duration::from_millis(50),
        shutdown.clone(),
    );
    let speed = |team: &str, q: &str, clock: &str| {
        format!("handoff_report_speed_to_lead_seconds{{team=\"{team}\",quantile=\"{q}\",clock=\"{clock}\"}}")
    };
    wait_for(&handle, &speed("West", "0.5", "calendar"), 90.0).await;
    wait_for(&handle, &speed("all", "0.9", "business"), 30.0).await;
    wait_for(&handle, "handoff_report_sla_met_ratio{team=\"West\"}", 1.0).await;
    wait_for(
        &handle,
        "handoff_report_rejections{reason=\"duplicate\"}",
        1.0,
    )
    .await;
    wait_for(
        &handle,
        "handoff_report_recycled{reason=\"duplicate\"}",
        1.0,
    )
    .await;
    // Two of three sales-ready leads had every field; one of two routed leads was recycled.
    wait_for(&handle, "handoff_report_completeness_ratio", 2.0 / 3.0).await;
    wait_for(&handle, "handoff_report_recycle_ratio", 0.5).await;
    wait_for(&handle, "handoff_report_open_leads{owner=\"a@x.com\"}", 1.0).await;

    // A later rejection appears at a later refresh.
    store
        .append_audit(&[entry(
            t0 + 120_000,
            "hubspot:contacts:4",
            "rejected",
            json!({"reason": "duplicate"}),
        )])
        .unwrap();
    wait_for(
        &handle,
        "handoff_report_rejections{reason=\"duplicate\"}",
        2.0,
    )
    .await;

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the refresher stops on shutdown")
        .unwrap();
}
