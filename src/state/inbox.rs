//! The inbox: changes received (webhook or poll) and not yet processed.

use super::{decode, encode, StateError, Store};
use handoff_connector::Change;
use serde::{Deserialize, Serialize};

/// One received change waiting to be processed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InboxEntry {
    /// Position in the inbox (increasing; processing follows it).
    pub seq: u64,
    pub change: Change,
    /// Failed processing attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// Not before this time, UTC ms (backoff after a failed attempt).
    #[serde(default)]
    pub not_before_ms: i64,
    /// The last processing error, for `status` and dead letters.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// What [`Store::enqueue`] did with a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EnqueueReport {
    /// Changes added to the inbox.
    pub accepted: usize,
    /// Changes already seen (same event id, or same record version), not added again.
    pub duplicates: usize,
}

impl Store {
    /// Adds `changes` to the inbox, skipping any already seen, and returns once they are on
    /// disk. Acknowledge a webhook, or advance a cursor, only after this returns `Ok`.
    pub async fn enqueue(&self, changes: Vec<Change>) -> Result<EnqueueReport, StateError> {
        let report = self.enqueue_unflushed(changes)?;
        self.durable().await?;
        Ok(report)
    }

    /// The write half of [`Store::enqueue`], without waiting for the flush.
    pub fn enqueue_unflushed(&self, changes: Vec<Change>) -> Result<EnqueueReport, StateError> {
        let inner = &self.inner;
        let _guard = inner.intake.lock().unwrap_or_else(|p| p.into_inner());
        let mut report = EnqueueReport::default();
        let mut fresh = Vec::with_capacity(changes.len());
        let mut batch_keys = std::collections::HashSet::new();
        for change in changes {
            let keys = change.dedupe_keys();
            let mut dup = false;
            for k in &keys {
                if batch_keys.contains(k) || inner.seen.contains_key(k.as_bytes())? {
                    dup = true;
                    break;
                }
            }
            if dup {
                report.duplicates += 1;
                continue;
            }
            batch_keys.extend(keys.iter().cloned());
            fresh.push((keys, change));
        }
        if fresh.is_empty() {
            return Ok(report);
        }
        let mut encoded = Vec::with_capacity(fresh.len());
        for (keys, change) in fresh {
            let received = change.received_at_ms.max(0) as u64;
            let seq = inner.db.generate_id()?;
            let entry = InboxEntry {
                seq,
                change,
                attempts: 0,
                not_before_ms: 0,
                last_error: None,
            };
            encoded.push((seq, encode(&entry, "inbox entry")?, keys, received));
        }
        report.accepted = encoded.len();
        // Plain inserts, not a sled transaction: every sled transaction (and batch) writes and
        // syncs the log buffer twice before it starts, which capped intake at a few thousand
        // requests/s (`docs/performance.md`). Atomicity is kept where it matters by order: all
        // inbox entries first, then their dedupe keys. sled recovers a prefix of its log, so a
        // crash (or an error) part-way leaves inbox entries without dedupe keys, never dedupe
        // keys without their entry: the vendor's retry may then enqueue a change twice (flows
        // are idempotent by saga key), but a change is never lost. Nothing is acknowledged
        // before the flush that follows anyway.
        for (seq, bytes, _, _) in &encoded {
            inner.inbox.insert(seq.to_be_bytes(), bytes.as_slice())?;
        }
        for (_, _, keys, received) in &encoded {
            for k in keys {
                inner.seen.insert(k.as_bytes(), &received.to_be_bytes())?;
            }
        }
        metrics::counter!("handoff_inbox_accepted_total").increment(report.accepted as u64);
        metrics::counter!("handoff_inbox_duplicates_total").increment(report.duplicates as u64);
        Ok(report)
    }

    /// Adds `changes` an admin replays (a window of a change feed read again) without
    /// deduplication, then returns once they are on disk. Their effects already applied are
    /// skipped by the flows' saga keys.
    pub async fn enqueue_replayed(&self, changes: Vec<Change>) -> Result<usize, StateError> {
        let n = changes.len();
        for change in changes {
            self.requeue(change)?;
        }
        self.durable().await?;
        metrics::counter!("handoff_inbox_replayed_total").increment(n as u64);
        Ok(n)
    }

    /// Re-adds a change without deduplication (an admin's replay of a dead letter).
    pub(super) fn requeue(&self, change: Change) -> Result<u64, StateError> {
        let seq = self.inner.db.generate_id()?;
        let entry = InboxEntry {
            seq,
            change,
            attempts: 0,
            not_before_ms: 0,
            last_error: None,
        };
        self.inner
            .inbox
            .insert(seq.to_be_bytes(), encode(&entry, "inbox entry")?)?;
        Ok(seq)
    }

    /// Up to `limit` entries ready at `now_ms`, oldest first.
    pub fn inbox_ready(&self, now_ms: i64, limit: usize) -> Result<Vec<InboxEntry>, StateError> {
        let mut out = Vec::new();
        for item in self.inner.inbox.iter() {
            let (_, v) = item?;
            let entry: InboxEntry = decode(&v, "inbox entry")?;
            if entry.not_before_ms <= now_ms {
                out.push(entry);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Number of changes waiting in the inbox.
    pub fn inbox_depth(&self) -> usize {
        self.inner.inbox.len()
    }

    /// Records a failed try of an inbox entry: it is retried at `not_before_ms`, with
    /// `attempts` tries counted so far.
    pub fn inbox_retry_later(
        &self,
        mut entry: InboxEntry,
        error: &str,
        not_before_ms: i64,
        attempts: u32,
    ) -> Result<(), StateError> {
        entry.attempts = attempts;
        entry.not_before_ms = not_before_ms;
        entry.last_error = Some(error.to_string());
        self.inner
            .inbox
            .insert(entry.seq.to_be_bytes(), encode(&entry, "inbox entry")?)?;
        Ok(())
    }

    /// How many records of `system:object` handoff received a version of whose newest received
    /// version was modified in `[from_ms, to_ms)` (UTC ms): the count a CRM's "last modified in
    /// the window" is compared with. Read from the dedupe keys (`version:<record key>@<ms>`),
    /// so it covers what is younger than `delivery.dedupe_retention_h`.
    pub fn records_last_modified_in(
        &self,
        system: &str,
        object: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<u64, StateError> {
        let prefix = format!("version:{system}:{object}:");
        let mut newest: std::collections::HashMap<Vec<u8>, i64> = Default::default();
        for item in self.inner.seen.scan_prefix(prefix.as_bytes()) {
            let (k, _) = item?;
            let Some(at) = k.iter().rposition(|b| *b == b'@') else {
                continue;
            };
            let Some(ms) = std::str::from_utf8(&k[at + 1..])
                .ok()
                .and_then(|t| t.parse::<i64>().ok())
            else {
                continue;
            };
            let e = newest.entry(k[..at].to_vec()).or_insert(ms);
            *e = (*e).max(ms);
        }
        Ok(newest
            .values()
            .filter(|ms| (from_ms..to_ms).contains(ms))
            .count() as u64)
    }

    /// Forgets dedupe keys received before `cutoff_ms` (UTC), so `seen` stays bounded. Returns
    /// how many were removed.
    pub fn prune_seen(&self, cutoff_ms: i64) -> Result<usize, StateError> {
        let mut removed = 0;
        for item in self.inner.seen.iter() {
            let (k, v) = item?;
            let at = v.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
            if (at as i64) < cutoff_ms {
                self.inner.seen.remove(k)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Removes an inbox entry inside a transaction (used by completion and dead-lettering).
pub(super) fn take(
    inbox: &sled::transaction::TransactionalTree,
    seq: u64,
) -> Result<bool, sled::transaction::ConflictableTransactionError<StateError>> {
    Ok(inbox.remove(&seq.to_be_bytes())?.is_some())
}
