//! The checks of support's case handoffs, computed at the end of a run from the CRM's cases and
//! comments ([`SupportDesk`]), Slack's messages and the stopped daemon's audit trail, for the
//! cases the replay opened; each must be zero ([`CaseChecks`]). Beside them, what happened to
//! the cases ([`CaseCounts`]).
//!
//! What the audit trail says a case should look like, event by event: an offer
//! (`case_offered`, assignment *n*) writes nothing to the case but sends one DM
//! (`case-offer:<case>@<n>:dm`); an Accept (`case_accepted`) makes the accepting agent the owner;
//! an escalation (`case_escalated`, escalation *n*) makes its L2 agent the owner, adds one
//! handoff note (a comment starting `Handoff note: escalation <n> `) and sends one DM
//! (`case-escalation:<case>:<n>:dm`); an L2 reassignment (`case_reassigned`, assignment *n*)
//! makes its agent the owner and sends one DM (`case-reassign:<case>@<n>:dm`). Until someone
//! accepted or an escalation was made, the owner is the one the case was opened with.

use super::super::crm::{CaseView, CommentView, SupportDesk};
use crate::state::AuditEntry;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The case checks; each must be zero.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CaseChecks {
    /// Escalated cases (at least one `case_escalated`) whose handoff notes are not exactly one
    /// for each escalation number the audit trail records (1 to *n*), and none other.
    pub escalated_cases_without_one_note_per_escalation: usize,
    /// Cases with two or more handoff notes for one escalation number.
    pub cases_with_two_notes_for_one_escalation: usize,
    /// Escalated cases whose owner is not their L2 agent (the agent of the last escalation or
    /// L2 reassignment, or who accepted it since), or whose L2 agent is neither in an L2 team
    /// nor the rule set's fallback owner with the reason recorded (`reason` in the audit
    /// entry's detail).
    pub escalated_cases_without_an_l2_owner: usize,
    /// Cases a simulated L1 agent escalated (`Status = Escalated`) without exactly one
    /// `case_escalated` in the audit trail.
    pub simulated_escalations_without_exactly_one_case_escalated: usize,
    /// Offered cases (at least one `case_offered`) whose owner is not the one the audit trail
    /// gives them (see the module docs), or with two acceptances of one assignment.
    pub offered_cases_without_exactly_one_owner: usize,
    /// Routed cases (offered, escalated or reassigned) without exactly one DM for each
    /// assignment the audit trail records, or with a DM for one it does not.
    pub routed_cases_without_exactly_one_dm_per_assignment: usize,
}

impl CaseChecks {
    /// Whether every count is zero.
    pub fn pass(&self) -> bool {
        self == &CaseChecks::default()
    }
}

/// What became of the support cases.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CaseCounts {
    /// Tickets in the data.
    pub tickets: usize,
    /// Cases the replay opened (one per ticket that arrived).
    pub cases_created: usize,
    /// Of those, bot conversations (with a chatbot transcript).
    pub bot_cases: u64,
    /// Email and phone cases given to an L1 agent when opened (not routed by handoff).
    pub assigned_at_creation: u64,
    /// Cases whose customer's email domain is a sandbox account's web domain (`AccountId`).
    pub matched_to_accounts: u64,
    /// Cases the daemon saw (`case_opened`), and of those as bot conversations.
    pub opened: usize,
    pub opened_as_bot: usize,
    /// Other CRM cases the case flow saw (`case_opened` on cases the replay did not open: the
    /// onboarding cases handoff creates for won deals).
    pub other_cases_seen: usize,
    /// Cases offered to an L1 agent, and offers in all (`case_offered`; an unanswered offer
    /// is made again to someone else), of which to the fallback owner.
    pub offered_cases: usize,
    pub offers: usize,
    pub offers_to_fallback: usize,
    /// `case_accepted`, in L1 and L2.
    pub accepted_l1: usize,
    pub accepted_l2: usize,
    /// Accept clicks on a DM of an earlier assignment or a closed case (`case_stale_click`).
    pub stale_clicks: usize,
    /// First responses (`case_first_response`), and of those within the SLA.
    pub first_responses: usize,
    pub first_responses_within_sla: usize,
    /// SLA reminders and breaches (`case_sla_reminder`, `case_sla_breached`).
    pub sla_reminders: usize,
    pub sla_breaches: usize,
    /// L2 reassignments for a missed first response (`case_reassigned`).
    pub l2_reassignments: usize,
    /// Escalations (`case_escalated`), escalated cases, escalations to the fallback owner.
    pub escalations: usize,
    pub escalated_cases: usize,
    pub escalations_to_fallback: usize,
    /// Handoff notes on the cases (comments starting `Handoff note: escalation`).
    pub handoff_notes: usize,
    /// Cases closed (`case_closed`).
    pub closed: usize,
    /// What the simulated support team did (`super::SupportCounts::totals`).
    pub agents: BTreeMap<&'static str, u64>,
}

/// A case the replay opened, as the checks need it.
#[derive(Debug, Clone)]
pub struct OpenedCase {
    pub id: String,
    pub record_key: String,
    /// Its owner when opened.
    pub initial_owner: Option<String>,
    /// A simulated L1 agent escalated it.
    pub escalated_by_agent: bool,
}

/// The support team as the checks need it.
#[derive(Debug, Clone, Default)]
pub struct Team {
    /// Emails of the L2 agents (lower case).
    pub l2: BTreeSet<String>,
    /// The rule set's fallback owner (lower case).
    pub fallback: String,
}

/// The escalation number of a handoff note (`Handoff note: escalation 2 to L2 …` → 2).
pub fn note_escalation(body: &str) -> Option<u32> {
    let rest = body.strip_prefix("Handoff note: escalation ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The case record key and kind of a case DM's delivery key: `case-offer:<case>@<n>:dm`,
/// `case-escalation:<case>:<n>:dm`, `case-reassign:<case>@<n>:dm`.
pub fn dm_case(key: &str) -> Option<(&str, &'static str)> {
    let key = key.strip_suffix(":dm")?;
    if let Some(rest) = key.strip_prefix("case-offer:") {
        return Some((rest.rsplit_once('@')?.0, "offer"));
    }
    if let Some(rest) = key.strip_prefix("case-reassign:") {
        return Some((rest.rsplit_once('@')?.0, "reassign"));
    }
    let rest = key.strip_prefix("case-escalation:")?;
    Some((rest.rsplit_once(':')?.0, "escalation"))
}

fn detail_str<'a>(e: &'a AuditEntry, k: &str) -> Option<&'a str> {
    e.detail[k].as_str().filter(|s| !s.is_empty())
}

fn detail_u64(e: &AuditEntry, k: &str) -> Option<u64> {
    e.detail[k].as_u64()
}

/// The checks and counts for `cases`, from the desk's cases and comments, the delivery keys of
/// every Slack message (`dm_keys`), and the audit entries (`audit`, in the trail's order:
/// record key, then oldest first). `team` tells an L2 agent.
pub fn compute(
    desk: &dyn SupportDesk,
    cases: &[OpenedCase],
    team: &Team,
    dm_keys: &[String],
    audit: impl IntoIterator<Item = AuditEntry>,
) -> (CaseChecks, CaseCounts) {
    let by_key: HashMap<&str, &OpenedCase> =
        cases.iter().map(|c| (c.record_key.as_str(), c)).collect();
    let mut events: HashMap<String, Vec<AuditEntry>> = HashMap::new();
    let mut counts = CaseCounts {
        cases_created: cases.len(),
        ..CaseCounts::default()
    };
    for e in audit {
        if !by_key.contains_key(e.record_key.as_str()) {
            if e.event == "case_opened" {
                counts.other_cases_seen += 1;
            }
            continue;
        }
        events.entry(e.record_key.clone()).or_default().push(e);
    }
    let views: HashMap<String, CaseView> = desk
        .cases()
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut notes: HashMap<String, BTreeMap<u32, usize>> = HashMap::new();
    for CommentView { case_id, body, .. } in desk.comments() {
        if let Some(n) = note_escalation(&body) {
            counts.handoff_notes += 1;
            *notes.entry(case_id).or_default().entry(n).or_default() += 1;
        }
    }
    let emails = desk.user_emails();
    let ids: HashMap<&str, &str> = emails
        .iter()
        .map(|(id, email)| (email.as_str(), id.as_str()))
        .collect();
    let mut dms: HashMap<&str, BTreeMap<(&'static str, String), usize>> = HashMap::new();
    for key in dm_keys {
        if let Some((case, kind)) = dm_case(key) {
            *dms.entry(case)
                .or_default()
                .entry((kind, key.clone()))
                .or_default() += 1;
        }
    }

    let mut checks = CaseChecks::default();
    let none = Vec::new();
    for case in cases {
        let evs = events.get(&case.record_key).unwrap_or(&none);
        let n = |event: &str| evs.iter().filter(|e| e.event == event).count();
        let escalations = n("case_escalated");
        let offers = n("case_offered");
        counts.offers += offers;
        counts.escalations += escalations;
        counts.l2_reassignments += n("case_reassigned");
        counts.stale_clicks += n("case_stale_click");
        counts.sla_reminders += n("case_sla_reminder");
        counts.sla_breaches += n("case_sla_breached");
        counts.closed += n("case_closed");
        if let Some(opened) = evs.iter().find(|e| e.event == "case_opened") {
            counts.opened += 1;
            if opened.detail["bot"] == true {
                counts.opened_as_bot += 1;
            }
        }
        if offers > 0 {
            counts.offered_cases += 1;
        }
        if escalations > 0 {
            counts.escalated_cases += 1;
        }
        for e in evs {
            let agent = detail_str(e, "agent_email").map(str::to_lowercase);
            let to_fallback = agent.as_deref() == Some(team.fallback.as_str());
            match e.event.as_str() {
                "case_offered" if to_fallback => counts.offers_to_fallback += 1,
                "case_escalated" if to_fallback => counts.escalations_to_fallback += 1,
                "case_accepted" if e.detail["tier"] == "L2" => counts.accepted_l2 += 1,
                "case_accepted" => counts.accepted_l1 += 1,
                "case_first_response" => {
                    counts.first_responses += 1;
                    if e.detail["within_sla"] == true {
                        counts.first_responses_within_sla += 1;
                    }
                }
                _ => {}
            }
        }

        // The owner the audit trail gives the case, and its last L2 assignment.
        let mut expected = case.initial_owner.clone();
        let mut l2: Option<&AuditEntry> = None;
        let mut accepted: BTreeMap<u64, usize> = BTreeMap::new();
        for e in evs {
            let agent_id = || {
                detail_str(e, "agent_email")
                    .and_then(|a| ids.get(a.to_lowercase().as_str()))
                    .map(|id| id.to_string())
            };
            match e.event.as_str() {
                "case_accepted" => {
                    *accepted
                        .entry(detail_u64(e, "assignment").unwrap_or(0))
                        .or_default() += 1;
                    expected = agent_id();
                }
                "case_escalated" | "case_reassigned" => {
                    expected = agent_id();
                    l2 = Some(e);
                }
                _ => {}
            }
        }
        let owner = views.get(&case.id).and_then(|v| v.owner_id.clone());
        let owned_as_audited = owner.is_some() && owner == expected;
        if offers > 0 && (!owned_as_audited || accepted.values().any(|n| *n > 1)) {
            checks.offered_cases_without_exactly_one_owner += 1;
        }

        if escalations > 0 {
            let numbers = notes.get(&case.id).cloned().unwrap_or_default();
            let want: BTreeMap<u32, usize> = (1..=escalations as u32).map(|n| (n, 1)).collect();
            if numbers != want {
                checks.escalated_cases_without_one_note_per_escalation += 1;
            }
            let l2_ok = l2.is_some_and(|e| {
                let agent = detail_str(e, "agent_email")
                    .map(str::to_lowercase)
                    .unwrap_or_default();
                team.l2.contains(&agent)
                    || (agent == team.fallback && detail_str(e, "reason").is_some())
            });
            if !(l2_ok && owned_as_audited) {
                checks.escalated_cases_without_an_l2_owner += 1;
            }
        }
        if notes
            .get(&case.id)
            .is_some_and(|by_n| by_n.values().any(|n| *n > 1))
        {
            checks.cases_with_two_notes_for_one_escalation += 1;
        }
        if case.escalated_by_agent && escalations != 1 {
            checks.simulated_escalations_without_exactly_one_case_escalated += 1;
        }

        // One DM per assignment, none for an assignment never made.
        let rk = &case.record_key;
        let mut want: BTreeMap<(&'static str, String), usize> = BTreeMap::new();
        for e in evs {
            let key = match e.event.as_str() {
                "case_offered" => detail_u64(e, "assignment")
                    .map(|a| ("offer", format!("case-offer:{rk}@{a}:dm"))),
                "case_escalated" => detail_u64(e, "escalation")
                    .map(|n| ("escalation", format!("case-escalation:{rk}:{n}:dm"))),
                "case_reassigned" => detail_u64(e, "assignment")
                    .map(|a| ("reassign", format!("case-reassign:{rk}@{a}:dm"))),
                _ => None,
            };
            if let Some(k) = key {
                want.insert(k, 1);
            }
        }
        let got = dms.get(rk.as_str()).cloned().unwrap_or_default();
        if !want.is_empty() || !got.is_empty() {
            let routed_per_audit = want.len() == offers + escalations + n("case_reassigned");
            if got != want || !routed_per_audit {
                checks.routed_cases_without_exactly_one_dm_per_assignment += 1;
            }
        }
    }
    (checks, counts)
}

/// The delivery key of a Slack message (`metadata.event_payload.idempotency_key`).
pub fn message_key(m: &Value) -> Option<&str> {
    m["metadata"]["event_payload"]["idempotency_key"].as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_numbers_and_dm_keys_are_read_back() {
        assert_eq!(
            note_escalation("Handoff note: escalation 2 to L2 (status Escalated)\n…"),
            Some(2)
        );
        assert_eq!(note_escalation("Handoff note: escalation x"), None);
        assert_eq!(note_escalation("Reset the device"), None);
        assert_eq!(
            dm_case("case-offer:salesforce:Case:500A@2:dm"),
            Some(("salesforce:Case:500A", "offer"))
        );
        assert_eq!(
            dm_case("case-escalation:salesforce:Case:500A:1:dm"),
            Some(("salesforce:Case:500A", "escalation"))
        );
        assert_eq!(
            dm_case("case-reassign:salesforce:Case:500A@4:dm"),
            Some(("salesforce:Case:500A", "reassign"))
        );
        assert_eq!(dm_case("case-sla:salesforce:Case:500A:1:reminder:dm"), None);
        assert_eq!(dm_case("lead:salesforce:Lead:00Q1:dm"), None);
    }
}
