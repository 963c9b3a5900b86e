//! `handoff report`: speed-to-lead, SLA met %, acceptance and rejection, handoff completeness,
//! recycle rate and load per rep, from the audit trail and the leads of record; and, when the
//! support case flow runs, the case view (first response, escalations to L2, time per tier).
//!
//! - [`model`]: the [`Report`] shape (JSON of `GET /admin/report`);
//! - [`figures`]: its pure computation from audit entries and leads of record;
//! - [`html`]: a static page with inline SVG charts for a RevOps lead;
//! - [`metrics`]: the same figures as Prometheus gauges, refreshed by a background task so a
//!   scrape never scans the store;
//! - [`from_store`] and [`render_text`] here: reading the store and the CLI's text summary.
//!
//! Figure definitions and units: `docs/report.md`.

pub mod figures;
pub mod html;
pub mod metrics;
pub mod model;

pub use figures::{Report, ReportBuilder};

use crate::flows::lead_state::{self, LeadState};
use crate::state::{StateError, Store};

/// Computes the report from `store`: one streamed pass over the audit entries at or after
/// `since_ms` (UTC ms; `None`: all), plus every lead of record (`lead-state:*`).
/// `generated_ms` is stamped on the report (UTC ms).
///
/// Errors: [`StateError`] when the store cannot be read or holds an undecodable entry.
/// Blocking (sled reads): call it from `spawn_blocking` in async code that must stay responsive.
pub fn from_store(
    store: &Store,
    since_ms: Option<i64>,
    generated_ms: i64,
) -> Result<Report, StateError> {
    let mut builder = ReportBuilder::new(since_ms);
    for entry in store.audit_entries(since_ms) {
        builder.add(&entry?);
    }
    let leads: Vec<LeadState> = store
        .scan_json::<LeadState>(lead_state::KEY_PREFIX)?
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    Ok(builder.finish(&leads, generated_ms))
}

/// A UTC time for people (`2026-03-02 14:05 UTC`), or the raw ms when out of range.
pub fn utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// Milliseconds as minutes with one decimal (`4.5 min`), or `–` when there is no figure.
pub fn minutes(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => format!("{:.1} min", ms as f64 / 60_000.0),
        None => "–".into(),
    }
}

/// A duration for people: minutes with one decimal under an hour (`4.5 min`), hours with one
/// decimal from an hour on (`2.5 h`), or `–` when there is no figure.
pub fn duration(ms: Option<i64>) -> String {
    match ms {
        Some(ms) if ms.abs() >= 3_600_000 => format!("{:.1} h", ms as f64 / 3_600_000.0),
        other => minutes(other),
    }
}

/// A ratio as a percentage with one decimal (`87.5%`), or `–`.
pub fn percent(r: Option<f64>) -> String {
    match r {
        Some(r) => format!("{:.1}%", r * 100.0),
        None => "–".into(),
    }
}

/// The report as text for a terminal: headline figures, one line per team, rejections and
/// recycles by reason, load per rep, and a "Cases" block when there are case entries.
pub fn render_text(r: &Report) -> String {
    let mut out = String::new();
    let window = match r.since_ms {
        Some(s) => format!("since {}", utc(s)),
        None => "whole audit trail".into(),
    };
    out.push_str(&format!(
        "handoff report — {window} (generated {})\n\n",
        utc(r.generated_ms)
    ));
    let o = &r.overall;
    out.push_str(&format!(
        "speed to lead:  p50 {} / p90 {} (calendar), p50 {} / p90 {} (business hours), {} first touches\n",
        minutes(o.p50_ms), minutes(o.p90_ms), minutes(o.business_p50_ms), minutes(o.business_p90_ms), o.first_touches
    ));
    out.push_str(&format!(
        "SLA met:        {} ({} met, {} missed, {} pending)\n",
        percent(o.sla_met_ratio),
        o.sla_met,
        o.sla_missed,
        o.sla_pending
    ));
    let a = &r.acceptance;
    out.push_str(&format!(
        "acceptance:     {} ({} accepted, {} rejected)\n",
        percent(a.acceptance_ratio),
        a.accepted,
        a.rejected
    ));
    let c = &r.completeness;
    out.push_str(&format!(
        "completeness:   {} ({} of {} sales-ready leads had every required field)\n",
        percent(c.ratio),
        c.complete,
        c.sales_ready
    ));
    out.push_str(&format!(
        "recycle rate:   {} ({} recycled of {} routed)\n",
        percent(r.recycle.ratio),
        r.recycle.recycled,
        r.recycle.routed
    ));
    out.push_str(&format!(
        "SLA breaches:   {}\n\nper team:\n",
        r.breaches_per_hour.iter().map(|h| h.count).sum::<u64>()
    ));
    out.push_str(&format!(
        "  {:<20} {:>6} {:>8} {:>10} {:>10} {:>10} {:>10} {:>8}\n",
        "team", "routed", "touched", "p50", "p90", "biz p50", "biz p90", "SLA met"
    ));
    if r.teams.is_empty() {
        out.push_str("  (no leads yet)\n");
    }
    for t in &r.teams {
        out.push_str(&format!(
            "  {:<20} {:>6} {:>8} {:>10} {:>10} {:>10} {:>10} {:>8}\n",
            t.team,
            t.routed,
            t.first_touches,
            minutes(t.p50_ms),
            minutes(t.p90_ms),
            minutes(t.business_p50_ms),
            minutes(t.business_p90_ms),
            percent(t.sla_met_ratio)
        ));
    }
    for (title, map) in [
        ("rejected by reason", &a.rejected_by_reason),
        ("recycled by reason", &a.recycled_by_reason),
        ("missing fields", &c.missing_by_reason),
    ] {
        if !map.is_empty() {
            out.push_str(&format!("\n{title}:\n"));
            for (reason, n) in map {
                out.push_str(&format!("  {reason:<28} {n}\n"));
            }
        }
    }
    out.push_str("\nload per rep (open now / routed):\n");
    if r.load.is_empty() {
        out.push_str("  (none)\n");
    }
    for rep in &r.load {
        out.push_str(&format!(
            "  {:<36} {:>4} / {:<4} {}\n",
            rep.owner_email,
            rep.open,
            rep.routed,
            rep.team.as_deref().unwrap_or("")
        ));
    }
    if let Some(c) = &r.cases {
        out.push_str(&render_cases_text(c));
    }
    out
}

/// The "Cases" block of [`render_text`].
fn render_cases_text(c: &figures::CaseFigures) -> String {
    let n = &c.counts;
    let f = &c.first_response;
    let mut out = String::from("\nCases:\n");
    out.push_str(&format!(
        "  opened:         {} ({} bot, {} other); {} offered, {} accepted, {} closed ({} in L1, {} in L2)\n",
        n.opened, n.opened_bot, n.opened_other, n.offered, n.accepted, n.closed, n.closed_l1, n.closed_l2
    ));
    out.push_str(&format!(
        "  first response: p50 {} / p90 {}, {} responses, {} within SLA ({} of {} with a policy)\n",
        duration(f.p50_ms),
        duration(f.p90_ms),
        f.count,
        percent(f.within_sla_ratio),
        f.within_sla,
        f.with_policy
    ));
    let re = &c.re_escalations;
    out.push_str(&format!(
        "  escalations:    {} to L2 in {} case(s); {} re-escalation(s), {} case(s) escalated more than once\n",
        n.escalations, n.escalated_cases, re.escalations, re.cases
    ));
    for (tier, t) in [("L1", &c.l1_time), ("L2", &c.l2_time)] {
        out.push_str(&format!(
            "  time in {tier}:     p50 {} / p90 {} ({} case(s))\n",
            duration(t.p50_ms),
            duration(t.p90_ms),
            t.count
        ));
    }
    out.push_str(&format!(
        "  SLA, routing:   {} breaches, {} reassignments, {} fallbacks\n",
        n.sla_breaches, n.reassignments, n.fallbacks
    ));
    if f.count > 0 {
        out.push_str(&format!(
            "  {:<20} {:>9} {:>10} {:>10} {:>10}\n",
            "first response", "responses", "p50", "p90", "in SLA"
        ));
        let rows = (c.first_response_by_priority.iter().map(|r| ("priority", r)))
            .chain(c.first_response_by_tier.iter().map(|r| ("tier", r)));
        for (what, row) in rows {
            out.push_str(&format!(
                "  {:<20} {:>9} {:>10} {:>10} {:>10}\n",
                format!("{what} {}", row.key),
                row.count,
                duration(row.p50_ms),
                duration(row.p90_ms),
                percent(row.within_sla_ratio)
            ));
        }
    }
    if !c.escalations_per_day.is_empty() {
        out.push_str("  escalations per UTC day:\n");
        for day in &c.escalations_per_day {
            out.push_str(&format!(
                "    {} {:>4}{}\n",
                utc_day(day.day_ms),
                day.count,
                if day.re_escalations > 0 {
                    format!(" ({} re-escalations)", day.re_escalations)
                } else {
                    String::new()
                }
            ));
        }
    }
    out
}

/// A UTC day (`2026-03-02`), or the raw ms when out of range.
pub fn utc_day(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| ms.to_string())
}
