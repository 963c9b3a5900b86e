//! The report's figures as Prometheus gauges, recomputed by a background task every `every`
//! (default [`DEFAULT_EVERY`], 60 s) so a `/metrics` scrape only renders what was last set and
//! never scans the store.
//!
//! | gauge | labels | value |
//! |-------|--------|-------|
//! | `handoff_report_speed_to_lead_seconds` | `team` (a team or `all`), `quantile` (`0.5`, `0.9`), `clock` (`calendar`, `business`) | seconds |
//! | `handoff_report_sla_met_ratio` | `team` | 0..=1 |
//! | `handoff_report_rejections` | `reason` | rejections (all time) |
//! | `handoff_report_recycled` | `reason` | recycles (all time) |
//! | `handoff_report_completeness_ratio` | – | 0..=1 |
//! | `handoff_report_recycle_ratio` | – | 0..=1 |
//! | `handoff_report_open_leads` | `owner` (rep email) | open leads of record now |
//!
//! Labels stay bounded: teams and reason codes come from config, owners are the configured
//! reps (`owner` is an email by design of this gauge: it is the rep's load, one series per rep).
//! A figure without data (no first touch yet, nothing routed) is not set rather than set to 0.

use super::figures::Report;
use crate::state::Store;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the daemon recomputes the gauges unless told otherwise.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(60);

/// Sets every gauge from `report` (through the global `metrics` recorder).
pub fn publish(report: &Report) {
    for t in report.teams.iter().chain(std::iter::once(&report.overall)) {
        let team = t.team.clone();
        let quantiles = [
            ("0.5", "calendar", t.p50_ms),
            ("0.9", "calendar", t.p90_ms),
            ("0.5", "business", t.business_p50_ms),
            ("0.9", "business", t.business_p90_ms),
        ];
        for (quantile, clock, ms) in quantiles {
            if let Some(ms) = ms {
                metrics::gauge!("handoff_report_speed_to_lead_seconds",
                    "team" => team.clone(), "quantile" => quantile, "clock" => clock)
                .set(ms as f64 / 1000.0);
            }
        }
        if let Some(r) = t.sla_met_ratio {
            metrics::gauge!("handoff_report_sla_met_ratio", "team" => team).set(r);
        }
    }
    let a = &report.acceptance;
    for (reason, n) in &a.rejected_by_reason {
        metrics::gauge!("handoff_report_rejections", "reason" => reason.clone()).set(*n as f64);
    }
    for (reason, n) in &a.recycled_by_reason {
        metrics::gauge!("handoff_report_recycled", "reason" => reason.clone()).set(*n as f64);
    }
    if let Some(r) = report.completeness.ratio {
        metrics::gauge!("handoff_report_completeness_ratio").set(r);
    }
    if let Some(r) = report.recycle.ratio {
        metrics::gauge!("handoff_report_recycle_ratio").set(r);
    }
    for rep in &report.load {
        metrics::gauge!("handoff_report_open_leads", "owner" => rep.owner_email.clone())
            .set(rep.open as f64);
    }
}

/// Recomputes the report from `store` and publishes it at once, then every `every`, until
/// `shutdown` is cancelled. A failed computation is logged and retried at the next tick.
/// The store scan runs on the blocking pool.
pub async fn run_refresher(store: Store, every: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let s = store.clone();
        let computed = tokio::task::spawn_blocking(move || {
            super::from_store(&s, None, handoff_connector::now_ms())
        })
        .await;
        match computed {
            Ok(Ok(report)) => publish(&report),
            Ok(Err(e)) => tracing::warn!(error = %e, "report metrics: cannot read the store"),
            Err(e) => tracing::warn!(error = %e, "report metrics: computation failed"),
        }
    }
}

/// Spawns [`run_refresher`] on the current runtime.
pub fn spawn_refresher(
    store: Store,
    every: Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(run_refresher(store, every, shutdown))
}
