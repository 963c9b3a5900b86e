//! Everything handoff must not lose, in one sled database; the only module that touches sled.
//!
//! | tree      | key                               | value                                  |
//! |-----------|-----------------------------------|----------------------------------------|
//! | `inbox`   | seq (u64 BE)                      | [`InboxEntry`]: a received [`Change`]  |
//! | `seen`    | dedupe key (event id, version)    | received-at, UTC ms (u64 BE)           |
//! | `outbox`  | saga key                          | [`Saga`]: side effects still to do     |
//! | `done`    | saga key (the idempotency record) | [`Saga`] with every step's result      |
//! | `audit`   | record key, `0x00`, seq (u64 BE)  | [`AuditEntry`]                         |
//! | `dead`    | id (u64 BE)                       | [`DeadLetter`]                         |
//! | `cursors` | feed name                         | [`Cursor`]                             |
//! | `kv`      | name                              | flow state as JSON (rotation, indexes) |
//! | `timers`  | due (i64, order-preserving) ++ key | [`Timer`] (see `timers.rs`)          |
//! | `timer_keys` | timer key                      | its due time (the reschedule index)    |
//!
//! **Durability.** sled writes to its log in memory and syncs in the background (about every
//! 500 ms), so nothing here is durable until a flush. [`Store::durable`] is a *group commit*:
//! every caller waits for one shared `flush_async`, and callers that arrive while a flush runs
//! share the next one, so a burst of webhooks costs one fsync, not one each. The contract:
//! a webhook is acknowledged only after [`Store::enqueue`] returns (it waits for the flush); a
//! cursor advances only through [`Store::advance_cursor`] (after the inbox commit, and itself
//! flushed); an outbox step is marked attempted and flushed before its side effect runs.
//!
//! Multi-tree updates that must happen together (take a change out of the inbox *and* add its
//! sagas and audit entries) run as one sled transaction. Intake is the exception, for speed
//! (each sled transaction syncs the log twice): [`Store::enqueue`] writes the inbox entries
//! before their dedupe keys, so a crash in between can cause a duplicate, never a loss.

mod audit;
mod dead_letter;
mod inbox;
mod outbox;
mod timers;

pub use audit::AuditEntry;
pub use dead_letter::{DeadLetter, DeadLetterItem};
pub use inbox::{EnqueueReport, InboxEntry};
pub use outbox::{Completion, Saga, SagaStep, StepStatus};
pub use timers::{Timer, TIMER_OBJECT_TYPE, TIMER_SOURCE};

use handoff_connector::Cursor;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Errors from the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot open the state store at {path}: {source} (is another handoff process using it? `handoff status` reads a running daemon through its admin address)")]
    Open { path: PathBuf, source: sled::Error },
    #[error("state store: {0}")]
    Sled(#[from] sled::Error),
    #[error("state store: cannot encode or decode {what}: {source}")]
    Codec {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("state store: flush to disk failed: {0}")]
    Flush(String),
    #[error("state store is shut down")]
    Closed,
    #[error("no dead letter with id {0}")]
    NoSuchDeadLetter(u64),
    /// A saga's record key is not `system:object:id` (it cannot be read again).
    #[error("record key `{0}` is not system:object:id")]
    NoRecordKey(String),
}

type FlushWaiter = oneshot::Sender<Result<(), String>>;

/// The page cache of a store opened with [`Store::open`]: 16 MiB (the config's default
/// `state.cache_mb`).
pub const DEFAULT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// The state store. Cheap to clone; clones share one database.
///
/// Must be opened inside a tokio runtime (it starts the group-commit flusher task).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    path: PathBuf,
    inbox: sled::Tree,
    seen: sled::Tree,
    outbox: sled::Tree,
    done: sled::Tree,
    audit: sled::Tree,
    dead: sled::Tree,
    cursors: sled::Tree,
    kv: sled::Tree,
    timers: sled::Tree,
    timer_keys: sled::Tree,
    /// Notified when timers are scheduled, so the timer runner recomputes its wait.
    timers_changed: tokio::sync::Notify,
    flush_tx: mpsc::UnboundedSender<FlushWaiter>,
    /// Serialises inbox dedupe (check-then-insert) so concurrent deliveries never conflict.
    intake: std::sync::Mutex<()>,
}

/// A summary for `handoff status`.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct StatusReport {
    /// Changes received and not yet processed.
    pub inbox_depth: usize,
    /// Sagas with side effects still to run (including parked ones).
    pub outbox_depth: usize,
    /// Sagas parked after a permanent error or too many attempts (also in dead letters).
    pub parked_sagas: usize,
    /// Sagas whose every step took effect.
    pub completed_sagas: usize,
    /// Items in the dead-letter store.
    pub dead_letters: usize,
    /// Feed name → cursor.
    pub cursors: BTreeMap<String, String>,
    /// Bytes the database occupies on disk.
    pub size_on_disk: u64,
    /// The live configuration (from a running daemon's admin API; absent when read from the
    /// store directly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<crate::config::version::ConfigVersion>,
}

impl Store {
    /// Opens (or creates) the store in `dir` with a [`DEFAULT_CACHE_BYTES`] page cache.
    pub fn open(dir: &Path) -> Result<Store, StateError> {
        Self::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Opens (or creates) the store in `dir` with a page cache of `cache_bytes` (sled's
    /// `cache_capacity`; `state.cache_mb` in the config).
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<Store, StateError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .flush_every_ms(Some(500))
            .open()
            .map_err(|source| StateError::Open {
                path: dir.to_path_buf(),
                source,
            })?;
        let tree = |name: &str| db.open_tree(name);
        let (flush_tx, flush_rx) = mpsc::unbounded_channel();
        let inner = Inner {
            inbox: tree("inbox")?,
            seen: tree("seen")?,
            outbox: tree("outbox")?,
            done: tree("done")?,
            audit: tree("audit")?,
            dead: tree("dead")?,
            cursors: tree("cursors")?,
            kv: tree("kv")?,
            timers: tree("timers")?,
            timer_keys: tree("timer_keys")?,
            timers_changed: tokio::sync::Notify::new(),
            path: dir.to_path_buf(),
            db,
            flush_tx,
            intake: std::sync::Mutex::new(()),
        };
        tokio::spawn(flusher(inner.db.clone(), flush_rx));
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Waits until every write made before this call is on disk (group commit).
    pub async fn durable(&self) -> Result<(), StateError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .flush_tx
            .send(tx)
            .map_err(|_| StateError::Closed)?;
        rx.await
            .map_err(|_| StateError::Closed)?
            .map_err(StateError::Flush)
    }

    /// The stored cursor of `feed` (`<system>:<object>`).
    pub fn cursor(&self, feed: &str) -> Result<Option<Cursor>, StateError> {
        self.inner
            .cursors
            .get(feed)?
            .map(|v| decode::<Cursor>(&v, "cursor"))
            .transpose()
    }

    /// Stores `cursor` for `feed` and flushes. Call only after the changes the cursor covers are
    /// in the inbox ([`Store::enqueue`] returned).
    pub async fn advance_cursor(&self, feed: &str, cursor: &Cursor) -> Result<(), StateError> {
        self.inner.cursors.insert(feed, encode(cursor, "cursor")?)?;
        self.durable().await
    }

    /// Reads a flow-state value (e.g. the round-robin position of a team).
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StateError> {
        self.inner
            .kv
            .get(key)?
            .map(|v| decode(&v, "flow state"))
            .transpose()
    }

    /// Writes a flow-state value outside a completion (not flushed; flows normally write state
    /// through [`Completion::state`] so it commits with the decision).
    pub fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StateError> {
        self.inner.kv.insert(key, encode(value, "flow state")?)?;
        Ok(())
    }

    /// Flow-state entries whose key starts with `prefix`.
    pub fn scan_json<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, StateError> {
        self.inner
            .kv
            .scan_prefix(prefix)
            .map(|item| {
                let (k, v) = item?;
                Ok((
                    String::from_utf8_lossy(&k).into_owned(),
                    decode(&v, "flow state")?,
                ))
            })
            .collect()
    }

    /// Depths, counts and cursors for `handoff status`.
    pub fn status(&self) -> Result<StatusReport, StateError> {
        let mut cursors = BTreeMap::new();
        for item in self.inner.cursors.iter() {
            let (k, v) = item?;
            let c: Cursor = decode(&v, "cursor")?;
            cursors.insert(String::from_utf8_lossy(&k).into_owned(), c.0);
        }
        let mut parked = 0;
        for item in self.inner.outbox.iter() {
            let (_, v) = item?;
            if decode::<Saga>(&v, "saga")?.parked {
                parked += 1;
            }
        }
        Ok(StatusReport {
            inbox_depth: self.inner.inbox.len(),
            outbox_depth: self.inner.outbox.len(),
            parked_sagas: parked,
            completed_sagas: self.inner.done.len(),
            dead_letters: self.inner.dead.len(),
            cursors,
            size_on_disk: self.inner.db.size_on_disk().unwrap_or(0),
            config: None,
        })
    }

    /// True when no change waits in the inbox and no saga waits in the outbox (parked sagas
    /// excepted).
    pub fn is_idle(&self) -> Result<bool, StateError> {
        if !self.inner.inbox.is_empty() {
            return Ok(false);
        }
        for item in self.inner.outbox.iter() {
            let (_, v) = item?;
            if !decode::<Saga>(&v, "saga")?.parked {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

async fn flusher(db: sled::Db, mut rx: mpsc::UnboundedReceiver<FlushWaiter>) {
    while let Some(first) = rx.recv().await {
        // Everyone queued so far wrote before asking, so one flush covers them all; whoever
        // arrives during the flush waits for the next round.
        let mut waiters = vec![first];
        while let Ok(more) = rx.try_recv() {
            waiters.push(more);
        }
        let result = db
            .flush_async()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        metrics::counter!("handoff_state_flushes_total").increment(1);
        metrics::histogram!("handoff_state_flush_batch").record(waiters.len() as f64);
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }
}

fn encode<T: Serialize + ?Sized>(value: &T, what: &'static str) -> Result<Vec<u8>, StateError> {
    serde_json::to_vec(value).map_err(|source| StateError::Codec { what, source })
}

fn decode<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T, StateError> {
    serde_json::from_slice(bytes).map_err(|source| StateError::Codec { what, source })
}

/// Maps a sled transaction error whose abort type is [`StateError`].
fn tx_error(e: sled::transaction::TransactionError<StateError>) -> StateError {
    match e {
        sled::transaction::TransactionError::Abort(e) => e,
        sled::transaction::TransactionError::Storage(e) => StateError::Sled(e),
    }
}

/// Aborts a transaction with a codec error.
fn tx_codec<T>(
    r: Result<T, StateError>,
) -> Result<T, sled::transaction::ConflictableTransactionError<StateError>> {
    r.map_err(sled::transaction::ConflictableTransactionError::Abort)
}

#[cfg(test)]
mod tests;
