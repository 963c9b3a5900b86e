//! The timer runner: fires durable timers (`state::Timer`) when they fall due.
//!
//! Each round moves every due timer into the inbox as a `("handoff", "timer")` change with
//! [`Store::fire_due_timers`] (one transaction per batch: removed from the schedule and added to
//! the inbox together, so a timer fires exactly once across crashes; see `state/timers.rs`),
//! flushes, and wakes the worker, which hands the change to the flows.
//!
//! Between rounds it sleeps on its [`Clock`] until the earliest timer is due, cut short when a
//! timer is scheduled ([`Store::timers_changed`], e.g. an earlier one by a completion) and
//! bounded by `max_wait`, so a wall-clock jump (NTP step, suspended VM) is noticed within that
//! bound. Shutdown interrupts the sleep; a round in progress finishes its flush first.

use crate::clock::{Clock, SystemClock};
use crate::state::{StateError, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The timer runner's parts.
pub struct TimerRunner {
    pub store: Store,
    /// What time it is, and how to wait for a time.
    pub clock: Arc<dyn Clock>,
    /// Notified after timers fired (the worker's wake-up).
    pub inbox_wake: Arc<Notify>,
    /// Timers moved per round (per transaction).
    pub batch: usize,
    /// The longest sleep between rounds.
    pub max_wait: Duration,
}

impl TimerRunner {
    /// A runner on the wall clock, firing up to 256 timers per round and waking at least
    /// every 60 s.
    pub fn new(store: Store, inbox_wake: Arc<Notify>) -> TimerRunner {
        TimerRunner {
            store,
            clock: Arc::new(SystemClock),
            inbox_wake,
            batch: 256,
            max_wait: Duration::from_secs(60),
        }
    }

    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let now = self.clock.now_ms();
            let mut until = now.saturating_add(self.max_wait.as_millis() as i64);
            match self.round().await {
                // A full batch: more may be due at once.
                Ok(n) if n >= self.batch.max(1) => continue,
                Ok(_) => match self.store.next_timer_due() {
                    Ok(Some(due)) => until = until.min(due),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the timer schedule; retrying");
                        until = until.min(now + 1_000);
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, "firing timers failed; retrying");
                    until = until.min(now + 1_000);
                }
            }
            tokio::select! {
                _ = self.clock.sleep_until_ms(until) => {}
                _ = self.store.timers_changed() => {}
                _ = shutdown.cancelled() => break,
            }
        }
        tracing::info!("timer runner stopped");
    }

    /// Fires the timers due now (one batch), flushes, and wakes the worker; returns how many
    /// timers were taken out of the schedule.
    pub async fn round(&self) -> Result<usize, StateError> {
        let fired = self
            .store
            .fire_due_timers(self.clock.now_ms(), self.batch.max(1))?;
        if fired.is_empty() {
            return Ok(0);
        }
        self.store.durable().await?;
        for t in &fired {
            tracing::debug!(timer = %t.key, kind = %t.kind, record = %t.record_key, due_ms = t.due_ms, "timer fired");
        }
        self.inbox_wake.notify_one();
        Ok(fired.len())
    }
}
