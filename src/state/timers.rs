//! Durable timers: work scheduled for a later time (SLA reminders, escalations, a rep's
//! notification deferred to the team's next opening) that survives restarts.
//!
//! | tree         | key                                   | value                      |
//! |--------------|---------------------------------------|----------------------------|
//! | `timers`     | due (i64, order-preserving BE) ++ key | [`Timer`] as JSON          |
//! | `timer_keys` | timer key                             | due (i64, order-preserving BE) |
//!
//! A timer is identified by its key: scheduling a key again replaces (reschedules) it, and
//! cancelling is by key. Flows schedule and cancel through [`super::Completion`], in the same
//! transaction as the rest of their decision.
//!
//! **Firing = becoming a change.** A due timer becomes a [`Change`] from source
//! [`TIMER_SOURCE`], type [`TIMER_OBJECT_TYPE`], with event id `key@due_ms`
//! ([`Timer::to_change`]); flows read it back with [`Timer::from_change`].
//! [`Store::fire_due_timers`] moves it into the inbox in **one sled transaction** that removes
//! it from `timers` and `timer_keys`, adds the inbox entry, and records its dedupe keys in
//! `seen`. Exactly once, because:
//! - sled recovers a prefix of its log and a transaction is atomic in it, so after a crash
//!   either the timer is still scheduled (and fires again later) or its change is in the
//!   inbox, never both and never neither;
//! - the inbox, once it holds the change, keeps it until a worker commits the decision
//!   (`Store::complete`), so the change is processed;
//! - should a stale copy of the timer ever be moved again (the same key and due time
//!   scheduled anew after it fired), its event id is already in `seen` and it is dropped,
//!   as the inbox drops any repeated event (until `prune_seen` forgets it after the dedupe
//!   retention).
//!
//! A cancel or reschedule that commits before the move wins; one that commits after finds
//! nothing to cancel (the change is already in the inbox, and flows must treat it as fired).

use super::inbox::InboxEntry;
use super::{decode, encode, tx_error, StateError, Store};
use handoff_connector::{Change, ChangeKind, ChangeOrigin, Record};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

/// The [`Change::source`] of a fired timer.
pub const TIMER_SOURCE: &str = "handoff";
/// The [`Change::object_type`] of a fired timer.
pub const TIMER_OBJECT_TYPE: &str = "timer";

/// Work to do at a later time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    /// Unique; scheduling the same key again replaces the timer, e.g.
    /// `sla:<record key>:1:reminder`.
    pub key: String,
    /// When it fires, UTC epoch ms.
    pub due_ms: i64,
    /// What it is for, for the flow that handles it (`sla_reminder`, `deferred_notify`).
    pub kind: String,
    /// The record it is about (`system:object:id`).
    pub record_key: String,
    /// Whatever the handling flow needs.
    #[serde(default)]
    pub payload: serde_json::Value,
    /// When it was scheduled, UTC epoch ms.
    pub created_ms: i64,
}

impl Timer {
    /// The event id of its firing: `key@due_ms` (a rescheduled timer fires under a new id).
    pub fn event_id(&self) -> String {
        format!("{}@{}", self.key, self.due_ms)
    }

    /// The change this timer becomes when it fires at `fired_at_ms` (UTC ms): source
    /// [`TIMER_SOURCE`], type [`TIMER_OBJECT_TYPE`], id the timer key, modified at the due time,
    /// and the whole timer as the snapshot's properties.
    pub fn to_change(&self, fired_at_ms: i64) -> Change {
        let properties = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        Change {
            source: TIMER_SOURCE.to_string(),
            object_type: TIMER_OBJECT_TYPE.to_string(),
            object_id: self.key.clone(),
            event_id: Some(self.event_id()),
            modified_at_ms: self.due_ms,
            received_at_ms: fired_at_ms,
            origin: ChangeOrigin::Poll,
            kind: ChangeKind::Updated,
            changed_property: None,
            snapshot: Some(Record {
                id: self.key.clone(),
                object_type: TIMER_OBJECT_TYPE.to_string(),
                properties,
                associations: Default::default(),
            }),
        }
    }

    /// The timer a fired-timer change carries; `None` for any other change.
    pub fn from_change(change: &Change) -> Option<Timer> {
        if change.source != TIMER_SOURCE || change.object_type != TIMER_OBJECT_TYPE {
            return None;
        }
        let props = change.snapshot.as_ref()?.properties.clone();
        serde_json::from_value(serde_json::Value::Object(props)).ok()
    }
}

/// Encodes a due time so that byte order is numeric order (negative times included).
fn due_bytes(due_ms: i64) -> [u8; 8] {
    ((due_ms as u64) ^ (1 << 63)).to_be_bytes()
}

fn due_from(bytes: &[u8]) -> Option<i64> {
    let raw: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some((u64::from_be_bytes(raw) ^ (1 << 63)) as i64)
}

fn tree_key(due_ms: i64, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + key.len());
    k.extend_from_slice(&due_bytes(due_ms));
    k.extend_from_slice(key.as_bytes());
    k
}

type TxResult<T> = Result<T, ConflictableTransactionError<StateError>>;

/// Removes the timer `key` inside a transaction; true if there was one.
pub(super) fn tx_cancel(
    timers: &TransactionalTree,
    timer_keys: &TransactionalTree,
    key: &str,
) -> TxResult<bool> {
    let Some(due) = timer_keys.remove(key.as_bytes())? else {
        return Ok(false);
    };
    if let Some(due) = due_from(&due) {
        timers.remove(tree_key(due, key))?;
    }
    Ok(true)
}

/// Schedules (or reschedules) an encoded timer inside a transaction.
pub(super) fn tx_schedule(
    timers: &TransactionalTree,
    timer_keys: &TransactionalTree,
    timer: &Timer,
    bytes: &[u8],
) -> TxResult<()> {
    tx_cancel(timers, timer_keys, &timer.key)?;
    timers.insert(tree_key(timer.due_ms, &timer.key), bytes)?;
    timer_keys.insert(timer.key.as_bytes(), &due_bytes(timer.due_ms))?;
    Ok(())
}

/// Timers with their JSON encodings, ready for a transaction.
pub(super) fn encode_timers(timers: &[Timer]) -> Result<Vec<(Timer, Vec<u8>)>, StateError> {
    timers
        .iter()
        .map(|t| Ok((t.clone(), encode(t, "timer")?)))
        .collect()
}

impl Store {
    /// Schedules `timers`, each replacing any timer with the same key, atomically. Wakes the
    /// timer runner. (Flows schedule through [`super::Completion::timers`] instead.)
    pub fn schedule_timers(&self, timers: &[Timer]) -> Result<(), StateError> {
        let encoded = encode_timers(timers)?;
        let inner = &self.inner;
        (&inner.timers, &inner.timer_keys)
            .transaction(|(t, k)| {
                for (timer, bytes) in &encoded {
                    tx_schedule(t, k, timer, bytes)?;
                }
                Ok(())
            })
            .map_err(tx_error)?;
        self.notify_timers_changed();
        Ok(())
    }

    /// Cancels the timers with these keys, atomically; returns how many existed.
    pub fn cancel_timers(&self, keys: &[String]) -> Result<usize, StateError> {
        let inner = &self.inner;
        (&inner.timers, &inner.timer_keys)
            .transaction(|(t, k)| {
                let mut n = 0;
                for key in keys {
                    n += usize::from(tx_cancel(t, k, key)?);
                }
                Ok(n)
            })
            .map_err(tx_error)
    }

    /// The due time (UTC ms) of the earliest scheduled timer.
    pub fn next_timer_due(&self) -> Result<Option<i64>, StateError> {
        Ok(self.inner.timers.first()?.and_then(|(k, _)| due_from(&k)))
    }

    /// Up to `limit` timers due at `now_ms` (UTC), earliest first (ties by key).
    pub fn due_timers(&self, now_ms: i64, limit: usize) -> Result<Vec<Timer>, StateError> {
        let mut out = Vec::new();
        for item in self.inner.timers.iter() {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            if due_from(&k).is_none_or(|due| due > now_ms) {
                break;
            }
            out.push(decode(&v, "timer")?);
        }
        Ok(out)
    }

    /// The scheduled timer with this key, if any.
    pub fn timer(&self, key: &str) -> Result<Option<Timer>, StateError> {
        let Some(due) = self.inner.timer_keys.get(key.as_bytes())? else {
            return Ok(None);
        };
        let Some(due) = due_from(&due) else {
            return Ok(None);
        };
        self.inner
            .timers
            .get(tree_key(due, key))?
            .map(|v| decode(&v, "timer"))
            .transpose()
    }

    /// Number of scheduled timers.
    pub fn timers_pending(&self) -> usize {
        self.inner.timer_keys.len()
    }

    /// Moves up to `limit` timers due at `now_ms` (UTC ms) into the inbox as changes, each
    /// atomically with its removal (see the module docs), and returns those taken out of the
    /// schedule, earliest first. Not flushed: call [`Store::durable`] afterwards (a crash before
    /// the flush leaves the timers scheduled, to fire again).
    pub fn fire_due_timers(&self, now_ms: i64, limit: usize) -> Result<Vec<Timer>, StateError> {
        let due = self.due_timers(now_ms, limit)?;
        if due.is_empty() {
            return Ok(due);
        }
        let inner = &self.inner;
        let mut prepared = Vec::with_capacity(due.len());
        for timer in due {
            let seq = inner.db.generate_id()?;
            let change = timer.to_change(now_ms);
            let keys = change.dedupe_keys();
            let entry = InboxEntry {
                seq,
                change,
                attempts: 0,
                not_before_ms: 0,
                last_error: None,
            };
            prepared.push((timer, keys, encode(&entry, "inbox entry")?, seq));
        }
        let received = now_ms.max(0) as u64;
        // Serialised with intake, which checks and then writes dedupe keys.
        let _guard = inner.intake.lock().unwrap_or_else(|p| p.into_inner());
        let (taken, duplicates) = (&inner.inbox, &inner.seen, &inner.timers, &inner.timer_keys)
            .transaction(|(inbox, seen, timers, timer_keys)| {
                let mut taken = Vec::with_capacity(prepared.len());
                let mut duplicates = 0usize;
                for (timer, keys, bytes, seq) in &prepared {
                    let tk = tree_key(timer.due_ms, &timer.key);
                    // Cancelled or rescheduled since it was read: not ours to fire.
                    if timers.remove(tk)?.is_none() {
                        continue;
                    }
                    if timer_keys.get(timer.key.as_bytes())?.as_deref()
                        == Some(&due_bytes(timer.due_ms)[..])
                    {
                        timer_keys.remove(timer.key.as_bytes())?;
                    }
                    taken.push(timer.clone());
                    let mut seen_before = false;
                    for k in keys {
                        seen_before |= seen.get(k.as_bytes())?.is_some();
                    }
                    if seen_before {
                        duplicates += 1;
                        continue;
                    }
                    inbox.insert(&seq.to_be_bytes(), bytes.as_slice())?;
                    for k in keys {
                        seen.insert(k.as_bytes(), &received.to_be_bytes())?;
                    }
                }
                Ok((taken, duplicates))
            })
            .map_err(tx_error)?;
        metrics::counter!("handoff_timers_fired_total")
            .increment((taken.len() - duplicates) as u64);
        if duplicates > 0 {
            metrics::counter!("handoff_timers_duplicates_total").increment(duplicates as u64);
        }
        Ok(taken)
    }

    /// Completes when timers were scheduled (by [`Store::schedule_timers`] or a completion)
    /// since the last call completed, at once if they already were. For the timer runner, so
    /// an earlier timer cuts its wait short; meant for a single waiter.
    pub async fn timers_changed(&self) {
        self.inner.timers_changed.notified().await;
    }

    /// Wakes the timer runner so it recomputes its next wake-up.
    pub(super) fn notify_timers_changed(&self) {
        self.inner.timers_changed.notify_one();
    }
}
