//! After-hours deferral timers across a DST change and a holiday, on tokio's paused clock.
//!
//! The routing engine defers a lead that arrives while its team is closed to the team's next
//! opening; the lead flow schedules a durable timer for that instant ([`deferred::timer`]); the
//! timer runner fires it. These tests run that chain with real rule sets in America/Chicago,
//! starting the paused [`TokioClock`] at the lead's arrival:
//!
//! - Friday 2026-10-30 18:00 CDT: the weekend holds the end of DST (Sunday 2026-11-01 02:00 CDT
//!   → 01:00 CST), so Monday 08:00 is 14:00 UTC, not 13:00 UTC. The timer must not fire at
//!   13:00 UTC (where a fixed −5 h offset would put it) nor 1 ms before 14:00 UTC, and must
//!   fire exactly once at 14:00 UTC.
//! - Wednesday 2026-11-25 17:30 CST before Thanksgiving: Thursday and Friday are holidays in
//!   the team's calendar, so the next opening is Monday 2026-11-30 08:00 CST (14:00 UTC).

use handoff::clock::{Clock, TokioClock};
use handoff::daemon::timers::TimerRunner;
use handoff::flows::deferred;
use handoff::routing::{route, Outcome, RouteContext, RoutingState, RuleSet};
use handoff::state::Store;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const RULES: &str = r#"name: central-only
holiday_calendars:
  us: [2026-11-26, 2026-11-27]
teams:
  - name: Central
    time_zone: America/Chicago
    hours: { days: [mon, tue, wed, thu, fri], open: "08:00", close: "17:00" }
    holiday_calendars: [us]
    groups:
      - { manager: dustin.brinkmann@example.com, reps: [anna.snelling@example.com] }
rules:
  - name: everyone
    strategy: round_robin
    pool: { team: Central }
    when_nobody_available: defer
fallback: { owner: revops-queue@example.com }
"#;

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

/// The UTC instant the engine defers a lead arriving at `arrival` to.
fn deferred_until(rules: &RuleSet, arrival: jiff::Timestamp) -> jiff::Timestamp {
    let lead = json!({"email": "ada@example.org", "country_code": "US"});
    let decision = route(
        rules,
        &lead,
        &RouteContext::default(),
        &RoutingState::default(),
        arrival,
    );
    assert!(decision.owner.is_none(), "closed team must not assign");
    match decision.outcome {
        Outcome::Deferred { until_utc } => until_utc,
        other => panic!("expected a deferral, got {other:?}"),
    }
}

fn fired(store: &Store) -> Vec<String> {
    store
        .inbox_ready(i64::MAX, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.change.object_type == "timer")
        .map(|e| e.change.object_id)
        .collect()
}

/// Lets every ready task run (the runner included) without moving paused time.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

/// Schedules the deferral timer for a lead arriving at `arrival`, runs the timer runner on a
/// paused clock starting there, and checks it fires at `expect_utc` exactly once: not at
/// `wrong_utc` (what a naive computation would give), not 1 ms before, and never again.
async fn fires_exactly_at(arrival: &str, expect_utc: &str, wrong_utc: &str) {
    let rules = RuleSet::parse(RULES, "timers_calendar.yaml").unwrap();
    let arrival = ts(arrival);
    let until = deferred_until(&rules, arrival);
    assert_eq!(until, ts(expect_utc), "next opening");

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let record = "hubspot:contacts:42";
    let timer = deferred::timer(record, "42", until, arrival.as_millisecond());
    store.schedule_timers(std::slice::from_ref(&timer)).unwrap();

    let clock = Arc::new(TokioClock::new(arrival.as_millisecond()));
    let stop = CancellationToken::new();
    let runner = TimerRunner {
        store: store.clone(),
        clock: clock.clone(),
        inbox_wake: Arc::new(Notify::new()),
        batch: 10,
        // Longer than the wait, so the runner sleeps straight to the due time.
        max_wait: Duration::from_secs(7 * 24 * 3600),
    };
    let task = tokio::spawn(runner.run(stop.clone()));
    settle().await;

    // At the naive instant (an hour early across DST, days early across the holiday): nothing.
    let wrong = ts(wrong_utc).as_millisecond();
    tokio::time::sleep(Duration::from_millis((wrong - clock.now_ms()) as u64)).await;
    settle().await;
    assert!(fired(&store).is_empty(), "fired at {wrong_utc}");

    // One millisecond before the opening: nothing.
    let due = until.as_millisecond();
    tokio::time::sleep(Duration::from_millis((due - 1 - clock.now_ms()) as u64)).await;
    settle().await;
    assert!(clock.now_ms() < due);
    assert!(fired(&store).is_empty(), "fired 1 ms early");

    // At the opening: exactly once, and never again over the next day.
    tokio::time::sleep(Duration::from_millis(1)).await;
    let mut tries = 0;
    while fired(&store).is_empty() && tries < 100 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        tries += 1;
    }
    assert_eq!(fired(&store), [deferred::timer_key(record)]);
    assert!(clock.now_ms() >= due && clock.now_ms() < due + 1_000);
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    settle().await;
    assert_eq!(fired(&store).len(), 1);
    assert!(store.next_timer_due().unwrap().is_none());
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn deferral_across_the_end_of_dst_fires_at_monday_08_00_cst() {
    // Friday 18:00 CDT (UTC−5) = 23:00 UTC; Monday 08:00 CST (UTC−6) = 14:00 UTC.
    fires_exactly_at(
        "2026-10-30T23:00:00Z",
        "2026-11-02T14:00:00Z",
        "2026-11-02T13:00:00Z",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn deferral_over_thanksgiving_fires_at_the_next_working_day() {
    // Wednesday 17:30 CST = 23:30 UTC; Thursday and Friday are holidays; Monday 08:00 CST.
    fires_exactly_at(
        "2026-11-25T23:30:00Z",
        "2026-11-30T14:00:00Z",
        "2026-11-26T14:00:00Z",
    )
    .await;
}
