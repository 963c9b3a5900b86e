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
//! | `handoff_report_case_first_response_seconds` | `priority` (a priority or `all`), `tier` (`L1`, `L2` or `all`), `quantile` (`0.5`, `0.9`) | seconds |
//! | `handoff_report_case_first_response_within_sla_ratio` | `priority`, `tier` | 0..=1 |
//! | `handoff_report_case_tier_seconds` | `tier` (`L1`, `L2`), `quantile` | seconds |
//! | `handoff_report_case_escalations` | – | escalations to L2 (all time) |
//! | `handoff_report_case_re_escalations` | – | escalations numbered 2 or more (all time) |
//! | `handoff_report_case_events` | `event` (`opened`, `offered`, `accepted`, `closed`, `sla_breached`, `reassigned`, `fallback`) | entries (all time) |
//!
//! A first-response series has either a `priority` or a `tier` (the other label is `all`), or
//! both `all`; there is no priority × tier cross. The case gauges exist only once the trail
//! holds a case entry.
//!
//! Labels stay bounded: teams and reason codes come from config, owners are the configured
//! reps (`owner` is an email by design of this gauge: it is the rep's load, one series per rep),
//! priorities are the CRM's case priority values.
//! A figure without data (no first touch yet, nothing routed) is not set rather than set to 0.

use super::figures::{CaseFigures, FirstResponse, Report};
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
    if let Some(cases) = &report.cases {
        publish_cases(cases);
    }
}

/// Sets the case gauges.
fn publish_cases(c: &CaseFigures) {
    let all = "all".to_string();
    let rows: Vec<(String, String, &FirstResponse)> =
        std::iter::once((all.clone(), all.clone(), &c.first_response))
            .chain(
                c.first_response_by_priority
                    .iter()
                    .map(|r| (r.key.clone(), all.clone(), r)),
            )
            .chain(
                c.first_response_by_tier
                    .iter()
                    .map(|r| (all.clone(), r.key.clone(), r)),
            )
            .collect();
    for (priority, tier, r) in rows {
        for (quantile, ms) in [("0.5", r.p50_ms), ("0.9", r.p90_ms)] {
            if let Some(ms) = ms {
                metrics::gauge!("handoff_report_case_first_response_seconds",
                    "priority" => priority.clone(), "tier" => tier.clone(), "quantile" => quantile)
                .set(ms as f64 / 1000.0);
            }
        }
        if let Some(ratio) = r.within_sla_ratio {
            metrics::gauge!("handoff_report_case_first_response_within_sla_ratio",
                "priority" => priority, "tier" => tier)
            .set(ratio);
        }
    }
    for (tier, t) in [("L1", &c.l1_time), ("L2", &c.l2_time)] {
        for (quantile, ms) in [("0.5", t.p50_ms), ("0.9", t.p90_ms)] {
            if let Some(ms) = ms {
                metrics::gauge!("handoff_report_case_tier_seconds", "tier" => tier, "quantile" => quantile)
                    .set(ms as f64 / 1000.0);
            }
        }
    }
    let n = &c.counts;
    metrics::gauge!("handoff_report_case_escalations").set(n.escalations as f64);
    metrics::gauge!("handoff_report_case_re_escalations").set(c.re_escalations.escalations as f64);
    let events = [
        ("opened", n.opened),
        ("offered", n.offered),
        ("accepted", n.accepted),
        ("closed", n.closed),
        ("sla_breached", n.sla_breaches),
        ("reassigned", n.reassignments),
        ("fallback", n.fallbacks),
    ];
    for (event, count) in events {
        metrics::gauge!("handoff_report_case_events", "event" => event).set(count as f64);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::AuditEntry;
    use metrics_exporter_prometheus::PrometheusBuilder;
    use serde_json::json;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    fn render(entries: &[AuditEntry]) -> String {
        let report = super::super::figures::compute(entries, &[], None, 0);
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || publish(&report));
        handle.render()
    }

    #[test]
    fn case_gauges_follow_the_case_view_and_stay_away_without_it() {
        let lead = AuditEntry::new(
            0,
            "crm:people:1",
            "rejected",
            "rejected",
            json!({"reason": "duplicate"}),
        );
        assert!(!render(std::slice::from_ref(&lead)).contains("handoff_report_case_"));

        let case = |at: i64, kind: &str, detail: serde_json::Value| {
            AuditEntry::new(at, "crm:cases:1", kind, kind, detail)
        };
        let response = |waited_ms: i64, tier: &str, within: bool| {
            case(
                0,
                "case_first_response",
                json!({"waited_ms": waited_ms, "tier": tier,
                "priority": "High", "policy": "p", "within_sla": within}),
            )
        };
        let text = render(&[
            lead,
            case(0, "case_opened", json!({"bot": true, "priority": "High"})),
            response(60_000, "L1", true),
            response(180_000, "L2", false),
            case(
                0,
                "case_escalated",
                json!({"escalation": 1, "l1_ms": 600_000, "reason": null}),
            ),
            case(
                0,
                "case_escalated",
                json!({"escalation": 2, "l1_ms": 600_000, "reason": "fallback"}),
            ),
        ]);
        let fr = |priority: &str, tier: &str, q: &str| {
            format!("handoff_report_case_first_response_seconds{{priority=\"{priority}\",tier=\"{tier}\",quantile=\"{q}\"}}")
        };
        assert_eq!(
            sample(&text, &fr("all", "all", "0.5")),
            Some(60.0),
            "{text}"
        );
        assert_eq!(sample(&text, &fr("High", "all", "0.9")), Some(180.0));
        assert_eq!(sample(&text, &fr("all", "L2", "0.5")), Some(180.0));
        assert_eq!(
            sample(
                &text,
                "handoff_report_case_first_response_within_sla_ratio{priority=\"all\",tier=\"L1\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "handoff_report_case_first_response_within_sla_ratio{priority=\"High\",tier=\"all\"}"),
            Some(0.5)
        );
        assert_eq!(
            sample(
                &text,
                "handoff_report_case_tier_seconds{tier=\"L1\",quantile=\"0.9\"}"
            ),
            Some(600.0)
        );
        assert_eq!(sample(&text, "handoff_report_case_escalations"), Some(2.0));
        assert_eq!(
            sample(&text, "handoff_report_case_re_escalations"),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "handoff_report_case_events{event=\"opened\"}"),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "handoff_report_case_events{event=\"fallback\"}"),
            Some(1.0)
        );
        // No case left L2 yet: no L2 time series.
        assert!(
            !text.contains("handoff_report_case_tier_seconds{tier=\"L2\""),
            "{text}"
        );
    }
}
