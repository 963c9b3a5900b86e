//! What only Salesforce does, black-box: an in-process daemon against the Salesforce emulator.
//!
//! * A lead converted in Salesforce while its SLA runs stops cleanly: audited `converted`, its
//!   SLA timers cancelled, nothing written to the read-only lead, nothing dead-lettered.
//! * A conversion the change feed never brings (a late commit) stops the SLA when the
//!   reassignment reads the lead before writing to it.
//! * The session expires while the daemon works: one token refresh, and the work goes on.
//! * The org's daily API allocation runs out in the middle of an SLA reassignment: the read and
//!   the writes wait (well past `delivery.max_attempts`), nothing is dead-lettered, and the
//!   reassignment completes once the allocation allows.
//!
//! The flows every CRM shares run against Salesforce in the parameterised suites
//! (`daemon_flows`, `daemon_sla`, `daemon_ownership`, `daemon_crash`).

mod common;

use common::*;
use handoff::clock::ManualClock;
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const MIN: Duration = Duration::from_secs(60);
/// Tuesday 2026-11-24 12:00 UTC.
const T0_MS: i64 = 1_795_521_600_000;

/// A daemon on Salesforce, routing by [`WEST_SLA_RULES`] on a manual clock at [`T0_MS`].
async fn start() -> (TestEnv, Arc<ManualClock>) {
    start_with(Options::on(CrmKind::Salesforce)).await
}

/// [`start`] with `opts`.
async fn start_with(opts: Options) -> (TestEnv, Arc<ManualClock>) {
    let mut env = TestEnv::new(opts).await;
    env.use_rules(WEST_SLA_RULES, "");
    let clock = Arc::new(ManualClock::new(T0_MS));
    env.clock = Some(clock.clone());
    env.follow_clock();
    env.start_in_process().await;
    (env, clock)
}

/// Creates a lead and waits for its DM; returns its id.
async fn routed(env: &TestEnv, email: &str) -> String {
    let id = env.new_lead(email);
    let key = format!("lead:{}:dm", env.lead_key(&id));
    assert!(
        wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await,
        "lead {id} not routed: {:?}",
        env.audit(&env.lead_key(&id)).await
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    id
}

/// `handoff_rate_limit_waits_total{kind="change"}`: changes put back to wait for the
/// allocation (0 before the first).
async fn rate_limit_waits(env: &TestEnv) -> f64 {
    env.metrics_text()
        .await
        .lines()
        .find(|l| l.starts_with("handoff_rate_limit_waits_total{kind=\"change\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

async fn advance(env: &TestEnv, clock: &ManualClock, by: Duration) {
    clock.advance(by);
    env.follow_clock();
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_converted_while_its_sla_runs_stops_cleanly() {
    let (env, clock) = start().await;
    let id = routed(&env, "convert@northwind-traders.io").await;
    let record = env.lead_key(&id);
    let owner = env.lead_owner_email(&id).unwrap();
    advance(&env, &clock, 2 * MIN).await;
    let writes_before = env.salesforce.history("Lead", &id).len();

    // Sales converts the lead in Salesforce before touching it in a way handoff sees.
    env.salesforce.convert_lead(&id, true).unwrap();
    let converted = env.wait_audit(&record, "converted", WAIT).await;
    assert_eq!(converted.len(), 1, "{:?}", env.audit(&record).await);
    assert_eq!(converted[0]["detail"]["owner_email"], owner.as_str());

    // The SLA is over: no reminder at 5 minutes, no escalation at 10, no reassignment at 20.
    for _ in 0..4 {
        advance(&env, &clock, 5 * MIN).await;
    }
    let prefix = format!("sla:{record}:");
    assert!(env
        .slack
        .messages()
        .iter()
        .all(|m| !metadata_key(m).is_some_and(|k| k.starts_with(&prefix))));
    for event in ["sla_reminder", "sla_breached", "sla_reassigned", "recycled"] {
        assert!(env.audit_events(&record, event).await.is_empty(), "{event}");
    }
    assert_eq!(
        env.salesforce.history("Lead", &id).len(),
        writes_before,
        "nothing written to the converted lead"
    );
    assert!(env.dead_letters().await.is_empty());
}

/// The conversion never reaches the change feed (stamped before the poll's window, as a late
/// commit can be): the reassignment timer finds it when it reads the lead before writing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversion_the_poll_has_not_seen_stops_the_reassignment() {
    let (env, clock) = start().await;
    let id = routed(&env, "unseen@northwind-traders.io").await;
    let record = env.lead_key(&id);
    let writes_before = env.salesforce.history("Lead", &id).len();

    env.salesforce.set_clock(Some(T0_MS - 3_600_000));
    env.salesforce.convert_lead(&id, true).unwrap();
    env.follow_clock();
    advance(&env, &clock, 2 * MIN).await;
    assert!(
        env.audit_events(&record, "converted").await.is_empty(),
        "the poll saw the conversion: this test needs it unseen"
    );

    // Reminder at 5 minutes, breach at 10, reassignment due at 20.
    for _ in 0..4 {
        advance(&env, &clock, 5 * MIN).await;
    }
    let converted = env.wait_audit(&record, "converted", WAIT).await;
    assert_eq!(converted.len(), 1, "{:?}", env.audit(&record).await);
    assert!(env.audit_events(&record, "sla_reassigned").await.is_empty());
    assert_eq!(
        env.salesforce.history("Lead", &id).len(),
        writes_before,
        "nothing written to the converted lead"
    );
    assert!(env.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_refreshed_once_and_the_work_goes_on() {
    let mut env = TestEnv::new(Options::on(CrmKind::Salesforce)).await;
    env.start_in_process().await;
    routed(&env, "before@northwind-traders.io").await;
    let tokens = env.salesforce.token_requests();

    env.salesforce.expire_sessions();
    let ids: Vec<String> = (0..5)
        .map(|i| env.new_lead(&format!("after{i}@northwind-traders.io")))
        .collect();
    for id in &ids {
        let key = format!("lead:{}:dm", env.lead_key(id));
        assert!(wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await);
    }
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    for id in &ids {
        assert!(env.lead_owner_email(id).is_some(), "lead {id} has an owner");
    }
    assert_eq!(
        env.salesforce.token_requests(),
        tokens + 1,
        "one refresh for every call that found the session expired"
    );
    assert!(env.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_daily_allocation_delays_a_reassignment_and_dead_letters_nothing() {
    // Two tries before a dead letter, so that a few waits (each one `limit_wait_s` in the
    // client, five times, before the daemon takes it back) outnumber them.
    let (env, clock) = start_with(Options {
        max_attempts: 2,
        ..Options::on(CrmKind::Salesforce)
    })
    .await;
    let id = routed(&env, "quota@northwind-traders.io").await;
    let record = env.lead_key(&id);
    let first = env.lead_owner_email(&id).unwrap();
    advance(&env, &clock, 10 * MIN).await; // the breach
    assert_eq!(env.audit_events(&record, "sla_breached").await.len(), 1);

    // The org has used its whole allocation: every API call is refused.
    let (used, max) = env.salesforce.api_usage();
    env.salesforce.set_daily_limit(used);
    let waits_before = rate_limit_waits(&env).await;
    clock.advance(10 * MIN); // the reassignment falls due: it must read and write the lead
    env.follow_clock();
    // More waits than `delivery.max_attempts` (2) tries would allow.
    let mut waits = 0.0;
    for _ in 0..120 {
        waits = rate_limit_waits(&env).await - waits_before;
        if waits > 3.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(waits > 3.0, "only {waits} waits for the allocation");
    assert!(env.audit_events(&record, "sla_reassigned").await.is_empty());
    assert_eq!(env.lead_owner_email(&id).as_deref(), Some(first.as_str()));
    assert!(
        env.dead_letters().await.is_empty(),
        "a spent allocation dead-letters nothing"
    );

    // The allocation allows again: the reassignment completes, once.
    env.salesforce.set_daily_limit(max);
    env.salesforce.reset_api_usage();
    let key = format!("sla:{record}:1:reassign:dm");
    assert!(
        wait_until(WAIT, || env.messages_with_key(&key).len() == 1).await,
        "the reassignment did not complete: {:?}",
        env.audit(&record).await
    );
    env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let second = env.lead_owner_email(&id).unwrap();
    assert_ne!(second, first, "reassigned in Salesforce");
    assert_eq!(env.audit_events(&record, "sla_reassigned").await.len(), 1);
    assert!(env.dead_letters().await.is_empty());
}
