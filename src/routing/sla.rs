//! Speed-to-lead SLA policies (issue 3 §4): the `sla:` section of a rule set and the schedule
//! of an assignment's SLA steps (business-time arithmetic in [`super::business_time`]).
//!
//! Declared in the routing rules file under `sla:` (parsed in `spec.rs`, checked here with the
//! rest of the rule set, errors `file:line:column: path: message`):
//!
//! ```yaml
//! sla:
//!   first_touch_statuses: [ATTEMPTED_TO_CONTACT, CONNECTED, IN_PROGRESS]   # mapped lead_status values that count as a touch
//!   reject_reasons: { not_a_fit: "Not a fit", duplicate: "Duplicate", student_or_competitor: "Student / competitor", no_contact_info: "No contact info" }
//!   policies:                         # first match wins over the mapped lead; none matching = no SLA
//!     - name: demo_request
//!       when: [{ field: lead_source, in: [demo_request] }]     # same condition syntax as rules
//!       first_touch: 5m               # or `same_business_day`; durations: <n>s, <n>m, <n>h
//!       clock: business               # business (team hours/holidays, default) | calendar
//!       remind_at: 0.5                # share of the SLA window at which the owner is reminded
//!       reassign_after: 10m           # after the breach: reassign to the next eligible rep …
//!       max_reassignments: 1          # … at most this many times (default 1 with reassign_after, else 0)
//!       recycle_after: 30m            # after the last owner's breach: recycle to nurture
//!       recycle_reason: sla_expired   # reason code of the recycle (default sla_expired)
//! ```
//!
//! Every key is optional except each policy's `name` and `first_touch`. Without `sla:` there
//! are no policies, the default first-touch statuses and the four default reject reasons.
//!
//! Times: the SLA window starts when the owner is assigned. On the `business` clock it counts
//! only the owner's team's business hours ([`BusinessCalendar`]: nights, non-working days and
//! holidays are skipped, local times resolved by jiff so DST changes are handled); an owner
//! outside every team (queue owner, fallback) has no calendar and the window counts calendar
//! time. `same_business_day` is due at the team's close on the day the lead was assigned (or,
//! assigned after hours, on the day of the next opening); without a calendar it is 24 hours.
//! The reminder, the reassignment delay and the recycle delay count on the policy's clock too.
//!
//! Pure: no I/O, no clock reads; every function takes the instants it is about.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use serde_saphyr::Spanned;

pub use super::business_time::{add_business, business_ms_between, close_of_business_day};
use super::calendar::BusinessCalendar;
use super::compile::{compile_cond, Ctx};
use super::engine::check_cond;
use super::rules::{Cond, RoutingError};
use super::spec::RawSla;

/// The mapped `lead_status` values that count as a first touch when `first_touch_statuses` is
/// not given. The shipped lead mappings map each CRM's lead status onto one vocabulary (NEW,
/// OPEN, IN_PROGRESS, OPEN_DEAL, UNQUALIFIED, ATTEMPTED_TO_CONTACT, CONNECTED, BAD_TIMING,
/// CONVERTED); these three of it mean someone reached out.
pub const DEFAULT_FIRST_TOUCH_STATUSES: [&str; 3] =
    ["ATTEMPTED_TO_CONTACT", "CONNECTED", "IN_PROGRESS"];

/// The reject reasons when `reject_reasons` is not given: `(code, label)`, in menu order.
pub const DEFAULT_REJECT_REASONS: [(&str, &str); 4] = [
    ("not_a_fit", "Not a fit"),
    ("duplicate", "Duplicate"),
    ("student_or_competitor", "Student / competitor"),
    ("no_contact_info", "No contact info"),
];

/// The longest label Slack accepts in an option's `text` (Block Kit option object: 75
/// characters).
const MAX_LABEL: usize = 75;

/// How long the first touch may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FirstTouch {
    /// Within this many ms (of the policy's clock).
    Within(i64),
    /// Before the team's close of the business day of assignment.
    SameBusinessDay,
}

/// Which time an SLA counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaClock {
    /// The owner's team's business hours (calendar time when the owner has no team).
    Business,
    /// Wall-clock time.
    Calendar,
}

/// One compiled policy.
#[derive(Debug, Clone)]
pub struct SlaPolicy {
    /// Unique name, e.g. `demo_request`.
    pub name: String,
    pub(crate) when: Vec<Cond>,
    /// The first-touch window.
    pub first_touch: FirstTouch,
    /// The clock every delay of the policy counts on.
    pub clock: SlaClock,
    /// Share of the window (0 < x < 1) at which the owner is reminded, if any.
    pub remind_at: Option<f64>,
    /// Delay after a breach before reassigning, ms, if reassignment is on.
    pub reassign_after_ms: Option<i64>,
    /// How many times the lead may be reassigned.
    pub max_reassignments: u32,
    /// Delay after the last owner's breach before recycling, ms, if recycling is on.
    pub recycle_after_ms: Option<i64>,
    /// Reason code written with an SLA recycle (`handoff_nurture_reason`).
    pub recycle_reason: String,
}

/// The compiled `sla:` section.
#[derive(Debug, Clone)]
pub struct SlaConfig {
    /// Mapped `lead_status` values that count as a first touch (upper case).
    pub first_touch_statuses: BTreeSet<String>,
    /// Reject reasons, `code → label`.
    pub reject_reasons: BTreeMap<String, String>,
    /// Policies in evaluation order.
    pub policies: Vec<SlaPolicy>,
}

impl Default for SlaConfig {
    /// No policies, [`DEFAULT_FIRST_TOUCH_STATUSES`], [`DEFAULT_REJECT_REASONS`].
    fn default() -> Self {
        SlaConfig {
            first_touch_statuses: DEFAULT_FIRST_TOUCH_STATUSES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            reject_reasons: DEFAULT_REJECT_REASONS
                .iter()
                .map(|(c, l)| (c.to_string(), l.to_string()))
                .collect(),
            policies: Vec::new(),
        }
    }
}

impl SlaConfig {
    /// The first policy whose conditions hold for the mapped `lead` (a JSON object).
    pub fn policy_for(&self, lead: &Value) -> Option<&SlaPolicy> {
        self.policies
            .iter()
            .find(|p| p.when.iter().all(|c| check_cond(lead, c).is_ok()))
    }

    /// The policy called `name`.
    pub fn policy(&self, name: &str) -> Option<&SlaPolicy> {
        self.policies.iter().find(|p| p.name == name)
    }

    /// Whether `status` (a mapped `lead_status` value) counts as a first touch.
    pub fn is_first_touch_status(&self, status: &str) -> bool {
        self.first_touch_statuses
            .contains(&status.trim().to_ascii_uppercase())
    }
}

/// What happens after a breach of the current assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterBreach {
    /// Reassign to the next eligible rep.
    Reassign,
    /// Recycle to nurture.
    Recycle,
}

/// The SLA steps of one assignment, UTC instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaSchedule {
    /// Remind the owner, if the policy reminds.
    pub reminder: Option<Timestamp>,
    /// The first touch is due (breach, escalation to the manager).
    pub due: Timestamp,
    /// Then reassign or recycle, if the policy does.
    pub after_breach: Option<(AfterBreach, Timestamp)>,
}

impl SlaPolicy {
    /// The steps of assignment number `assignment` (1 = the first owner) made at `assigned`,
    /// with the owner's team calendar `cal` (`None`: the owner has no team; calendar time).
    pub fn schedule(
        &self,
        cal: Option<&BusinessCalendar>,
        assigned: Timestamp,
        assignment: u32,
    ) -> SlaSchedule {
        let cal = cal.filter(|_| self.clock == SlaClock::Business);
        let due = match (self.first_touch, cal) {
            (FirstTouch::Within(ms), Some(cal)) => add_business(cal, assigned, ms),
            (FirstTouch::Within(ms), None) => add_ms(assigned, ms),
            (FirstTouch::SameBusinessDay, Some(cal)) => close_of_business_day(cal, assigned),
            (FirstTouch::SameBusinessDay, None) => add_ms(assigned, 24 * 3_600_000),
        };
        let on_clock = |from: Timestamp, ms: i64| match cal {
            Some(cal) => add_business(cal, from, ms),
            None => add_ms(from, ms),
        };
        let reminder = self.remind_at.map(|share| {
            let window = match cal {
                Some(cal) => business_ms_between(cal, assigned, due),
                None => due.as_millisecond() - assigned.as_millisecond(),
            };
            on_clock(assigned, (window as f64 * share).round() as i64)
        });
        let after_breach = match (self.reassign_after_ms, self.recycle_after_ms) {
            (Some(ms), _) if assignment <= self.max_reassignments => {
                Some((AfterBreach::Reassign, on_clock(due, ms)))
            }
            (_, Some(ms)) => Some((AfterBreach::Recycle, on_clock(due, ms))),
            _ => None,
        };
        SlaSchedule {
            reminder,
            due,
            after_breach,
        }
    }
}

fn add_ms(t: Timestamp, ms: i64) -> Timestamp {
    Timestamp::from_millisecond(t.as_millisecond().saturating_add(ms)).unwrap_or(Timestamp::MAX)
}

/// Parses `<n>s`, `<n>m` or `<n>h` (n a whole number ≥ 1) into ms.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].trim().parse().ok()?;
    let factor = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        _ => return None,
    };
    (1..=10_000).contains(&n).then_some(n * factor)
}

/// A reason code: `[a-z0-9_]+` (it is a metric label and part of a Slack option value).
fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn duration(ctx: &Ctx, node: &Spanned<String>, path: String) -> Result<i64, RoutingError> {
    parse_duration_ms(&node.value).ok_or_else(|| {
        ctx.at(
            node,
            path,
            format!(
                "\"{}\" is not a duration (expected <n>s, <n>m or <n>h, n from 1 to 10000)",
                node.value
            ),
        )
    })
}

/// Checks and compiles the `sla:` section (`None`: [`SlaConfig::default`]).
pub(super) fn compile(ctx: &Ctx, raw: Option<&Spanned<RawSla>>) -> Result<SlaConfig, RoutingError> {
    let mut out = SlaConfig::default();
    let Some(raw) = raw else {
        return Ok(out);
    };
    let raw = &raw.value;
    if let Some(statuses) = &raw.first_touch_statuses {
        out.first_touch_statuses.clear();
        for (i, s) in statuses.iter().enumerate() {
            let v = s.value.trim().to_ascii_uppercase();
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ctx.at(
                    s,
                    format!("sla.first_touch_statuses[{i}]"),
                    format!(
                        "\"{}\" is not a lead status value (e.g. ATTEMPTED_TO_CONTACT)",
                        s.value
                    ),
                ));
            }
            out.first_touch_statuses.insert(v);
        }
    }
    if let Some(reasons) = &raw.reject_reasons {
        if reasons.value.is_empty() {
            return Err(ctx.at(
                reasons,
                "sla.reject_reasons",
                "at least one reject reason is required",
            ));
        }
        out.reject_reasons.clear();
        for (code, label) in &reasons.value {
            let path = format!("sla.reject_reasons.{code}");
            if !is_code(code) {
                return Err(ctx.at(
                    reasons,
                    path,
                    format!("reason code \"{code}\" must be lower case letters, digits and _"),
                ));
            }
            let label = label.trim();
            if label.is_empty() || label.chars().count() > MAX_LABEL {
                return Err(ctx.at(
                    reasons,
                    path,
                    format!(
                        "the label must be 1 to {MAX_LABEL} characters (a Slack option's text)"
                    ),
                ));
            }
            out.reject_reasons.insert(code.clone(), label.to_owned());
        }
    }
    for (pi, pnode) in raw.policies.iter().enumerate() {
        let p = &pnode.value;
        let path = format!("sla.policies[{pi}]");
        let name = p.name.value.trim().to_owned();
        if name.is_empty() {
            return Err(ctx.at(&p.name, format!("{path}.name"), "name must not be empty"));
        }
        if out.policies.iter().any(|x| x.name == name) {
            return Err(ctx.at(
                &p.name,
                format!("{path}.name"),
                format!("duplicate policy name \"{name}\""),
            ));
        }
        let when = p
            .when
            .iter()
            .enumerate()
            .map(|(i, c)| compile_cond(ctx, c, format!("{path}.when[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let first_touch = if p.first_touch.value.trim() == "same_business_day" {
            FirstTouch::SameBusinessDay
        } else {
            FirstTouch::Within(parse_duration_ms(&p.first_touch.value).ok_or_else(|| {
                ctx.at(
                    &p.first_touch,
                    format!("{path}.first_touch"),
                    format!(
                        "\"{}\" is not a duration (<n>s, <n>m, <n>h) or same_business_day",
                        p.first_touch.value
                    ),
                )
            })?)
        };
        let clock = match p.clock.as_ref().map(|c| (c, c.value.trim())) {
            None | Some((_, "business")) => SlaClock::Business,
            Some((_, "calendar")) => SlaClock::Calendar,
            Some((c, other)) => {
                return Err(ctx.at(
                    c,
                    format!("{path}.clock"),
                    format!("unknown clock \"{other}\" (expected business or calendar)"),
                ))
            }
        };
        let remind_at = match &p.remind_at {
            Some(r) if !(r.value > 0.0 && r.value < 1.0) => {
                return Err(ctx.at(
                    r,
                    format!("{path}.remind_at"),
                    format!(
                        "remind_at is a share of the window, above 0 and below 1, got {}",
                        r.value
                    ),
                ))
            }
            r => r.as_ref().map(|r| r.value),
        };
        let reassign_after_ms = p
            .reassign_after
            .as_ref()
            .map(|d| duration(ctx, d, format!("{path}.reassign_after")))
            .transpose()?;
        let max_reassignments = match (&p.max_reassignments, reassign_after_ms) {
            (Some(m), None) if m.value > 0 => {
                return Err(ctx.at(
                    m,
                    format!("{path}.max_reassignments"),
                    "max_reassignments needs `reassign_after:` (how long after the breach)",
                ))
            }
            (Some(m), _) if m.value > 10 => {
                return Err(ctx.at(
                    m,
                    format!("{path}.max_reassignments"),
                    format!("at most 10 reassignments, got {}", m.value),
                ))
            }
            (Some(m), _) => m.value,
            (None, Some(_)) => 1,
            (None, None) => 0,
        };
        let recycle_after_ms = p
            .recycle_after
            .as_ref()
            .map(|d| duration(ctx, d, format!("{path}.recycle_after")))
            .transpose()?;
        let recycle_reason = match &p.recycle_reason {
            Some(r) if !is_code(r.value.trim()) => {
                return Err(ctx.at(
                    r,
                    format!("{path}.recycle_reason"),
                    format!(
                        "reason code \"{}\" must be lower case letters, digits and _",
                        r.value
                    ),
                ))
            }
            Some(r) => r.value.trim().to_owned(),
            None => "sla_expired".to_owned(),
        };
        out.policies.push(SlaPolicy {
            name,
            when,
            first_touch,
            clock,
            remind_at,
            reassign_after_ms,
            max_reassignments,
            recycle_after_ms,
            recycle_reason,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::business_time::tests::{ny, ts};

    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;

    fn policy(yaml_policy: &str) -> SlaPolicy {
        let text = format!(
            "name: t\nteams:\n  - name: A\n    time_zone: America/New_York\n    hours: {{ days: [mon, tue, wed, thu, fri], open: \"08:00\", close: \"17:00\" }}\n    groups: [{{ manager: m@x.com, reps: [a@x.com, b@x.com] }}]\nrules:\n  - {{ name: all, strategy: round_robin, pool: {{ team: A }} }}\nfallback: {{ owner: q@x.com }}\nsla:\n  policies:\n    - {yaml_policy}\n"
        );
        let rs = super::super::RuleSet::parse(&text, "t.yaml").unwrap();
        rs.sla().policies[0].clone()
    }

    #[test]
    fn schedules_reminder_breach_then_reassign_then_recycle() {
        let p = policy("{ name: demo, first_touch: 5m, remind_at: 0.5, reassign_after: 10m, max_reassignments: 1, recycle_after: 30m }");
        let cal = ny();
        let at = ts("2026-11-24T15:00:00Z");
        let s1 = p.schedule(Some(&cal), at, 1);
        assert_eq!(s1.reminder, Some(ts("2026-11-24T15:02:30Z")));
        assert_eq!(s1.due, ts("2026-11-24T15:05:00Z"));
        assert_eq!(
            s1.after_breach,
            Some((AfterBreach::Reassign, ts("2026-11-24T15:15:00Z")))
        );
        let s2 = p.schedule(Some(&cal), at, 2);
        assert_eq!(
            s2.after_breach,
            Some((AfterBreach::Recycle, ts("2026-11-24T15:35:00Z")))
        );
        // A calendar-clock policy ignores the night.
        let c = policy("{ name: c, first_touch: 1h, clock: calendar }");
        assert_eq!(
            c.schedule(Some(&cal), ts("2026-11-24T23:30:00Z"), 1).due,
            ts("2026-11-25T00:30:00Z")
        );
        assert_eq!(c.schedule(Some(&cal), at, 1).after_breach, None);
    }

    #[test]
    fn same_business_day_is_due_at_the_close_and_reminds_at_its_share() {
        // Score-qualified: assigned Tuesday 10:00 New York (15:00Z), due at 17:00 (22:00Z);
        // the reminder at 0.75 of the 7 business hours, 15:15 local (20:15Z).
        let p = policy(
            "{ name: sq, first_touch: same_business_day, remind_at: 0.75, recycle_after: 2h }",
        );
        let cal = ny();
        let s = p.schedule(Some(&cal), ts("2026-11-24T15:00:00Z"), 1);
        assert_eq!(s.due, ts("2026-11-24T22:00:00Z"));
        assert_eq!(s.reminder, Some(ts("2026-11-24T20:15:00Z")));
        // The recycle counts 2 business hours after the close: Wednesday 10:00 (15:00Z).
        assert_eq!(
            s.after_breach,
            Some((AfterBreach::Recycle, ts("2026-11-25T15:00:00Z")))
        );
        // Assigned after hours: due at the close of the next opening's day.
        let late = p.schedule(Some(&cal), ts("2026-11-24T23:30:00Z"), 1);
        assert_eq!(late.due, ts("2026-11-25T22:00:00Z"));
    }

    #[test]
    fn errors_name_the_node() {
        let base = "name: t\nteams:\n  - name: A\n    time_zone: UTC\n    hours: { days: [mon], open: \"08:00\", close: \"17:00\" }\n    groups: [{ manager: m@x.com, reps: [a@x.com] }]\nrules:\n  - { name: all, strategy: round_robin, pool: { team: A } }\nfallback: { owner: q@x.com }\n";
        let cases = [
            (
                "sla:\n  policies:\n    - { name: p, first_touch: 5 minutes }\n",
                "t.yaml:12:",
                "sla.policies[0].first_touch",
            ),
            (
                "sla:\n  policies:\n    - { name: p, first_touch: 5m, clock: lunar }\n",
                "t.yaml:12:",
                "sla.policies[0].clock",
            ),
            (
                "sla:\n  policies:\n    - { name: p, first_touch: 5m, remind_at: 1.5 }\n",
                "t.yaml:12:",
                "sla.policies[0].remind_at",
            ),
            (
                "sla:\n  policies:\n    - { name: p, first_touch: 5m, max_reassignments: 2 }\n",
                "t.yaml:12:",
                "sla.policies[0].max_reassignments",
            ),
            (
                "sla:\n  reject_reasons: { Not-A-Fit: x }\n",
                "t.yaml:11:",
                "sla.reject_reasons.Not-A-Fit",
            ),
            (
                "sla:\n  policies:\n    - { name: p, first_touch: 5m, colour: red }\n",
                "t.yaml:12:",
                "sla.policies[0]",
            ),
        ];
        for (sla, at, path) in cases {
            let err = super::super::RuleSet::parse(&format!("{base}{sla}"), "t.yaml")
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(at), "{err}");
            assert!(err.contains(&format!(": {path}")), "{err}");
        }
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration_ms("5m"), Some(5 * MIN));
        assert_eq!(parse_duration_ms("30s"), Some(30_000));
        assert_eq!(parse_duration_ms("2h"), Some(2 * HOUR));
        for bad in ["5", "m", "0m", "-5m", "5d", "1.5h", ""] {
            assert_eq!(parse_duration_ms(bad), None, "{bad}");
        }
    }
}
