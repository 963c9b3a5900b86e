//! Runs sagas: each step at least once, taking effect at most once.
//!
//! For every step: mark it `Attempted` and flush, call the vendor through [`Effects`], record the
//! result. A step found `Attempted` (the daemon died mid-call) runs with `outcome_unknown`, and
//! the effect looks up its idempotency key before creating anything. Retryable failures back
//! off (honouring `Retry-After`); permanent ones, or too many attempts, park the saga in dead
//! letters. Sagas run concurrently up to a bound; steps within one saga run in order.

use super::Action;
use crate::state::{AuditEntry, Saga, StateError, StepStatus, Store};
use futures::future::BoxFuture;
use handoff_connector::{ConnectorError, IdempotencyKey};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Performs actions against the vendors.
pub trait Effects: Send + Sync {
    /// The vendor an action goes to, for metric labels (the connector's system, `slack`, …; by default the
    /// kind of target: `crm`, `pm`, `slack`, `smtp`).
    fn vendor(&self, action: &Action) -> &'static str {
        action.target().as_str()
    }

    /// Executes `action` under idempotency key `key`. `outcome_unknown` is true when an earlier
    /// attempt may have taken effect: look the effect up by `key` before creating it again.
    /// Returns the vendor's result as a JSON object whose string fields become placeholders for
    /// later steps (`case_id`, `case_url`, `project_id`, `project_url`, `channel`, `ts`).
    fn execute<'a>(
        &'a self,
        action: &'a Action,
        key: &'a IdempotencyKey,
        outcome_unknown: bool,
    ) -> BoxFuture<'a, Result<serde_json::Value, ConnectorError>>;
}

/// The executor's parts.
pub struct Executor {
    pub store: Store,
    pub effects: Arc<dyn Effects>,
    pub wake: Arc<Notify>,
    /// Sagas in flight at once.
    pub concurrency: usize,
    /// Attempts before a saga is parked.
    pub max_attempts: u32,
    /// How long in-flight sagas may finish their current step after shutdown.
    pub grace: Duration,
}

impl Executor {
    /// Runs until `shutdown`, then waits up to the grace period for in-flight steps.
    pub async fn run(self, shutdown: CancellationToken) {
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
        let tracker = TaskTracker::new();
        let done = Arc::new(Notify::new());
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let now = handoff_connector::now_ms();
            let busy = in_flight.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let free = self.concurrency.saturating_sub(busy.len()).max(1);
            let ready = match self
                .store
                .sagas_ready_except(now, free * 2, |k| busy.contains(k))
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    Vec::new()
                }
            };
            let mut started = 0;
            for saga in ready {
                {
                    let mut set = in_flight.lock().unwrap_or_else(|p| p.into_inner());
                    if set.contains(&saga.key) {
                        continue;
                    }
                    let Ok(permit) = permits.clone().try_acquire_owned() else {
                        break;
                    };
                    set.insert(saga.key.clone());
                    let store = self.store.clone();
                    let effects = self.effects.clone();
                    let in_flight = in_flight.clone();
                    let done = done.clone();
                    let max = self.max_attempts;
                    tracker.spawn(async move {
                        let key = saga.key.clone();
                        // The ready list was read before this saga was claimed: a task that
                        // ran it may have finished in between. Only the stored copy, read
                        // now that the claim is held, is current.
                        let result = match store.pending_saga(&key) {
                            Ok(Some(fresh))
                                if !fresh.parked
                                    && fresh.not_before_ms <= handoff_connector::now_ms() =>
                            {
                                run_saga(&store, effects.as_ref(), fresh, max).await
                            }
                            Ok(_) => Ok(()),
                            Err(e) => Err(e),
                        };
                        if let Err(e) = result {
                            tracing::error!(saga = %key, error = %e, "saga progress not saved; it will run again");
                        }
                        in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
                        drop(permit);
                        done.notify_one();
                    });
                }
                started += 1;
            }
            if started == 0 {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = done.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = shutdown.cancelled() => break,
                }
            } else {
                tokio::select! {
                    _ = done.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                    _ = shutdown.cancelled() => break,
                }
            }
        }
        tracker.close();
        if tokio::time::timeout(self.grace, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "shutdown grace ran out with steps in flight; they resume at next start"
            );
        }
        tracing::info!("executor stopped");
    }
}

/// Runs one saga from its first unfinished step to the end, or until a step fails.
pub async fn run_saga(
    store: &Store,
    effects: &dyn Effects,
    mut saga: Saga,
    max_attempts: u32,
) -> Result<(), StateError> {
    while let Some(i) = saga.next_step() {
        let outcome_unknown = saga.steps[i].status == StepStatus::Attempted;
        saga.steps[i].status = StepStatus::Attempted;
        // The mark must be on disk before the effect can happen.
        store.save_saga(&saga, &[], true).await?;
        let step = &saga.steps[i];
        let mut action_json = step.action.clone();
        super::fill(&mut action_json, &vars(&saga));
        let action: Action = match serde_json::from_value(action_json) {
            Ok(a) => a,
            Err(e) => {
                let reason = format!(
                    "step {} holds an action this version cannot read: {e}",
                    step.name
                );
                let name = step.name.clone();
                store
                    .park_saga(&mut saga, &name, &reason, handoff_connector::now_ms())
                    .await?;
                return Ok(());
            }
        };
        let key = step.key.clone();
        let name = step.name.clone();
        let started = std::time::Instant::now();
        let result = effects.execute(&action, &key, outcome_unknown).await;
        let vendor = effects.vendor(&action);
        metrics::histogram!("handoff_step_seconds", "vendor" => vendor)
            .record(started.elapsed().as_secs_f64());
        let now = handoff_connector::now_ms();
        match result {
            Ok(value) => {
                metrics::counter!("handoff_steps_total", "vendor" => vendor, "outcome" => "done")
                    .increment(1);
                let step = &mut saga.steps[i];
                step.status = StepStatus::Done;
                step.result = Some(value.clone());
                saga.attempts = 0;
                saga.last_error = None;
                let audit = AuditEntry::new(
                    now,
                    &saga.record_key,
                    "step_done",
                    format!(
                        "{name} done{}",
                        if outcome_unknown {
                            " (after checking an earlier attempt)"
                        } else {
                            ""
                        }
                    ),
                    serde_json::json!({"saga": saga.key, "step": name, "result": value}),
                );
                store.save_saga(&saga, &[audit], false).await?;
            }
            Err(e) => {
                if e.class().counts_as_attempt() {
                    saga.attempts += 1;
                } else {
                    metrics::counter!("handoff_rate_limit_waits_total", "kind" => "step")
                        .increment(1);
                }
                let reason = format!("{name}: {e}");
                if !e.is_retryable() || saga.attempts >= max_attempts {
                    metrics::counter!("handoff_steps_total", "vendor" => vendor, "outcome" => "parked").increment(1);
                    tracing::error!(saga = %saga.key, error = %reason, "saga parked in dead letters");
                    store.park_saga(&mut saga, &name, &reason, now).await?;
                } else {
                    metrics::counter!("handoff_steps_total", "vendor" => vendor, "outcome" => "retry").increment(1);
                    let delay = e
                        .retry_after()
                        .unwrap_or_else(|| crate::daemon::worker::backoff(saga.attempts));
                    saga.not_before_ms = now + delay.as_millis() as i64;
                    saga.last_error = Some(reason.clone());
                    tracing::warn!(saga = %saga.key, error = %reason, delay_ms = delay.as_millis() as u64, "step will be retried");
                    let audit = AuditEntry::new(
                        now,
                        &saga.record_key,
                        "step_failed",
                        format!("{reason}; retry in {} ms", delay.as_millis()),
                        serde_json::Value::Null,
                    );
                    store.save_saga(&saga, &[audit], false).await?;
                }
                return Ok(());
            }
        }
    }
    let audit = AuditEntry::new(
        handoff_connector::now_ms(),
        &saga.record_key,
        "saga_done",
        format!("{} complete ({} steps)", saga.key, saga.steps.len()),
        serde_json::Value::Null,
    );
    store.finish_saga(&saga, &[audit]).await
}

/// Placeholders from the results of the saga's finished steps.
fn vars(saga: &Saga) -> Vec<(String, String)> {
    saga.steps
        .iter()
        .filter(|s| s.status == StepStatus::Done)
        .filter_map(|s| s.result.as_ref()?.as_object())
        .flat_map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Completion, Saga};
    use handoff_connector::{Change, ChangeKind, ChangeOrigin};
    use std::sync::Mutex as StdMutex;

    /// Effects that answer from a script and record every call.
    #[derive(Default)]
    struct Scripted {
        answers: StdMutex<Vec<Result<serde_json::Value, ConnectorError>>>,
        calls: StdMutex<Vec<(Action, String, bool)>>,
    }

    impl Effects for Scripted {
        fn execute<'a>(
            &'a self,
            action: &'a Action,
            key: &'a IdempotencyKey,
            outcome_unknown: bool,
        ) -> BoxFuture<'a, Result<serde_json::Value, ConnectorError>> {
            self.calls
                .lock()
                .unwrap()
                .push((action.clone(), key.to_string(), outcome_unknown));
            let next = self.answers.lock().unwrap().remove(0);
            Box::pin(async move { next })
        }
    }

    fn dm(text: &str) -> Action {
        Action::SlackDm {
            email: "rep@example.com".into(),
            text: text.into(),
            blocks: serde_json::json!([]),
        }
    }

    async fn store_with(saga: Saga) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let change = Change {
            source: "crm".into(),
            object_type: "deals".into(),
            object_id: "1".into(),
            event_id: Some("e".into()),
            modified_at_ms: 1,
            received_at_ms: 1,
            origin: ChangeOrigin::Webhook,
            kind: ChangeKind::Updated,
            changed_property: None,
            snapshot: None,
        };
        store.enqueue(vec![change]).await.unwrap();
        let seq = store.inbox_ready(i64::MAX, 1).unwrap()[0].seq;
        store
            .complete(
                seq,
                Completion {
                    sagas: vec![saga],
                    ..Completion::default()
                },
            )
            .unwrap();
        (dir, store)
    }

    fn two_steps() -> Saga {
        Saga::new(
            "onboarding:crm:deals:1",
            "closed_won",
            "crm:deals:1",
            vec![
                (
                    IdempotencyKey::new("k:ticket"),
                    "create_ticket",
                    Action::UpsertTicket {
                        properties: Default::default(),
                        associate: vec![],
                    }
                    .to_json(),
                ),
                (
                    IdempotencyKey::new("k:dm"),
                    "notify_csm",
                    dm("ticket {ticket_url}").to_json(),
                ),
            ],
            0,
        )
    }

    #[tokio::test]
    async fn later_steps_see_earlier_results_and_the_saga_finishes() {
        let (_d, store) = store_with(two_steps()).await;
        let fx = Scripted::default();
        *fx.answers.lock().unwrap() = vec![
            Ok(serde_json::json!({"ticket_id": "9", "ticket_url": "https://crm/t/9"})),
            Ok(serde_json::json!({"channel": "D1", "ts": "1.0"})),
        ];
        let saga = store.sagas_ready(i64::MAX, 1).unwrap().remove(0);
        run_saga(&store, &fx, saga, 5).await.unwrap();
        let calls = fx.calls.lock().unwrap();
        assert_eq!(calls[1].0, dm("ticket https://crm/t/9"));
        assert!(calls.iter().all(|(_, _, unknown)| !unknown));
        let done = store.saga("onboarding:crm:deals:1").unwrap().unwrap();
        assert!(done.steps.iter().all(|s| s.status == StepStatus::Done));
        assert_eq!(store.outbox_depth(), 0);
    }

    #[tokio::test]
    async fn retry_after_sets_the_next_attempt_and_the_rerun_checks_first() {
        let (_d, store) = store_with(two_steps()).await;
        let fx = Scripted::default();
        *fx.answers.lock().unwrap() = vec![Err(ConnectorError::RateLimited {
            vendor: "crm",
            retry_after: Some(Duration::from_secs(30)),
        })];
        let before = handoff_connector::now_ms();
        let saga = store.sagas_ready(i64::MAX, 1).unwrap().remove(0);
        run_saga(&store, &fx, saga, 5).await.unwrap();
        let waiting = store.saga("onboarding:crm:deals:1").unwrap().unwrap();
        assert!(waiting.not_before_ms >= before + 30_000);
        assert!(waiting.not_before_ms <= handoff_connector::now_ms() + 30_000);
        assert_eq!(waiting.steps[0].status, StepStatus::Attempted);
        assert!(store
            .sagas_ready(handoff_connector::now_ms(), 5)
            .unwrap()
            .is_empty());

        // The next run may not know whether the first call took effect: it says so.
        *fx.answers.lock().unwrap() = vec![
            Ok(serde_json::json!({"ticket_id": "9", "ticket_url": "u"})),
            Ok(serde_json::json!({})),
        ];
        let saga = store.sagas_ready(i64::MAX, 1).unwrap().remove(0);
        run_saga(&store, &fx, saga, 5).await.unwrap();
        let calls = fx.calls.lock().unwrap();
        assert_eq!(calls.len(), 3);
        assert!(calls[1].2, "the retried step runs with outcome_unknown");
        assert!(!calls[2].2, "a fresh step does not");
    }

    #[tokio::test]
    async fn a_step_interrupted_by_a_crash_is_rerun_with_outcome_unknown() {
        let (_d, store) = store_with(two_steps()).await;
        // What a crash after the mark and before the result leaves behind.
        let mut saga = store.sagas_ready(i64::MAX, 1).unwrap().remove(0);
        saga.steps[0].status = StepStatus::Attempted;
        store.save_saga(&saga, &[], true).await.unwrap();
        let fx = Scripted::default();
        *fx.answers.lock().unwrap() = vec![
            Ok(serde_json::json!({"ticket_url": "u"})),
            Ok(serde_json::json!({})),
        ];
        let saga = store.sagas_ready(i64::MAX, 1).unwrap().remove(0);
        run_saga(&store, &fx, saga, 5).await.unwrap();
        let calls = fx.calls.lock().unwrap();
        assert_eq!((calls[0].1.as_str(), calls[0].2), ("k:ticket", true));
    }

    #[tokio::test]
    async fn a_permanent_error_parks_the_saga_in_dead_letters() {
        let (_d, store) = store_with(two_steps()).await;
        let fx = Scripted::default();
        *fx.answers.lock().unwrap() = vec![Err(ConnectorError::Rejected {
            vendor: "crm",
            status: 400,
            message: "Property values were not valid".into(),
        })];
        let saga = store.sagas_ready(i64::MAX, 1).unwrap().remove(0);
        run_saga(&store, &fx, saga, 5).await.unwrap();
        assert!(store.sagas_ready(i64::MAX, 5).unwrap().is_empty());
        let letters = store.dead_letters().unwrap();
        assert_eq!(letters.len(), 1);
        assert!(letters[0].reason.contains("create_ticket"));
        assert!(letters[0].reason.contains("Property values were not valid"));
    }
}
