//! The case of record: where a support case stands in handoff's eyes. One [`CaseState`] per
//! case the case flow has seen, in flow state under [`key`] (`case-state:<record_key>`),
//! written with every decision that changes it (an offer to an agent, an Accept, an
//! escalation, a first response, an SLA step, the case closing), so it is committed
//! atomically with the sagas, timers and audit entries of that decision.
//!
//! The status history is the case's mapped `status` values as handoff saw them change, with
//! the time of the change that carried each (the handoff note quotes it).

use crate::state::{StateError, Store};
use serde::{Deserialize, Serialize};

/// Which support tier holds the case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tier {
    L1,
    L2,
}

impl Tier {
    /// `L1` or `L2`: the `support_tier` value routing rules see.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::L1 => "L1",
            Tier::L2 => "L2",
        }
    }
}

/// One status the case had, from when (UTC ms).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusAt {
    pub status: String,
    pub at_ms: i64,
}

/// A case as handoff holds it (flow state `case-state:<record_key>`, JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseState {
    /// The case's record key (`system:object:id`).
    pub record_key: String,
    /// Which tier holds it.
    pub tier: Tier,
    /// A bot (or chat) conversation handed to a person.
    pub bot: bool,
    /// The mapped `priority` when last seen.
    pub priority: String,
    /// The CRM account id of the case, if any.
    #[serde(default)]
    pub account_id: Option<String>,
    /// When handoff first saw the case, UTC ms (the case's age counts from here).
    pub opened_ms: i64,
    /// When the case entered L2, UTC ms (its time in L1 ends here).
    #[serde(default)]
    pub l2_since_ms: Option<i64>,
    /// The agent handoff offered or gave the case to (email), for the current assignment.
    #[serde(default)]
    pub agent_email: Option<String>,
    /// That agent's CRM owner id.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The agent's group manager (the pool's lead: the SLA escalation target).
    #[serde(default)]
    pub manager_email: Option<String>,
    /// The routing team the agent was chosen from.
    #[serde(default)]
    pub team: Option<String>,
    /// How many times handoff routed the case (offers, reassignments, escalations); the DM
    /// and SLA timers of an earlier assignment are stale.
    pub assignments: u32,
    /// When the current assignment was made, UTC ms (the first-response clock starts).
    #[serde(default)]
    pub assigned_ms: Option<i64>,
    /// When the agent accepted (the Slack button), UTC ms.
    #[serde(default)]
    pub accepted_ms: Option<i64>,
    /// The first response of the current assignment (Accept, or the owner's first public
    /// comment), UTC ms.
    #[serde(default)]
    pub first_response_ms: Option<i64>,
    /// How the first response came (`accept`, `comment`).
    #[serde(default)]
    pub first_response_by: Option<String>,
    /// The first-response SLA policy (by name) of the current assignment, if any.
    #[serde(default)]
    pub policy: Option<String>,
    /// When the first response is due, UTC ms.
    #[serde(default)]
    pub sla_due_ms: Option<i64>,
    /// Reassignments for a missed first response in the current tier (the policy's
    /// `max_reassignments` bounds them).
    #[serde(default)]
    pub sla_reassignments: u32,
    /// How many times the case went to L2.
    pub escalations: u32,
    /// Whether an escalation condition held at the last change (a new escalation needs it to
    /// stop holding first).
    #[serde(default)]
    pub escalation_holds: bool,
    /// The agents who had the case before, lower case (never offered it again in that tier).
    #[serde(default)]
    pub previous_agents: Vec<String>,
    /// Statuses as handoff saw them change.
    #[serde(default)]
    pub statuses: Vec<StatusAt>,
    /// Closed (a `closed_statuses` status seen), UTC ms.
    #[serde(default)]
    pub closed_ms: Option<i64>,
}

/// The flow-state key of a case's [`CaseState`]: `case-state:<record_key>`.
pub fn key(record_key: &str) -> String {
    format!("case-state:{record_key}")
}

/// The key prefix of every [`CaseState`] (for scans: the case report).
pub const KEY_PREFIX: &str = "case-state:";

/// Reads the case of record for `record_key` (`None`: the case flow never saw it).
///
/// Errors: [`StateError`] if the store cannot be read or the JSON is not a `CaseState`.
pub fn load(store: &Store, record_key: &str) -> Result<Option<CaseState>, StateError> {
    store.get_json(&key(record_key))
}

impl CaseState {
    /// A case first seen at `now_ms`, in L1.
    pub fn new(record_key: &str, bot: bool, priority: &str, now_ms: i64) -> Self {
        CaseState {
            record_key: record_key.to_string(),
            tier: Tier::L1,
            bot,
            priority: priority.to_string(),
            account_id: None,
            opened_ms: now_ms,
            l2_since_ms: None,
            agent_email: None,
            agent_id: None,
            manager_email: None,
            team: None,
            assignments: 0,
            assigned_ms: None,
            accepted_ms: None,
            first_response_ms: None,
            first_response_by: None,
            policy: None,
            sla_due_ms: None,
            sla_reassignments: 0,
            escalations: 0,
            escalation_holds: false,
            previous_agents: Vec::new(),
            statuses: Vec::new(),
            closed_ms: None,
        }
    }

    /// The `(key, JSON)` pair to put in [`crate::state::Completion::state`].
    pub fn entry(&self) -> (String, serde_json::Value) {
        (
            key(&self.record_key),
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Records `status` at `at_ms` if it differs from the last one seen; `true` when it did.
    pub fn observe_status(&mut self, status: &str, at_ms: i64) -> bool {
        if status.is_empty() || self.statuses.last().is_some_and(|s| s.status == status) {
            return false;
        }
        self.statuses.push(StatusAt {
            status: status.to_string(),
            at_ms,
        });
        true
    }

    /// Whether the current assignment still waits for its first response.
    pub fn awaits_response(&self) -> bool {
        self.closed_ms.is_none() && self.assigned_ms.is_some() && self.first_response_ms.is_none()
    }

    /// Time in L1, ms: from first seen to L2 (or `now_ms` while still in L1).
    pub fn l1_ms(&self, now_ms: i64) -> i64 {
        self.l2_since_ms.unwrap_or(now_ms) - self.opened_ms
    }

    /// Starts assignment `assignments + 1` to `agent` at `now_ms` (the previous agent, if any,
    /// joins `previous_agents`); the first response and the SLA start over.
    pub fn assign(&mut self, agent_email: &str, agent_id: &str, now_ms: i64) {
        if let Some(prev) = self.agent_email.take() {
            if !self.previous_agents.contains(&prev) {
                self.previous_agents.push(prev);
            }
        }
        self.agent_email = Some(agent_email.to_ascii_lowercase());
        self.agent_id = Some(agent_id.to_string());
        self.assignments += 1;
        self.assigned_ms = Some(now_ms);
        self.accepted_ms = None;
        self.first_response_ms = None;
        self.first_response_by = None;
        self.policy = None;
        self.sla_due_ms = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_recorded_once_per_change_and_assignments_start_over() {
        let mut s = CaseState::new("crm:Case:1", true, "High", 1_000);
        assert!(s.observe_status("New", 1_000));
        assert!(!s.observe_status("New", 2_000));
        assert!(s.observe_status("Working", 3_000));
        assert_eq!(s.statuses.len(), 2);
        s.assign("Ana@x.test", "u1", 4_000);
        s.first_response_ms = Some(5_000);
        s.assign("bo@x.test", "u2", 6_000);
        assert_eq!(s.assignments, 2);
        assert_eq!(s.previous_agents, vec!["ana@x.test".to_string()]);
        assert!(s.awaits_response());
        assert_eq!(s.l1_ms(10_000), 9_000);
        let (k, v) = s.entry();
        assert_eq!(k, "case-state:crm:Case:1");
        assert_eq!(serde_json::from_value::<CaseState>(v).unwrap(), s);
    }
}
