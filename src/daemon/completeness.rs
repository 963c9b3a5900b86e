//! Completeness: did handoff receive every change the CRM made? (`completeness:` in the config.)
//!
//! Webhooks can be lost and a poll trusts its cursor; neither can see what it never received.
//! So, every `every_s`, for each polled object, the closed window
//! `[t − settle_s − every_s, t − settle_s)` (aligned to multiples of `every_s`) is reconciled:
//! the CRM's own count of records last modified in it ([`handoff_connector::Crm::count_modified`],
//! one call) against the records handoff received whose newest received version was modified
//! in it ([`crate::state::Store::records_last_modified_in`]). The result is audited on
//! `feed:<system>:<object>` (event `reconciled`) and exposed as gauges
//! `handoff_reconciliation_{crm,handoff,missing}_records{feed}`; windows with records missing
//! are counted (`handoff_reconciliation_windows_total{feed,result}`) and logged. With
//! `replay_missing`, such a window is read again at once ([`super::window_replay`]): what was
//! missed goes through the flows, what was done is skipped.
//!
//! The last window reconciled per feed is kept in flow state (`completeness:<feed>`), so a
//! restart neither repeats nor skips one; after a long stop at most [`MAX_CATCH_UP`] windows
//! are reconciled at once, the newest ones.

use super::window_replay::{ReplayRequest, Replayer};
use crate::clock::Clock;
use crate::config::CompletenessConfig;
use crate::state::{AuditEntry, Store};
use handoff_connector::Crm;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The most windows one pass reconciles per feed (after a long stop: the newest).
pub const MAX_CATCH_UP: i64 = 24;

/// One polled object to reconcile.
pub struct Feed {
    /// The CRM it belongs to.
    pub crm: Arc<dyn Crm>,
    /// Vendor object name (`contacts`, `Lead`).
    pub object: String,
}

impl Feed {
    /// `<system>:<object>`, the metric label and audit record suffix.
    pub fn name(&self) -> String {
        format!("{}:{}", self.crm.system(), self.object)
    }
}

/// The reconciliation task (see the module docs).
pub struct Completeness {
    pub feeds: Vec<Feed>,
    pub store: Store,
    pub config: CompletenessConfig,
    /// Re-reads a window with records missing, when `replay_missing`.
    pub replayer: Arc<Replayer>,
    /// Windows follow this clock (the CRM's records carry its time).
    pub clock: Arc<dyn Clock>,
}

/// One window's outcome.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Reconciled {
    pub feed: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub crm: u64,
    pub handoff: u64,
    /// `crm − handoff` when positive.
    pub missing: u64,
    /// Changes a replay enqueued (0 without `replay_missing`).
    pub replayed: usize,
}

impl Completeness {
    /// Reconciles every due window until `shutdown`, checking every `every_s / 60` s (1 to
    /// 60 s).
    pub async fn run(self, shutdown: CancellationToken) {
        if self.config.every_s == 0 || self.feeds.is_empty() {
            return;
        }
        let tick = Duration::from_secs((self.config.every_s / 60).clamp(1, 60));
        loop {
            for feed in &self.feeds {
                if let Err(e) = self.due_windows(feed).await {
                    tracing::warn!(feed = %feed.name(), error = %e, "reconciliation failed; the next pass retries");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// Reconciles `feed`'s windows that closed since the last one done.
    pub async fn due_windows(&self, feed: &Feed) -> Result<Vec<Reconciled>, String> {
        let every = (self.config.every_s * 1000) as i64;
        let settle = (self.config.settle_s * 1000) as i64;
        let now = self.clock.now_ms();
        let closed_end = (now - settle).div_euclid(every) * every;
        let state_key = format!("completeness:{}", feed.name());
        let last_end: i64 = self
            .store
            .get_json(&state_key)
            .map_err(|e| e.to_string())?
            .unwrap_or(closed_end - every);
        let mut from = last_end.max(closed_end - MAX_CATCH_UP * every);
        let mut done = Vec::new();
        while from + every <= closed_end {
            let r = self.window(feed, from, from + every).await?;
            self.store
                .put_json(&state_key, &(from + every))
                .map_err(|e| e.to_string())?;
            done.push(r);
            from += every;
        }
        Ok(done)
    }

    /// Reconciles one window of `feed`.
    async fn window(&self, feed: &Feed, from_ms: i64, to_ms: i64) -> Result<Reconciled, String> {
        let name = feed.name();
        let crm = feed
            .crm
            .count_modified(&feed.object, from_ms, to_ms)
            .await
            .map_err(|e| e.to_string())?;
        let handoff = self
            .store
            .records_last_modified_in(feed.crm.system(), &feed.object, from_ms, to_ms)
            .map_err(|e| e.to_string())?;
        let missing = crm.saturating_sub(handoff);
        let mut r = Reconciled {
            feed: name.clone(),
            from_ms,
            to_ms,
            crm,
            handoff,
            missing,
            replayed: 0,
        };
        metrics::gauge!("handoff_reconciliation_crm_records", "feed" => name.clone())
            .set(crm as f64);
        metrics::gauge!("handoff_reconciliation_handoff_records", "feed" => name.clone())
            .set(handoff as f64);
        metrics::gauge!("handoff_reconciliation_missing_records", "feed" => name.clone())
            .set(missing as f64);
        metrics::counter!("handoff_reconciliation_windows_total", "feed" => name.clone(), "result" => if missing > 0 { "missing" } else { "ok" })
            .increment(1);
        if missing > 0 {
            tracing::warn!(feed = %name, crm, handoff, missing, from = %crate::report::utc(from_ms), to = %crate::report::utc(to_ms), "the CRM changed records handoff did not receive");
            if self.config.replay_missing {
                let req = ReplayRequest {
                    from_ms,
                    to_ms: to_ms - 1,
                    object: Some(feed.object.clone()),
                    dry_run: false,
                };
                match self.replayer.replay(&req).await {
                    Ok(report) => r.replayed = report.enqueued,
                    Err(e) => {
                        tracing::warn!(feed = %name, error = %e, "replay of the window failed")
                    }
                }
            }
        }
        self.store
            .append_audit(&[AuditEntry::new(
                self.clock.now_ms(),
                &format!("feed:{name}"),
                "reconciled",
                format!(
                    "{} to {}: the CRM counts {crm}, handoff received {handoff}{}",
                    crate::report::utc(from_ms),
                    crate::report::utc(to_ms),
                    match (missing, r.replayed) {
                        (0, _) => String::new(),
                        (m, 0) => format!(" ({m} missing)"),
                        (m, n) => format!(" ({m} missing; {n} change(s) of the window replayed)"),
                    }
                ),
                json!(r),
            )])
            .map_err(|e| e.to_string())?;
        Ok(r)
    }
}
