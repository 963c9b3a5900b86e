//! Completeness, black-box, on Salesforce: the reconciliation of a closed window finds the
//! Lead the poll missed (committed later than its overlap) by comparing the CRM's count with
//! what handoff received, audits the deviation on the feed, and with `replay_missing` reads
//! the window again: the missed Lead is routed, once.

mod common;

use common::*;
use handoff::clock::ManualClock;
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
/// Tuesday 2026-11-24 12:00 UTC (a multiple of the 5-minute windows).
const T0_MS: i64 = 1_795_521_600_000;
const MIN_MS: i64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_with_a_missed_lead_is_reported_and_replayed() {
    let mut env = TestEnv::new(Options::on(CrmKind::Salesforce)).await;
    env.use_rules(WEST_SLA_RULES, "");
    let config = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(
        &env.config_path,
        format!("{config}completeness:\n  every_s: 300\n  settle_s: 60\n  replay_missing: true\n"),
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(T0_MS));
    env.clock = Some(clock.clone());
    env.follow_clock();
    env.start_in_process().await;

    let dm_of = |id: &str| format!("lead:{}:dm", env.lead_key(id));
    let first = env.new_lead("first@northwind-traders.io");
    assert!(wait_until(WAIT, || env.messages_with_key(&dm_of(&first)).len() == 1).await);
    clock.advance(Duration::from_secs(180));
    env.follow_clock();
    let second = env.new_lead("second@northwind-traders.io");
    assert!(wait_until(WAIT, || env.messages_with_key(&dm_of(&second)).len() == 1).await);
    env.wait_idle(WAIT, Duration::from_millis(300)).await;

    // Committed at T0 + 1 min, long after the cursor passed it (T0 + 3 min).
    env.salesforce.set_clock(Some(T0_MS + MIN_MS));
    let late = env.new_lead("late@northwind-traders.io");
    env.follow_clock();
    tokio::time::sleep(Duration::from_secs(2)).await;
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert!(
        env.messages_with_key(&dm_of(&late)).is_empty(),
        "the poll missed it"
    );

    // The window [T0, T0 + 5 min) closes at T0 + 6 min (settle 1 min).
    clock.advance(Duration::from_secs(181));
    env.follow_clock();
    let feed = "feed:salesforce:Lead";
    let mut found = Vec::new();
    for _ in 0..300 {
        found = env
            .audit_events(feed, "reconciled")
            .await
            .into_iter()
            .filter(|e| e["detail"]["from_ms"] == T0_MS)
            .collect();
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found.len(), 1, "{:?}", env.audit(feed).await);
    let d = &found[0]["detail"];
    assert_eq!(d["to_ms"], T0_MS + 5 * MIN_MS);
    assert_eq!(d["crm"], 3, "{d}");
    assert_eq!(d["handoff"], 2, "{d}");
    assert_eq!(d["missing"], 1, "{d}");
    assert!(d["replayed"].as_u64().unwrap() >= 1, "{d}");
    assert!(wait_until(WAIT, || env.messages_with_key(&dm_of(&late)).len() == 1).await);
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    for id in [&first, &second, &late] {
        assert_eq!(env.messages_with_key(&dm_of(id)).len(), 1, "{id}");
    }
    // The window before T0 had nothing, and each window is reconciled once.
    let all = env.audit_events(feed, "reconciled").await;
    let earlier: Vec<_> = all
        .iter()
        .filter(|e| e["detail"]["to_ms"] == T0_MS)
        .collect();
    assert_eq!(earlier.len(), 1);
    assert_eq!(earlier[0]["detail"]["missing"], 0);
}
