//! The routing state the engine reads, and the updates it returns for the caller to persist
//! atomically with the decision (the engine itself never writes anything).
//!
//! Plain serde data: rotation positions per pool, smooth-weighted-round-robin credits per pool
//! and rep, and assignment counts per rep for the current UTC day and ISO week (for caps).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Everything durable the engine needs between decisions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingState {
    /// Strict round-robin position per pool key (`team:<name>` / `rule:<name>`): the index
    /// of the pool rep to try first next time.
    #[serde(default)]
    pub rotations: BTreeMap<String, u64>,
    /// Smooth weighted round-robin credit per pool key and rep, in thousandths of a weight.
    #[serde(default)]
    pub credits: BTreeMap<String, BTreeMap<String, i64>>,
    /// Assignment counts per rep.
    #[serde(default)]
    pub counts: BTreeMap<String, RepCounts>,
}

/// A rep's assignments in one UTC day and one ISO week.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepCounts {
    /// The UTC date the day count is for, `YYYY-MM-DD`.
    pub day: String,
    /// Assignments on `day`.
    pub day_count: u32,
    /// The ISO week the week count is for (UTC), `YYYY-Www`.
    pub week: String,
    /// Assignments in `week`.
    pub week_count: u32,
}

/// One change to [`RoutingState`], returned with a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StateUpdate {
    /// Set a pool's strict rotation position.
    Rotation {
        /// Pool key.
        pool: String,
        /// Next position.
        next: u64,
    },
    /// Set the weighted-round-robin credits of some reps of a pool (others unchanged).
    Credits {
        /// Pool key.
        pool: String,
        /// New credit per rep, thousandths of a weight.
        credits: BTreeMap<String, i64>,
    },
    /// Set a rep's counts (already including this assignment).
    Count {
        /// Rep email.
        rep: String,
        /// New counts.
        counts: RepCounts,
    },
}

/// `2026-11-22` (UTC).
pub fn day_key(now: Timestamp) -> String {
    now.to_zoned(jiff::tz::TimeZone::UTC).date().to_string()
}

/// `2026-W47` (ISO week of the UTC date).
pub fn week_key(now: Timestamp) -> String {
    let w = now.to_zoned(jiff::tz::TimeZone::UTC).date().iso_week_date();
    format!("{:04}-W{:02}", w.year(), w.week())
}

impl RoutingState {
    /// Applies updates in order.
    pub fn apply(&mut self, updates: &[StateUpdate]) {
        for u in updates {
            match u {
                StateUpdate::Rotation { pool, next } => {
                    self.rotations.insert(pool.clone(), *next);
                }
                StateUpdate::Credits { pool, credits } => {
                    let entry = self.credits.entry(pool.clone()).or_default();
                    for (rep, c) in credits {
                        entry.insert(rep.clone(), *c);
                    }
                }
                StateUpdate::Count { rep, counts } => {
                    self.counts.insert(rep.clone(), counts.clone());
                }
            }
        }
    }

    /// Forgets the counts of reps whose last assignment day is more than `keep_days` UTC days
    /// before `now` (they no longer count against any cap), so the state stays small.
    pub fn prune_counts(&mut self, now: Timestamp, keep_days: i64) {
        let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        self.counts.retain(|_, c| {
            c.day
                .parse::<jiff::civil::Date>()
                .ok()
                .and_then(|d| d.until(today).ok())
                .is_none_or(|span| span.get_days() <= keep_days as i32)
        });
    }

    /// `rep`'s assignments on the UTC day of `now`.
    pub fn day_count(&self, rep: &str, now: Timestamp) -> u32 {
        self.counts
            .get(rep)
            .filter(|c| c.day == day_key(now))
            .map_or(0, |c| c.day_count)
    }

    /// `rep`'s assignments in the ISO week of `now`.
    pub fn week_count(&self, rep: &str, now: Timestamp) -> u32 {
        self.counts
            .get(rep)
            .filter(|c| c.week == week_key(now))
            .map_or(0, |c| c.week_count)
    }

    /// The counts after one more assignment of `rep` at `now`.
    pub fn counts_after_one(&self, rep: &str, now: Timestamp) -> RepCounts {
        RepCounts {
            day: day_key(now),
            day_count: self.day_count(rep, now) + 1,
            week: week_key(now),
            week_count: self.week_count(rep, now) + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_forgets_only_counts_older_than_the_window() {
        let now: Timestamp = "2026-11-22T10:00:00Z".parse().unwrap();
        let mut state = RoutingState::default();
        for (rep, day) in [("old@x.com", "2026-11-13"), ("recent@x.com", "2026-11-14")] {
            state.counts.insert(
                rep.into(),
                RepCounts {
                    day: day.into(),
                    day_count: 3,
                    week: "2026-W46".into(),
                    week_count: 3,
                },
            );
        }
        state.prune_counts(now, 8);
        assert!(!state.counts.contains_key("old@x.com"));
        assert!(state.counts.contains_key("recent@x.com"));
    }
}
