//! The shape of `handoff report` (the JSON of `GET /admin/report` and `handoff report --json`):
//! plain serde structs, computed by [`super::figures`]. Units: durations in ms (`*_ms`), times
//! in UTC ms, ratios in 0..=1. Definitions: `docs/report.md`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything `handoff report` shows (JSON of `GET /admin/report`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// When the report was computed, UTC ms.
    pub generated_ms: i64,
    /// Only audit entries at or after this time (UTC ms) were counted; `None`: the whole trail.
    /// Load per rep ([`Report::load`]'s `open`) is always the current state.
    pub since_ms: Option<i64>,
    /// Every lead, all teams together (`team` = `all`).
    pub overall: TeamFigures,
    /// One row per team, by name.
    pub teams: Vec<TeamFigures>,
    pub acceptance: Acceptance,
    pub completeness: Completeness,
    pub recycle: RecycleRate,
    /// One row per rep: most open leads first, then by email.
    pub load: Vec<RepLoad>,
    /// `sla_breached` entries per UTC hour, oldest first; hours without a breach are left out.
    pub breaches_per_hour: Vec<HourCount>,
    /// First touches by calendar speed-to-lead: 0–1, 1–5, 5–15, 15–60, 60–240, 240+ minutes.
    pub speed_histogram: Vec<HistogramBucket>,
    /// The support case view, from the case flow's `case_*` entries; `None` (and absent from
    /// the JSON) when the window holds no case entry, as in a lead-only deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<CaseFigures>,
}

/// Speed-to-lead and SLA figures of one team (or `all`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamFigures {
    pub team: String,
    /// Distinct leads routed (a `routed` entry); a lead counts for the team of its first routing.
    pub routed: u64,
    /// Leads with a first touch (the team of the `first_touch` entry).
    pub first_touches: u64,
    /// Calendar speed-to-lead (`first_touch.elapsed_ms`), ms.
    pub p50_ms: Option<i64>,
    pub p90_ms: Option<i64>,
    /// First touches that carry a business-time figure.
    pub business_count: u64,
    /// Speed-to-lead in the team's business hours (`first_touch.business_elapsed_ms`), ms.
    pub business_p50_ms: Option<i64>,
    pub business_p90_ms: Option<i64>,
    /// Leads with an SLA policy whose first assignment met it.
    pub sla_met: u64,
    /// Leads with an SLA policy whose first assignment missed it (breached, or touched late).
    pub sla_missed: u64,
    /// Leads with an SLA policy neither touched nor breached yet (not in the ratio).
    pub sla_pending: u64,
    /// `sla_met / (sla_met + sla_missed)`; `None` when both are 0.
    pub sla_met_ratio: Option<f64>,
}

/// Accepted leads (a first touch, by any means) against rejections and recycles.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Acceptance {
    /// Distinct leads with a first touch.
    pub accepted: u64,
    /// Accepted leads by how they were first touched (`claim`, `activity`, `status`).
    pub accepted_by: BTreeMap<String, u64>,
    /// `rejected` entries.
    pub rejected: u64,
    /// `rejected` entries by reason code (`not_a_fit`, `duplicate`, ...).
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// `recycled` entries.
    pub recycled: u64,
    /// `recycled` entries by reason code (`sla_expired`, `not_a_fit`, ...).
    pub recycled_by_reason: BTreeMap<String, u64>,
    /// `accepted / (accepted + rejected)`; `None` when both are 0.
    pub acceptance_ratio: Option<f64>,
}

/// Handoff completeness: did sales-ready leads arrive with every required field?
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Completeness {
    /// Distinct leads with a `gates` entry (they reached a trigger stage).
    pub sales_ready: u64,
    /// Of those, leads whose latest `gates` entry has no failed gate with a `missing_*` reason.
    pub complete: u64,
    /// `complete / sales_ready`; `None` when no lead was sales-ready.
    pub ratio: Option<f64>,
    /// Incomplete leads by missing-field reason code (`missing_email`, ...); a lead missing two
    /// fields counts under both.
    pub missing_by_reason: BTreeMap<String, u64>,
}

/// Recycle rate: how many routed leads went back to nurture.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecycleRate {
    /// Distinct leads with a `routed` entry.
    pub routed: u64,
    /// Of all leads, distinct leads with a `recycled` entry.
    pub recycled: u64,
    /// `recycled / routed`; `None` when nothing was routed.
    pub ratio: Option<f64>,
}

/// One rep's load.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepLoad {
    pub owner_email: String,
    /// The team of the rep's leads of record (the first seen), if any.
    pub team: Option<String>,
    /// Leads of record owned now whose status is `open` or `touched` (current, not windowed).
    pub open: u64,
    /// `routed` entries that chose this rep (in the window).
    pub routed: u64,
}

/// A count in one UTC hour.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourCount {
    /// The hour's start, UTC ms (a multiple of 3,600,000).
    pub hour_ms: i64,
    pub count: u64,
}

/// One bar of the speed-to-lead histogram.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistogramBucket {
    /// `0–1 min`, ..., `240+ min`.
    pub label: String,
    /// Lower bound, minutes (inclusive).
    pub from_min: i64,
    /// Upper bound, minutes (exclusive); `None` for the last bucket.
    pub to_min: Option<i64>,
    pub count: u64,
}

/// The support case view: first responses, escalations to L2, time in each tier, counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseFigures {
    pub counts: CaseCounts,
    /// Every first response together (`key` = `all`).
    pub first_response: FirstResponse,
    /// One row per case priority (`key` = the priority, `(none)` when the case had none):
    /// Critical, Urgent, High, Medium, Normal, Low first, then others by name.
    pub first_response_by_priority: Vec<FirstResponse>,
    /// One row per support tier holding the case at its first response (`L1`, `L2`).
    pub first_response_by_tier: Vec<FirstResponse>,
    /// `case_escalated` entries per UTC day, oldest first; days without one are left out.
    pub escalations_per_day: Vec<DayCount>,
    /// Time in L1, one value per case: from handoff first seeing it to its first escalation
    /// (or to its closing, for a case closed in L1).
    pub l1_time: TierTime,
    /// Time in L2, one value per case closed in L2: from its first escalation to its closing.
    pub l2_time: TierTime,
    pub re_escalations: ReEscalations,
}

/// First-response figures of one priority, one tier, or all (`case_first_response` entries:
/// one per assignment that got its first response).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FirstResponse {
    /// The priority, the tier (`L1`, `L2`) or `all`.
    pub key: String,
    /// First responses.
    pub count: u64,
    /// From the assignment to the first response (`case_first_response.waited_ms`), ms.
    pub p50_ms: Option<i64>,
    pub p90_ms: Option<i64>,
    /// First responses of assignments with an SLA policy.
    pub with_policy: u64,
    /// Of those, first responses at or before the due time (`within_sla`).
    pub within_sla: u64,
    /// `within_sla / with_policy`; `None` when no first response had a policy.
    pub within_sla_ratio: Option<f64>,
}

/// Durations of a tier: how many values, and their p50/p90 (ms).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierTime {
    /// Cases counted.
    pub count: u64,
    pub p50_ms: Option<i64>,
    pub p90_ms: Option<i64>,
}

/// Escalations to L2 in one UTC day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    /// The day's start, UTC ms (a multiple of 86,400,000).
    pub day_ms: i64,
    /// `case_escalated` entries.
    pub count: u64,
    /// Of those, re-escalations (`escalation >= 2`: the case was in L2 already).
    pub re_escalations: u64,
}

/// Cases that went to L2 more than once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReEscalations {
    /// Distinct cases with a `case_escalated` entry whose `escalation` is 2 or more.
    pub cases: u64,
    /// `case_escalated` entries whose `escalation` is 2 or more.
    pub escalations: u64,
}

/// Counts of case events in the window (entries, except where said).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseCounts {
    /// `case_opened` entries (cases handoff saw for the first time).
    pub opened: u64,
    /// Of those, bot (or chat) conversations handed to a person (`bot: true`).
    pub opened_bot: u64,
    /// Of those, other cases (`bot: false`).
    pub opened_other: u64,
    /// `case_offered` entries: offers to an L1 agent, first offers and re-offers after a
    /// missed first response.
    pub offered: u64,
    /// `case_accepted` entries (Accept clicks).
    pub accepted: u64,
    /// `case_first_response` entries.
    pub first_responses: u64,
    /// `case_escalated` entries (escalations to L2, re-escalations included).
    pub escalations: u64,
    /// Distinct cases with a `case_escalated` entry.
    pub escalated_cases: u64,
    /// `case_closed` entries.
    pub closed: u64,
    /// Of those, closed while in L1 / in L2 (`tier`).
    pub closed_l1: u64,
    pub closed_l2: u64,
    /// `case_sla_breached` entries (first response overdue).
    pub sla_breaches: u64,
    /// Reassignments for a missed first response: `case_reassigned` entries (L2) and
    /// `case_offered` entries of a later assignment (`assignment >= 2`: L1 re-offers).
    pub reassignments: u64,
    /// Routing decisions (`case_offered`, `case_escalated`, `case_reassigned`) that went to
    /// the fallback owner (their `reason` is set).
    pub fallbacks: u64,
}
