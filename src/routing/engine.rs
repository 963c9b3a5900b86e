//! The routing engine: one mapped lead in, one [`Decision`] out.
//!
//! Pure: no I/O, no clock reads, no sled. The caller passes the lead, the [`RouteContext`]
//! (the matched account's owner, a load snapshot, reps marked out of office in the CRM), the
//! current [`RoutingState`] and `now`; it gets back the owner (or a deferral), the rule that
//! decided, the [`StateUpdate`]s to persist atomically with the decision, and an
//! [`Explanation`] of every rule evaluated.
//!
//! Rules are tried in order; the first whose conditions and strategy criteria match decides:
//! - if some pool rep is available (team open, not out of office) and under their caps, one of
//!   them is chosen (strict or smooth weighted round robin, or least loaded);
//! - if no pool rep is available at all, the rule's `when_nobody_available` applies (queue
//!   owner, manager, or defer until the pool's next opening);
//! - if reps are available but every one is at a cap, the rule is exhausted and the next rule
//!   is tried.
//!
//! When no rule decides, the global fallback owner gets the lead with the reason. Every
//! decision has exactly one owner, or none and a deferral time.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::explain::{CandidateTrace, CapUse, Explanation, LoadInfo, RuleTrace, Verdict};
use super::rules::{Cond, Distribute, Nobody, Pool, Rule, RuleSet, Segment, Strategy, Territory};
use super::state::{RoutingState, StateUpdate};

/// Open leads per rep as read from the CRM at `as_of`.
///
/// Stored as flow state `routing:load` by the daemon's refresher (`daemon::load`), as JSON
/// `{"as_of": "<RFC 3339 UTC>", "open_leads": {"rep@x": N}}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoadSnapshot {
    /// When the figures were read (UTC; RFC 3339 in JSON).
    #[serde(serialize_with = "ser_ts", deserialize_with = "de_ts")]
    pub as_of: Timestamp,
    /// Open leads per rep email; a missing rep counts as 0.
    pub open_leads: BTreeMap<String, u32>,
}

impl LoadSnapshot {
    /// The reps a snapshot must cover for `rules`: every rep of a pool that distributes by
    /// load (`strategy: least_loaded` or `distribute: least_loaded`), lowercase emails.
    pub fn reps_needed(rules: &RuleSet) -> BTreeSet<String> {
        rules
            .rules
            .iter()
            .filter(|r| r.distribute == Distribute::LeastLoaded)
            .filter_map(|r| r.pool.as_ref())
            .flat_map(|p| p.reps.iter())
            .map(|&(t, m)| rules.teams[t].members[m].email.clone())
            .collect()
    }
}

/// What the caller knows about the world besides the lead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteContext {
    /// The owner email of the existing account the lead matched, if any (for named accounts).
    pub account_owner: Option<String>,
    /// The latest load snapshot (for least-loaded pools).
    pub load: Option<LoadSnapshot>,
    /// Reps marked out of office by a CRM field right now (assumed away for the rest of
    /// their team's local day).
    pub out_of_office: BTreeSet<String>,
    /// Reps never chosen for this decision, as if unavailable (lowercase emails): the current
    /// and previous owners when an SLA breach reassigns a lead.
    pub exclude: BTreeSet<String>,
}

/// Who the owner is, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    /// A rep chosen from a pool.
    Rep,
    /// The owner of the matched account (named accounts).
    AccountOwner,
    /// A team's or rule's queue owner, because nobody was available.
    QueueOwner,
    /// A manager, because nobody was available.
    Manager,
    /// The rule set's global fallback.
    Fallback,
}

/// The owner of record a decision names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerRef {
    /// Owner email.
    pub email: String,
    /// In which role.
    pub kind: OwnerKind,
    /// The owner's team, when the owner is a rep of one.
    pub team: Option<String>,
}

/// How the lead ended up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A rep (or the account owner) was chosen by the rule.
    Assigned,
    /// Nobody is available; route again at `until_utc` (the pool's next opening).
    Deferred {
        /// The next opening, UTC.
        #[serde(serialize_with = "ser_ts")]
        until_utc: Timestamp,
    },
    /// A queue owner, manager or the global fallback got the lead, for `reason`.
    Fallback {
        /// Why, in words.
        reason: String,
    },
}

/// A routing decision.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// The owner of record; `None` only when [`Outcome::Deferred`].
    pub owner: Option<OwnerRef>,
    /// How it ended.
    pub outcome: Outcome,
    /// The deciding rule's name, or `fallback`.
    pub rule: String,
    /// State changes to persist with the decision.
    pub updates: Vec<StateUpdate>,
    /// Why.
    pub explain: Explanation,
}

pub(crate) fn ser_ts<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_string())
}

/// Reads a [`Timestamp`] written by [`ser_ts`] (RFC 3339).
pub(crate) fn de_ts<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// A lead field as text: strings trimmed (empty = missing), numbers and booleans as written.
pub(crate) fn field_text(lead: &Value, field: &str) -> Option<String> {
    match lead.get(field)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A lead field as a number (numbers, or strings like `1,200` / `1200.5`).
fn field_number(lead: &Value, field: &str) -> Option<f64> {
    match lead.get(field)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().replace([',', '_'], "").parse().ok(),
        _ => None,
    }
}

/// Whether `lead` meets condition `c` (`Err` says why not).
pub(crate) fn check_cond(lead: &Value, c: &Cond) -> Result<(), String> {
    let v = field_text(lead, &c.field);
    let f = &c.field;
    if let Some(want) = c.exists {
        return if v.is_some() == want {
            Ok(())
        } else if want {
            Err(format!("{f} is missing"))
        } else {
            Err(format!("{f} is set ({})", v.unwrap_or_default()))
        };
    }
    if c.min.is_some() || c.max.is_some() {
        let n = field_number(lead, f).ok_or_else(|| format!("{f} is missing or not a number"))?;
        return in_band(n, c.min, c.max).map_err(|why| format!("{f} {why}"));
    }
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b.trim());
    if let Some(want) = &c.not_equals {
        return match v {
            Some(v) if eq(&v, want) => Err(format!("{f} is {v}")),
            _ => Ok(()),
        };
    }
    if let Some(list) = &c.not_in {
        return match v {
            Some(v) if list.iter().any(|x| eq(&v, x)) => {
                Err(format!("{f} is {v}, which is excluded"))
            }
            _ => Ok(()),
        };
    }
    let v = v.ok_or_else(|| format!("{f} is missing"))?;
    if let Some(want) = &c.equals {
        return if eq(&v, want) {
            Ok(())
        } else {
            Err(format!("{f} is {v}, not {want}"))
        };
    }
    if let Some(list) = &c.in_ {
        return if list.iter().any(|x| eq(&v, x)) {
            Ok(())
        } else {
            Err(format!("{f} is {v}, not one of [{}]", list.join(", ")))
        };
    }
    Ok(())
}

fn in_band(n: f64, min: Option<f64>, max: Option<f64>) -> Result<(), String> {
    if let Some(lo) = min {
        if n < lo {
            return Err(format!("{n} is below {lo}"));
        }
    }
    if let Some(hi) = max {
        if n >= hi {
            return Err(format!("{n} is not below {hi}"));
        }
    }
    Ok(())
}

fn check_territory(lead: &Value, t: &Territory) -> Result<String, String> {
    let code = field_text(lead, "country_code").map(|c| c.to_ascii_uppercase());
    if let Some(code) = &code {
        if t.country_codes.contains(code) {
            return Ok(format!("country_code {code} is in the territory"));
        }
    }
    let state = field_text(lead, "state").map(|s| s.to_ascii_uppercase());
    if let Some(state) = &state {
        if t.states.contains(state) {
            return Ok(format!("state {state} is in the territory"));
        }
    }
    let postal = field_text(lead, "postal_code").map(|s| s.to_ascii_uppercase().replace(' ', ""));
    if let Some(pc) = &postal {
        for (lo, hi) in &t.postal_ranges {
            if let Some(head) = pc.get(..lo.len()) {
                if lo.as_str() <= head && head <= hi.as_str() {
                    return Ok(format!("postal_code {pc} is in {lo}-{hi}"));
                }
            }
        }
    }
    let show = |o: &Option<String>| o.clone().unwrap_or_else(|| "missing".into());
    Err(format!(
        "not in the territory (country_code {}, state {}, postal_code {})",
        show(&code),
        show(&state),
        show(&postal)
    ))
}

fn check_segment(lead: &Value, s: &Segment) -> Result<String, String> {
    let mut why = Vec::new();
    if !s.industries.is_empty() {
        let v = field_text(lead, "industry").ok_or("industry is missing")?;
        if !s.industries.contains(&v.to_lowercase()) {
            return Err(format!("industry {v} is not in the segment"));
        }
        why.push(format!("industry {v}"));
    }
    for (field, band) in [
        ("employees", s.employees),
        ("annual_revenue", s.annual_revenue),
    ] {
        if let Some(b) = band {
            let n = field_number(lead, field)
                .ok_or_else(|| format!("{field} is missing or not a number"))?;
            in_band(n, b.min, b.max).map_err(|w| format!("{field} {w}"))?;
            why.push(format!("{field} {n}"));
        }
    }
    if !s.product_interest.is_empty() {
        let v = field_text(lead, "product_interest").ok_or("product_interest is missing")?;
        let hit = v
            .split([',', ';'])
            .any(|p| s.product_interest.contains(&p.trim().to_lowercase()));
        if !hit {
            return Err(format!("product_interest {v} is not in the segment"));
        }
        why.push(format!("product_interest {v}"));
    }
    Ok(format!("in the segment ({})", why.join(", ")))
}

/// Why `rep` (of team `team`, if known) is unavailable at `at`, `None` when available.
/// `now` is the decision time: CRM out-of-office flags hold for the local day of `now`.
fn unavailable(
    rules: &RuleSet,
    ctx: &RouteContext,
    team: Option<usize>,
    rep: &str,
    at: Timestamp,
    now: Timestamp,
) -> Option<String> {
    if ctx.exclude.contains(rep) {
        return Some("excluded (had this lead before)".to_owned());
    }
    let Some(ti) = team else {
        return ctx
            .out_of_office
            .contains(rep)
            .then(|| "out of office (CRM)".to_owned());
    };
    let t = &rules.teams[ti];
    if let Some(why) = t.calendar.closed_because(at) {
        return Some(format!("team {} closed: {why}", t.name));
    }
    let date = t.calendar.local_date(at);
    if let Some(o) = rules
        .out_of_office
        .iter()
        .find(|o| o.rep == rep && o.from <= date && date <= o.to)
    {
        return Some(format!("out of office {} to {} (config)", o.from, o.to));
    }
    if ctx.out_of_office.contains(rep) && date == t.calendar.local_date(now) {
        return Some("out of office (CRM)".to_owned());
    }
    None
}

/// The first instant after `now` at which `rep` is available, from their team's openings.
fn next_available(
    rules: &RuleSet,
    ctx: &RouteContext,
    team: usize,
    rep: &str,
    now: Timestamp,
) -> Option<Timestamp> {
    let cal = &rules.teams[team].calendar;
    cal.openings_after(now)
        .find(|t| unavailable(rules, ctx, Some(team), rep, *t, now).is_none())
}

struct Cand {
    rep: String,
    team: Option<usize>,
    member: Option<usize>,
    trace: CandidateTrace,
    eligible: bool,
}

fn candidates(
    rules: &RuleSet,
    ctx: &RouteContext,
    state: &RoutingState,
    reps: &[(Option<usize>, Option<usize>, String)],
    caps: bool,
    now: Timestamp,
) -> Vec<Cand> {
    reps.iter()
        .map(|(team, member, rep)| {
            let m = team.zip(*member).map(|(t, m)| &rules.teams[t].members[m]);
            let why = unavailable(rules, ctx, *team, rep, now, now);
            let daily = m
                .filter(|_| caps)
                .and_then(|m| m.daily_cap)
                .map(|cap| CapUse {
                    used: state.day_count(rep, now),
                    cap,
                });
            let weekly = m
                .filter(|_| caps)
                .and_then(|m| m.weekly_cap)
                .map(|cap| CapUse {
                    used: state.week_count(rep, now),
                    cap,
                });
            let at_cap = daily.iter().chain(weekly.iter()).any(|c| c.used >= c.cap);
            let open_leads = ctx
                .load
                .as_ref()
                .map(|l| l.open_leads.get(rep).copied().unwrap_or(0));
            Cand {
                rep: rep.clone(),
                team: *team,
                member: *member,
                eligible: why.is_none() && !at_cap,
                trace: CandidateTrace {
                    rep: rep.clone(),
                    team: team.map(|t| rules.teams[t].name.clone()),
                    weight: m.map_or(1.0, |m| f64::from(m.weight_milli) / 1000.0),
                    credit: None,
                    daily,
                    weekly,
                    at_cap,
                    available: why.is_none(),
                    unavailable_because: why,
                    open_leads,
                    chosen: false,
                },
            }
        })
        .collect()
}

/// Picks among eligible candidates; returns the index and the state updates of the rotation.
fn pick(
    rules: &RuleSet,
    pool: &Pool,
    distribute: Distribute,
    cands: &mut [Cand],
    state: &RoutingState,
) -> (usize, Vec<StateUpdate>, String) {
    let n = cands.len();
    let pos = state.rotations.get(&pool.key).copied().unwrap_or(0) as usize % n;
    let order = (0..n).map(|j| (pos + j) % n);
    match distribute {
        Distribute::LeastLoaded => {
            let load = |c: &Cand| c.trace.open_leads.unwrap_or(0);
            let min = cands
                .iter()
                .filter(|c| c.eligible)
                .map(load)
                .min()
                .unwrap_or(0);
            let i = order
                .clone()
                .find(|i| cands[*i].eligible && load(&cands[*i]) == min)
                .unwrap_or(0);
            let ties = cands
                .iter()
                .filter(|c| c.eligible && load(c) == min)
                .count();
            let how = format!("least loaded: {min} open leads ({ties} tied; ties broken by rotation from position {pos})");
            (
                i,
                vec![StateUpdate::Rotation {
                    pool: pool.key.clone(),
                    next: ((i + 1) % n) as u64,
                }],
                how,
            )
        }
        Distribute::RoundRobin => {
            let weighted = pool
                .reps
                .iter()
                .any(|(t, m)| rules.teams[*t].members[*m].weight_milli != 1000);
            if !weighted {
                let i = order.clone().find(|i| cands[*i].eligible).unwrap_or(0);
                let how = format!("strict round robin: first eligible rep from position {pos}");
                return (
                    i,
                    vec![StateUpdate::Rotation {
                        pool: pool.key.clone(),
                        next: ((i + 1) % n) as u64,
                    }],
                    how,
                );
            }
            // Smooth weighted round robin over the eligible reps.
            let stored = state.credits.get(&pool.key);
            let weight = |c: &Cand| {
                i64::from(
                    c.team
                        .zip(c.member)
                        .map_or(1000, |(t, m)| rules.teams[t].members[m].weight_milli),
                )
            };
            let total: i64 = cands.iter().filter(|c| c.eligible).map(weight).sum();
            let mut credit: Vec<i64> = cands
                .iter()
                .map(|c| stored.and_then(|s| s.get(&c.rep)).copied().unwrap_or(0))
                .collect();
            for (i, c) in cands.iter().enumerate() {
                if c.eligible {
                    credit[i] += weight(c);
                }
            }
            let mut best: Option<usize> = None;
            for (i, c) in cands.iter().enumerate() {
                if c.eligible && best.is_none_or(|b| credit[i] > credit[b]) {
                    best = Some(i);
                }
            }
            let i = best.unwrap_or(0);
            credit[i] -= total;
            let mut changed = BTreeMap::new();
            for (j, c) in cands.iter_mut().enumerate() {
                c.trace.credit = Some(credit[j]);
                if c.eligible {
                    changed.insert(c.rep.clone(), credit[j]);
                }
            }
            let how = format!("smooth weighted round robin: highest credit among eligible reps (total eligible weight {})", total as f64 / 1000.0);
            (
                i,
                vec![StateUpdate::Credits {
                    pool: pool.key.clone(),
                    credits: changed,
                }],
                how,
            )
        }
    }
}

/// Routes one mapped lead (a JSON object of the lead mapping's output fields).
pub fn route(
    rules: &RuleSet,
    lead: &Value,
    ctx: &RouteContext,
    state: &RoutingState,
    now: Timestamp,
) -> Decision {
    let mut traces: Vec<RuleTrace> = Vec::new();
    let mut fallback_reason: Option<String> = None;
    let load = ctx.load.as_ref().map(|l| LoadInfo {
        as_of: l.as_of.to_string(),
        age_seconds: now.as_second() - l.as_of.as_second(),
    });
    for rule in &rules.rules {
        let mut trace = RuleTrace {
            rule: rule.name.clone(),
            strategy: rule.strategy.name().to_owned(),
            verdict: Verdict::Skipped,
            detail: String::new(),
            distribution: None,
            candidates: Vec::new(),
        };
        if let Some(why) = rule.when.iter().find_map(|c| check_cond(lead, c).err()) {
            trace.detail = format!("condition failed: {why}");
            traces.push(trace);
            continue;
        }
        let matched = match &rule.strategy {
            Strategy::Territory(t) => check_territory(lead, t),
            Strategy::Segment(s) => check_segment(lead, s),
            Strategy::NamedAccount => ctx
                .account_owner
                .as_ref()
                .map(|o| format!("matched account owned by {o}"))
                .ok_or_else(|| "no matched account with an owner".to_owned()),
            Strategy::RoundRobin | Strategy::LeastLoaded => {
                Ok("no criteria beyond `when`".to_owned())
            }
        };
        let matched = match matched {
            Ok(m) => m,
            Err(why) => {
                trace.detail = why;
                traces.push(trace);
                continue;
            }
        };
        match decide(rules, rule, ctx, state, now, &mut trace, &matched) {
            Step::Done(owner, outcome, updates) => {
                traces.push(trace);
                let choice = choice_text(&owner, &outcome, &rule.name);
                return Decision {
                    owner,
                    outcome,
                    rule: rule.name.clone(),
                    updates,
                    explain: Explanation {
                        rule_set: rules.name.clone(),
                        now_utc: now.to_string(),
                        gates: Vec::new(),
                        rules: traces,
                        load,
                        choice,
                    },
                };
            }
            Step::Next(why) => {
                fallback_reason = Some(format!("rule {}: {why}", rule.name));
                traces.push(trace);
            }
        }
    }
    let reason = fallback_reason.unwrap_or_else(|| "no rule matched".to_owned());
    let owner = Some(OwnerRef {
        email: rules.fallback.clone(),
        kind: OwnerKind::Fallback,
        team: None,
    });
    let outcome = Outcome::Fallback { reason };
    let choice = choice_text(&owner, &outcome, "fallback");
    Decision {
        owner,
        outcome,
        rule: "fallback".to_owned(),
        updates: Vec::new(),
        explain: Explanation {
            rule_set: rules.name.clone(),
            now_utc: now.to_string(),
            gates: Vec::new(),
            rules: traces,
            load,
            choice,
        },
    }
}

enum Step {
    Done(Option<OwnerRef>, Outcome, Vec<StateUpdate>),
    Next(String),
}

fn choice_text(owner: &Option<OwnerRef>, outcome: &Outcome, rule: &str) -> String {
    match (owner, outcome) {
        (Some(o), Outcome::Assigned) => format!("{} ({:?}) by rule {rule}", o.email, o.kind),
        (Some(o), Outcome::Fallback { reason }) => {
            format!("{} ({:?}) by rule {rule}: {reason}", o.email, o.kind)
        }
        (_, Outcome::Deferred { until_utc }) => {
            format!("deferred until {until_utc} by rule {rule}: nobody available")
        }
        (None, _) => format!("no owner by rule {rule}"),
    }
}

fn decide(
    rules: &RuleSet,
    rule: &Rule,
    ctx: &RouteContext,
    state: &RoutingState,
    now: Timestamp,
    trace: &mut RuleTrace,
    matched: &str,
) -> Step {
    let (reps, caps) = match &rule.pool {
        Some(pool) => (
            pool.reps
                .iter()
                .map(|(t, m)| {
                    (
                        Some(*t),
                        Some(*m),
                        rules.teams[*t].members[*m].email.clone(),
                    )
                })
                .collect::<Vec<_>>(),
            true,
        ),
        None => {
            let owner = ctx
                .account_owner
                .clone()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let idx = rules.rep_index.get(&owner).copied();
            (vec![(idx.map(|i| i.0), idx.map(|i| i.1), owner)], false)
        }
    };
    let mut cands = candidates(rules, ctx, state, &reps, caps, now);
    let any_eligible = cands.iter().any(|c| c.eligible);
    let any_available = cands.iter().any(|c| c.trace.available);
    let result = if any_eligible {
        let (i, mut updates, how) = match &rule.pool {
            Some(pool) => pick(rules, pool, rule.distribute, &mut cands, state),
            None => (
                0,
                Vec::new(),
                "the account owner keeps the account's leads (caps do not apply)".to_owned(),
            ),
        };
        cands[i].trace.chosen = true;
        let c = &cands[i];
        updates.push(StateUpdate::Count {
            rep: c.rep.clone(),
            counts: state.counts_after_one(&c.rep, now),
        });
        trace.verdict = Verdict::Matched;
        trace.detail = format!("{matched}; chose {}", c.rep);
        trace.distribution = Some(how);
        let kind = if rule.pool.is_some() {
            OwnerKind::Rep
        } else {
            OwnerKind::AccountOwner
        };
        let owner = OwnerRef {
            email: c.rep.clone(),
            kind,
            team: c.team.map(|t| rules.teams[t].name.clone()),
        };
        Step::Done(Some(owner), Outcome::Assigned, updates)
    } else if any_available {
        trace.verdict = Verdict::Exhausted;
        trace.detail = format!("{matched}; every available rep is at a cap");
        Step::Next("every available rep is at a cap".to_owned())
    } else {
        trace.verdict = Verdict::NobodyAvailable;
        let first_team = cands.iter().find_map(|c| c.team);
        let first_manager = cands
            .iter()
            .find_map(|c| c.team.zip(c.member))
            .map(|(t, m)| rules.teams[t].members[m].manager.clone());
        let (action, step) = match rule.nobody {
            Nobody::QueueOwner => {
                let q = rule
                    .queue_owner
                    .clone()
                    .or_else(|| first_team.and_then(|t| rules.teams[t].queue_owner.clone()));
                match q {
                    Some(q) => (
                        "queue owner",
                        Step::Done(
                            Some(OwnerRef {
                                email: q,
                                kind: OwnerKind::QueueOwner,
                                team: first_team.map(|t| rules.teams[t].name.clone()),
                            }),
                            Outcome::Fallback {
                                reason: format!(
                                    "nobody available in rule {}: queue owner",
                                    rule.name
                                ),
                            },
                            Vec::new(),
                        ),
                    ),
                    None => (
                        "queue owner",
                        Step::Next("nobody available and no queue owner".to_owned()),
                    ),
                }
            }
            Nobody::Manager => match rule.manager.clone().or(first_manager) {
                Some(m) => (
                    "manager",
                    Step::Done(
                        Some(OwnerRef {
                            email: m,
                            kind: OwnerKind::Manager,
                            team: first_team.map(|t| rules.teams[t].name.clone()),
                        }),
                        Outcome::Fallback {
                            reason: format!("nobody available in rule {}: manager", rule.name),
                        },
                        Vec::new(),
                    ),
                ),
                None => (
                    "manager",
                    Step::Next("nobody available and no manager known".to_owned()),
                ),
            },
            Nobody::Defer => {
                let until = cands
                    .iter()
                    .filter_map(|c| {
                        c.team
                            .and_then(|t| next_available(rules, ctx, t, &c.rep, now))
                    })
                    .min();
                match until {
                    Some(until_utc) => (
                        "defer",
                        Step::Done(None, Outcome::Deferred { until_utc }, Vec::new()),
                    ),
                    None => (
                        "defer",
                        Step::Next("nobody available and no opening ahead".to_owned()),
                    ),
                }
            }
        };
        trace.detail = format!("{matched}; nobody available: {action}");
        step
    };
    trace.candidates = cands.into_iter().map(|c| c.trace).collect();
    result
}
