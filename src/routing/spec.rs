//! The routing-rules YAML as parsed, before any checking beyond its shape.
//!
//! A rule set file, in full (keys optional unless marked *required*):
//!
//! ```yaml
//! name: maven-routing                 # required
//! description: free text
//! regions: { EMEA: [GB, FR, DE] }     # named lists of ISO 3166-1 alpha-2 codes, for territories
//! holiday_calendars: { us: [2026-11-26, 2026-12-25] }   # named lists of dates
//! teams:                              # required, at least one
//!   - name: West                      # required, unique
//!     time_zone: America/Los_Angeles  # required, IANA name
//!     hours: { days: [mon, tue, wed, thu, fri], open: "08:00", close: "17:00" }  # required, local
//!     holiday_calendars: [us]         # names from `holiday_calendars`
//!     holidays: [2026-11-27]          # extra team-only dates (local)
//!     queue_owner: west-queue@example.com
//!     groups:                         # required: reps by manager (the manager is the escalation target)
//!       - { manager: celia.rouche@example.com, reps: [vicki.laflamme@example.com] }
//!     weights: { carl.lin@example.com: 0.5 }    # weighted round robin; default 1
//!     daily_cap: 40                   # per rep, per UTC day (default: none)
//!     weekly_cap: 150                 # per rep, per ISO week (default: none)
//!     caps: { carl.lin@example.com: { daily: 10, weekly: 40 } }   # per-rep overrides
//! out_of_office:                      # per-rep absences, inclusive local dates
//!   - { rep: zane.levy@example.com, from: 2026-11-23, to: 2026-11-27 }
//! rules:                              # required, first match wins
//!   - name: enterprise                # required, unique
//!     when: [{ field: lifecycle_stage, in: [MQL, SQL] }]   # all must hold
//!     strategy: segment               # territory | segment | named_account | round_robin | least_loaded
//!     territory: { regions: [EMEA], country_codes: [US], states: [CA], postal_codes: ["94000-96199"] }
//!     segment: { industries: [medical], employees: { min: 1000 }, annual_revenue: { min: 1e6 }, product_interest: [GTX Pro] }
//!     pool: { team: East }            # or { reps: [a@example.com, b@example.com] }; not for named_account
//!     distribute: least_loaded        # territory / segment only: round_robin (default) | least_loaded
//!     when_nobody_available: defer    # defer (default) | queue_owner | manager
//!     queue_owner: q@example.com      # overrides the pool team's queue owner
//!     manager: m@example.com          # overrides the pool team's first manager
//! fallback: { owner: revops-queue@example.com }   # required: nobody is ever left unowned
//! sla:                                # speed-to-lead (optional; see `sla.rs`)
//!   first_touch_statuses: [ATTEMPTED_TO_CONTACT, CONNECTED, IN_PROGRESS]   # mapped lead_status values that count as a touch
//!   reject_reasons: { not_a_fit: "Not a fit", duplicate: "Duplicate" }      # code: label (Slack "Reject" menu)
//!   policies:                         # first match wins; no match = no SLA
//!     - name: demo_request            # required, unique
//!       when: [{ field: lead_source, in: [DIRECT_TRAFFIC] }]   # same conditions as rules
//!       first_touch: 5m               # required: <n>s | <n>m | <n>h | same_business_day
//!       clock: business               # business (default: the owner's team hours) | calendar
//!       remind_at: 0.5                # share of the window at which the owner is reminded
//!       reassign_after: 10m           # after the breach: next eligible rep …
//!       max_reassignments: 1          # … at most this many times (default 0)
//!       recycle_after: 30m            # after the last owner's breach: back to nurture
//!       recycle_reason: sla_expired   # reason code written with the recycle (default)
//! ```
//!
//! Conditions in `when`: `{field: <mapped lead field>, equals | not_equals | in | not_in |
//! exists | min | max}`; `min` is inclusive and `max` exclusive, over numbers.
//!
//! Every struct denies unknown keys; nodes checked later keep their location with [`Spanned`].
//! No key is called `value`, so the `.value` segments that `Spanned` adds to serde paths can
//! be dropped when rendering error paths (see `rules.rs`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// A whole rule set file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRuleSet {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub regions: BTreeMap<String, Vec<Spanned<String>>>,
    #[serde(default)]
    pub holiday_calendars: BTreeMap<String, Vec<Spanned<String>>>,
    pub teams: Vec<Spanned<RawTeam>>,
    #[serde(default)]
    pub out_of_office: Vec<Spanned<RawOoo>>,
    pub rules: Vec<Spanned<RawRule>>,
    pub fallback: Spanned<RawFallback>,
    #[serde(default)]
    pub sla: Option<Spanned<RawSla>>,
}

/// The `sla:` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSla {
    #[serde(default)]
    pub first_touch_statuses: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub reject_reasons: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    pub policies: Vec<Spanned<RawSlaPolicy>>,
}

/// One entry of `sla.policies`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSlaPolicy {
    pub name: Spanned<String>,
    #[serde(default)]
    pub when: Vec<Spanned<RawCond>>,
    pub first_touch: Spanned<String>,
    #[serde(default)]
    pub clock: Option<Spanned<String>>,
    #[serde(default)]
    pub remind_at: Option<Spanned<f64>>,
    #[serde(default)]
    pub reassign_after: Option<Spanned<String>>,
    #[serde(default)]
    pub max_reassignments: Option<Spanned<u32>>,
    #[serde(default)]
    pub recycle_after: Option<Spanned<String>>,
    #[serde(default)]
    pub recycle_reason: Option<Spanned<String>>,
}

/// One entry of `teams:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTeam {
    pub name: Spanned<String>,
    pub time_zone: Spanned<String>,
    pub hours: Spanned<RawHours>,
    #[serde(default)]
    pub holiday_calendars: Vec<Spanned<String>>,
    #[serde(default)]
    pub holidays: Vec<Spanned<String>>,
    #[serde(default)]
    pub queue_owner: Option<String>,
    pub groups: Vec<Spanned<RawGroup>>,
    #[serde(default)]
    pub weights: Option<Spanned<BTreeMap<String, f64>>>,
    #[serde(default)]
    pub daily_cap: Option<u32>,
    #[serde(default)]
    pub weekly_cap: Option<u32>,
    #[serde(default)]
    pub caps: Option<Spanned<BTreeMap<String, RawCaps>>>,
}

/// `hours: { days, open, close }`, local to the team's time zone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHours {
    pub days: Vec<Spanned<String>>,
    pub open: Spanned<String>,
    pub close: Spanned<String>,
}

/// `{ manager, reps }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGroup {
    pub manager: Spanned<String>,
    pub reps: Vec<Spanned<String>>,
}

/// Per-rep cap overrides.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCaps {
    #[serde(default)]
    pub daily: Option<u32>,
    #[serde(default)]
    pub weekly: Option<u32>,
}

/// One out-of-office range.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOoo {
    pub rep: Spanned<String>,
    pub from: Spanned<String>,
    pub to: Spanned<String>,
}

/// One entry of `rules:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub name: Spanned<String>,
    #[serde(default)]
    pub when: Vec<Spanned<RawCond>>,
    pub strategy: Spanned<String>,
    #[serde(default)]
    pub territory: Option<Spanned<RawTerritory>>,
    #[serde(default)]
    pub segment: Option<Spanned<RawSegment>>,
    #[serde(default)]
    pub pool: Option<Spanned<RawPool>>,
    #[serde(default)]
    pub distribute: Option<Spanned<String>>,
    #[serde(default)]
    pub when_nobody_available: Option<Spanned<String>>,
    #[serde(default)]
    pub queue_owner: Option<String>,
    #[serde(default)]
    pub manager: Option<String>,
}

/// One condition of `when:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCond {
    pub field: Spanned<String>,
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub not_equals: Option<String>,
    #[serde(default, rename = "in")]
    pub in_: Option<Vec<String>>,
    #[serde(default)]
    pub not_in: Option<Vec<String>>,
    #[serde(default)]
    pub exists: Option<bool>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
}

/// `territory:` criteria (any listed dimension that matches makes the rule match).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTerritory {
    #[serde(default)]
    pub country_codes: Vec<String>,
    #[serde(default)]
    pub regions: Vec<Spanned<String>>,
    #[serde(default)]
    pub states: Vec<String>,
    #[serde(default)]
    pub postal_codes: Vec<Spanned<String>>,
}

/// `segment:` criteria (every listed dimension must match).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSegment {
    #[serde(default)]
    pub industries: Vec<String>,
    #[serde(default)]
    pub employees: Option<RawBand>,
    #[serde(default)]
    pub annual_revenue: Option<RawBand>,
    #[serde(default)]
    pub product_interest: Vec<String>,
}

/// A numeric band: `min` inclusive, `max` exclusive.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBand {
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
}

/// `pool: { team }` or `pool: { reps }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPool {
    #[serde(default)]
    pub team: Option<Spanned<String>>,
    #[serde(default)]
    pub reps: Option<Vec<Spanned<String>>>,
}

/// `fallback: { owner }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFallback {
    pub owner: Spanned<String>,
}
