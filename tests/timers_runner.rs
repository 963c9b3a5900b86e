//! The timer runner on a clock the test moves (`ManualClock`): a timer fires once when due and
//! not a millisecond before, a completion that schedules an earlier timer wakes the runner, a
//! pending timer fires once across restarts, and many timers fire in due order.
//!
//! Negative checks ("has not fired yet") let the runner run by yielding on the test's
//! single-threaded runtime: a runner that fired would have written the inbox entry before its
//! first await, so no wall-clock wait is needed.

use handoff::clock::{Clock, ManualClock};
use handoff::daemon::timers::TimerRunner;
use handoff::state::{Completion, Store, Timer};
use handoff_connector::{Change, ChangeKind, ChangeOrigin};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const T0: i64 = 1_700_000_000_000;
const MINUTE: Duration = Duration::from_secs(60);

fn timer(key: &str, due_ms: i64) -> Timer {
    Timer {
        key: key.to_string(),
        due_ms,
        kind: "sla_reminder".to_string(),
        record_key: "hubspot:contacts:42".to_string(),
        payload: json!({"step": key}),
        created_ms: T0,
    }
}

struct Running {
    stop: CancellationToken,
    handle: JoinHandle<()>,
    /// The worker's wake-up, notified after timers fire.
    inbox_wake: Arc<Notify>,
}

fn start(store: &Store, clock: &Arc<ManualClock>, batch: usize, max_wait: Duration) -> Running {
    let stop = CancellationToken::new();
    let inbox_wake = Arc::new(Notify::new());
    let runner = TimerRunner {
        store: store.clone(),
        clock: clock.clone(),
        inbox_wake: inbox_wake.clone(),
        batch,
        max_wait,
    };
    let handle = tokio::spawn(runner.run(stop.clone()));
    Running {
        stop,
        handle,
        inbox_wake,
    }
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.handle)
            .await
            .expect("runner stops")
            .unwrap();
    }
}

/// Lets the runner (and anything it woke) run, without moving any clock.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

/// The timers whose changes are in the inbox, in inbox order.
fn fired(store: &Store) -> Vec<Timer> {
    store
        .inbox_ready(i64::MAX, 100_000)
        .unwrap()
        .iter()
        .filter_map(|e| Timer::from_change(&e.change))
        .collect()
}

/// Polls until `n` timer changes are in the inbox (real-time deadline: firing flushes to disk).
async fn wait_fired(store: &Store, n: usize) -> Vec<Timer> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = fired(store);
        if now.len() >= n {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} timers fired",
            now.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn reopen(store: Store, dir: &Path) -> Store {
    drop(store);
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if let Ok(s) = Store::open(dir) {
            return s;
        }
    }
    panic!("store did not reopen");
}

#[tokio::test]
async fn a_timer_due_in_five_minutes_fires_once_then_and_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let due = T0 + 5 * 60_000;
    store.schedule_timers(&[timer("sla:a", due)]).unwrap();
    let runner = start(&store, &clock, 16, MINUTE);
    settle().await;

    clock.advance(5 * MINUTE - Duration::from_millis(1));
    settle().await;
    assert!(fired(&store).is_empty(), "fired before it was due");
    assert_eq!(store.timers_pending(), 1);

    clock.advance(Duration::from_millis(1));
    let got = wait_fired(&store, 1).await;
    assert_eq!(got, vec![timer("sla:a", due)]);
    let entry = &store.inbox_ready(i64::MAX, 10).unwrap()[0];
    assert_eq!(entry.change.received_at_ms, due);
    tokio::time::timeout(Duration::from_secs(5), runner.inbox_wake.notified())
        .await
        .expect("the worker is woken after a timer fires");

    // Much later: still exactly one firing.
    clock.advance(60 * MINUTE);
    settle().await;
    assert_eq!(store.inbox_depth(), 1);
    assert_eq!(store.timers_pending(), 0);
    runner.stop().await;
}

#[tokio::test]
async fn a_completion_scheduling_an_earlier_timer_wakes_the_runner() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    store
        .schedule_timers(&[timer("a", T0 + 3_600_000), timer("b", T0 + 20_000)])
        .unwrap();
    // The runner would sleep until the earliest timer without a wake-up (no periodic check).
    let runner = start(&store, &clock, 16, Duration::from_secs(24 * 3600));
    settle().await;

    store
        .enqueue(vec![Change {
            source: "hubspot".into(),
            object_type: "contacts".into(),
            object_id: "42".into(),
            event_id: Some("e1".into()),
            modified_at_ms: T0,
            received_at_ms: T0,
            origin: ChangeOrigin::Webhook,
            kind: ChangeKind::Updated,
            changed_property: None,
            snapshot: None,
        }])
        .await
        .unwrap();
    let seq = store.inbox_ready(i64::MAX, 1).unwrap()[0].seq;
    store
        .complete(
            seq,
            Completion {
                timers: vec![timer("a", T0 + 10_000)],
                cancel_timers: vec!["b".into()],
                ..Completion::default()
            },
        )
        .unwrap();
    settle().await;

    clock.advance(Duration::from_secs(10));
    let got = wait_fired(&store, 1).await;
    assert_eq!(got, vec![timer("a", T0 + 10_000)]);
    // The cancelled timer never fires; the old schedule of `a` is gone.
    clock.advance(2 * 60 * MINUTE);
    settle().await;
    assert_eq!(fired(&store).len(), 1);
    assert_eq!(store.timers_pending(), 0);
    runner.stop().await;
}

#[tokio::test]
async fn a_pending_timer_fires_exactly_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let due = T0 + 5 * 60_000;
    let store = Store::open(dir.path()).unwrap();
    store.schedule_timers(&[timer("a", due)]).unwrap();
    store.durable().await.unwrap();
    let runner = start(&store, &clock, 16, MINUTE);
    clock.advance(MINUTE);
    settle().await;
    runner.stop().await;

    // Restart before it is due: the new runner fires it.
    let store = reopen(store, dir.path()).await;
    assert_eq!(store.timer("a").unwrap(), Some(timer("a", due)));
    let runner = start(&store, &clock, 16, MINUTE);
    clock.advance(4 * MINUTE);
    let got = wait_fired(&store, 1).await;
    assert_eq!(got, vec![timer("a", due)]);
    runner.stop().await;

    // Restart after it fired: nothing fires again.
    let store = reopen(store, dir.path()).await;
    let runner = start(&store, &clock, 16, MINUTE);
    clock.advance(60 * MINUTE);
    settle().await;
    assert_eq!(fired(&store), vec![timer("a", due)]);
    assert_eq!(store.inbox_depth(), 1);
    assert_eq!(store.timers_pending(), 0);
    runner.stop().await;
}

#[tokio::test]
async fn many_timers_fire_in_due_order_and_only_when_due() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    // 200 timers scheduled out of order, two per second (ties are ordered by key).
    let all: Vec<Timer> = (0..200)
        .map(|i| {
            let slot = (i * 73) % 200;
            timer(&format!("t{i:03}"), T0 + 1_000 + (slot / 2) * 1_000)
        })
        .collect();
    store.schedule_timers(&all).unwrap();
    let mut expected = all.clone();
    expected.sort_by(|a, b| (a.due_ms, &a.key).cmp(&(b.due_ms, &b.key)));
    // A batch smaller than the burst: firing takes several rounds.
    let runner = start(&store, &clock, 16, MINUTE);
    settle().await;

    clock.advance(Duration::from_secs(50));
    let half = expected.iter().filter(|t| t.due_ms <= T0 + 50_000).count();
    wait_fired(&store, half).await;
    settle().await;
    assert_eq!(fired(&store), expected[..half].to_vec());
    assert_eq!(store.next_timer_due().unwrap(), Some(T0 + 51_000));

    clock.advance(Duration::from_secs(100));
    wait_fired(&store, all.len()).await;
    assert_eq!(fired(&store), expected);
    assert_eq!(store.timers_pending(), 0);
    assert!(clock.now_ms() >= expected.last().unwrap().due_ms);
    runner.stop().await;
}
