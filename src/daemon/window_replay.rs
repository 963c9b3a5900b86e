//! Window replay: `handoff replay --from T1 --to T2 [--object OBJ] [--dry-run]` reads the CRM
//! change feeds again for a past window and runs the flows on what it finds.
//!
//! For when something went wrong upstream (a mapping fixed after the fact, a vendor outage
//! that lost webhooks, a change committed so late that the poll's overlap missed it): the feed
//! of each configured poll object (or only `--object`) is read from `T1` until past `T2`,
//! and each record modified in `[T1, T2]` becomes one change, with the record as the feed
//! returned it. Each is then put in the inbox as an admin replay (origin `replay`, no
//! deduplication); every effect already applied is skipped by its saga's idempotency key, so a
//! replay repeats nothing. With `--dry-run` nothing is enqueued: the flows decide each change
//! against the current state and the report lists the sagas and audit events that would
//! follow (an empty list: nothing left to do).
//!
//! The read is bounded ([`MAX_CHANGES`] records per replay); narrow the window or the object
//! when it is reached. The cursors of the regular polls are not touched.

use super::reload::LiveFlows;
use crate::flows::Env;
use crate::state::Store;
use handoff_connector::{Change, ChangeFeed, ChangeOrigin, Crm, Cursor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The most records one replay reads.
pub const MAX_CHANGES: usize = 100_000;

/// The most records a dry run describes one by one (the totals count them all).
const MAX_LISTED: usize = 500;

/// `POST /admin/replay`'s body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReplayRequest {
    /// Window start, UTC ms (inclusive).
    pub from_ms: i64,
    /// Window end, UTC ms (inclusive).
    pub to_ms: i64,
    /// Only this vendor object (`contacts`, `Lead`); all polled objects when absent.
    #[serde(default)]
    pub object: Option<String>,
    /// Decide without enqueueing or writing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a replay found and did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReplayReport {
    /// Records modified in the window, by `system:object`.
    pub found: BTreeMap<String, usize>,
    /// Changes put in the inbox (0 for a dry run).
    pub enqueued: usize,
    /// Dry run: records whose decision would add sagas.
    pub would_act: usize,
    /// Dry run: what would happen, per record (at most 500 listed).
    pub records: Vec<DryRunRecord>,
    /// True when [`MAX_CHANGES`] stopped the read.
    pub truncated: bool,
}

/// A dry run's decision for one record.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DryRunRecord {
    pub record: String,
    /// Saga keys the flows would add (each with its flow name).
    pub sagas: Vec<String>,
    /// Audit events the decision would write (`event: message`).
    pub audit: Vec<String>,
    /// Why the flows could not decide, if they could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the window ends before it starts ({from_ms} > {to_ms} ms)")]
    EmptyWindow { from_ms: i64, to_ms: i64 },
    #[error("no polled object `{0}` (replay reads the objects of the `poll:` change sources)")]
    UnknownObject(String),
    #[error(transparent)]
    Vendor(#[from] handoff_connector::ConnectorError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

/// One feed a replay can read: the CRM's system name, its feed, the objects it polls.
pub struct ReplayFeed {
    pub source: &'static str,
    pub feed: Arc<dyn ChangeFeed>,
    pub objects: Vec<String>,
}

/// Everything a replay needs (held by the admin API).
pub struct Replayer {
    pub feeds: Vec<ReplayFeed>,
    pub store: Store,
    pub live: Arc<LiveFlows>,
    pub crm: Arc<dyn Crm>,
    pub marketing: Option<Arc<dyn Crm>>,
    /// The time flows decide at in a dry run, UTC ms.
    pub now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl Replayer {
    /// Runs `req` (see the module docs).
    ///
    /// Errors: an empty window, an object no poll reads, a vendor or store failure.
    pub async fn replay(&self, req: &ReplayRequest) -> Result<ReplayReport, ReplayError> {
        if req.from_ms > req.to_ms {
            return Err(ReplayError::EmptyWindow {
                from_ms: req.from_ms,
                to_ms: req.to_ms,
            });
        }
        if let Some(o) = &req.object {
            if !self.feeds.iter().any(|f| f.objects.contains(o)) {
                return Err(ReplayError::UnknownObject(o.clone()));
            }
        }
        let mut report = ReplayReport::default();
        let mut changes: Vec<Change> = Vec::new();
        for f in &self.feeds {
            for object in f
                .objects
                .iter()
                .filter(|o| req.object.as_ref().is_none_or(|w| w == *o))
            {
                let found =
                    read_window(f.feed.as_ref(), object, req, MAX_CHANGES - changes.len()).await?;
                report.truncated |= found.1;
                report
                    .found
                    .insert(format!("{}:{object}", f.source), found.0.len());
                changes.extend(found.0);
            }
        }
        let now = (self.now_ms)();
        for c in &mut changes {
            c.origin = ChangeOrigin::Replay;
            c.received_at_ms = now;
        }
        if !req.dry_run {
            report.enqueued = self.store.enqueue_replayed(changes).await?;
            self.store.append_audit(&[crate::state::AuditEntry::new(
                now,
                "admin:replay",
                "window_replayed",
                format!(
                    "{} change(s) of {} to {} replayed by an admin",
                    report.enqueued,
                    crate::report::utc(req.from_ms),
                    crate::report::utc(req.to_ms)
                ),
                serde_json::to_value(req).unwrap_or_default(),
            )])?;
            tracing::info!(enqueued = report.enqueued, "window replayed");
            return Ok(report);
        }
        let flows = self.live.current();
        let env = Env {
            store: &self.store,
            crm: self.crm.as_ref(),
            marketing: self.marketing.as_deref(),
            now_ms: now,
        };
        for c in &changes {
            let decided = flows.process(&env, c, c.snapshot.as_ref()).await;
            let mut r = DryRunRecord {
                record: c.record_key(),
                ..DryRunRecord::default()
            };
            match decided {
                Ok(done) => {
                    r.sagas = done
                        .sagas
                        .iter()
                        .filter(|s| !matches!(self.store.saga(&s.key), Ok(Some(_))))
                        .map(|s| format!("{} ({})", s.key, s.flow))
                        .collect();
                    r.audit = done
                        .audit
                        .iter()
                        .map(|a| format!("{}: {}", a.event, a.message))
                        .collect();
                }
                Err(e) => r.error = Some(e.to_string()),
            }
            if !r.sagas.is_empty() {
                report.would_act += 1;
            }
            if report.records.len() < MAX_LISTED {
                report.records.push(r);
            }
        }
        Ok(report)
    }
}

/// The records of `object` modified in the window, one change each (the newest version the
/// feed returned), oldest first; and whether `limit` stopped the read.
async fn read_window(
    feed: &dyn ChangeFeed,
    object: &str,
    req: &ReplayRequest,
    limit: usize,
) -> Result<(Vec<Change>, bool), ReplayError> {
    let mut cursor = Cursor(req.from_ms.to_string());
    let mut by_record: BTreeMap<String, Change> = BTreeMap::new();
    loop {
        let batch = feed.poll(object, Some(&cursor)).await?;
        let past_window = batch.changes.iter().any(|c| c.modified_at_ms > req.to_ms);
        for c in batch.changes {
            if (req.from_ms..=req.to_ms).contains(&c.modified_at_ms) {
                by_record.insert(c.object_id.clone(), c);
            }
        }
        if by_record.len() >= limit {
            break;
        }
        match batch.next_cursor {
            Some(next) if batch.more && !past_window && next != cursor => cursor = next,
            _ => {
                let mut out: Vec<Change> = by_record.into_values().collect();
                out.sort_by_key(|c| c.modified_at_ms);
                return Ok((out, false));
            }
        }
    }
    let mut out: Vec<Change> = by_record.into_values().take(limit).collect();
    out.sort_by_key(|c| c.modified_at_ms);
    Ok((out, true))
}
