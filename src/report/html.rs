//! The report as one static, self-contained HTML page (`handoff report --html report.html`):
//! headline numbers, a table per team, and three inline SVG charts (speed-to-lead
//! distribution, SLA breaches over time, load per rep); with case entries, a support case
//! section with three more (first response p50/p90 by priority, escalations to L2 per day, time
//! in each tier). No JavaScript, no external assets; every string that comes from data (team
//! names, emails, reason codes, priorities) is escaped.

use super::figures::{CaseFigures, DayCount, HourCount, Report, DAY_MS};
use super::{duration, minutes, percent, utc};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Escapes text for HTML element content and attribute values (`& < > " '`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:60rem;color:#222;padding:0 1rem}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}\
.tiles{display:flex;flex-wrap:wrap;gap:1rem}.tile{border:1px solid #ddd;border-radius:6px;padding:.75rem 1rem;min-width:10rem}\
.tile b{display:block;font-size:1.6rem}.tile span{color:#666;font-size:.85rem}\
table{border-collapse:collapse;width:100%}th,td{text-align:right;padding:.3rem .6rem;border-bottom:1px solid #eee}\
th:first-child,td:first-child{text-align:left}svg text{font-size:11px;fill:#333}.muted{color:#666}";

/// The whole page.
pub fn render(r: &Report) -> String {
    let mut h = String::new();
    let window = match r.since_ms {
        Some(s) => format!("since {}", utc(s)),
        None => "whole audit trail".into(),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>handoff report</title><style>{STYLE}</style></head><body>\n\
         <h1>Lead handoff report</h1><p class=\"muted\">{} · generated {}</p>\n",
        escape(&window),
        escape(&utc(r.generated_ms))
    );
    let o = &r.overall;
    let tiles = [
        (minutes(o.p50_ms), "speed to lead, median"),
        (minutes(o.p90_ms), "speed to lead, 90th percentile"),
        (percent(o.sla_met_ratio), "SLA met"),
        (percent(r.acceptance.acceptance_ratio), "accepted by sales"),
        (percent(r.completeness.ratio), "handoffs complete"),
        (percent(r.recycle.ratio), "recycled"),
    ];
    h.push_str("<div class=\"tiles\">");
    for (value, label) in tiles {
        let _ = write!(
            h,
            "<div class=\"tile\"><b>{}</b><span>{}</span></div>",
            escape(&value),
            label
        );
    }
    h.push_str("</div>\n<h2>Per team</h2>\n<table><tr><th>Team</th><th>Routed</th><th>First touches</th><th>p50</th><th>p90</th><th>p50 business</th><th>p90 business</th><th>SLA met</th><th>Met / missed / pending</th></tr>\n");
    for t in r.teams.iter().chain(std::iter::once(&r.overall)) {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {} / {}</td></tr>",
            escape(&t.team),
            t.routed,
            t.first_touches,
            minutes(t.p50_ms),
            minutes(t.p90_ms),
            minutes(t.business_p50_ms),
            minutes(t.business_p90_ms),
            percent(t.sla_met_ratio),
            t.sla_met,
            t.sla_missed,
            t.sla_pending
        );
    }
    h.push_str("</table>\n<h2>Speed to lead (first touches, calendar time)</h2>\n");
    let bars: Vec<(String, u64)> = r
        .speed_histogram
        .iter()
        .map(|b| (b.label.clone(), b.count))
        .collect();
    h.push_str(&column_chart("speed-to-lead", &bars));
    h.push_str("<h2>SLA breaches over time</h2>\n");
    let (unit, breaches) = breach_series(&r.breaches_per_hour);
    if breaches.is_empty() {
        h.push_str("<p id=\"sla-breaches\" class=\"muted\">No SLA breaches.</p>\n");
    } else {
        let _ = writeln!(h, "<p class=\"muted\">per {unit}, UTC</p>");
        h.push_str(&column_chart("sla-breaches", &breaches));
    }
    h.push_str("<h2>Load per rep (open leads now)</h2>\n");
    let load: Vec<(String, u64)> = r
        .load
        .iter()
        .map(|l| (l.owner_email.clone(), l.open))
        .collect();
    h.push_str(&bar_chart("load-per-rep", &load));
    let a = &r.acceptance;
    h.push_str("<h2>Rejections and recycles</h2>\n<table><tr><th>Reason</th><th>Rejected</th><th>Recycled</th></tr>\n");
    let mut reasons: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (k, n) in &a.rejected_by_reason {
        reasons.entry(k).or_default().0 = *n;
    }
    for (k, n) in &a.recycled_by_reason {
        reasons.entry(k).or_default().1 = *n;
    }
    for (k, (rej, rec)) in reasons {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{rej}</td><td>{rec}</td></tr>",
            escape(k)
        );
    }
    let _ = writeln!(
        h,
        "<tr><td>total</td><td>{}</td><td>{}</td></tr></table>",
        a.rejected, a.recycled
    );
    if !r.completeness.missing_by_reason.is_empty() {
        h.push_str(
            "<h2>Missing fields at handoff</h2>\n<table><tr><th>Reason</th><th>Leads</th></tr>\n",
        );
        for (k, n) in &r.completeness.missing_by_reason {
            let _ = writeln!(h, "<tr><td>{}</td><td>{n}</td></tr>", escape(k));
        }
        h.push_str("</table>\n");
    }
    if let Some(c) = &r.cases {
        h.push_str(&render_cases(c));
    }
    h.push_str("<p class=\"muted\">Definitions: docs/report.md. Speed to lead counts from the lead becoming sales-ready to its first touch; percentiles are nearest-rank.</p>\n</body></html>\n");
    h
}

/// The support case section: tiles, first responses by priority and tier (table and chart),
/// escalations per day, time in each tier, counts.
fn render_cases(c: &CaseFigures) -> String {
    let mut h = String::from("<h2>Support cases</h2>\n<div class=\"tiles\">");
    let f = &c.first_response;
    let n = &c.counts;
    let tiles = [
        (duration(f.p50_ms), "first response, median"),
        (duration(f.p90_ms), "first response, 90th percentile"),
        (percent(f.within_sla_ratio), "first responses within SLA"),
        (n.escalations.to_string(), "escalations to L2"),
        (
            c.re_escalations.cases.to_string(),
            "cases escalated more than once",
        ),
        (duration(c.l1_time.p50_ms), "time in L1, median"),
    ];
    for (value, label) in tiles {
        let _ = write!(
            h,
            "<div class=\"tile\"><b>{}</b><span>{}</span></div>",
            escape(&value),
            label
        );
    }
    h.push_str("</div>\n<h3>First response</h3>\n<table><tr><th>Priority / tier</th><th>Responses</th><th>p50</th><th>p90</th><th>Within SLA</th><th>Within / with a policy</th></tr>\n");
    let rows = (c.first_response_by_priority.iter())
        .chain(&c.first_response_by_tier)
        .chain(std::iter::once(f));
    for row in rows {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td></tr>",
            escape(&row.key),
            row.count,
            duration(row.p50_ms),
            duration(row.p90_ms),
            percent(row.within_sla_ratio),
            row.within_sla,
            row.with_policy
        );
    }
    h.push_str("</table>\n<h3>First response by priority (p50, p90)</h3>\n");
    if c.first_response_by_priority.is_empty() {
        h.push_str("<p id=\"case-first-response\" class=\"muted\">No first responses.</p>\n");
    } else {
        let groups: Vec<(String, Vec<Option<i64>>)> = c
            .first_response_by_priority
            .iter()
            .map(|p| (p.key.clone(), vec![p.p50_ms, p.p90_ms]))
            .collect();
        h.push_str(&duration_chart(
            "case-first-response",
            &["p50", "p90"],
            &groups,
        ));
    }
    h.push_str("<h3>Escalations to L2</h3>\n");
    let (unit, days) = escalation_series(&c.escalations_per_day);
    if days.is_empty() {
        h.push_str("<p id=\"case-escalations\" class=\"muted\">No escalations.</p>\n");
    } else {
        let _ = writeln!(
            h,
            "<p class=\"muted\">per {unit}, UTC; {} re-escalation(s), {} case(s) escalated more than once</p>",
            c.re_escalations.escalations, c.re_escalations.cases
        );
        h.push_str(&column_chart("case-escalations", &days));
    }
    h.push_str("<h3>Time in each tier (p50, p90)</h3>\n");
    if c.l1_time.count + c.l2_time.count == 0 {
        h.push_str("<p id=\"case-tier-time\" class=\"muted\">No case left L1 or closed yet.</p>\n");
    } else {
        let groups = [("L1", &c.l1_time), ("L2", &c.l2_time)].map(|(tier, t)| {
            (
                format!("{tier} ({} cases)", t.count),
                vec![t.p50_ms, t.p90_ms],
            )
        });
        h.push_str(&duration_chart("case-tier-time", &["p50", "p90"], &groups));
    }
    h.push_str("<h3>Case counts</h3>\n<table><tr><th>Event</th><th>Count</th></tr>\n");
    let counts = [
        ("opened", n.opened),
        ("opened from a bot", n.opened_bot),
        ("opened otherwise", n.opened_other),
        ("offered to L1", n.offered),
        ("accepted", n.accepted),
        ("first responses", n.first_responses),
        ("escalations to L2", n.escalations),
        ("cases escalated", n.escalated_cases),
        ("re-escalations", c.re_escalations.escalations),
        ("closed", n.closed),
        ("closed in L1", n.closed_l1),
        ("closed in L2", n.closed_l2),
        ("SLA breaches", n.sla_breaches),
        ("reassignments", n.reassignments),
        ("fallbacks", n.fallbacks),
    ];
    for (label, count) in counts {
        let _ = writeln!(h, "<tr><td>{label}</td><td>{count}</td></tr>");
    }
    h.push_str("</table>\n");
    h
}

/// Escalations per day with empty days filled in, or per week (from Monday, UTC) when the
/// escalations span more than 92 days. Returns the unit (`day` / `week`) and the labelled bars.
fn escalation_series(days: &[DayCount]) -> (&'static str, Vec<(String, u64)>) {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return ("day", Vec::new());
    };
    let weekly = (last.day_ms - first.day_ms) / DAY_MS + 1 > 92;
    // 1970-01-05 was a Monday.
    let (step, offset) = if weekly {
        (7 * DAY_MS, 4 * DAY_MS)
    } else {
        (DAY_MS, 0)
    };
    let bucket = |ms: i64| (ms - offset).div_euclid(step) * step + offset;
    let mut buckets: BTreeMap<i64, u64> = BTreeMap::new();
    let mut t = bucket(first.day_ms);
    while t <= last.day_ms {
        buckets.insert(t, 0);
        t += step;
    }
    for d in days {
        *buckets.entry(bucket(d.day_ms)).or_default() += d.count;
    }
    let unit = if weekly { "week" } else { "day" };
    (
        unit,
        buckets
            .into_iter()
            .map(|(t, n)| (super::utc_day(t), n))
            .collect(),
    )
}

/// Grouped vertical bars of durations: one group per label, one bar per series (a missing
/// value draws no bar), each bar topped by its duration; a legend names the series.
fn duration_chart(id: &str, series: &[&str], groups: &[(String, Vec<Option<i64>>)]) -> String {
    const COLORS: [&str; 3] = ["#4878a8", "#d08a3c", "#6a9a5b"];
    let max = groups
        .iter()
        .flat_map(|g| g.1.iter().flatten())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let n = groups.len().max(1);
    let k = series.len().max(1);
    let (width, top, plot_h) = (720usize, 34usize, 160usize);
    let base = top + plot_h;
    let slot = width / n;
    let bar_w = (slot * 7 / 10 / k).clamp(2, 60);
    let mut s = format!(
        "<svg id=\"{id}\" role=\"img\" width=\"{width}\" height=\"{}\" viewBox=\"0 0 {width} {}\">\n",
        base + 25,
        base + 25
    );
    for (j, name) in series.iter().enumerate() {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"12\" style=\"fill:{}\">■ {}</text>",
            j * 70 + 4,
            COLORS[j % COLORS.len()],
            escape(name)
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"0\" y1=\"{base}\" x2=\"{width}\" y2=\"{base}\" stroke=\"#999\"/>"
    );
    for (i, (label, values)) in groups.iter().enumerate() {
        let left = i * slot + (slot - bar_w * k) / 2;
        for (j, value) in values.iter().enumerate().take(k) {
            let Some(ms) = value else { continue };
            let h = ((*ms).max(0) as usize * plot_h) / max as usize;
            let x = left + j * bar_w;
            let y = base - h;
            let text = duration(Some(*ms));
            let _ = writeln!(
                s,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{h}\" fill=\"{}\"><title>{} {}: {}</title></rect>",
                bar_w.saturating_sub(2).max(1),
                COLORS[j % COLORS.len()],
                escape(label),
                escape(series[j]),
                escape(&text)
            );
            if n * k <= 24 {
                let _ = writeln!(
                    s,
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                    x + bar_w / 2,
                    y - 3,
                    escape(&text)
                );
            }
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            i * slot + slot / 2,
            base + 17,
            escape(label)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Breaches per hour with empty hours filled in, or per day (UTC) when the span exceeds three
/// days. Returns the unit (`hour` / `day`) and the labelled bars.
fn breach_series(hours: &[HourCount]) -> (&'static str, Vec<(String, u64)>) {
    let (Some(first), Some(last)) = (hours.first(), hours.last()) else {
        return ("hour", Vec::new());
    };
    let span_h = (last.hour_ms - first.hour_ms) / 3_600_000 + 1;
    let step: i64 = if span_h > 72 { 86_400_000 } else { 3_600_000 };
    let start = first.hour_ms.div_euclid(step) * step;
    let mut buckets: BTreeMap<i64, u64> = BTreeMap::new();
    let mut t = start;
    while t <= last.hour_ms {
        buckets.insert(t, 0);
        t += step;
    }
    for h in hours {
        *buckets
            .entry(h.hour_ms.div_euclid(step) * step)
            .or_default() += h.count;
    }
    let label = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| {
                let fmt = if step == 3_600_000 {
                    "%m-%d %H:00"
                } else {
                    "%Y-%m-%d"
                };
                t.strftime(fmt).to_string()
            })
            .unwrap_or_else(|_| ms.to_string())
    };
    let unit = if step == 3_600_000 { "hour" } else { "day" };
    (
        unit,
        buckets.into_iter().map(|(t, n)| (label(t), n)).collect(),
    )
}

/// Vertical bars with a label under each (labels thinned out when there are many bars).
fn column_chart(id: &str, bars: &[(String, u64)]) -> String {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let n = bars.len().max(1);
    let width = 720usize;
    let plot_h = 180usize;
    let slot = width / n;
    let bar_w = (slot * 7 / 10).max(2);
    let label_every = n.div_ceil(12);
    let mut s = format!(
        "<svg id=\"{id}\" role=\"img\" width=\"{width}\" height=\"{}\" viewBox=\"0 0 {width} {}\">\n",
        plot_h + 40,
        plot_h + 40
    );
    let _ = writeln!(
        s,
        "<line x1=\"0\" y1=\"{0}\" x2=\"{width}\" y2=\"{0}\" stroke=\"#999\"/>",
        plot_h + 15
    );
    if n > 24 {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"10\" text-anchor=\"end\">tallest bar: {max}</text>",
            width - 4
        );
    }
    for (i, (label, count)) in bars.iter().enumerate() {
        let h = (*count as usize * plot_h) / max as usize;
        let x = i * slot + (slot - bar_w) / 2;
        let y = plot_h + 15 - h;
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{bar_w}\" height=\"{h}\" fill=\"#4878a8\"><title>{}: {count}</title></rect>",
            escape(label)
        );
        if *count > 0 && n <= 24 {
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{count}</text>",
                x + bar_w / 2,
                y.saturating_sub(3).max(10)
            );
        }
        if i % label_every == 0 {
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x + bar_w / 2,
                plot_h + 32,
                escape(label)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Horizontal bars, one row per item, the label on the left and the value on the right.
fn bar_chart(id: &str, bars: &[(String, u64)]) -> String {
    if bars.is_empty() {
        return format!("<p id=\"{id}\" class=\"muted\">No leads of record yet.</p>\n");
    }
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let (label_w, plot_w, row) = (260usize, 400usize, 20usize);
    let height = bars.len() * row + 10;
    let width = label_w + plot_w + 50;
    let mut s = format!(
        "<svg id=\"{id}\" role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\n"
    );
    for (i, (label, count)) in bars.iter().enumerate() {
        let y = i * row + 5;
        let w = (*count as usize * plot_w) / max as usize;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{}\" fill=\"#6a9a5b\"><title>{}: {count}</title></rect><text x=\"{}\" y=\"{}\">{count}</text>",
            label_w - 6,
            y + 13,
            escape(label),
            row - 6,
            escape(label),
            label_w + w + 4,
            y + 13
        );
    }
    s.push_str("</svg>\n");
    s
}
