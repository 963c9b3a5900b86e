//! The timer runner on tokio's paused clock (`TokioClock`): time moves only when every task is
//! idle, straight to the next sleep's deadline, so a five-minute timer is tested in
//! milliseconds and "not before it is due" is checked at the exact moment before.

use handoff::clock::{Clock, TokioClock};
use handoff::daemon::timers::TimerRunner;
use handoff::state::{Store, Timer};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const T0: i64 = 1_790_000_000_000;

fn fired_keys(store: &Store) -> Vec<String> {
    store
        .inbox_ready(i64::MAX, 1_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.change.object_type == "timer")
        .map(|e| e.change.object_id)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_five_minute_timer_fires_once_when_due_on_paused_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = Arc::new(TokioClock::new(T0));
    let due = T0 + 5 * 60_000;
    store
        .schedule_timers(&[Timer {
            key: "sla:first_touch:hubspot:contacts:7:reminder".into(),
            due_ms: due,
            kind: "sla_reminder".into(),
            record_key: "hubspot:contacts:7".into(),
            payload: json!({"share": 0.5}),
            created_ms: T0,
        }])
        .unwrap();
    let stop = CancellationToken::new();
    let runner = TimerRunner {
        store: store.clone(),
        clock: clock.clone(),
        inbox_wake: Arc::new(Notify::new()),
        batch: 10,
        max_wait: Duration::from_secs(3600),
    };
    let task = tokio::spawn(runner.run(stop.clone()));

    // Just before it is due: nothing fired.
    tokio::time::sleep(Duration::from_millis(299_999)).await;
    assert!(clock.now_ms() < due);
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(fired_keys(&store).is_empty(), "fired early");

    // Past the due time: fired exactly once, however long we wait after.
    let mut waited = 0;
    while fired_keys(&store).is_empty() && waited < 100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    assert!(clock.now_ms() >= due);
    assert_eq!(
        fired_keys(&store),
        ["sla:first_touch:hubspot:contacts:7:reminder"]
    );
    tokio::time::sleep(Duration::from_secs(7200)).await;
    assert_eq!(fired_keys(&store).len(), 1);
    assert!(store.next_timer_due().unwrap().is_none());
    stop.cancel();
    task.await.unwrap();
}
