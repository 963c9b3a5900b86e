//! The figures of `handoff report`, computed from the audit trail and the leads of record.
//! Pure: no store, no clock; [`ReportBuilder`] takes entries one at a time (so the trail is
//! streamed, never loaded whole) and [`ReportBuilder::finish`] adds the [`LeadState`]s.
//!
//! Units: durations in ms (`*_ms`), times in UTC ms, ratios in 0..=1. Percentiles use the
//! nearest-rank method: p = the value at rank ⌈p·n⌉ of the n sorted values (1-based), so a
//! reported percentile is always an observed value. The audit kinds read here and their detail
//! keys are those of the session's shared interfaces (`notes/s2/interfaces.md`); the `gates`
//! detail is an array of [`crate::mapping::GateResult`] (`{gate, passed, reason, detail}`).
//! The support case view ([`CaseFigures`]) reads the `case_*` entries of the case flow, with
//! the detail keys `crate::flows::cases` writes; it is `None` when there is no case entry.
//! Definitions of every figure: `docs/report.md`.

pub use super::model::{
    Acceptance, CaseCounts, CaseFigures, Completeness, DayCount, FirstResponse, HistogramBucket,
    HourCount, ReEscalations, RecycleRate, RepLoad, Report, TeamFigures, TierTime,
};
use crate::flows::lead_state::{LeadState, LeadStatus};
use crate::state::AuditEntry;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The team name used when an entry or lead names no team.
pub const NO_TEAM: &str = "(no team)";

/// The upper bounds (exclusive, minutes) of the speed-to-lead histogram buckets; a last bucket
/// holds everything from 240 minutes on.
pub const HISTOGRAM_BOUNDS_MIN: [i64; 5] = [1, 5, 15, 60, 240];

/// What one lead's audit entries say, reduced to what the figures need.
#[derive(Default)]
struct LeadFacts {
    /// Earliest `routed` entry: (at_ms, team, policy).
    first_routed: Option<(i64, Option<String>, Option<String>)>,
    /// Earliest `first_touch` entry: (at_ms, detail).
    first_touch: Option<(i64, Value)>,
    /// Earliest `sla_reassigned` entry, UTC ms.
    first_reassigned_ms: Option<i64>,
    /// `sla_breached` entries: (at_ms, team).
    breaches: Vec<(i64, Option<String>)>,
    /// Latest `gates` entry: (at_ms, missing-field reasons).
    latest_gates: Option<(i64, Vec<String>)>,
    recycled: bool,
}

/// Accumulates audit entries; [`ReportBuilder::finish`] turns them into a [`Report`].
#[derive(Default)]
pub struct ReportBuilder {
    since_ms: Option<i64>,
    leads: HashMap<String, LeadFacts>,
    routed_per_rep: BTreeMap<String, u64>,
    rejected: Vec<String>,
    recycled: Vec<String>,
    breaches_per_hour: BTreeMap<i64, u64>,
    /// The support case flow's entries; `None` until the first `case_*` entry.
    cases: Option<CaseAcc>,
}

fn text(detail: &Value, key: &str) -> Option<String> {
    detail
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn earlier<T>(slot: &mut Option<(i64, T)>, at_ms: i64, value: T) {
    if slot.as_ref().is_none_or(|(at, _)| at_ms < *at) {
        *slot = Some((at_ms, value));
    }
}

impl ReportBuilder {
    /// A builder for entries at or after `since_ms` (entries before it are ignored).
    pub fn new(since_ms: Option<i64>) -> Self {
        Self {
            since_ms,
            ..Self::default()
        }
    }

    /// Takes one audit entry into account (any order; kinds the report does not read are
    /// ignored).
    pub fn add(&mut self, e: &AuditEntry) {
        if self.since_ms.is_some_and(|s| e.at_ms < s) {
            return;
        }
        let d = &e.detail;
        if e.event.starts_with("case_") {
            self.cases.get_or_insert_with(CaseAcc::default).add(e);
            return;
        }
        let facts = || LeadFacts::default();
        match e.event.as_str() {
            "routed" => {
                if let Some(owner) = text(d, "owner_email") {
                    *self.routed_per_rep.entry(owner).or_default() += 1;
                }
                let lead = self.leads.entry(e.record_key.clone()).or_insert_with(facts);
                let value = (text(d, "team"), text(d, "policy"));
                if lead.first_routed.as_ref().is_none_or(|r| e.at_ms < r.0) {
                    lead.first_routed = Some((e.at_ms, value.0, value.1));
                }
            }
            "first_touch" => {
                let lead = self.leads.entry(e.record_key.clone()).or_insert_with(facts);
                earlier(&mut lead.first_touch, e.at_ms, d.clone());
            }
            "sla_reassigned" => {
                let lead = self.leads.entry(e.record_key.clone()).or_insert_with(facts);
                if lead.first_reassigned_ms.is_none_or(|at| e.at_ms < at) {
                    lead.first_reassigned_ms = Some(e.at_ms);
                }
            }
            "sla_breached" => {
                let hour = e.at_ms.div_euclid(3_600_000) * 3_600_000;
                *self.breaches_per_hour.entry(hour).or_default() += 1;
                let lead = self.leads.entry(e.record_key.clone()).or_insert_with(facts);
                lead.breaches.push((e.at_ms, text(d, "team")));
            }
            "gates" => {
                let missing: Vec<String> = d
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|g| g.get("passed").and_then(Value::as_bool) == Some(false))
                    .filter_map(|g| text(g, "reason"))
                    .filter(|r| r.starts_with("missing_"))
                    .collect();
                let lead = self.leads.entry(e.record_key.clone()).or_insert_with(facts);
                if lead
                    .latest_gates
                    .as_ref()
                    .is_none_or(|(at, _)| e.at_ms >= *at)
                {
                    lead.latest_gates = Some((e.at_ms, missing));
                }
            }
            "rejected" => self
                .rejected
                .push(text(d, "reason").unwrap_or_else(|| "unknown".into())),
            "recycled" => {
                self.recycled
                    .push(text(d, "reason").unwrap_or_else(|| "unknown".into()));
                let lead = self.leads.entry(e.record_key.clone()).or_insert_with(facts);
                lead.recycled = true;
            }
            _ => {}
        }
    }

    /// The report, with load per rep from `leads` (the current leads of record).
    pub fn finish(self, leads: &[LeadState], generated_ms: i64) -> Report {
        let states: HashMap<&str, &LeadState> =
            leads.iter().map(|l| (l.record_key.as_str(), l)).collect();
        let mut teams: BTreeMap<String, TeamAcc> = BTreeMap::new();
        let mut all = TeamAcc::default();
        let mut acceptance = Acceptance::default();
        let mut completeness = Completeness::default();
        let mut recycle = RecycleRate::default();
        let mut histogram = [0u64; HISTOGRAM_BOUNDS_MIN.len() + 1];

        for (record, lead) in &self.leads {
            let state = states.get(record.as_str());
            let assigned_team = lead
                .first_routed
                .as_ref()
                .and_then(|r| r.1.clone())
                .or_else(|| state.and_then(|s| s.team.clone()));
            if lead.first_routed.is_some() {
                recycle.routed += 1;
                let team = assigned_team.clone().unwrap_or_else(|| NO_TEAM.into());
                teams.entry(team).or_default().routed += 1;
                all.routed += 1;
            }
            if lead.recycled {
                recycle.recycled += 1;
            }
            if let Some((_, missing)) = &lead.latest_gates {
                completeness.sales_ready += 1;
                if missing.is_empty() {
                    completeness.complete += 1;
                }
                for reason in missing {
                    *completeness
                        .missing_by_reason
                        .entry(reason.clone())
                        .or_default() += 1;
                }
            }
            let touch = lead.first_touch.as_ref().map(|(_, d)| d);
            if let Some(d) = touch {
                acceptance.accepted += 1;
                let by = text(d, "by").unwrap_or_else(|| "unknown".into());
                *acceptance.accepted_by.entry(by).or_default() += 1;
                let elapsed = d.get("elapsed_ms").and_then(Value::as_i64).or_else(|| {
                    let touched = d.get("touched_ms").and_then(Value::as_i64)?;
                    Some(touched - d.get("received_ms").and_then(Value::as_i64)?)
                });
                let business = d.get("business_elapsed_ms").and_then(Value::as_i64);
                let team = text(d, "team")
                    .or_else(|| assigned_team.clone())
                    .unwrap_or_else(|| NO_TEAM.into());
                let acc = teams.entry(team).or_default();
                for a in [&mut *acc, &mut all] {
                    a.touches += 1;
                    a.calendar.extend(elapsed);
                    a.business.extend(business);
                }
                if let Some(ms) = elapsed {
                    let minutes = ms.max(0) / 60_000;
                    let i = HISTOGRAM_BOUNDS_MIN
                        .iter()
                        .position(|b| minutes < *b)
                        .unwrap_or(HISTOGRAM_BOUNDS_MIN.len());
                    histogram[i] += 1;
                }
            }
            // SLA: judged on the first assignment.
            let first_breach = lead
                .breaches
                .iter()
                .filter(|(at, _)| lead.first_reassigned_ms.is_none_or(|r| *at <= r))
                .min_by_key(|(at, _)| *at);
            let policy = lead
                .first_routed
                .as_ref()
                .and_then(|r| r.2.clone())
                .or_else(|| {
                    touch
                        .and_then(|d| text(d, "policy"))
                        .or_else(|| state.and_then(|s| s.policy.clone()))
                });
            if policy.is_none() && lead.breaches.is_empty() {
                continue;
            }
            let sla_team = assigned_team
                .or_else(|| touch.and_then(|d| text(d, "team")))
                .or_else(|| first_breach.and_then(|b| b.1.clone()))
                .unwrap_or_else(|| NO_TEAM.into());
            let touched_met = touch.and_then(|d| d.get("met").and_then(Value::as_bool));
            let acc = teams.entry(sla_team).or_default();
            for a in [&mut *acc, &mut all] {
                match (first_breach.is_some(), touched_met) {
                    (true, _) | (false, Some(false)) => a.missed += 1,
                    (false, Some(true)) => a.met += 1,
                    (false, None) => a.pending += 1,
                }
            }
        }

        for reason in &self.rejected {
            acceptance.rejected += 1;
            *acceptance
                .rejected_by_reason
                .entry(reason.clone())
                .or_default() += 1;
        }
        for reason in &self.recycled {
            acceptance.recycled += 1;
            *acceptance
                .recycled_by_reason
                .entry(reason.clone())
                .or_default() += 1;
        }
        acceptance.acceptance_ratio = ratio(
            acceptance.accepted,
            acceptance.accepted + acceptance.rejected,
        );
        completeness.ratio = ratio(completeness.complete, completeness.sales_ready);
        recycle.ratio = ratio(recycle.recycled, recycle.routed);

        Report {
            generated_ms,
            since_ms: self.since_ms,
            overall: all.figures("all"),
            teams: teams.into_iter().map(|(t, a)| a.figures(&t)).collect(),
            acceptance,
            completeness,
            recycle,
            load: load(leads, &self.routed_per_rep),
            breaches_per_hour: self
                .breaches_per_hour
                .into_iter()
                .map(|(hour_ms, count)| HourCount { hour_ms, count })
                .collect(),
            speed_histogram: histogram_buckets(&histogram),
            cases: self.cases.map(CaseAcc::finish),
        }
    }
}

/// Computes the report from entries and leads in one call (tests, small trails).
pub fn compute<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
    leads: &[LeadState],
    since_ms: Option<i64>,
    generated_ms: i64,
) -> Report {
    let mut b = ReportBuilder::new(since_ms);
    for e in entries {
        b.add(e);
    }
    b.finish(leads, generated_ms)
}

#[derive(Default)]
struct TeamAcc {
    routed: u64,
    touches: u64,
    calendar: Vec<i64>,
    business: Vec<i64>,
    met: u64,
    missed: u64,
    pending: u64,
}

impl TeamAcc {
    fn figures(mut self, team: &str) -> TeamFigures {
        self.calendar.sort_unstable();
        self.business.sort_unstable();
        TeamFigures {
            team: team.to_string(),
            routed: self.routed,
            first_touches: self.touches,
            p50_ms: percentile(&self.calendar, 50),
            p90_ms: percentile(&self.calendar, 90),
            business_count: self.business.len() as u64,
            business_p50_ms: percentile(&self.business, 50),
            business_p90_ms: percentile(&self.business, 90),
            sla_met: self.met,
            sla_missed: self.missed,
            sla_pending: self.pending,
            sla_met_ratio: ratio(self.met, self.met + self.missed),
        }
    }
}

/// Nearest-rank percentile `pct` (1..=100) of ascending `sorted`: the value at rank
/// ⌈pct·n/100⌉ (1-based). `None` when empty.
pub fn percentile(sorted: &[i64], pct: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * pct).div_ceil(100).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// The priority used for a case entry without one.
pub const NO_PRIORITY: &str = "(none)";

/// One UTC day, ms.
pub const DAY_MS: i64 = 86_400_000;

/// What one case's entries say about its time in each tier.
#[derive(Default)]
struct CaseTimes {
    /// `l1_ms` of its first escalation (`escalation` 1): (at_ms, l1_ms).
    escalated_l1: Option<(i64, Option<i64>)>,
    /// Its latest `case_closed` entry.
    closed: Option<Closed>,
    escalated: bool,
    re_escalated: bool,
}

/// What a `case_closed` entry says.
struct Closed {
    at_ms: i64,
    tier: Option<String>,
    l1_ms: Option<i64>,
    l2_ms: Option<i64>,
}

/// First responses of one priority, tier, or all.
#[derive(Default)]
struct ResponseAcc {
    waited: Vec<i64>,
    count: u64,
    with_policy: u64,
    within_sla: u64,
}

impl ResponseAcc {
    fn add(&mut self, waited: Option<i64>, policy: bool, within: bool) {
        self.count += 1;
        self.waited.extend(waited);
        if policy {
            self.with_policy += 1;
            if within {
                self.within_sla += 1;
            }
        }
    }

    fn figures(mut self, key: &str) -> FirstResponse {
        self.waited.sort_unstable();
        FirstResponse {
            key: key.to_string(),
            count: self.count,
            p50_ms: percentile(&self.waited, 50),
            p90_ms: percentile(&self.waited, 90),
            with_policy: self.with_policy,
            within_sla: self.within_sla,
            within_sla_ratio: ratio(self.within_sla, self.with_policy),
        }
    }
}

/// The case flow's entries, reduced to what the case view needs.
#[derive(Default)]
struct CaseAcc {
    counts: CaseCounts,
    response_all: ResponseAcc,
    response_by_priority: BTreeMap<String, ResponseAcc>,
    response_by_tier: BTreeMap<String, ResponseAcc>,
    /// Day start → (escalations, re-escalations).
    escalations_per_day: BTreeMap<i64, (u64, u64)>,
    cases: HashMap<String, CaseTimes>,
}

fn int(detail: &Value, key: &str) -> Option<i64> {
    detail.get(key).and_then(Value::as_i64)
}

/// Where a priority goes in the case view: the usual names by severity, then others by name.
fn priority_rank(priority: &str) -> (usize, String) {
    const ORDER: [&str; 6] = ["critical", "urgent", "high", "medium", "normal", "low"];
    let lower = priority.to_ascii_lowercase();
    let rank = ORDER
        .iter()
        .position(|p| *p == lower)
        .unwrap_or(ORDER.len());
    (rank, priority.to_string())
}

fn tier_time(mut values: Vec<i64>) -> TierTime {
    values.sort_unstable();
    TierTime {
        count: values.len() as u64,
        p50_ms: percentile(&values, 50),
        p90_ms: percentile(&values, 90),
    }
}

impl CaseAcc {
    fn add(&mut self, e: &AuditEntry) {
        let d = &e.detail;
        let c = &mut self.counts;
        let fallback = || text(d, "reason").is_some();
        match e.event.as_str() {
            "case_opened" => {
                c.opened += 1;
                if d.get("bot").and_then(Value::as_bool) == Some(true) {
                    c.opened_bot += 1;
                } else {
                    c.opened_other += 1;
                }
            }
            "case_offered" => {
                c.offered += 1;
                if int(d, "assignment").is_some_and(|n| n >= 2) {
                    c.reassignments += 1;
                }
                if fallback() {
                    c.fallbacks += 1;
                }
            }
            "case_reassigned" => {
                c.reassignments += 1;
                if fallback() {
                    c.fallbacks += 1;
                }
            }
            "case_accepted" => c.accepted += 1,
            "case_sla_breached" => c.sla_breaches += 1,
            "case_first_response" => {
                c.first_responses += 1;
                let waited = int(d, "waited_ms");
                let policy = text(d, "policy").is_some();
                let within = d.get("within_sla").and_then(Value::as_bool) == Some(true);
                let priority = text(d, "priority").unwrap_or_else(|| NO_PRIORITY.into());
                let tier = text(d, "tier").unwrap_or_else(|| "unknown".into());
                self.response_all.add(waited, policy, within);
                self.response_by_priority
                    .entry(priority)
                    .or_default()
                    .add(waited, policy, within);
                self.response_by_tier
                    .entry(tier)
                    .or_default()
                    .add(waited, policy, within);
            }
            "case_escalated" => {
                c.escalations += 1;
                if fallback() {
                    c.fallbacks += 1;
                }
                let n = int(d, "escalation").unwrap_or(1);
                let day = e.at_ms.div_euclid(DAY_MS) * DAY_MS;
                let slot = self.escalations_per_day.entry(day).or_default();
                slot.0 += 1;
                let case = self.cases.entry(e.record_key.clone()).or_default();
                case.escalated = true;
                if n >= 2 {
                    slot.1 += 1;
                    case.re_escalated = true;
                } else if case.escalated_l1.is_none_or(|(at, _)| e.at_ms < at) {
                    case.escalated_l1 = Some((e.at_ms, int(d, "l1_ms")));
                }
            }
            "case_closed" => {
                c.closed += 1;
                let tier = text(d, "tier");
                match tier.as_deref() {
                    Some("L1") => c.closed_l1 += 1,
                    Some("L2") => c.closed_l2 += 1,
                    _ => {}
                }
                let case = self.cases.entry(e.record_key.clone()).or_default();
                if case.closed.as_ref().is_none_or(|c| e.at_ms >= c.at_ms) {
                    case.closed = Some(Closed {
                        at_ms: e.at_ms,
                        tier,
                        l1_ms: int(d, "l1_ms"),
                        l2_ms: int(d, "l2_ms"),
                    });
                }
            }
            _ => {}
        }
    }

    fn finish(self) -> CaseFigures {
        let mut counts = self.counts;
        let mut l1 = Vec::new();
        let mut l2 = Vec::new();
        let mut re = ReEscalations::default();
        for case in self.cases.values() {
            counts.escalated_cases += u64::from(case.escalated);
            re.cases += u64::from(case.re_escalated);
            let closed_in = |tier: &str| {
                case.closed
                    .as_ref()
                    .filter(|c| c.tier.as_deref() == Some(tier))
            };
            match (&case.escalated_l1, closed_in("L1")) {
                (Some((_, ms)), _) => l1.extend(*ms),
                (None, Some(c)) => l1.extend(c.l1_ms),
                (None, None) => {}
            }
            l2.extend(closed_in("L2").and_then(|c| c.l2_ms));
        }
        let mut by_priority: Vec<(String, ResponseAcc)> =
            self.response_by_priority.into_iter().collect();
        by_priority.sort_by_key(|(p, _)| priority_rank(p));
        let escalations_per_day = self
            .escalations_per_day
            .into_iter()
            .map(|(day_ms, (count, re_escalations))| {
                re.escalations += re_escalations;
                DayCount {
                    day_ms,
                    count,
                    re_escalations,
                }
            })
            .collect();
        CaseFigures {
            counts,
            first_response: self.response_all.figures("all"),
            first_response_by_priority: by_priority
                .into_iter()
                .map(|(p, a)| a.figures(&p))
                .collect(),
            first_response_by_tier: self
                .response_by_tier
                .into_iter()
                .map(|(t, a)| a.figures(&t))
                .collect(),
            escalations_per_day,
            l1_time: tier_time(l1),
            l2_time: tier_time(l2),
            re_escalations: re,
        }
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn load(leads: &[LeadState], routed: &BTreeMap<String, u64>) -> Vec<RepLoad> {
    let mut reps: BTreeMap<String, RepLoad> = BTreeMap::new();
    for l in leads {
        let rep = reps
            .entry(l.owner_email.clone())
            .or_insert_with(|| RepLoad {
                owner_email: l.owner_email.clone(),
                ..RepLoad::default()
            });
        if rep.team.is_none() {
            rep.team = l.team.clone();
        }
        if matches!(l.status, LeadStatus::Open | LeadStatus::Touched { .. }) {
            rep.open += 1;
        }
    }
    for (email, n) in routed {
        reps.entry(email.clone())
            .or_insert_with(|| RepLoad {
                owner_email: email.clone(),
                ..RepLoad::default()
            })
            .routed = *n;
    }
    let mut out: Vec<RepLoad> = reps.into_values().collect();
    out.sort_by(|a, b| b.open.cmp(&a.open).then(a.owner_email.cmp(&b.owner_email)));
    out
}

fn histogram_buckets(counts: &[u64]) -> Vec<HistogramBucket> {
    let mut from = 0;
    let mut out = Vec::new();
    for (i, count) in counts.iter().enumerate() {
        let to = HISTOGRAM_BOUNDS_MIN.get(i).copied();
        let label = match to {
            Some(to) => format!("{from}–{to} min"),
            None => format!("{from}+ min"),
        };
        out.push(HistogramBucket {
            label,
            from_min: from,
            to_min: to,
            count: *count,
        });
        from = to.unwrap_or(from);
    }
    out
}

#[cfg(test)]
mod tests {
    //! The case view on `case_*` entries built by hand, with the detail keys the case flow
    //! writes (`src/flows/cases`).

    use super::*;
    use serde_json::json;

    /// 2026-01-01T00:00:00Z, UTC ms.
    const T0: i64 = 1_767_225_600_000;
    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;

    fn ce(at_ms: i64, case: &str, kind: &str, detail: Value) -> AuditEntry {
        AuditEntry::new(at_ms, &format!("crm:cases:{case}"), kind, kind, detail)
    }

    fn opened(at_ms: i64, case: &str, bot: bool, priority: &str) -> AuditEntry {
        let origin = if bot { "Chat" } else { "Email" };
        ce(
            at_ms,
            case,
            "case_opened",
            json!({"bot": bot, "priority": priority, "origin": origin, "status": "New"}),
        )
    }

    fn offered(at_ms: i64, case: &str, assignment: u32, reason: Option<&str>) -> AuditEntry {
        ce(
            at_ms,
            case,
            "case_offered",
            json!({"rule": "l1", "outcome": "assigned", "reason": reason, "explain": [],
                   "agent_email": "ana@x.test", "agent_id": "u1", "tier": "L1",
                   "assignment": assignment, "team": "Support", "policy": "p", "sla_due_ms": at_ms + 15 * MIN}),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn responded(
        at_ms: i64,
        case: &str,
        waited_min: i64,
        tier: &str,
        priority: &str,
        policy: Option<&str>,
        within: bool,
    ) -> AuditEntry {
        ce(
            at_ms,
            case,
            "case_first_response",
            json!({"by": "comment", "at_ms": at_ms, "waited_ms": waited_min * MIN, "tier": tier,
                   "priority": priority, "agent_email": "ana@x.test", "policy": policy,
                   "within_sla": within}),
        )
    }

    fn escalated(at_ms: i64, case: &str, n: u32, l1_ms: i64, reason: Option<&str>) -> AuditEntry {
        ce(
            at_ms,
            case,
            "case_escalated",
            json!({"rule": "l2", "outcome": "assigned", "reason": reason, "explain": [],
                   "agent_email": "lee@x.test", "agent_id": "u9", "tier": "L2", "assignment": n + 1,
                   "team": "L2", "policy": null, "sla_due_ms": null, "escalation": n,
                   "escalation_reason": "status Escalated", "l1_ms": l1_ms}),
        )
    }

    fn closed(at_ms: i64, case: &str, tier: &str, l1_ms: i64, l2_ms: Option<i64>) -> AuditEntry {
        ce(
            at_ms,
            case,
            "case_closed",
            json!({"tier": tier, "escalations": 0, "priority": "High", "l1_ms": l1_ms, "l2_ms": l2_ms}),
        )
    }

    /// c1 High bot: Accept after 2 min, closed in L1, reopened, closed in L1 again (90 min).
    /// c2 High bot: answered late in L1 (10 min), breached, escalated (L1 60 min), answered in
    /// L2 after 20 min, closed after 5 h in L2. c3 Low, not bot: escalated (L1 3 h), answered
    /// in L2 after 40 min without a policy, re-escalated twice (once by fallback), reassigned,
    /// closed after 72 h in L2. c4 Low bot: breached, re-offered by fallback, answered after
    /// 6 min. c5 Critical bot: answered after 1 min.
    fn case_trail() -> Vec<AuditEntry> {
        let day = DAY_MS;
        vec![
            opened(T0, "1", true, "High"),
            offered(T0, "1", 1, None),
            ce(
                T0 + 2 * MIN,
                "1",
                "case_accepted",
                json!({"slack_user": "U1", "assignment": 1, "agent_email": "ana@x.test", "tier": "L1"}),
            ),
            responded(T0 + 2 * MIN, "1", 2, "L1", "High", Some("p"), true),
            closed(T0 + 30 * MIN, "1", "L1", 30 * MIN, None),
            ce(
                T0 + 40 * MIN,
                "1",
                "case_reopened",
                json!({"status": "Reopened"}),
            ),
            closed(T0 + 90 * MIN, "1", "L1", 90 * MIN, None),
            opened(T0, "2", true, "High"),
            offered(T0, "2", 1, None),
            ce(
                T0 + 5 * MIN,
                "2",
                "case_sla_breached",
                json!({"to": "m@x.test", "assignment": 1, "sla_due_ms": T0 + 5 * MIN}),
            ),
            responded(T0 + 10 * MIN, "2", 10, "L1", "High", Some("p"), false),
            escalated(T0 + 2 * HOUR, "2", 1, 60 * MIN, None),
            responded(T0 + 140 * MIN, "2", 20, "L2", "High", Some("p"), true),
            closed(T0 + 440 * MIN, "2", "L2", 60 * MIN, Some(5 * HOUR)),
            opened(T0 + day, "3", false, "Low"),
            escalated(T0 + day + 3 * HOUR, "3", 1, 3 * HOUR, None),
            responded(T0 + day + 220 * MIN, "3", 40, "L2", "Low", None, true),
            escalated(
                T0 + 3 * day + HOUR,
                "3",
                2,
                3 * HOUR,
                Some("nobody available"),
            ),
            ce(
                T0 + 3 * day + 2 * HOUR,
                "3",
                "case_reassigned",
                json!({"rule": "l2", "reason": null, "tier": "L2", "assignment": 4}),
            ),
            escalated(T0 + 3 * day + 5 * HOUR, "3", 3, 3 * HOUR, None),
            closed(
                T0 + 4 * day + 3 * HOUR,
                "3",
                "L2",
                3 * HOUR,
                Some(72 * HOUR),
            ),
            opened(T0 + HOUR, "4", true, "Low"),
            offered(T0 + HOUR, "4", 1, None),
            ce(
                T0 + 90 * MIN,
                "4",
                "case_sla_breached",
                json!({"to": "m@x.test", "assignment": 1, "sla_due_ms": T0 + 75 * MIN}),
            ),
            offered(T0 + 2 * HOUR, "4", 2, Some("nobody available")),
            responded(T0 + 126 * MIN, "4", 6, "L1", "Low", Some("p"), true),
            opened(T0 + 3 * HOUR, "5", true, "Critical"),
            offered(T0 + 3 * HOUR, "5", 1, None),
            responded(T0 + 181 * MIN, "5", 1, "L1", "Critical", Some("p"), true),
            ce(
                T0 + 4 * HOUR,
                "5",
                "case_stale_click",
                json!({"slack_user": "U2", "clicked_assignment": 0, "current_assignment": 1}),
            ),
        ]
    }

    fn cases(entries: &[AuditEntry], since_ms: Option<i64>) -> CaseFigures {
        let mut reversed = entries.to_vec();
        reversed.reverse(); // the builder must not depend on order
        compute(&reversed, &[], since_ms, T0 + 5 * DAY_MS)
            .cases
            .expect("a case view")
    }

    fn row(r: &FirstResponse) -> (&str, u64, Option<i64>, Option<i64>, u64, u64) {
        (
            r.key.as_str(),
            r.count,
            r.p50_ms,
            r.p90_ms,
            r.with_policy,
            r.within_sla,
        )
    }

    #[test]
    fn first_response_percentiles_by_priority_and_tier() {
        let c = cases(&case_trail(), None);
        // All [1, 2, 6, 10, 20, 40] min: p50 rank 3, p90 rank 6; 4 of the 5 with a policy in SLA.
        assert_eq!(
            row(&c.first_response),
            ("all", 6, Some(6 * MIN), Some(40 * MIN), 5, 4)
        );
        assert_eq!(c.first_response.within_sla_ratio, Some(0.8));
        let by_priority: Vec<_> = c.first_response_by_priority.iter().map(row).collect();
        assert_eq!(
            by_priority,
            [
                ("Critical", 1, Some(MIN), Some(MIN), 1, 1),
                // [2, 10, 20]: p50 rank 2, p90 rank 3.
                ("High", 3, Some(10 * MIN), Some(20 * MIN), 3, 2),
                // [6, 40]; the 40 min answer had no policy, so it is out of the SLA share.
                ("Low", 2, Some(6 * MIN), Some(40 * MIN), 1, 1),
            ]
        );
        assert_eq!(
            c.first_response_by_priority[1].within_sla_ratio,
            Some(2.0 / 3.0)
        );
        let by_tier: Vec<_> = c.first_response_by_tier.iter().map(row).collect();
        assert_eq!(
            by_tier,
            [
                // [1, 2, 6, 10]: p50 rank 2, p90 rank 4.
                ("L1", 4, Some(2 * MIN), Some(10 * MIN), 4, 3),
                ("L2", 2, Some(20 * MIN), Some(40 * MIN), 1, 1),
            ]
        );
        assert_eq!(c.first_response_by_tier[0].within_sla_ratio, Some(0.75));
    }

    #[test]
    fn escalations_per_day_re_escalations_and_time_in_each_tier() {
        let c = cases(&case_trail(), None);
        let day = |n: i64, count: u64, re_escalations: u64| DayCount {
            day_ms: T0 + n * DAY_MS,
            count,
            re_escalations,
        };
        assert_eq!(
            c.escalations_per_day,
            [day(0, 1, 0), day(1, 1, 0), day(3, 2, 2)]
        );
        assert_eq!(
            c.re_escalations,
            ReEscalations {
                cases: 1,
                escalations: 2
            }
        );
        // L1: c2 60 min and c3 3 h (their first escalation), c1 90 min (its latest closing in
        // L1); c4 and c5 are still in L1 and open.
        assert_eq!(
            c.l1_time,
            TierTime {
                count: 3,
                p50_ms: Some(90 * MIN),
                p90_ms: Some(3 * HOUR)
            }
        );
        // L2: c2 5 h, c3 72 h.
        assert_eq!(
            c.l2_time,
            TierTime {
                count: 2,
                p50_ms: Some(5 * HOUR),
                p90_ms: Some(72 * HOUR)
            }
        );
    }

    #[test]
    fn case_counts() {
        let c = cases(&case_trail(), None);
        assert_eq!(
            c.counts,
            CaseCounts {
                opened: 5,
                opened_bot: 4,
                opened_other: 1,
                offered: 5,
                accepted: 1,
                first_responses: 6,
                escalations: 4,
                escalated_cases: 2,
                closed: 4,
                closed_l1: 2,
                closed_l2: 2,
                sla_breaches: 2,
                // c4's L1 re-offer and c3's L2 reassignment.
                reassignments: 2,
                // c3's second escalation and c4's re-offer.
                fallbacks: 2,
            }
        );
    }

    #[test]
    fn since_keeps_only_later_case_entries() {
        let c = cases(&case_trail(), Some(T0 + 2 * DAY_MS));
        assert_eq!(c.first_response.count, 0);
        assert_eq!(c.first_response.p50_ms, None);
        assert!(c.first_response_by_priority.is_empty());
        assert_eq!(
            (
                c.counts.escalations,
                c.counts.escalated_cases,
                c.counts.closed
            ),
            (2, 1, 1)
        );
        assert_eq!(
            c.re_escalations,
            ReEscalations {
                cases: 1,
                escalations: 2
            }
        );
        // c3 left L1 before the window; its time in L2 ends inside it.
        assert_eq!(c.l1_time.count, 0);
        assert_eq!(c.l2_time.p50_ms, Some(72 * HOUR));
    }

    #[test]
    fn no_case_entries_no_case_view() {
        let lead = AuditEntry::new(
            T0,
            "crm:people:1",
            "routed",
            "routed",
            json!({"owner_email": "a@x.com", "team": "West"}),
        );
        let r = compute([&lead], &[], None, T0);
        assert_eq!(r.cases, None);
        let json = serde_json::to_value(&r).unwrap();
        assert!(json.get("cases").is_none(), "{json}");
        assert!(!crate::report::render_text(&r).contains("Cases"));
        // Case entries before the window do not make a view either.
        let r = compute(&case_trail(), &[], Some(T0 + 10 * DAY_MS), T0);
        assert_eq!(r.cases, None);
        // A case entry the view does not count: a view, every figure empty.
        let reopened = ce(T0, "9", "case_reopened", json!({"status": "Reopened"}));
        let c = compute([&reopened], &[], None, T0).cases.unwrap();
        assert_eq!(c.counts, CaseCounts::default());
        assert_eq!(c.first_response.key, "all");
        assert_eq!((c.first_response.count, c.first_response.p90_ms), (0, None));
        assert_eq!(c.first_response.within_sla_ratio, None);
        assert_eq!(c.l1_time, TierTime::default());
        assert!(c.escalations_per_day.is_empty());
    }

    #[test]
    fn text_has_a_cases_block() {
        let mut entries = case_trail();
        entries.push(AuditEntry::new(
            T0,
            "crm:people:1",
            "routed",
            "routed",
            json!({"owner_email": "a@x.com", "team": "West"}),
        ));
        let text = crate::report::render_text(&compute(&entries, &[], None, T0 + 5 * DAY_MS));
        let block = &text[text.find("\nCases:\n").expect("a Cases block")..];
        for line in [
            "opened:         5 (4 bot, 1 other); 5 offered, 1 accepted, 4 closed (2 in L1, 2 in L2)",
            "first response: p50 6.0 min / p90 40.0 min, 6 responses, 80.0% within SLA (4 of 5 with a policy)",
            "escalations:    4 to L2 in 2 case(s); 2 re-escalation(s), 1 case(s) escalated more than once",
            "time in L1:     p50 1.5 h / p90 3.0 h (3 case(s))",
            "time in L2:     p50 5.0 h / p90 72.0 h (2 case(s))",
            "SLA, routing:   2 breaches, 2 reassignments, 2 fallbacks",
            "priority High",
            "tier L2",
            "2026-01-04    2 (2 re-escalations)",
        ] {
            assert!(block.contains(line), "missing {line:?} in\n{block}");
        }
    }
}
