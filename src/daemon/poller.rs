//! Polling the CRM's change feed on a cron schedule: the backstop for webhooks that never came.
//!
//! Each poll reads changes since the stored cursor (the feed re-reads an overlap window before
//! it), puts them in the inbox (duplicates of webhook deliveries are dropped there), and only
//! then advances the cursor.

use crate::state::Store;
use handoff_connector::ChangeFeed;
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// One feed to poll.
pub struct Poller {
    /// Connector name, the cursor key prefix (the CRM's system name).
    pub source: &'static str,
    pub feed: Arc<dyn ChangeFeed>,
    pub store: Store,
    pub objects: Vec<String>,
    pub schedule: cron::Schedule,
    pub wake: Arc<Notify>,
    /// Consecutive failed polls of an object after which its feed counts as stalled
    /// (`completeness.stalled_after_polls`).
    pub stalled_after: u32,
}

/// Why a poll stopped.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Vendor(#[from] handoff_connector::ConnectorError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

impl Poller {
    /// Builds a poller from a (checked) cron expression.
    pub fn schedule(expr: &str) -> Result<cron::Schedule, cron::error::Error> {
        cron::Schedule::from_str(expr)
    }

    /// Polls at every tick of the schedule until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures = vec![0u32; self.objects.len()];
        loop {
            let Some(next) = self.schedule.upcoming(chrono::Utc).next() else {
                tracing::warn!("poll schedule has no upcoming run; polling stops");
                return;
            };
            let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => return,
            }
            for (i, object) in self.objects.iter().enumerate() {
                let feed = format!("{}:{object}", self.source);
                match self.poll_object(object).await {
                    Ok(n) => {
                        failures[i] = 0;
                        tracing::debug!(source = self.source, object, changes = n, "polled");
                    }
                    Err(e) => {
                        failures[i] += 1;
                        if failures[i] == self.stalled_after.max(1) {
                            tracing::error!(feed, failures = failures[i], error = %e, "feed stalled: its cursor cannot advance");
                        } else {
                            tracing::warn!(source = self.source, object, error = %e, "poll failed; next tick retries");
                        }
                    }
                }
                let stalled = failures[i] >= self.stalled_after.max(1);
                metrics::gauge!("handoff_feed_stalled", "feed" => feed)
                    .set(f64::from(u8::from(stalled)));
            }
        }
    }

    /// Polls every object type once.
    pub async fn poll_all(&self) -> Result<usize, PollError> {
        let mut total = 0;
        for object in &self.objects {
            total += self.poll_object(object).await?;
        }
        Ok(total)
    }

    /// Drains `object`'s feed from its cursor; returns the number of new changes.
    pub async fn poll_object(&self, object: &str) -> Result<usize, PollError> {
        let feed_name = format!("{}:{object}", self.source);
        let mut accepted = 0;
        loop {
            let cursor = self.store.cursor(&feed_name)?;
            let batch = self.feed.poll(object, cursor.as_ref()).await?;
            let report = self.store.enqueue(batch.changes).await?;
            accepted += report.accepted;
            if report.accepted > 0 {
                self.wake.notify_one();
            }
            if let Some(next) = &batch.next_cursor {
                self.store.advance_cursor(&feed_name, next).await?;
            }
            let now_s = handoff_connector::now_ms() as f64 / 1000.0;
            metrics::gauge!("handoff_feed_last_poll_timestamp_seconds", "feed" => feed_name.clone())
                .set(now_s);
            if let Some(at) = self.store.cursor(&feed_name)?.and_then(|c| cursor_ms(&c.0)) {
                metrics::gauge!("handoff_feed_cursor_age_seconds", "feed" => feed_name.clone())
                    .set((now_s - at as f64 / 1000.0).max(0.0));
            }
            metrics::counter!("handoff_poll_changes_total", "vendor" => self.source)
                .increment(report.accepted as u64);
            if !batch.more {
                return Ok(accepted);
            }
        }
    }
}

/// The time a cursor names, UTC ms, when it starts with one (both CRM feeds' cursors do:
/// `<ms>` and `<ms>:<Id>`).
fn cursor_ms(cursor: &str) -> Option<i64> {
    let digits: String = cursor.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
