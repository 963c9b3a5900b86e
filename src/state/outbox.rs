//! The outbox: side effects as sagas of idempotent steps.
//!
//! Processing a change never calls a vendor. It decides, and commits the decision as a
//! [`Saga`] (e.g. "write the owner to the CRM, then DM the owner") in the same transaction that
//! takes the change out of the inbox ([`Store::complete`]). The executor then runs each step:
//! it marks the step [`StepStatus::Attempted`] and flushes *before* calling the vendor, and
//! records the result afterwards. A step found `Attempted` after a crash is one whose outcome
//! is unknown: the executor looks the effect up by the step's idempotency key before trying
//! again. A finished saga moves to the `done` tree, which is the idempotency record: a saga
//! whose key is in `outbox` or `done` is never created twice.

use super::inbox::take;
use super::timers::{encode_timers, tx_cancel, tx_schedule};
use super::{decode, encode, tx_codec, tx_error, AuditEntry, StateError, Store, Timer};
use handoff_connector::IdempotencyKey;
use serde::{Deserialize, Serialize};
use sled::Transactional;

/// Where a step stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not tried yet.
    Pending,
    /// Tried at least once; the effect may or may not have happened.
    Attempted,
    /// Took effect; `result` holds what the vendor returned (ids, links).
    Done,
}

/// One side effect of a saga.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SagaStep {
    /// Makes the effect happen at most once (e.g. `onboarding:<record key>:case`).
    pub key: IdempotencyKey,
    /// Short name for logs and audit (`assign_owner`, `notify_owner`, `create_ticket`).
    pub name: String,
    /// The action, as the outbox executor's `Action` enum serialises it.
    pub action: serde_json::Value,
    pub status: StepStatus,
    /// What the vendor returned (object id, message ts, project gid).
    #[serde(default)]
    pub result: Option<serde_json::Value>,
}

/// An ordered list of steps that belong together (one decision's side effects).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saga {
    /// Unique per decision, e.g. `lead:<record key>`.
    pub key: String,
    /// The flow that decided it (`lead_handoff`, `closed_won`, `claim`).
    pub flow: String,
    /// The record the saga is about (`system:object:id`), for the audit trail.
    pub record_key: String,
    pub steps: Vec<SagaStep>,
    /// UTC ms.
    pub created_at_ms: i64,
    /// Failed execution attempts so far (reset when a step succeeds).
    #[serde(default)]
    pub attempts: u32,
    /// Not before this time, UTC ms.
    #[serde(default)]
    pub not_before_ms: i64,
    #[serde(default)]
    pub last_error: Option<String>,
    /// Parked after a permanent error or too many attempts; listed in dead letters.
    #[serde(default)]
    pub parked: bool,
    /// Replaying it while no step has taken effect decides again from its record, read fresh
    /// (so a mapping fixed since applies), instead of retrying the stored writes. Flows set it
    /// on sagas whose writes come from an admin's mapping of the record and whose decision can
    /// be made again safely ([`Saga::redecided_on_replay`]).
    #[serde(default)]
    pub redecide_on_replay: bool,
}

impl Saga {
    /// A new saga whose steps are all pending.
    pub fn new(
        key: impl Into<String>,
        flow: &str,
        record_key: &str,
        steps: Vec<(IdempotencyKey, &str, serde_json::Value)>,
        now_ms: i64,
    ) -> Saga {
        Saga {
            key: key.into(),
            flow: flow.to_string(),
            record_key: record_key.to_string(),
            steps: steps
                .into_iter()
                .map(|(key, name, action)| SagaStep {
                    key,
                    name: name.to_string(),
                    action,
                    status: StepStatus::Pending,
                    result: None,
                })
                .collect(),
            created_at_ms: now_ms,
            attempts: 0,
            not_before_ms: 0,
            last_error: None,
            parked: false,
            redecide_on_replay: false,
        }
    }

    /// This saga, marked to be decided again when a replay finds it parked before any step
    /// took effect.
    pub fn redecided_on_replay(mut self) -> Saga {
        self.redecide_on_replay = true;
        self
    }

    /// Whether no step has taken effect (every step is pending, or was tried and failed).
    pub fn nothing_done(&self) -> bool {
        self.steps.iter().all(|s| s.status != StepStatus::Done)
    }

    /// Index of the first step not done yet.
    pub fn next_step(&self) -> Option<usize> {
        self.steps.iter().position(|s| s.status != StepStatus::Done)
    }

    /// The result of the step named `name`, once done.
    pub fn result_of(&self, name: &str) -> Option<&serde_json::Value> {
        self.steps
            .iter()
            .find(|s| s.name == name && s.status == StepStatus::Done)
            .and_then(|s| s.result.as_ref())
    }
}

/// The outcome of processing one inbox entry, committed atomically with its removal.
#[derive(Clone, Debug, Default)]
pub struct Completion {
    /// Sagas to add (each skipped if its key is already in the outbox or done).
    pub sagas: Vec<Saga>,
    /// Audit entries to append.
    pub audit: Vec<AuditEntry>,
    /// Flow state to write (key → JSON), e.g. the next round-robin position.
    pub state: Vec<(String, serde_json::Value)>,
    /// Timers to schedule, each replacing any timer with the same key (applied after
    /// `cancel_timers`, so cancelling and scheduling one key reschedules it).
    pub timers: Vec<Timer>,
    /// Keys of timers to cancel (unknown keys are ignored).
    pub cancel_timers: Vec<String>,
}

impl Completion {
    /// Adds `other`'s sagas, audit entries, state, timers and cancellations after this one's.
    pub fn merge(&mut self, other: Completion) {
        self.sagas.extend(other.sagas);
        self.audit.extend(other.audit);
        self.state.extend(other.state);
        self.timers.extend(other.timers);
        self.cancel_timers.extend(other.cancel_timers);
    }
}

impl Store {
    /// Takes inbox entry `seq` out and commits its decision, atomically. Returns how many of the
    /// sagas were new (the others already existed: the decision had been made before).
    ///
    /// Not flushed by itself: a crash before the next flush leaves the entry in the inbox and
    /// none of the sagas, so the change is processed again with the same result. Side effects
    /// only start after a flush (see the module docs).
    pub fn complete(&self, seq: u64, completion: Completion) -> Result<usize, StateError> {
        let inner = &self.inner;
        let mut sagas = Vec::with_capacity(completion.sagas.len());
        for s in &completion.sagas {
            sagas.push((s.key.clone(), encode(s, "saga")?));
        }
        let mut audit = Vec::with_capacity(completion.audit.len());
        for a in &completion.audit {
            audit.push((a.record_key.clone(), encode(a, "audit entry")?));
        }
        let mut state = Vec::with_capacity(completion.state.len());
        for (k, v) in &completion.state {
            state.push((k.clone(), encode(v, "flow state")?));
        }
        let timers = encode_timers(&completion.timers)?;
        let created = (
            &inner.inbox,
            &inner.outbox,
            &inner.done,
            &inner.audit,
            &inner.kv,
            &inner.timers,
            &inner.timer_keys,
        )
            .transaction(|(inbox, outbox, done, audit_tree, kv, tt, tk)| {
                take(inbox, seq)?;
                let mut created = 0;
                for (key, bytes) in &sagas {
                    if outbox.get(key.as_bytes())?.is_some() || done.get(key.as_bytes())?.is_some()
                    {
                        continue;
                    }
                    outbox.insert(key.as_bytes(), bytes.as_slice())?;
                    created += 1;
                }
                for (record_key, bytes) in &audit {
                    let id = tx_codec(audit_tree.generate_id().map_err(StateError::Sled))?;
                    audit_tree.insert(super::audit::audit_key(record_key, id), bytes.as_slice())?;
                }
                for (k, bytes) in &state {
                    kv.insert(k.as_bytes(), bytes.as_slice())?;
                }
                for key in &completion.cancel_timers {
                    tx_cancel(tt, tk, key)?;
                }
                for (timer, bytes) in &timers {
                    tx_schedule(tt, tk, timer, bytes)?;
                }
                Ok(created)
            })
            .map_err(tx_error)?;
        if !timers.is_empty() {
            self.notify_timers_changed();
        }
        metrics::counter!("handoff_sagas_created_total").increment(created as u64);
        Ok(created)
    }

    /// Up to `limit` sagas ready to run at `now_ms` (not parked, backoff passed).
    pub fn sagas_ready(&self, now_ms: i64, limit: usize) -> Result<Vec<Saga>, StateError> {
        self.sagas_ready_except(now_ms, limit, |_| false)
    }

    /// Like [`Store::sagas_ready`], passing over (without decoding) the sagas whose key `skip`
    /// accepts, e.g. those already running.
    pub fn sagas_ready_except(
        &self,
        now_ms: i64,
        limit: usize,
        skip: impl Fn(&str) -> bool,
    ) -> Result<Vec<Saga>, StateError> {
        let mut out = Vec::new();
        for item in self.inner.outbox.iter() {
            let (k, v) = item?;
            if std::str::from_utf8(&k).is_ok_and(&skip) {
                continue;
            }
            let saga: Saga = decode(&v, "saga")?;
            if !saga.parked && saga.not_before_ms <= now_ms {
                out.push(saga);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Saves a saga's progress with its audit entries. When `flush` is true, waits until it is
    /// on disk (required before running a step's side effect).
    pub async fn save_saga(
        &self,
        saga: &Saga,
        audit: &[AuditEntry],
        flush: bool,
    ) -> Result<(), StateError> {
        self.write_saga(saga, audit, false)?;
        if flush {
            self.durable().await?;
        }
        Ok(())
    }

    /// Moves a saga whose steps are all done from the outbox to `done` (its idempotency
    /// record), with its audit entries.
    pub async fn finish_saga(&self, saga: &Saga, audit: &[AuditEntry]) -> Result<(), StateError> {
        self.write_saga(saga, audit, true)?;
        metrics::counter!("handoff_sagas_completed_total").increment(1);
        Ok(())
    }

    fn write_saga(
        &self,
        saga: &Saga,
        audit: &[AuditEntry],
        finished: bool,
    ) -> Result<(), StateError> {
        let inner = &self.inner;
        let bytes = encode(saga, "saga")?;
        let mut entries = Vec::with_capacity(audit.len());
        for a in audit {
            entries.push((a.record_key.clone(), encode(a, "audit entry")?));
        }
        (&inner.outbox, &inner.done, &inner.audit)
            .transaction(|(outbox, done, audit_tree)| {
                // A finished saga is final: progress written from a stale copy must not put
                // it back into the outbox (its steps would run again).
                if done.get(saga.key.as_bytes())?.is_some() {
                    return Ok(());
                }
                if finished {
                    outbox.remove(saga.key.as_bytes())?;
                    done.insert(saga.key.as_bytes(), bytes.as_slice())?;
                } else {
                    outbox.insert(saga.key.as_bytes(), bytes.as_slice())?;
                }
                for (record_key, e) in &entries {
                    let id = tx_codec(audit_tree.generate_id().map_err(StateError::Sled))?;
                    audit_tree.insert(super::audit::audit_key(record_key, id), e.as_slice())?;
                }
                Ok(())
            })
            .map_err(tx_error)
    }

    /// A saga still in the outbox (pending or parked), by key; `None` once it is done.
    pub fn pending_saga(&self, key: &str) -> Result<Option<Saga>, StateError> {
        self.inner
            .outbox
            .get(key)?
            .map(|v| decode(&v, "saga"))
            .transpose()
    }

    /// A saga by key, pending or done.
    pub fn saga(&self, key: &str) -> Result<Option<Saga>, StateError> {
        let inner = &self.inner;
        match inner.outbox.get(key)? {
            Some(v) => Ok(Some(decode(&v, "saga")?)),
            None => inner.done.get(key)?.map(|v| decode(&v, "saga")).transpose(),
        }
    }

    /// Every finished saga (for reports and tests; scans the whole `done` tree).
    pub fn done_sagas(&self) -> Result<Vec<Saga>, StateError> {
        self.inner
            .done
            .iter()
            .map(|item| {
                let (_, v) = item?;
                decode(&v, "saga")
            })
            .collect()
    }

    /// Number of sagas waiting in the outbox (parked included).
    pub fn outbox_depth(&self) -> usize {
        self.inner.outbox.len()
    }
}
