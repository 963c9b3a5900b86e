//! `handoff report` figures on audit entries and leads of record built by hand: percentiles per
//! team and overall (calendar and business time), SLA met % (a breach of the first assignment
//! or a late touch misses), acceptance and rejection by reason, completeness (latest gates,
//! `missing_*` only), recycle rate, load per rep, breaches per hour, the histogram, the
//! `since` window; and the HTML page (escaping, three charts, no scripts or external assets),
//! with the support case section and its charts only when there are case entries.

use handoff::flows::lead_state::{LeadState, LeadStatus};
use handoff::report::figures::{compute, percentile, HourCount, RepLoad, Report};
use handoff::state::AuditEntry;
use serde_json::{json, Value};

/// 2026-01-01T00:00:00Z, UTC ms.
const T0: i64 = 1_767_225_600_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

fn e(at_ms: i64, record: &str, kind: &str, detail: Value) -> AuditEntry {
    AuditEntry::new(
        at_ms,
        &format!("hubspot:contacts:{record}"),
        kind,
        kind,
        detail,
    )
}

fn gates(at_ms: i64, record: &str, failed: &[&str]) -> AuditEntry {
    let mut list =
        vec![json!({"gate": "required:email", "passed": true, "reason": null, "detail": ""})];
    for reason in failed {
        list.push(json!({"gate": format!("gate:{reason}"), "passed": false, "reason": reason, "detail": "x"}));
    }
    e(at_ms, record, "gates", Value::Array(list))
}

fn routed(at_ms: i64, record: &str, team: &str, owner: &str, policy: Option<&str>) -> AuditEntry {
    e(
        at_ms,
        record,
        "routed",
        json!({"owner_id": "1", "owner_email": owner, "rule": "r", "team": team,
               "manager_email": "m@x.com", "policy": policy, "sla_due_ms": at_ms + 5 * MIN,
               "received_ms": at_ms, "assignment": 1}),
    )
}

fn touch(
    at_ms: i64,
    record: &str,
    team: &str,
    by: &str,
    elapsed: i64,
    business: Option<i64>,
    met: bool,
) -> AuditEntry {
    e(
        at_ms,
        record,
        "first_touch",
        json!({"owner_email": "a@x.com", "team": team, "by": by, "received_ms": at_ms - elapsed,
               "touched_ms": at_ms, "elapsed_ms": elapsed, "business_elapsed_ms": business,
               "policy": "demo_request", "sla_due_ms": at_ms, "met": met}),
    )
}

fn lead(record: &str, owner: &str, team: &str, status: LeadStatus) -> LeadState {
    LeadState {
        record_key: format!("hubspot:contacts:{record}"),
        record_id: record.into(),
        owner_id: "1".into(),
        owner_email: owner.into(),
        team: Some(team.into()),
        manager_email: None,
        received_ms: T0,
        assigned_ms: T0,
        policy: None,
        sla_due_ms: None,
        assignments: 1,
        status,
    }
}

fn touched() -> LeadStatus {
    LeadStatus::Touched {
        at_ms: T0,
        by: "claim".into(),
    }
}

/// West: w1 met (2 min), w2 touched late (10 min), w3 breached then reassigned then touched
/// (30 min), w4 pending then rejected. East: e1 no policy (4 min), e2 breached and recycled.
/// n1 nurtured for missing fields, n2 nurtured for consent only.
fn trail() -> Vec<AuditEntry> {
    vec![
        gates(T0, "w1", &[]),
        routed(T0, "w1", "West", "a@x.com", Some("demo_request")),
        touch(
            T0 + 2 * MIN,
            "w1",
            "West",
            "claim",
            2 * MIN,
            Some(MIN),
            true,
        ),
        gates(T0 - HOUR, "w2", &["missing_phone"]),
        gates(T0 + MIN, "w2", &[]),
        routed(T0 + MIN, "w2", "West", "a@x.com", Some("demo_request")),
        touch(
            T0 + 11 * MIN,
            "w2",
            "West",
            "activity",
            10 * MIN,
            Some(5 * MIN),
            false,
        ),
        gates(T0, "w3", &[]),
        routed(T0, "w3", "West", "b@x.com", Some("demo_request")),
        e(
            T0 + 10 * MIN,
            "w3",
            "sla_breached",
            json!({"owner_email": "b@x.com", "manager_email": "m@x.com", "team": "West", "policy": "demo_request", "due_ms": T0 + 5 * MIN}),
        ),
        e(
            T0 + 15 * MIN,
            "w3",
            "sla_reassigned",
            json!({"from_owner_email": "b@x.com", "to_owner_email": "c@x.com", "team": "West", "policy": "demo_request", "assignment": 2}),
        ),
        touch(T0 + 30 * MIN, "w3", "West", "claim", 30 * MIN, None, true),
        gates(T0, "w4", &[]),
        routed(T0, "w4", "West", "b@x.com", Some("demo_request")),
        e(
            T0 + MIN,
            "w4",
            "rejected",
            json!({"reason": "not_a_fit", "owner_email": "b@x.com", "team": "West", "slack_user": "U1"}),
        ),
        e(
            T0 + MIN,
            "w4",
            "recycled",
            json!({"reason": "not_a_fit", "by": "reject", "owner_email": "b@x.com", "team": "West"}),
        ),
        gates(T0, "e1", &[]),
        routed(T0, "e1", "East", "d@x.com", None),
        e(
            T0 + 4 * MIN,
            "e1",
            "first_touch",
            json!({"owner_email": "d@x.com", "team": "East", "by": "status", "received_ms": T0, "touched_ms": T0 + 4 * MIN, "elapsed_ms": 4 * MIN, "business_elapsed_ms": 4 * MIN, "policy": null, "sla_due_ms": null, "met": true}),
        ),
        gates(T0, "e2", &[]),
        routed(T0, "e2", "East", "d@x.com", Some("same_day")),
        e(
            T0 + 150 * MIN,
            "e2",
            "sla_breached",
            json!({"owner_email": "d@x.com", "manager_email": "m@x.com", "team": "East", "policy": "same_day", "due_ms": T0 + 2 * HOUR}),
        ),
        e(
            T0 + 3 * HOUR,
            "e2",
            "recycled",
            json!({"reason": "sla_expired", "by": "sla", "owner_email": "d@x.com", "team": "East"}),
        ),
        gates(T0, "n1", &["missing_email", "missing_phone"]),
        e(
            T0,
            "n1",
            "nurtured",
            json!({"reason": "missing_email", "gate": "required:email"}),
        ),
        gates(T0, "n2", &["no_consent"]),
    ]
}

fn leads() -> Vec<LeadState> {
    vec![
        lead("w1", "a@x.com", "West", touched()),
        lead("w2", "a@x.com", "West", touched()),
        lead("w3", "c@x.com", "West", touched()),
        lead(
            "w4",
            "b@x.com",
            "West",
            LeadStatus::Rejected {
                at_ms: T0,
                reason: "not_a_fit".into(),
            },
        ),
        lead("x1", "b@x.com", "West", LeadStatus::Open),
        lead("e1", "d@x.com", "East", touched()),
        lead(
            "e2",
            "d@x.com",
            "East",
            LeadStatus::Recycled {
                at_ms: T0,
                reason: "sla_expired".into(),
            },
        ),
    ]
}

fn report() -> Report {
    let mut entries = trail();
    entries.reverse(); // the builder must not depend on order
    compute(&entries, &leads(), None, T0 + 4 * HOUR)
}

#[test]
fn percentiles_are_nearest_rank() {
    let v: Vec<i64> = (1..=10).collect();
    assert_eq!(percentile(&v, 50), Some(5));
    assert_eq!(percentile(&v, 90), Some(9));
    assert_eq!(percentile(&[7], 90), Some(7));
    assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
    assert_eq!(percentile(&[1, 2, 3], 90), Some(3));
    assert_eq!(percentile(&[], 50), None);
}

#[test]
fn speed_to_lead_per_team_and_overall() {
    let r = report();
    let names: Vec<&str> = r.teams.iter().map(|t| t.team.as_str()).collect();
    assert_eq!(names, ["East", "West"]);
    let (east, west, all) = (&r.teams[0], &r.teams[1], &r.overall);
    // West calendar [2, 10, 30] min: p50 rank 2, p90 rank 3. Business [1, 5] min (w3 has none).
    assert_eq!(
        (west.first_touches, west.p50_ms, west.p90_ms),
        (3, Some(10 * MIN), Some(30 * MIN))
    );
    assert_eq!(
        (
            west.business_count,
            west.business_p50_ms,
            west.business_p90_ms
        ),
        (2, Some(MIN), Some(5 * MIN))
    );
    assert_eq!(
        (east.first_touches, east.p50_ms, east.p90_ms),
        (1, Some(4 * MIN), Some(4 * MIN))
    );
    // Overall [2, 4, 10, 30]: p50 rank 2 = 4 min, p90 rank 4 = 30 min; business [1, 4, 5].
    assert_eq!(
        (all.team.as_str(), all.p50_ms, all.p90_ms),
        ("all", Some(4 * MIN), Some(30 * MIN))
    );
    assert_eq!(
        (all.business_p50_ms, all.business_p90_ms),
        (Some(4 * MIN), Some(5 * MIN))
    );
    assert_eq!((west.routed, east.routed, all.routed), (4, 2, 6));
    // Histogram: 2 and 4 min in 1–5, 10 in 5–15, 30 in 15–60.
    let counts: Vec<u64> = r.speed_histogram.iter().map(|b| b.count).collect();
    assert_eq!(counts, [0, 2, 1, 1, 0, 0]);
    assert_eq!(r.speed_histogram[5].label, "240+ min");
}

#[test]
fn sla_met_counts_breaches_of_the_first_assignment_and_late_touches_as_missed() {
    let r = report();
    let (east, west, all) = (&r.teams[0], &r.teams[1], &r.overall);
    // West: w1 met; w2 late; w3 breached before its reassignment (its later touch does not
    // count); w4 pending. East: e1 has no policy; e2 breached.
    assert_eq!((west.sla_met, west.sla_missed, west.sla_pending), (1, 2, 1));
    assert_eq!(west.sla_met_ratio, Some(1.0 / 3.0));
    assert_eq!((east.sla_met, east.sla_missed, east.sla_pending), (0, 1, 0));
    assert_eq!(east.sla_met_ratio, Some(0.0));
    assert_eq!((all.sla_met, all.sla_missed, all.sla_pending), (1, 3, 1));
    assert_eq!(all.sla_met_ratio, Some(0.25));
    assert_eq!(
        r.breaches_per_hour,
        [
            HourCount {
                hour_ms: T0,
                count: 1
            },
            HourCount {
                hour_ms: T0 + 2 * HOUR,
                count: 1
            }
        ]
    );
}

#[test]
fn acceptance_completeness_recycle_rate_and_load() {
    let r = report();
    let a = &r.acceptance;
    assert_eq!(a.accepted, 4);
    assert_eq!(a.accepted_by.get("claim"), Some(&2));
    assert_eq!(a.accepted_by.get("activity"), Some(&1));
    assert_eq!(a.accepted_by.get("status"), Some(&1));
    assert_eq!(
        (a.rejected, a.rejected_by_reason.get("not_a_fit")),
        (1, Some(&1))
    );
    assert_eq!(a.acceptance_ratio, Some(0.8));
    assert_eq!(a.recycled, 2);
    assert_eq!(a.recycled_by_reason.get("sla_expired"), Some(&1));
    // 8 sales-ready leads; only n1 misses a field (w2's earlier gates are superseded; n2
    // failed consent, not a field).
    let c = &r.completeness;
    assert_eq!((c.sales_ready, c.complete, c.ratio), (8, 7, Some(0.875)));
    assert_eq!(c.missing_by_reason.len(), 2);
    assert_eq!(c.missing_by_reason.get("missing_phone"), Some(&1));
    // 2 of 6 routed leads recycled.
    assert_eq!((r.recycle.routed, r.recycle.recycled), (6, 2));
    assert_eq!(r.recycle.ratio, Some(2.0 / 6.0));
    let rep = |email: &str, team: &str, open: u64, routed: u64| RepLoad {
        owner_email: email.into(),
        team: Some(team.into()),
        open,
        routed,
    };
    assert_eq!(
        r.load,
        [
            rep("a@x.com", "West", 2, 2),
            rep("b@x.com", "West", 1, 2),
            rep("c@x.com", "West", 1, 0),
            rep("d@x.com", "East", 1, 2),
        ]
    );
}

#[test]
fn since_counts_only_later_entries_but_load_stays_current() {
    let r = compute(&trail(), &leads(), Some(T0 + 2 * HOUR), T0 + 4 * HOUR);
    assert_eq!(r.since_ms, Some(T0 + 2 * HOUR));
    assert_eq!(
        r.breaches_per_hour,
        [HourCount {
            hour_ms: T0 + 2 * HOUR,
            count: 1
        }]
    );
    assert_eq!(
        (r.recycle.routed, r.recycle.recycled, r.recycle.ratio),
        (0, 1, None)
    );
    assert_eq!(r.overall.first_touches, 0);
    assert_eq!(r.overall.p50_ms, None);
    assert_eq!(r.completeness.sales_ready, 0);
    assert_eq!(r.load.iter().map(|l| l.open).sum::<u64>(), 5);
    // The breach of e2 still misses its SLA (a breach implies a policy).
    assert_eq!(r.overall.sla_missed, 1);
}

#[test]
fn json_round_trips() {
    let r = report();
    let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}

#[test]
fn html_escapes_hostile_names_and_draws_three_charts() {
    let hostile_team = "<script>alert(1)</script>";
    let hostile_owner = "\"><img src=x onerror=alert(1)>@x.com";
    let mut entries = trail();
    entries.push(routed(
        T0,
        "h1",
        hostile_team,
        hostile_owner,
        Some("demo_request"),
    ));
    entries.push(e(
        T0,
        "h1",
        "rejected",
        json!({"reason": "<b>bad</b>", "owner_email": hostile_owner, "team": hostile_team}),
    ));
    let mut states = leads();
    states.push(lead("h1", hostile_owner, hostile_team, LeadStatus::Open));
    let r = compute(&entries, &states, None, T0 + 4 * HOUR);
    let html = handoff::report::html::render(&r);
    assert!(html.starts_with("<!DOCTYPE html>"));
    for chart in ["speed-to-lead", "sla-breaches", "load-per-rep"] {
        assert!(
            html.contains(&format!("<svg id=\"{chart}\"")),
            "missing chart {chart}"
        );
    }
    assert!(!html.contains("<script"), "a script element got through");
    assert!(!html.contains("<img"), "an img element got through");
    assert!(!html.contains("<b>bad"), "a reason was not escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;@x.com"));
    assert!(html.contains("&lt;b&gt;bad&lt;/b&gt;"));
    assert!(
        !html.contains("http:") && !html.contains("https:"),
        "external reference"
    );
    // Headline numbers are on the page: overall p50 4.0 min, SLA met 25.0%.
    assert!(html.contains("4.0 min") && html.contains("25.0%"));
}

/// The `<svg id="{id}" …>…</svg>` element of `html`.
fn svg<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<svg id=\"{id}\""))
        .unwrap_or_else(|| panic!("missing chart {id}"));
    let end = start + html[start..].find("</svg>").expect("a closed svg");
    &html[start..end]
}

fn case(at_ms: i64, id: &str, kind: &str, detail: Value) -> AuditEntry {
    AuditEntry::new(at_ms, &format!("salesforce:Case:{id}"), kind, kind, detail)
}

fn case_response(at_ms: i64, id: &str, priority: &str, waited_ms: i64) -> AuditEntry {
    case(
        at_ms,
        id,
        "case_first_response",
        json!({"by": "accept", "at_ms": at_ms, "waited_ms": waited_ms, "tier": "L1",
               "priority": priority, "agent_email": "ana@x.test", "policy": "p", "within_sla": true}),
    )
}

fn case_escalation(at_ms: i64, id: &str, n: u32) -> AuditEntry {
    case(
        at_ms,
        id,
        "case_escalated",
        json!({"escalation": n, "escalation_reason": "status Escalated", "l1_ms": 30 * MIN,
               "tier": "L2", "agent_email": "lee@x.test", "reason": null, "outcome": "assigned"}),
    )
}

#[test]
fn html_draws_the_case_charts_only_with_case_entries() {
    let html = handoff::report::html::render(&report());
    assert!(!html.contains("Support cases") && !html.contains("id=\"case-"));

    const DAY: i64 = 86_400_000;
    let mut entries = trail();
    entries.extend([
        case_response(T0, "1", "High", 4 * MIN),
        case_response(T0, "2", "High", 8 * MIN),
        case_response(T0, "3", "<i>Low</i>", 90 * MIN),
        // Escalations on Jan 1 and Jan 3 (none on Jan 2), one of them a re-escalation.
        case_escalation(T0 + HOUR, "1", 1),
        case_escalation(T0 + 2 * DAY, "2", 1),
        case_escalation(T0 + 2 * DAY + HOUR, "2", 2),
        case(
            T0 + 3 * DAY,
            "2",
            "case_closed",
            json!({"tier": "L2", "escalations": 2, "priority": "High", "l1_ms": 30 * MIN, "l2_ms": 26 * HOUR}),
        ),
    ]);
    let r = compute(&entries, &leads(), None, T0 + 4 * DAY);
    let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
    let html = handoff::report::html::render(&r);
    assert!(html.contains("<h2>Support cases</h2>"));
    // First response by priority: a p50 and a p90 bar for High and for the hostile Low.
    let chart = svg(&html, "case-first-response");
    assert_eq!(chart.matches("<rect").count(), 4, "{chart}");
    assert!(chart.contains("High p90: 8.0 min") && chart.contains("1.5 h"));
    assert!(chart.contains("&lt;i&gt;Low&lt;/i&gt;") && !html.contains("<i>Low"));
    // Escalations per day, the empty day filled in: 1, 0, 2.
    let chart = svg(&html, "case-escalations");
    assert_eq!(chart.matches("<rect").count(), 3, "{chart}");
    for bar in [
        "2026-01-01: 1</title>",
        "2026-01-02: 0</title>",
        "2026-01-03: 2</title>",
    ] {
        assert!(chart.contains(bar), "missing {bar} in {chart}");
    }
    // Time in each tier: L1 (two cases left it) and L2 (one closed there), p50 and p90 each.
    let chart = svg(&html, "case-tier-time");
    assert_eq!(chart.matches("<rect").count(), 4, "{chart}");
    assert!(chart.contains("26.0 h"));
    assert!(html.contains("per day, UTC; 1 re-escalation(s), 1 case(s) escalated more than once"));
    assert!(!html.contains("<script") && !html.contains("http:") && !html.contains("https:"));
    // The lead charts are still there.
    for chart in ["speed-to-lead", "sla-breaches", "load-per-rep"] {
        svg(&html, chart);
    }
}
