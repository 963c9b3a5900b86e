//! The client paces itself to the ten-second quota HubSpot reports on every answer
//! (`X-HubSpot-RateLimit-Max`, `-Remaining`, `-Interval-Milliseconds`), with its local budget
//! far above the quota: many concurrent calls, across several windows, draw no 429, against a
//! fixed window and a sliding one. (The share of each window used is measured by
//! `examples/quota_pacing.rs`, not here.)

mod common;

use common::Harness;
use handoff_hubspot::emulator::EmulatorConfig;
use serde_json::json;
use std::time::Duration;

async fn calls_draw_no_429(sliding: bool) {
    let h = Harness::start(EmulatorConfig {
        ten_second_limit: 25,
        ten_second_window: Duration::from_millis(300),
        sliding_window: sliding,
        ..EmulatorConfig::default()
    })
    .await;
    let id = h.emu.create_object(
        "contacts",
        json!({"email": "pace@example.com"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let client = h.client();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = client.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                client
                    .get_object("contacts", &id, &["email"])
                    .await
                    .expect("every call succeeds");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(h.emu.request_count() >= 160);
    assert_eq!(
        h.emu.rate_limited_count(),
        0,
        "160 calls over a 25-per-300 ms quota ({} window)",
        if sliding { "sliding" } else { "fixed" }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_window_is_filled_without_a_429() {
    calls_draw_no_429(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sliding_window_is_filled_without_a_429() {
    calls_draw_no_429(true).await;
}
