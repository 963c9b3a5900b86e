//! Routing rules (issue 3): who owns a qualified lead, and why.
//!
//! Admins declare ordered rules in YAML ([`RuleSet::load`], see `spec.rs` for the language);
//! the first rule whose conditions match decides, with one of the strategies RevOps uses:
//! territory, segment, named account, round robin (strict or smooth weighted, with daily and
//! weekly caps per rep) and least loaded, all subject to availability (team business hours in
//! the team's time zone, holidays, out of office). A global fallback owner means no lead is
//! left unowned.
//!
//! [`route`] is pure: the caller passes the mapped lead, a [`RouteContext`], the current
//! [`RoutingState`] and `now`, and persists the returned [`StateUpdate`]s atomically with the
//! [`Decision`]. [`explain`] renders why; [`backtest`] replays historical leads offline.
//! [`sla`] holds the speed-to-lead policies (`sla:` in the same file) and business-time math.

pub mod backtest;
pub mod business_time;
pub mod calendar;
mod compile;
mod engine;
pub mod explain;
mod rules;
pub mod sla;
mod spec;
pub mod state;

pub use calendar::BusinessCalendar;
pub use engine::{route, Decision, LoadSnapshot, Outcome, OwnerKind, OwnerRef, RouteContext};
pub use explain::{explain_lead, Explanation};
pub use rules::{Member, OutOfOffice, RoutingError, RuleSet, Team};
pub use state::{RepCounts, RoutingState, StateUpdate};
