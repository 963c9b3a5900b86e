//! `explain`: why a lead got its owner. The [`Explanation`] data every decision carries, its
//! text rendering, and [`explain_lead`] for the `handoff explain` command.
//!
//! An explanation lists every rule evaluated in order (matched, skipped and why, exhausted by
//! caps, nobody available), the candidates of the deciding rule with weight, credit, cap usage,
//! availability (and why not) and load, the load snapshot's age, and the choice.

use std::fmt::Write as _;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::engine::{route, Decision, RouteContext};
use super::rules::RuleSet;
use super::state::RoutingState;
use crate::mapping::{GateResult, Mapping};

/// Why a lead got its owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Explanation {
    /// The rule set's name.
    pub rule_set: String,
    /// The decision time (UTC, RFC 3339).
    pub now_utc: String,
    /// The mapping's gates, when the lead was mapped from a raw contact first.
    /// (Not read back from JSON: stored explanations carry their gates in the audit trail.)
    #[serde(skip_serializing_if = "Vec::is_empty", default, skip_deserializing)]
    pub gates: Vec<GateResult>,
    /// Every rule evaluated, in order (rules after the deciding one are not evaluated).
    pub rules: Vec<RuleTrace>,
    /// The load snapshot used, if any.
    pub load: Option<LoadInfo>,
    /// The choice, in words.
    pub choice: String,
}

/// One rule's evaluation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleTrace {
    /// Rule name.
    pub rule: String,
    /// Strategy name.
    pub strategy: String,
    /// What happened.
    pub verdict: Verdict,
    /// Why, in words.
    pub detail: String,
    /// How the rep was picked, when one was.
    pub distribution: Option<String>,
    /// The pool's reps as considered (empty when the rule was skipped).
    pub candidates: Vec<CandidateTrace>,
}

/// A rule's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Conditions and criteria held and a rep was chosen.
    Matched,
    /// A condition or criterion failed.
    Skipped,
    /// Matched, but every available rep is at a cap: the next rule was tried.
    Exhausted,
    /// Matched, but nobody in the pool is available: `when_nobody_available` applied.
    NobodyAvailable,
}

/// One candidate rep.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidateTrace {
    /// Rep email.
    pub rep: String,
    /// The rep's team.
    pub team: Option<String>,
    /// Round-robin weight (1.0 = a full share).
    pub weight: f64,
    /// Smooth weighted round-robin credit after this pick, thousandths (weighted pools only).
    pub credit: Option<i64>,
    /// Assignments today (UTC) against the daily cap.
    pub daily: Option<CapUse>,
    /// Assignments this ISO week against the weekly cap.
    pub weekly: Option<CapUse>,
    /// Whether a cap is reached.
    pub at_cap: bool,
    /// Whether the rep is available now.
    pub available: bool,
    /// Why not, when unavailable.
    pub unavailable_because: Option<String>,
    /// Open leads per the load snapshot (missing reps count 0), when a snapshot was given.
    pub open_leads: Option<u32>,
    /// Whether this rep was chosen.
    pub chosen: bool,
}

/// Cap usage: `used` of `cap` assignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapUse {
    /// Assignments so far in the period.
    pub used: u32,
    /// The cap.
    pub cap: u32,
}

/// The load snapshot's time and age.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadInfo {
    /// When it was read (UTC).
    pub as_of: String,
    /// Its age at decision time, seconds.
    pub age_seconds: i64,
}

/// Explains how `lead` would be routed now, without changing anything.
///
/// `lead` is a mapped lead (the lead mapping's output fields), or a raw CRM record
/// (`{id, properties}`) when `mapping` is given: then it is mapped first and the gates are
/// reported; a lead that fails a gate is not routed (the explanation says so).
pub fn explain_lead(
    rules: &RuleSet,
    lead: &Value,
    mapping: Option<&Mapping>,
    ctx: &RouteContext,
    state: &RoutingState,
    now: Timestamp,
) -> Explanation {
    match (mapping, lead.get("properties")) {
        (Some(m), Some(_)) => {
            let out = m.apply(lead);
            if let Some(fail) = out.first_failure() {
                return Explanation {
                    rule_set: rules.name().to_owned(),
                    now_utc: now.to_string(),
                    choice: format!(
                        "not routed: gate {} failed ({})",
                        fail.gate,
                        fail.reason.as_deref().unwrap_or("no reason")
                    ),
                    gates: out.gates,
                    rules: Vec::new(),
                    load: None,
                };
            }
            let mut e = route(rules, &Value::Object(out.record), ctx, state, now).explain;
            e.gates = out.gates;
            e
        }
        _ => route(rules, lead, ctx, state, now).explain,
    }
}

/// The explanation as text for a terminal.
pub fn render_text(e: &Explanation) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "rule set {} at {}", e.rule_set, e.now_utc);
    for g in &e.gates {
        let _ = writeln!(
            s,
            "  gate {:<24} {}{}",
            g.gate,
            if g.passed { "passed" } else { "FAILED" },
            g.reason
                .as_deref()
                .map(|r| format!(" ({r}): {}", g.detail))
                .unwrap_or_default()
        );
    }
    if let Some(l) = &e.load {
        let _ = writeln!(
            s,
            "load snapshot as of {} ({} s old)",
            l.as_of, l.age_seconds
        );
    }
    for (i, r) in e.rules.iter().enumerate() {
        let _ = writeln!(
            s,
            "{}. {} [{}] {:?}: {}",
            i + 1,
            r.rule,
            r.strategy,
            r.verdict,
            r.detail
        );
        if let Some(d) = &r.distribution {
            let _ = writeln!(s, "   {d}");
        }
        for c in &r.candidates {
            let mut line = format!(
                "   {} {} ({}) weight {}",
                if c.chosen { "=>" } else { "  " },
                c.rep,
                c.team.as_deref().unwrap_or("no team"),
                c.weight
            );
            if let Some(cr) = c.credit {
                let _ = write!(line, " credit {}", cr as f64 / 1000.0);
            }
            if let Some(d) = c.daily {
                let _ = write!(line, " day {}/{}", d.used, d.cap);
            }
            if let Some(w) = c.weekly {
                let _ = write!(line, " week {}/{}", w.used, w.cap);
            }
            if let Some(l) = c.open_leads {
                let _ = write!(line, " open leads {l}");
            }
            if c.at_cap {
                line.push_str(" AT CAP");
            }
            match &c.unavailable_because {
                Some(why) => {
                    let _ = write!(line, " unavailable: {why}");
                }
                None => line.push_str(" available"),
            }
            let _ = writeln!(s, "{line}");
        }
    }
    let _ = writeln!(s, "choice: {}", e.choice);
    s
}

/// The decision as text: the explanation plus the state updates.
pub fn render_decision(d: &Decision) -> String {
    let mut s = render_text(&d.explain);
    for u in &d.updates {
        let _ = writeln!(
            s,
            "update: {}",
            serde_json::to_string(u).unwrap_or_default()
        );
    }
    s
}
