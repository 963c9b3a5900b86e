//! The worker: takes changes out of the inbox in order, reads the records they concern, runs
//! the flows, and commits each decision atomically with the change's removal.
//!
//! A change whose processing fails transiently is retried later with backoff; one that fails
//! permanently, or too often, moves to dead letters with the reason. Nothing is dropped.

use crate::clock::Clock;
use crate::flows::{Env, Flows};
use crate::state::{InboxEntry, Store};
use handoff_connector::{ChangeOrigin, Crm, ErrorClass, Record};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The worker's parts.
pub struct Worker {
    pub store: Store,
    /// The flows, swapped whole by a configuration reload; each round takes them afresh.
    pub flows: Arc<super::reload::LiveFlows>,
    pub crm: Arc<dyn Crm>,
    /// The marketing CRM in front of `crm`, if configured.
    pub marketing: Option<Arc<dyn Crm>>,
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
        let flows = self.flows.current();
        let fetched = self.fetch(&flows, &entries).await;
        let env = Env {
            store: &self.store,
            crm: self.crm.as_ref(),
            marketing: self.marketing.as_deref(),
            now_ms: self.clock.now_ms(),
        };
        for entry in &entries {
            let change = &entry.change;
            let record: Option<Record> = match &fetched {
                Err(e) if self.needs_fetch(&flows, entry) => {
                    self.failed(entry, e.class(), &e.to_string(), e.retry_after())?;
                    continue;
                }
                Ok(map) if self.needs_fetch(&flows, entry) => map
                    .get(&(
                        change.source.clone(),
                        change.object_type.clone(),
                        change.object_id.clone(),
                    ))
                    .cloned(),
                _ => change.snapshot.clone(),
            };
            match flows.process(&env, change, record.as_ref()).await {
                Ok(completion) => {
                    self.store.complete(entry.seq, completion)?;
                }
                Err(e) => {
                    let (class, retry_after) = match &e {
                        crate::flows::FlowError::Vendor(v) => (v.class(), v.retry_after()),
                        _ if e.is_retryable() => (ErrorClass::Retryable, None),
                        _ => (ErrorClass::Permanent, None),
                    };
                    self.failed(entry, class, &e.to_string(), retry_after)?;
                }
            }
        }
        metrics::counter!("handoff_changes_processed_total").increment(entries.len() as u64);
        Ok(entries.len())
    }

    /// Retries `entry` later or dead-letters it. Waiting for a vendor's rate limit or daily
    /// allocation (`ErrorClass::RateLimited`) is no attempt: it never dead-letters a change.
    fn failed(
        &self,
        entry: &InboxEntry,
        class: ErrorClass,
        reason: &str,
        retry_after: Option<Duration>,
    ) -> Result<(), crate::state::StateError> {
        let now = handoff_connector::now_ms();
        let limited = !class.counts_as_attempt();
        let retryable = limited || class == ErrorClass::Retryable;
        let attempts = entry.attempts + u32::from(!limited);
        if retryable && (limited || attempts < self.max_attempts) {
            let delay = retry_after.unwrap_or_else(|| backoff(attempts));
            if limited {
                metrics::counter!("handoff_rate_limit_waits_total", "kind" => "change")
                    .increment(1);
            }
            tracing::warn!(record = %entry.change.record_key(), attempts, error = reason, "change will be retried");
            self.store.inbox_retry_later(
                entry.clone(),
                reason,
                now + delay.as_millis() as i64,
                attempts,
            )
        } else {
            tracing::error!(record = %entry.change.record_key(), attempts, error = reason, "change moved to dead letters");
            self.store
                .dead_letter_change(entry.seq, entry.change.clone(), reason, attempts, now)
                .map(|_| ())
        }
    }

    /// Reads the records of webhook changes (which carry no snapshot), one batch read per
    /// CRM and object type. Keyed by (system, object, id).
    async fn fetch(
        &self,
        flows: &Flows,
        entries: &[InboxEntry],
    ) -> Result<Fetched, handoff_connector::ConnectorError> {
        let mut wanted: HashMap<(String, String), Vec<String>> = HashMap::new();
        for e in entries.iter().filter(|e| self.needs_fetch(flows, e)) {
            let ids = wanted
                .entry((e.change.source.clone(), e.change.object_type.clone()))
                .or_default();
            if !ids.contains(&e.change.object_id) {
                ids.push(e.change.object_id.clone());
            }
        }
        let mut out = HashMap::new();
        for ((system, object_type), ids) in wanted {
            let Some(crm) = self.crm_of(&system) else {
                continue;
            };
            let fields = flows.loaded.fields_for(&object_type);
            for record in crm.read(&object_type, &ids, fields).await? {
                out.insert(
                    (system.clone(), object_type.clone(), record.id.clone()),
                    record,
                );
            }
        }
        Ok(out)
    }

    /// The CRM (sales or marketing) whose system name is `system`.
    fn crm_of(&self, system: &str) -> Option<&dyn Crm> {
        std::iter::once(&self.crm)
            .chain(self.marketing.as_ref())
            .find(|c| c.system() == system)
            .map(|c| c.as_ref())
    }
}

/// Records read for a round, by (system, object, id).
type Fetched = HashMap<(String, String, String), Record>;

impl Worker {
    /// CRM webhook (and replayed) changes carry no record: read it fresh, but only for the
    /// objects a mapping reads. Changes to others (cases and associations echoing handoff's
    /// own writes) are completed without a vendor call.
    fn needs_fetch(&self, flows: &Flows, entry: &InboxEntry) -> bool {
        self.crm_of(&entry.change.source).is_some_and(|crm| {
            needs_fetch(entry, crm.system(), |object| {
                !flows.loaded.fields_for(object).is_empty()
            })
        })
    }
}

fn needs_fetch(entry: &InboxEntry, crm: &str, mapped: impl Fn(&str) -> bool) -> bool {
    entry.change.source == crm
        && (entry.change.snapshot.is_none() || entry.change.origin == ChangeOrigin::Replay)
        && mapped(&entry.change.object_type)
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
                source: "crm".into(),
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
    fn only_records_a_mapping_reads_are_fetched() {
        let mapped = |o: &str| ["leads", "deals", "accounts"].contains(&o);
        let fetch = |e: &InboxEntry| needs_fetch(e, "crm", mapped);
        assert!(fetch(&entry("leads", ChangeOrigin::Webhook)));
        assert!(fetch(&entry("deals", ChangeOrigin::Replay)));
        assert!(fetch(&entry("accounts", ChangeOrigin::Webhook)));
        assert!(!fetch(&entry("cases", ChangeOrigin::Webhook)));
        let mut slack = entry("leads", ChangeOrigin::Webhook);
        slack.change.source = "slack".into();
        assert!(!fetch(&slack));
    }
}
