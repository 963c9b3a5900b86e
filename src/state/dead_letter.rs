//! Dead letters: work that could not be processed, kept with its error until an admin replays it.
//!
//! Nothing is dropped. A change whose processing fails permanently (or too often) moves here
//! from the inbox; a saga whose step fails permanently is parked in the outbox and listed here.
//! `handoff dead-letters list` shows them; `handoff dead-letters replay ID` puts a change back
//! in the inbox (bypassing dedupe) or un-parks a saga.

use super::inbox::take;
use super::{decode, encode, tx_error, AuditEntry, Saga, StateError, Store};
use handoff_connector::Change;
use serde::{Deserialize, Serialize};
use sled::Transactional;

/// What was dead-lettered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeadLetterItem {
    /// A received change that could not be processed.
    Change { change: Change },
    /// A saga parked in the outbox (it stays there, marked parked).
    Saga { saga_key: String, step: String },
}

/// One dead letter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: u64,
    /// UTC ms.
    pub at_ms: i64,
    /// The record it concerns (`system:object:id`).
    pub record_key: String,
    /// Why, in words an admin can act on (vendor, status, message).
    pub reason: String,
    /// Attempts made before giving up.
    pub attempts: u32,
    pub item: DeadLetterItem,
}

impl Store {
    /// Moves inbox entry `seq` (holding `change`) to the dead-letter store, atomically.
    pub fn dead_letter_change(
        &self,
        seq: u64,
        change: Change,
        reason: &str,
        attempts: u32,
        now_ms: i64,
    ) -> Result<u64, StateError> {
        let id = self.inner.db.generate_id()?;
        let letter = DeadLetter {
            id,
            at_ms: now_ms,
            record_key: change.record_key(),
            reason: reason.to_string(),
            attempts,
            item: DeadLetterItem::Change { change },
        };
        let audit = AuditEntry::new(
            now_ms,
            &letter.record_key,
            "dead_lettered",
            format!("change parked in dead letters (id {id}): {reason}"),
            serde_json::Value::Null,
        );
        let bytes = encode(&letter, "dead letter")?;
        (&self.inner.inbox, &self.inner.dead)
            .transaction(|(inbox, dead)| {
                take(inbox, seq)?;
                dead.insert(&id.to_be_bytes(), bytes.as_slice())?;
                Ok(())
            })
            .map_err(tx_error)?;
        self.append_audit(&[audit])?;
        metrics::counter!("handoff_dead_letters_total", "kind" => "change").increment(1);
        Ok(id)
    }

    /// Parks `saga` (its failing step named `step`) and lists it as a dead letter.
    pub async fn park_saga(
        &self,
        saga: &mut Saga,
        step: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<u64, StateError> {
        saga.parked = true;
        saga.last_error = Some(reason.to_string());
        let id = self.inner.db.generate_id()?;
        let letter = DeadLetter {
            id,
            at_ms: now_ms,
            record_key: saga.record_key.clone(),
            reason: reason.to_string(),
            attempts: saga.attempts,
            item: DeadLetterItem::Saga {
                saga_key: saga.key.clone(),
                step: step.to_string(),
            },
        };
        let audit = AuditEntry::new(
            now_ms,
            &saga.record_key,
            "dead_lettered",
            format!(
                "saga {} parked at step {step} (dead letter {id}): {reason}",
                saga.key
            ),
            serde_json::Value::Null,
        );
        self.inner
            .dead
            .insert(id.to_be_bytes(), encode(&letter, "dead letter")?)?;
        self.save_saga(saga, &[audit], true).await?;
        metrics::counter!("handoff_dead_letters_total", "kind" => "saga").increment(1);
        Ok(id)
    }

    /// Every dead letter, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError> {
        self.inner
            .dead
            .iter()
            .map(|item| {
                let (_, v) = item?;
                decode(&v, "dead letter")
            })
            .collect()
    }

    /// Replays dead letter `id`: a change goes back into the inbox (origin `replay`, no dedupe);
    /// a parked saga is un-parked with its attempts reset. The letter is removed. Flushed.
    pub async fn replay_dead_letter(&self, id: u64, now_ms: i64) -> Result<DeadLetter, StateError> {
        let letter: DeadLetter = match self.inner.dead.get(id.to_be_bytes())? {
            Some(v) => decode(&v, "dead letter")?,
            None => return Err(StateError::NoSuchDeadLetter(id)),
        };
        let mut redecided = false;
        match &letter.item {
            DeadLetterItem::Change { change } => {
                let mut change = change.clone();
                change.origin = handoff_connector::ChangeOrigin::Replay;
                change.received_at_ms = now_ms;
                self.requeue(change)?;
            }
            DeadLetterItem::Saga { saga_key, .. } => match self.saga(saga_key)? {
                Some(saga) if saga.redecide_on_replay && saga.nothing_done() => {
                    // Requeued first: a crash before the saga is gone leaves the letter to
                    // replay again, never the record without a decision.
                    self.requeue(redecision(&saga.record_key, now_ms)?)?;
                    self.inner.outbox.remove(saga.key.as_bytes())?;
                    redecided = true;
                }
                Some(mut saga) => {
                    saga.parked = false;
                    saga.attempts = 0;
                    saga.not_before_ms = 0;
                    self.write_saga_unparked(&saga)?;
                }
                None => {}
            },
        }
        self.inner.dead.remove(id.to_be_bytes())?;
        self.append_audit(&[AuditEntry::new(
            now_ms,
            &letter.record_key,
            "replayed",
            if redecided {
                format!("dead letter {id} replayed by an admin: decided again from the record")
            } else {
                format!("dead letter {id} replayed by an admin")
            },
            serde_json::Value::Null,
        )])?;
        self.durable().await?;
        Ok(letter)
    }

    fn write_saga_unparked(&self, saga: &Saga) -> Result<(), StateError> {
        self.inner
            .outbox
            .insert(saga.key.as_bytes(), encode(saga, "saga")?)?;
        Ok(())
    }
}

/// A replayed change of the record `record_key` (`system:object:id`), without a snapshot: the
/// worker reads the record fresh and the flows decide again.
fn redecision(record_key: &str, now_ms: i64) -> Result<handoff_connector::Change, StateError> {
    let key: handoff_connector::RecordKey = record_key
        .parse()
        .map_err(|_| StateError::NoRecordKey(record_key.to_string()))?;
    Ok(handoff_connector::Change {
        source: key.system,
        object_type: key.object,
        object_id: key.id,
        event_id: None,
        modified_at_ms: now_ms,
        received_at_ms: now_ms,
        origin: handoff_connector::ChangeOrigin::Replay,
        kind: handoff_connector::ChangeKind::Updated,
        changed_property: None,
        snapshot: None,
    })
}
