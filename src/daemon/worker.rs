//! The worker: takes changes out of the inbox in order, reads the records they concern, runs
//! the flows, and commits each decision atomically with the change's removal.
//!
//! A change whose processing fails transiently is retried later with backoff; one that fails
//! permanently, or too often, moves to dead letters with the reason. Nothing is dropped.

use crate::clock::Clock;
use crate::flows::{CrmRead, Env, Flows};
use crate::state::{InboxEntry, Store};
use handoff_connector::{ChangeOrigin, Record};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The worker's parts.
pub struct Worker {
    pub store: Store,
    pub flows: Arc<Flows>,
    pub crm: Arc<dyn CrmRead>,
    /// Notified by intake and polling when changes arrive.
    pub wake: Arc<Notify>,
    /// Notified when new sagas may be ready.
    pub executor_wake: Arc<Notify>,
    /// Inbox entries per round.
    pub batch: usize,
    /// Attempts before dead-lettering.
    pub max_attempts: u32,
    /// The time flows decide at (`Env::now_ms`); retries stay on the wall clock.
    pub clock: Arc<dyn Clock>,
}

impl Worker {
    /// Runs until `shutdown`; finishes the round in progress first.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let processed = match self.round().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "worker round failed; retrying");
                    0
                }
            };
            if processed > 0 {
                self.executor_wake.notify_one();
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        tracing::info!("worker stopped");
    }

    /// Processes one batch of ready inbox entries; returns how many were handled.
    pub async fn round(&self) -> Result<usize, crate::state::StateError> {
        let now = handoff_connector::now_ms();
        let entries = self.store.inbox_ready(now, self.batch)?;
        if entries.is_empty() {
            return Ok(0);
        }
        let fetched = self.fetch(&entries).await;
        let env = Env {
            store: &self.store,
            crm: self.crm.as_ref(),
            now_ms: self.clock.now_ms(),
        };
        for entry in &entries {
            let change = &entry.change;
            let record: Option<Record> = match &fetched {
                Err(e) if needs_fetch(entry) => {
                    self.failed(entry, e.is_retryable(), &e.to_string(), e.retry_after())?;
                    continue;
                }
                Ok(map) if needs_fetch(entry) => map
                    .get(&(change.object_type.clone(), change.object_id.clone()))
                    .cloned(),
                _ => change.snapshot.clone(),
            };
            match self.flows.process(&env, change, record.as_ref()).await {
                Ok(completion) => {
                    self.store.complete(entry.seq, completion)?;
                }
                Err(e) => {
                    let retry_after = match &e {
                        crate::flows::FlowError::Vendor(v) => v.retry_after(),
                        _ => None,
                    };
                    self.failed(entry, e.is_retryable(), &e.to_string(), retry_after)?;
                }
            }
        }
        metrics::counter!("handoff_changes_processed_total").increment(entries.len() as u64);
        Ok(entries.len())
    }

    fn failed(
        &self,
        entry: &InboxEntry,
        retryable: bool,
        reason: &str,
        retry_after: Option<Duration>,
    ) -> Result<(), crate::state::StateError> {
        let now = handoff_connector::now_ms();
        let attempts = entry.attempts + 1;
        if retryable && attempts < self.max_attempts {
            let delay = retry_after.unwrap_or_else(|| backoff(attempts));
            tracing::warn!(record = %entry.change.record_key(), attempts, error = reason, "change will be retried");
            self.store
                .inbox_retry_later(entry.clone(), reason, now + delay.as_millis() as i64)
        } else {
            tracing::error!(record = %entry.change.record_key(), attempts, error = reason, "change moved to dead letters");
            self.store
                .dead_letter_change(entry.seq, entry.change.clone(), reason, attempts, now)
                .map(|_| ())
        }
    }

    /// Reads the records of webhook changes (which carry no snapshot), one batch read per
    /// object type.
    async fn fetch(
        &self,
        entries: &[InboxEntry],
    ) -> Result<HashMap<(String, String), Record>, handoff_connector::ConnectorError> {
        let mut wanted: HashMap<String, Vec<String>> = HashMap::new();
        for e in entries.iter().filter(|e| needs_fetch(e)) {
            let ids = wanted.entry(e.change.object_type.clone()).or_default();
            if !ids.contains(&e.change.object_id) {
                ids.push(e.change.object_id.clone());
            }
        }
        let mut out = HashMap::new();
        for (object_type, ids) in wanted {
            let props = Flows::properties_for(&object_type);
            for record in self.crm.batch_read(&object_type, &ids, &props).await? {
                out.insert((object_type.clone(), record.id.clone()), record);
            }
        }
        Ok(out)
    }
}

/// HubSpot webhook (and replayed) changes carry no record: read it fresh, but only for the
/// object types a flow reads. Changes to others (tickets and associations echoing handoff's own
/// writes) are completed without a vendor call.
fn needs_fetch(entry: &InboxEntry) -> bool {
    entry.change.source == "hubspot"
        && (entry.change.snapshot.is_none() || entry.change.origin == ChangeOrigin::Replay)
        && !Flows::properties_for(&entry.change.object_type).is_empty()
}

/// Exponential backoff with full jitter: up to 2^attempts s, capped at 5 minutes.
pub fn backoff(attempts: u32) -> Duration {
    let cap_ms = (1000u64 << attempts.min(8)).min(300_000);
    Duration::from_millis(fastrand::u64(cap_ms / 10..=cap_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_connector::{Change, ChangeKind};

    fn entry(object_type: &str, origin: ChangeOrigin) -> InboxEntry {
        InboxEntry {
            seq: 1,
            change: Change {
                source: "hubspot".into(),
                object_type: object_type.into(),
                object_id: "9".into(),
                event_id: None,
                modified_at_ms: 1,
                received_at_ms: 1,
                origin,
                kind: ChangeKind::Updated,
                changed_property: None,
                snapshot: None,
            },
            attempts: 0,
            not_before_ms: 0,
            last_error: None,
        }
    }

    #[test]
    fn only_records_a_flow_reads_are_fetched() {
        assert!(needs_fetch(&entry("contacts", ChangeOrigin::Webhook)));
        assert!(needs_fetch(&entry("deals", ChangeOrigin::Replay)));
        assert!(needs_fetch(&entry("companies", ChangeOrigin::Webhook)));
        assert!(!needs_fetch(&entry("tickets", ChangeOrigin::Webhook)));
        let mut slack = entry("contacts", ChangeOrigin::Webhook);
        slack.change.source = "slack".into();
        assert!(!needs_fetch(&slack));
    }
}
