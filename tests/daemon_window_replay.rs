//! Window replay, black-box, on Salesforce: a Lead committed so late that the poll's overlap
//! never sees it is found by `POST /admin/replay` (what `handoff replay` sends). The dry run
//! lists exactly that Lead's handoff and writes nothing; the replay routes it once; a second
//! replay of the same window repeats nothing.

mod common;

use common::*;
use handoff::clock::ManualClock;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
/// Tuesday 2026-11-24 12:00 UTC.
const T0_MS: i64 = 1_795_521_600_000;
const MIN_MS: i64 = 60_000;

async fn replay(env: &TestEnv, body: Value) -> (u16, Value) {
    let r = env
        .http
        .post(format!("http://{}/admin/replay", env.admin_addr))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_commit_the_poll_missed_is_found_by_a_window_replay_once() {
    let mut env = TestEnv::new(Options::on(CrmKind::Salesforce)).await;
    env.use_rules(WEST_SLA_RULES, "");
    let clock = Arc::new(ManualClock::new(T0_MS));
    env.clock = Some(clock.clone());
    env.follow_clock();
    env.start_in_process().await;

    let dm_of = |id: &str| format!("lead:{}:dm", env.lead_key(id));
    let on_time = env.new_lead("on-time@northwind-traders.io");
    assert!(wait_until(WAIT, || env.messages_with_key(&dm_of(&on_time)).len() == 1).await);
    clock.advance(Duration::from_secs(600));
    env.follow_clock();
    let later = env.new_lead("later@northwind-traders.io");
    assert!(wait_until(WAIT, || env.messages_with_key(&dm_of(&later)).len() == 1).await);
    env.wait_idle(WAIT, Duration::from_millis(300)).await;

    // A commit stamped 9 minutes in the past: far behind the cursor and its 5 s overlap.
    env.salesforce.set_clock(Some(T0_MS + MIN_MS));
    let late = env.new_lead("late@northwind-traders.io");
    env.follow_clock();
    tokio::time::sleep(Duration::from_secs(3)).await;
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert!(
        env.messages_with_key(&dm_of(&late)).is_empty(),
        "the regular poll does not see it"
    );

    let window = json!({"from_ms": T0_MS - MIN_MS, "to_ms": T0_MS + 5 * MIN_MS, "object": "Lead"});
    let mut dry = window.clone();
    dry["dry_run"] = json!(true);
    let (code, report) = replay(&env, dry).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["found"]["salesforce:Lead"], 2, "{report}");
    assert_eq!(report["would_act"], 1, "{report}");
    assert_eq!(report["enqueued"], 0);
    let acting: Vec<&Value> = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["sagas"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(acting.len(), 1);
    assert_eq!(acting[0]["record"], env.lead_key(&late));
    assert!(acting[0]["sagas"][0]
        .as_str()
        .unwrap()
        .starts_with(&format!("lead:{} ", env.lead_key(&late))));
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert!(
        env.messages_with_key(&dm_of(&late)).is_empty(),
        "a dry run writes nothing"
    );

    let (code, report) = replay(&env, window.clone()).await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["enqueued"], 2);
    assert!(wait_until(WAIT, || env.messages_with_key(&dm_of(&late)).len() == 1).await);
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert_eq!(env.messages_with_key(&dm_of(&on_time)).len(), 1);

    // Again: nothing repeats.
    let (code, _) = replay(&env, window).await;
    assert_eq!(code, 200);
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    for id in [&on_time, &later, &late] {
        assert_eq!(env.messages_with_key(&dm_of(id)).len(), 1, "{id}");
    }
    let replayed = env.audit_events("admin:replay", "window_replayed").await;
    assert_eq!(replayed.len(), 2);

    // A window that ends before it starts, or an object no poll reads, is refused.
    let (code, _) = replay(&env, json!({"from_ms": 10, "to_ms": 5})).await;
    assert_eq!(code, 400);
    let (code, r) = replay(&env, json!({"from_ms": 0, "to_ms": 5, "object": "Widget"})).await;
    assert_eq!(code, 400);
    assert!(r["error"].as_str().unwrap().contains("Widget"));
}
