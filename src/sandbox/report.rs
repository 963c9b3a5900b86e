//! What the sandbox shows: progress while it runs and the final summary, computed from the
//! emulators' own state (what the vendors would hold) and, once the daemon has stopped, from its
//! audit trail (routing, deferral, after-hours acknowledgement, first touch, SLA steps,
//! recycling, rejection), not from the daemon's counters. On two CRMs (a marketing CRM in front
//! of the sales CRM) the summary adds what became of the leads across them
//! ([`MarketingCounts`]) and the checks that one person is one sales Lead with one owner in
//! both ([`TwoCrmChecks`]). With support's case handoffs, it adds what became of the support
//! cases and their checks ([`super::support::checks`]).

use super::crm::{deal_key, lead_key, DealState, SandboxCrm};
use super::replay::ReplayCounts;
use super::support::checks::{CaseChecks, CaseCounts, OpenedCase, Team};
use super::support::Support;
use crate::state::{StatusReport, Store};
use handoff_asana::AsanaEmulator;
use handoff_slack::SlackEmulator;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;

/// Outcomes and the invariants they must satisfy.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub data: String,
    pub leads_received: u64,
    /// Leads the replay created that have a person as their owner in the CRM and were not
    /// sent back to nurture.
    pub leads_routed: usize,
    /// Routed leads that matched an existing account (HubSpot: associated with a company;
    /// Salesforce: their domain is an Account's).
    pub leads_matched_to_accounts: usize,
    pub leads_nurtured: usize,
    pub nurtured_by_reason: BTreeMap<String, usize>,
    pub leads_claimed: usize,
    /// What the daemon decided, from its audit trail (filled after it stops).
    pub routing: RoutingCounts,
    /// What the simulated reps did (`reps::RepCounts::totals`).
    pub reps: BTreeMap<&'static str, u64>,
    /// Simulated time: start, end, speed-up, jumps.
    pub simulated: SimulatedTime,
    pub deals_created: u64,
    pub deals_won: usize,
    pub deals_lost: usize,
    /// Onboarding cases in the CRM (HubSpot tickets, Salesforce Cases).
    pub onboarding_tickets: usize,
    pub asana_projects: usize,
    pub slack_messages: usize,
    pub dead_letters: usize,
    pub inbox_depth: usize,
    pub outbox_depth: usize,
    /// The speed-to-lead figures of `handoff report` for this run (all teams).
    pub report: Option<ReportDigest>,
    /// With a marketing CRM in front of the sales CRM: what became of the leads across the
    /// two (the checks are in `checks`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marketing: Option<MarketingCounts>,
    /// With support's case handoffs (`cases:`): what became of the support cases (the checks
    /// are in `checks`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cases: Option<CaseCounts>,
    /// The daemon's own counters while the run goes on (for the progress view; the summary's
    /// `routing` section has the audit trail's exact counts).
    #[serde(skip)]
    pub live: LiveCounts,
    /// What the CRM calls its cases (`tickets`, `cases`), for the progress line.
    #[serde(skip)]
    pub case_noun: &'static str,
    pub checks: Checks,
    pub elapsed_s: f64,
}

/// The headline figures of [`crate::report::Report`] for the summary (the full report, with
/// per-rep load and the charts, is `handoff report --state-dir DIR/handoff`).
#[derive(Debug, Serialize)]
pub struct ReportDigest {
    pub overall: crate::report::model::TeamFigures,
    pub teams: Vec<crate::report::model::TeamFigures>,
    pub acceptance: crate::report::model::Acceptance,
    pub completeness: crate::report::model::Completeness,
    pub recycle: crate::report::model::RecycleRate,
}

/// Lead outcomes from the audit trail: leads (records) with at least one entry of each kind.
#[derive(Debug, Default, Serialize)]
pub struct RoutingCounts {
    pub routed: usize,
    pub deferred: usize,
    /// Deferred leads that were routed later in the replay.
    pub deferred_then_routed: usize,
    /// After-hours acknowledgements sent to prospects.
    pub acknowledged: usize,
    /// First touches by a Claim click.
    pub claimed: usize,
    /// First touches of any kind, by `claim` / `activity` / `status`.
    pub touched: usize,
    pub touched_by: BTreeMap<String, usize>,
    /// First touches within the SLA.
    pub sla_met: usize,
    pub reminded: usize,
    pub escalated: usize,
    pub reassigned: usize,
    pub recycled: usize,
    pub rejected: usize,
    pub nurtured: usize,
    /// Owner changes by another system, by what handoff did (`reverted`, `flagged`,
    /// `accepted`).
    pub owner_changes: BTreeMap<String, usize>,
}

/// Lead-flow counters read from the daemon's `/metrics` during the run.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LiveCounts {
    pub deferred: u64,
    pub acknowledged: u64,
    pub reminded: u64,
    pub escalated: u64,
    pub reassigned: u64,
    pub recycled: u64,
    pub rejected: u64,
    pub owner_reverted: u64,
}

impl LiveCounts {
    /// Sums the counters of interest in Prometheus text (`name{labels} value` lines).
    pub fn parse(text: &str) -> LiveCounts {
        let mut c = LiveCounts::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let value = value as u64;
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            let has = |l: &str| labels.contains(l);
            let slot = match name {
                "handoff_flow_outcomes_total"
                    if has("flow=\"lead_handoff\"") && has("outcome=\"deferred\"") =>
                {
                    &mut c.deferred
                }
                "handoff_after_hours_acks_total" => &mut c.acknowledged,
                "handoff_sla_steps_total" if has("step=\"reminder\"") => &mut c.reminded,
                "handoff_sla_steps_total" if has("step=\"breach\"") => &mut c.escalated,
                "handoff_sla_steps_total" if has("step=\"reassign\"") => &mut c.reassigned,
                "handoff_leads_recycled_total" => &mut c.recycled,
                "handoff_leads_rejected_total" => &mut c.rejected,
                "handoff_owner_changes_total" if has("action=\"reverted\"") => {
                    &mut c.owner_reverted
                }
                _ => continue,
            };
            *slot += value;
        }
        c
    }

    /// Reads the daemon's `/metrics` (zeros if it does not answer).
    pub async fn fetch(http: &reqwest::Client, metrics_url: &url::Url) -> LiveCounts {
        match http.get(metrics_url.clone()).send().await {
            Ok(r) => LiveCounts::parse(&r.text().await.unwrap_or_default()),
            Err(_) => LiveCounts::default(),
        }
    }
}

/// The simulated period.
#[derive(Debug, Default, Serialize)]
pub struct SimulatedTime {
    pub start: String,
    pub end: String,
    pub speed: f64,
    pub jumps: u64,
    pub skipped_hours: f64,
}

/// The delivery invariants, counted (each must be zero for `ok`).
#[derive(Debug, Default, Serialize)]
pub struct Checks {
    /// Won deals without exactly one onboarding case (HubSpot ticket, Salesforce Case) whose
    /// idempotency key is the deal's onboarding saga's (`onboarding:<deal record key>:…`).
    pub won_deals_without_exactly_one_ticket: usize,
    pub won_deals_without_exactly_one_project: usize,
    pub routed_leads_without_exactly_one_dm: usize,
    /// Routed (and not recycled or rejected) leads with no person as owner in the CRM.
    pub routed_leads_without_an_owner: usize,
    /// Leads neither routed (directly or after a deferral) nor nurtured (audit).
    pub leads_without_an_outcome: usize,
    pub duplicate_messages: usize,
    /// With a marketing CRM in front of the sales CRM (`--crm hubspot+salesforce`), the checks
    /// across the two, beside these.
    #[serde(flatten)]
    pub two_crms: Option<TwoCrmChecks>,
    /// With support's case handoffs (`cases:`), the case checks, beside these.
    #[serde(flatten)]
    pub cases: Option<CaseChecks>,
    pub ok: bool,
}

/// The checks across a marketing CRM and the sales CRM behind it (HubSpot in front of
/// Salesforce), computed from both emulators' final state; each must be zero. A contact is
/// *qualified* when the replay created it (at MQL) and the marketing lead mapping's gates pass
/// on it (re-applied to its final state, not taken from handoff's decision).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct TwoCrmChecks {
    /// Qualified contacts whose email (case-insensitive) does not have exactly one Lead in
    /// the sales CRM.
    pub qualified_contacts_without_exactly_one_sales_lead: usize,
    /// Qualified contacts whose one sales Lead has no person as owner (a queue, or still
    /// handoff's integration user: never routed).
    pub qualified_contacts_whose_lead_has_no_owner: usize,
    /// Emails (case-insensitive) with more than one Lead in the sales CRM.
    pub emails_with_more_than_one_sales_lead: usize,
    /// Routed sales Leads (a person owns them) with a marketing contact of the same email
    /// whose owner is not that person (by email), or has no owner. The run ends only when
    /// every change has reached the daemon and it has been idle for 3 s, longer than either
    /// CRM's sync interval (webhooks at once, a poll a second), so no change is still in flight.
    pub routed_leads_with_another_owner_in_marketing: usize,
}

impl TwoCrmChecks {
    /// Whether every count is zero.
    pub fn pass(&self) -> bool {
        self == &TwoCrmChecks::default()
    }
}

/// What became of the leads across a marketing CRM and the sales CRM behind it: from both
/// emulators' final state, then (the `audit_*` counts) the daemon's audit trail.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct MarketingCounts {
    /// Contacts the replay created in the marketing CRM (all at MQL).
    pub contacts: usize,
    /// Of those, qualified: the marketing lead mapping's gates pass.
    pub qualified: usize,
    /// Contacts with no Lead in the sales CRM that handoff sent back to nurture in the
    /// marketing CRM, by reason.
    pub nurtured_in_marketing: BTreeMap<String, usize>,
    /// Leads in the sales CRM.
    pub sales_leads: usize,
    /// Leads in the sales CRM a person owns (routed).
    pub sales_leads_owned: usize,
    /// Contacts whose owner is the person who owns their Lead in the sales CRM.
    pub contacts_owned_as_in_sales: usize,
    /// Contacts with a Lead in the sales CRM, by their lifecycle stage in the marketing CRM
    /// (moved forward as the Lead went on: `salesqualifiedlead`, `opportunity`).
    pub contacts_with_a_lead_by_stage: BTreeMap<String, usize>,
    /// Contacts with a Lead in the sales CRM that the marketing CRM shows unqualified: sales
    /// rejected or recycled the Lead (the reason written back beside it).
    pub contacts_with_a_lead_unqualified: usize,
    /// Contacts handed to the sales CRM as a new Lead (audit `promoted`).
    pub audit_promoted: usize,
    /// Owners mirrored to the marketing CRM (audit `owner_mirrored`), by what found the
    /// difference: `sales` (the sales owner set or changed: routing, reassignment) or
    /// `marketing` (a change in the marketing CRM, written back over).
    pub audit_owners_mirrored: BTreeMap<String, usize>,
    /// What became of the Lead, written back to its contact (audit `stage_written_back`).
    pub audit_stages_written_back: usize,
}

/// The checks and counts of a run on two CRMs ([`SandboxCrm::two_crms`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TwoCrmState {
    /// The checks across the two CRMs (each must be zero).
    pub checks: TwoCrmChecks,
    /// What became of the leads (the `audit_*` counts still zero: the summary adds them).
    pub counts: MarketingCounts,
}

impl Summary {
    pub fn ok(&self) -> bool {
        self.checks.ok
    }
}

fn metadata_key(m: &Value) -> Option<&str> {
    super::support::checks::message_key(m)
}

/// Computes the summary from the emulators' state.
pub fn summarize(
    crm: &dyn SandboxCrm,
    slack: &SlackEmulator,
    asana: &AsanaEmulator,
    counts: &ReplayCounts,
    status: &StatusReport,
    data: &str,
) -> Summary {
    let deals = crm.deals();
    let case_keys = crm.case_keys();
    let projects = asana.projects();
    let messages = slack.messages();

    let lead_ids = counts.arrivals();
    let leads = crm.arrived_leads(&lead_ids);
    let mut s = Summary {
        data: data.to_string(),
        leads_received: counts.leads_created.load(Ordering::Relaxed),
        deals_created: counts.deals_created.load(Ordering::Relaxed),
        onboarding_tickets: case_keys.len(),
        asana_projects: projects.len(),
        slack_messages: messages.len(),
        dead_letters: status.dead_letters,
        inbox_depth: status.inbox_depth,
        outbox_depth: status.outbox_depth,
        case_noun: crm.case_noun(),
        ..Summary::default()
    };
    let mut dm_keys: HashMap<&str, usize> = HashMap::new();
    for m in &messages {
        if let Some(k) = metadata_key(m) {
            *dm_keys.entry(k).or_default() += 1;
        }
        if m["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Lead claimed"))
        {
            s.leads_claimed += 1;
        }
    }
    s.checks.duplicate_messages = dm_keys.values().filter(|n| **n > 1).count();
    for lead in &leads {
        if let Some(reason) = &lead.nurture_reason {
            s.leads_nurtured += 1;
            *s.nurtured_by_reason.entry(reason.clone()).or_default() += 1;
        } else if lead.owner_id.is_some() {
            s.leads_routed += 1;
            if lead.matched_account {
                s.leads_matched_to_accounts += 1;
            }
            let key = format!("lead:{}:dm", lead_key(crm, &lead.id));
            if dm_keys.get(key.as_str()).copied().unwrap_or(0) != 1 {
                s.checks.routed_leads_without_exactly_one_dm += 1;
            }
        }
    }
    // Cases by the deal whose onboarding saga keyed them: `onboarding:<deal record key>:…`.
    let deal_prefix = format!("onboarding:{}", deal_key(crm, ""));
    let mut cases_per_deal: HashMap<&str, usize> = HashMap::new();
    for key in case_keys.iter().flatten() {
        if let Some(id) = key
            .strip_prefix(&deal_prefix)
            .and_then(|rest| rest.split(':').next())
        {
            *cases_per_deal.entry(id).or_default() += 1;
        }
    }
    let mut projects_per_deal: HashMap<String, usize> = HashMap::new();
    for p in &projects {
        if let Some(name) = p["name"].as_str() {
            if let Some(id) = name
                .rsplit("(deal ")
                .next()
                .and_then(|r| r.strip_suffix(')'))
            {
                *projects_per_deal.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    for d in &deals {
        match d.state {
            DealState::Won => {
                s.deals_won += 1;
                if cases_per_deal.get(d.id.as_str()).copied().unwrap_or(0) != 1 {
                    s.checks.won_deals_without_exactly_one_ticket += 1;
                }
                if projects_per_deal.get(&d.id).copied().unwrap_or(0) != 1 {
                    s.checks.won_deals_without_exactly_one_project += 1;
                }
            }
            DealState::Lost => s.deals_lost += 1,
            DealState::Open => {}
        }
    }
    s.checks.ok = s.checks_pass();
    s
}

impl Summary {
    fn checks_pass(&self) -> bool {
        let c = &self.checks;
        c.won_deals_without_exactly_one_ticket == 0
            && c.won_deals_without_exactly_one_project == 0
            && c.routed_leads_without_exactly_one_dm == 0
            && c.routed_leads_without_an_owner == 0
            && c.leads_without_an_outcome == 0
            && c.duplicate_messages == 0
            && c.two_crms.as_ref().is_none_or(TwoCrmChecks::pass)
            && c.cases.as_ref().is_none_or(CaseChecks::pass)
    }

    /// Adds support's case checks and counts ([`super::support::checks::compute`]) for the
    /// cases `support` opened, from the CRM's cases and comments, Slack's messages and the
    /// case flow's audit entries read from the stopped daemon's `store`; nothing without
    /// support cases.
    pub fn add_cases(
        &mut self,
        store: &Store,
        crm: &dyn SandboxCrm,
        slack: &SlackEmulator,
        support: Option<&Support>,
        tickets: usize,
    ) -> Result<(), crate::state::StateError> {
        let (Some(support), Some(desk)) = (support, crm.support()) else {
            return Ok(());
        };
        let opened: Vec<OpenedCase> = support
            .opened()
            .into_iter()
            .map(|(id, plan)| OpenedCase {
                record_key: desk.case_key(&id),
                id,
                initial_owner: plan.initial_owner,
                escalated_by_agent: plan.escalated,
            })
            .collect();
        let team = Team {
            l2: support.l2_agents().iter().cloned().collect(),
            fallback: support.fallback().to_string(),
        };
        let keys: Vec<String> = slack
            .messages()
            .iter()
            .filter_map(|m| metadata_key(m).map(str::to_string))
            .collect();
        let mut audit = Vec::new();
        for entry in store.audit_entries(None) {
            let e = entry?;
            if e.event.starts_with("case_") {
                audit.push(e);
            }
        }
        let (checks, mut counts) =
            super::support::checks::compute(desk, &opened, &team, &keys, audit);
        let c = &support.counts;
        counts.tickets = tickets;
        counts.bot_cases = c.bot_conversations.load(Ordering::Relaxed);
        counts.assigned_at_creation = c.assigned_at_creation.load(Ordering::Relaxed);
        counts.matched_to_accounts = c.matched_to_accounts.load(Ordering::Relaxed);
        counts.agents = c.totals();
        self.cases = Some(counts);
        self.checks.cases = Some(checks);
        self.checks.ok = self.checks_pass();
        Ok(())
    }

    /// Adds the checks and counts across two CRMs ([`SandboxCrm::two_crms`], for the leads
    /// the replay created; nothing for a single CRM), with the marketing flow's audit entries
    /// read from the stopped daemon's `store`.
    pub fn add_two_crms(
        &mut self,
        store: &Store,
        crm: &dyn SandboxCrm,
        counts: &ReplayCounts,
    ) -> Result<(), crate::state::StateError> {
        let arrivals = counts.arrivals();
        let Some(two) = crm.two_crms(&arrivals) else {
            return Ok(());
        };
        let mut m = two.counts;
        for entry in store.audit_entries(None) {
            let e = entry?;
            match e.event.as_str() {
                "promoted" => m.audit_promoted += 1,
                "stage_written_back" => m.audit_stages_written_back += 1,
                "owner_mirrored" => {
                    let by = e.detail["found_by"].as_str().unwrap_or("unknown");
                    *m.audit_owners_mirrored.entry(by.to_string()).or_default() += 1;
                }
                _ => {}
            }
        }
        self.marketing = Some(m);
        self.checks.two_crms = Some(two.checks);
        self.checks.ok = self.checks_pass();
        Ok(())
    }

    /// Adds the audit trail's lead outcomes (read from the stopped daemon's `store`) and the
    /// checks that need them: every lead the replay created was routed (directly or after a
    /// deferral) or nurtured, and every routed lead still active has an owner in the CRM.
    pub fn add_audit(
        &mut self,
        store: &Store,
        crm: &dyn SandboxCrm,
        counts: &ReplayCounts,
    ) -> Result<(), crate::state::StateError> {
        let mut kinds: HashMap<String, BTreeSet<String>> = HashMap::new();
        let r = &mut self.routing;
        let leads = crm.lead_key_prefixes();
        for entry in store.audit_entries(None) {
            let e = entry?;
            if !leads.iter().any(|p| e.record_key.starts_with(p)) {
                continue;
            }
            if e.event == "first_touch" {
                r.touched += 1;
                let by = e.detail["by"].as_str().unwrap_or("unknown").to_string();
                if by == "claim" {
                    r.claimed += 1;
                }
                *r.touched_by.entry(by).or_default() += 1;
                if e.detail["met"] == true {
                    r.sla_met += 1;
                }
            }
            if e.event == "owner_change" {
                let action = e.detail["action"].as_str().unwrap_or("unknown").to_string();
                *r.owner_changes.entry(action).or_default() += 1;
            }
            kinds.entry(e.event).or_default().insert(e.record_key);
        }
        let report = crate::report::from_store(store, None, 0)?;
        self.report = Some(ReportDigest {
            overall: report.overall,
            teams: report.teams,
            acceptance: report.acceptance,
            completeness: report.completeness,
            recycle: report.recycle,
        });
        let n = |k: &str| kinds.get(k).map_or(0, BTreeSet::len);
        r.routed = n("routed");
        r.deferred = n("deferred");
        r.acknowledged = n("after_hours_ack");
        r.reminded = n("sla_reminder");
        r.escalated = n("sla_breached");
        r.reassigned = n("sla_reassigned");
        r.recycled = n("recycled");
        r.rejected = n("rejected");
        r.nurtured = n("nurtured");
        let empty = BTreeSet::new();
        let of = |k: &str| kinds.get(k).unwrap_or(&empty);
        r.deferred_then_routed = of("deferred").intersection(of("routed")).count();
        let ids: BTreeSet<String> = counts
            .lead_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        self.checks.leads_without_an_outcome = crm
            .outcome_keys(&ids)
            .iter()
            .filter(|keys| {
                !keys
                    .iter()
                    .any(|k| of("routed").contains(k) || of("nurtured").contains(k))
            })
            .count();
        self.checks.routed_leads_without_an_owner = of("routed")
            .iter()
            .filter(|k| !of("recycled").contains(*k) && !of("rejected").contains(*k))
            .filter(|k| {
                let id = k.rsplit(':').next().unwrap_or_default();
                crm.lead_owner(id).is_none()
            })
            .count();
        self.checks.ok = self.checks_pass();
        Ok(())
    }
}

/// One progress line.
pub fn progress_line(s: &Summary, counts: &ReplayCounts) -> String {
    let reasons = s
        .nurtured_by_reason
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let reps = if s.reps.is_empty() {
        String::new()
    } else {
        let parts: Vec<String> = s.reps.iter().map(|(k, v)| format!("{v} {k}")).collect();
        format!(" | reps: {}", parts.join(", "))
    };
    let l = &s.live;
    let flow = format!(
        " | {} deferred, {} acknowledged, {} reminded, {} escalated, {} reassigned, {} recycled, {} rejected, {} owner changes reverted",
        l.deferred,
        l.acknowledged,
        l.reminded,
        l.escalated,
        l.reassigned,
        l.recycled,
        l.rejected,
        l.owner_reverted
    );
    format!(
        "{} | event {}/{} | leads {} in, {} routed ({} to accounts), {} claimed, {} nurtured [{}]{flow}{reps} | deals {} won, {} lost | {} {}, {} projects, {} messages | inbox {}, outbox {}, dead letters {}",
        s.simulated.end,
        counts.events_replayed.load(Ordering::Relaxed),
        counts.events_total.load(Ordering::Relaxed),
        s.leads_received,
        s.leads_routed,
        s.leads_matched_to_accounts,
        s.leads_claimed,
        s.leads_nurtured,
        reasons,
        s.deals_won,
        s.deals_lost,
        s.onboarding_tickets,
        s.case_noun,
        s.asana_projects,
        s.slack_messages,
        s.inbox_depth,
        s.outbox_depth,
        s.dead_letters
    )
}

#[cfg(test)]
mod live_tests {
    use super::LiveCounts;

    #[test]
    fn live_counts_sum_the_lead_flow_counters_of_prometheus_text() {
        let text = r#"# TYPE handoff_sla_steps_total counter
handoff_sla_steps_total{step="reminder"} 7
handoff_sla_steps_total{step="breach"} 3
handoff_sla_steps_total{step="reassign"} 1
handoff_flow_outcomes_total{flow="lead_handoff",outcome="deferred"} 4
handoff_flow_outcomes_total{flow="lead_handoff",outcome="routed"} 40
handoff_after_hours_acks_total 4
handoff_leads_recycled_total{reason="sla_expired"} 2
handoff_leads_recycled_total{reason="not_a_fit"} 1
handoff_leads_rejected_total{reason="not_a_fit"} 1
handoff_owner_changes_total{action="reverted",system="marketing"} 2
handoff_owner_changes_total{action="accepted",system="crm"} 5
"#;
        assert_eq!(
            LiveCounts::parse(text),
            LiveCounts {
                deferred: 4,
                acknowledged: 4,
                reminded: 7,
                escalated: 3,
                reassigned: 1,
                recycled: 3,
                rejected: 1,
                owner_reverted: 2,
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_counts_the_crm_s_cases_in_its_own_word() {
        let counts = ReplayCounts::default();
        counts.events_total.store(10, Ordering::Relaxed);
        counts.events_replayed.store(4, Ordering::Relaxed);
        let s = Summary {
            leads_received: 5,
            leads_routed: 2,
            leads_nurtured: 3,
            nurtured_by_reason: [("invalid_phone".to_string(), 3)].into_iter().collect(),
            deals_won: 3,
            deals_lost: 1,
            onboarding_tickets: 3,
            asana_projects: 3,
            slack_messages: 7,
            case_noun: "cases",
            simulated: SimulatedTime {
                end: "Fri 17:00Z".into(),
                ..SimulatedTime::default()
            },
            ..Summary::default()
        };
        let line = progress_line(&s, &counts);
        assert!(
            line.starts_with("Fri 17:00Z | event 4/10 | leads 5 in, 2 routed"),
            "{line}"
        );
        assert!(line.contains("3 nurtured [invalid_phone 3]"), "{line}");
        assert!(
            line.contains("| deals 3 won, 1 lost | 3 cases, 3 projects, 7 messages |"),
            "{line}"
        );
    }
}
