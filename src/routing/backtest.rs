//! `backtest`: route historical leads offline with one or two rule sets, writing nothing.
//!
//! Leads come from a CSV in the datablist customers format (`Index, Customer Id, First Name,
//! Last Name, Company, City, Country, Phone 1, Phone 2, Email, Subscription Date, Website`).
//! Each row becomes a [`Person`] (sales-ready; the CSV has no consent column, so every row is
//! taken as consented), then the lead record of the CRM the lead mapping reads (the caller's
//! `as_record`, e.g. `crate::config::lead_record`), is mapped with the lead mapping, passes or
//! fails its gates, and the qualified ones are routed in file order with the routing state
//! carried forward from lead to lead. Every lead is routed as if it arrived at `now`; the
//! simulated load of each rep (for least-loaded pools) starts at 0 and grows with each
//! assignment. Nothing is written anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::engine::{field_text, route, LoadSnapshot, Outcome, RouteContext};
use super::rules::RuleSet;
use super::state::RoutingState;
use crate::mapping::Mapping;
use handoff_connector::{Person, Record};

/// Why a backtest could not run.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// The CSV could not be read or parsed.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: String,
        /// The reader's reason.
        #[source]
        source: csv::Error,
    },
    /// The lead mapping reads a CRM whose lead records the backtest cannot build.
    #[error(
        "the lead mapping reads `{0}` records, which the backtest cannot build from a CSV row"
    )]
    UnknownSystem(String),
    /// A required column is missing from the header.
    #[error("{path}: missing column \"{column}\"")]
    MissingColumn {
        /// The file.
        path: String,
        /// The column.
        column: &'static str,
    },
    /// No rule set, or more than two.
    #[error("backtest takes one or two rule sets, got {0}")]
    RuleSetCount(usize),
}

/// Gate outcomes over every row.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GateSummary {
    /// Rows that passed every gate (and were routed).
    pub passed: usize,
    /// Rows that failed at least one gate.
    pub failed: usize,
    /// Failed gates by reason code (a row can fail several).
    pub by_reason: BTreeMap<String, usize>,
}

/// How one lead was routed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LeadRoute {
    /// The CSV's `Customer Id`.
    pub id: String,
    /// The mapped country code, if any.
    pub country_code: Option<String>,
    /// The deciding rule, or `fallback`.
    pub rule: String,
    /// The owner email; `None` when deferred.
    pub owner: Option<String>,
    /// The owner's team, when a rep of one.
    pub team: Option<String>,
    /// `assigned`, `deferred` or `fallback`.
    pub outcome: String,
}

/// One rule set's results.
#[derive(Debug, Clone, Serialize)]
pub struct RuleSetResult {
    /// Rule set name.
    pub name: String,
    /// Its file.
    pub origin: String,
    /// Leads assigned by a rule.
    pub assigned: usize,
    /// Leads deferred (nobody available).
    pub deferred: usize,
    /// Leads given to a queue owner, manager or the global fallback.
    pub fallback: usize,
    /// Leads per owner email (deferred leads are not counted).
    pub per_rep: BTreeMap<String, usize>,
    /// Leads per team of the owner (`(no team)` for queue, manager and fallback owners).
    pub per_team: BTreeMap<String, usize>,
    /// Leads per deciding rule.
    pub per_rule: BTreeMap<String, usize>,
    /// Every routed lead in file order.
    pub leads: Vec<LeadRoute>,
}

/// The differences between two rule sets over the same leads.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// First rule set's name.
    pub a: String,
    /// Second rule set's name.
    pub b: String,
    /// Leads per owner in B minus in A, for owners whose count changed.
    pub per_rep_delta: BTreeMap<String, i64>,
    /// Leads per team in B minus in A, for teams whose count changed.
    pub per_team_delta: BTreeMap<String, i64>,
    /// Leads whose owner (or deferral) differs between A and B.
    pub changed_owner: usize,
}

/// A backtest's results.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestReport {
    /// The CSV read.
    pub leads_file: String,
    /// The routing time used for every lead (UTC).
    pub now_utc: String,
    /// Data rows read.
    pub rows: usize,
    /// Gate outcomes.
    pub gates: GateSummary,
    /// Per rule set, in the order given.
    pub results: Vec<RuleSetResult>,
    /// With two rule sets: B against A.
    pub diff: Option<Diff>,
}

const COLUMNS: [&str; 10] = [
    "Customer Id",
    "First Name",
    "Last Name",
    "Company",
    "City",
    "Country",
    "Phone 1",
    "Phone 2",
    "Email",
    "Website",
];

/// Reads every row of a datablist-format CSV as a sales-ready, consented [`Person`].
///
/// # Errors
/// [`BacktestError::Csv`] or [`BacktestError::MissingColumn`].
pub fn read_people(leads_csv: &Path) -> Result<Vec<Person>, BacktestError> {
    let path = leads_csv.display().to_string();
    let csv_err = |source| BacktestError::Csv {
        path: path.clone(),
        source,
    };
    let mut reader = csv::Reader::from_path(leads_csv).map_err(csv_err)?;
    let headers = reader.headers().map_err(csv_err)?.clone();
    let mut idx = [0usize; 10];
    for (i, col) in COLUMNS.iter().enumerate() {
        idx[i] =
            headers
                .iter()
                .position(|h| h.trim() == *col)
                .ok_or(BacktestError::MissingColumn {
                    path: path.clone(),
                    column: col,
                })?;
    }
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.map_err(csv_err)?;
        let f = |i: usize| row.get(idx[i]).unwrap_or("");
        let text = |i: usize| f(i).to_string();
        out.push(Person {
            id: text(0),
            first_name: text(1),
            last_name: text(2),
            company: text(3),
            city: text(4),
            country: text(5),
            phone: text(6),
            mobile_phone: text(7),
            email: text(8),
            website: text(9),
            source: None,
            consent: true,
            sales_ready: true,
        });
    }
    Ok(out)
}

/// Routes every qualified lead of `leads_csv` with each rule set (one or two), offline.
/// `as_record` turns a row into the lead record of the CRM `mapping` reads.
///
/// # Errors
/// As [`read_people`]; [`BacktestError::RuleSetCount`] unless one or two rule sets are given;
/// [`BacktestError::UnknownSystem`] when `as_record` knows no record for the mapping's CRM.
pub fn run(
    rule_sets: &[RuleSet],
    leads_csv: &Path,
    mapping: &Mapping,
    as_record: &dyn Fn(&Person) -> Option<Record>,
    now: Timestamp,
) -> Result<BacktestReport, BacktestError> {
    if rule_sets.is_empty() || rule_sets.len() > 2 {
        return Err(BacktestError::RuleSetCount(rule_sets.len()));
    }
    let people = read_people(leads_csv)?;
    let mut gates = GateSummary::default();
    let mut qualified: Vec<(String, Value)> = Vec::new();
    for person in &people {
        let record = as_record(person)
            .ok_or_else(|| BacktestError::UnknownSystem(mapping.source().system.clone()))?;
        let out = mapping.apply(&record.to_json());
        if out.passed() {
            gates.passed += 1;
            qualified.push((person.id.clone(), Value::Object(out.record)));
        } else {
            gates.failed += 1;
            for r in out.failure_reasons() {
                *gates.by_reason.entry(r.to_owned()).or_default() += 1;
            }
        }
    }
    let results: Vec<RuleSetResult> = rule_sets
        .iter()
        .map(|rs| route_all(rs, &qualified, now))
        .collect();
    let diff = match results.as_slice() {
        [a, b] => Some(diff(a, b)),
        _ => None,
    };
    Ok(BacktestReport {
        leads_file: leads_csv.display().to_string(),
        now_utc: now.to_string(),
        rows: people.len(),
        gates,
        results,
        diff,
    })
}

fn route_all(rs: &RuleSet, leads: &[(String, Value)], now: Timestamp) -> RuleSetResult {
    let mut state = RoutingState::default();
    let mut ctx = RouteContext {
        load: Some(LoadSnapshot {
            as_of: now,
            open_leads: BTreeMap::new(),
        }),
        ..RouteContext::default()
    };
    let mut r = RuleSetResult {
        name: rs.name().to_owned(),
        origin: rs.origin().to_owned(),
        assigned: 0,
        deferred: 0,
        fallback: 0,
        per_rep: BTreeMap::new(),
        per_team: BTreeMap::new(),
        per_rule: BTreeMap::new(),
        leads: Vec::with_capacity(leads.len()),
    };
    for (id, lead) in leads {
        let d = route(rs, lead, &ctx, &state, now);
        state.apply(&d.updates);
        let outcome = match &d.outcome {
            Outcome::Assigned => {
                r.assigned += 1;
                "assigned"
            }
            Outcome::Deferred { .. } => {
                r.deferred += 1;
                "deferred"
            }
            Outcome::Fallback { .. } => {
                r.fallback += 1;
                "fallback"
            }
        };
        if let Some(o) = &d.owner {
            *r.per_rep.entry(o.email.clone()).or_default() += 1;
            *r.per_team
                .entry(o.team.clone().unwrap_or_else(|| "(no team)".into()))
                .or_default() += 1;
            if let Some(load) = ctx.load.as_mut() {
                *load.open_leads.entry(o.email.clone()).or_default() += 1;
            }
        }
        *r.per_rule.entry(d.rule.clone()).or_default() += 1;
        r.leads.push(LeadRoute {
            id: id.clone(),
            country_code: field_text(lead, "country_code"),
            rule: d.rule,
            owner: d.owner.as_ref().map(|o| o.email.clone()),
            team: d.owner.and_then(|o| o.team),
            outcome: outcome.to_owned(),
        });
    }
    r
}

fn delta(a: &BTreeMap<String, usize>, b: &BTreeMap<String, usize>) -> BTreeMap<String, i64> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let d = *b.get(k).unwrap_or(&0) as i64 - *a.get(k).unwrap_or(&0) as i64;
            (d != 0).then(|| (k.clone(), d))
        })
        .collect()
}

fn diff(a: &RuleSetResult, b: &RuleSetResult) -> Diff {
    Diff {
        a: a.name.clone(),
        b: b.name.clone(),
        per_rep_delta: delta(&a.per_rep, &b.per_rep),
        per_team_delta: delta(&a.per_team, &b.per_team),
        changed_owner: a
            .leads
            .iter()
            .zip(&b.leads)
            .filter(|(x, y)| x.owner != y.owner)
            .count(),
    }
}

/// The report as text: gates, then per rule set the outcome counts and distribution per team
/// and rep, then the differences.
pub fn render_text(r: &BacktestReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "backtest of {} at {}: {} rows",
        r.leads_file, r.now_utc, r.rows
    );
    let _ = writeln!(
        s,
        "gates: {} passed, {} failed",
        r.gates.passed, r.gates.failed
    );
    for (reason, n) in &r.gates.by_reason {
        let _ = writeln!(s, "  {reason:<24} {n}");
    }
    for res in &r.results {
        let total = res.assigned + res.deferred + res.fallback;
        let _ = writeln!(
            s,
            "\nrule set {} ({}): {} routed: {} assigned, {} deferred, {} fallback",
            res.name, res.origin, total, res.assigned, res.deferred, res.fallback
        );
        let _ = writeln!(s, "  by rule:");
        for (rule, n) in &res.per_rule {
            let _ = writeln!(s, "    {rule:<28} {n:>6}");
        }
        let _ = writeln!(s, "  by team:");
        for (team, n) in &res.per_team {
            let share = if total == 0 {
                0.0
            } else {
                100.0 * *n as f64 / total as f64
            };
            let _ = writeln!(s, "    {team:<28} {n:>6} {share:>5.1}%");
        }
        let _ = writeln!(s, "  by owner:");
        for (rep, n) in &res.per_rep {
            let _ = writeln!(s, "    {rep:<40} {n:>6}");
        }
    }
    if let Some(d) = &r.diff {
        let _ = writeln!(
            s,
            "\n{} -> {}: {} leads changed owner",
            d.a, d.b, d.changed_owner
        );
        for (team, n) in &d.per_team_delta {
            let _ = writeln!(s, "    {team:<40} {n:>+6}");
        }
        for (rep, n) in &d.per_rep_delta {
            let _ = writeln!(s, "    {rep:<40} {n:>+6}");
        }
    }
    s
}
