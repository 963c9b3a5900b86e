//! The figures of `handoff report`, computed from the audit trail and the leads of record.
//! Pure: no store, no clock; [`ReportBuilder`] takes entries one at a time (so the trail is
//! streamed, never loaded whole) and [`ReportBuilder::finish`] adds the [`LeadState`]s.
//!
//! Units: durations in ms (`*_ms`), times in UTC ms, ratios in 0..=1. Percentiles use the
//! nearest-rank method: p = the value at rank ⌈p·n⌉ of the n sorted values (1-based), so a
//! reported percentile is always an observed value. The audit kinds read here and their detail
//! keys are those of the session's shared interfaces (`notes/s2/interfaces.md`); the `gates`
//! detail is an array of [`crate::mapping::GateResult`] (`{gate, passed, reason, detail}`).
//! Definitions of every figure: `docs/report.md`.

pub use super::model::{
    Acceptance, Completeness, HistogramBucket, HourCount, RecycleRate, RepLoad, Report, TeamFigures,
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
