//! What the sandbox shows: progress while it runs and the final summary, both computed from the
//! emulators' own state (what the vendors would hold), not from the daemon's counters.

use super::replay::ReplayCounts;
use crate::state::StatusReport;
use handoff_asana::AsanaEmulator;
use handoff_hubspot::HubSpotEmulator;
use handoff_slack::SlackEmulator;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

/// Outcomes and the invariants they must satisfy.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub data: String,
    pub leads_received: u64,
    /// Contacts with an owner written by handoff (lead status set, owner present).
    pub leads_routed: usize,
    /// Routed leads that matched an existing account (associated with a company).
    pub leads_matched_to_accounts: usize,
    pub leads_nurtured: usize,
    pub nurtured_by_reason: BTreeMap<String, usize>,
    pub leads_claimed: usize,
    pub deals_created: u64,
    pub deals_won: usize,
    pub deals_lost: usize,
    pub onboarding_tickets: usize,
    pub asana_projects: usize,
    pub slack_messages: usize,
    pub dead_letters: usize,
    pub inbox_depth: usize,
    pub outbox_depth: usize,
    pub checks: Checks,
    pub elapsed_s: f64,
}

/// The delivery invariants, counted (each must be zero for `ok`).
#[derive(Debug, Default, Serialize)]
pub struct Checks {
    pub won_deals_without_exactly_one_ticket: usize,
    pub won_deals_without_exactly_one_project: usize,
    pub routed_leads_without_exactly_one_dm: usize,
    pub duplicate_messages: usize,
    pub ok: bool,
}

impl Summary {
    pub fn ok(&self) -> bool {
        self.checks.ok
    }
}

fn prop<'a>(o: &'a Value, name: &str) -> Option<&'a str> {
    o["properties"][name].as_str().filter(|s| !s.is_empty())
}

fn assoc_ids(o: &Value, to: &str) -> Vec<String> {
    o["associations"][to]["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn metadata_key(m: &Value) -> Option<&str> {
    m["metadata"]["event_payload"]["idempotency_key"].as_str()
}

/// Computes the summary from the emulators' state.
pub fn summarize(
    hubspot: &HubSpotEmulator,
    slack: &SlackEmulator,
    asana: &AsanaEmulator,
    counts: &ReplayCounts,
    status: &StatusReport,
    data: &str,
) -> Summary {
    let contacts = hubspot.objects("contacts");
    let deals = hubspot.objects("deals");
    let tickets = hubspot.objects("tickets");
    let projects = asana.projects();
    let messages = slack.messages();

    let mut s = Summary {
        data: data.to_string(),
        leads_received: counts.leads_created.load(Ordering::Relaxed),
        deals_created: counts.deals_created.load(Ordering::Relaxed),
        onboarding_tickets: tickets.len(),
        asana_projects: projects.len(),
        slack_messages: messages.len(),
        dead_letters: status.dead_letters,
        inbox_depth: status.inbox_depth,
        outbox_depth: status.outbox_depth,
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
    for c in &contacts {
        if let Some(reason) = prop(c, "handoff_nurture_reason") {
            s.leads_nurtured += 1;
            *s.nurtured_by_reason.entry(reason.to_string()).or_default() += 1;
        } else if prop(c, "hubspot_owner_id").is_some()
            && matches!(prop(c, "hs_lead_status"), Some("NEW" | "IN_PROGRESS"))
        {
            s.leads_routed += 1;
            if !assoc_ids(c, "companies").is_empty() {
                s.leads_matched_to_accounts += 1;
            }
            let id = c["id"].as_str().unwrap_or_default();
            let key = format!("lead:hubspot:contacts:{id}:dm");
            if dm_keys.get(key.as_str()).copied().unwrap_or(0) != 1 {
                s.checks.routed_leads_without_exactly_one_dm += 1;
            }
        }
    }
    let mut tickets_per_deal: HashMap<String, usize> = HashMap::new();
    for t in &tickets {
        for d in assoc_ids(t, "deals") {
            *tickets_per_deal.entry(d).or_default() += 1;
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
        match prop(d, "dealstage") {
            Some("closedwon") => {
                s.deals_won += 1;
                let id = d["id"].as_str().unwrap_or_default();
                if tickets_per_deal.get(id).copied().unwrap_or(0) != 1 {
                    s.checks.won_deals_without_exactly_one_ticket += 1;
                }
                if projects_per_deal.get(id).copied().unwrap_or(0) != 1 {
                    s.checks.won_deals_without_exactly_one_project += 1;
                }
            }
            Some("closedlost") => s.deals_lost += 1,
            _ => {}
        }
    }
    let c = &s.checks;
    s.checks.ok = c.won_deals_without_exactly_one_ticket == 0
        && c.won_deals_without_exactly_one_project == 0
        && c.routed_leads_without_exactly_one_dm == 0
        && c.duplicate_messages == 0;
    s
}

/// One progress line.
pub fn progress_line(s: &Summary, counts: &ReplayCounts) -> String {
    let reasons = s
        .nurtured_by_reason
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "day {}/{} | leads {} in, {} routed ({} to accounts), {} claimed, {} nurtured [{}] | deals {} won, {} lost | {} tickets, {} projects, {} messages | inbox {}, outbox {}, dead letters {}",
        counts.days_replayed.load(Ordering::Relaxed),
        counts.days_total.load(Ordering::Relaxed),
        s.leads_received,
        s.leads_routed,
        s.leads_matched_to_accounts,
        s.leads_claimed,
        s.leads_nurtured,
        reasons,
        s.deals_won,
        s.deals_lost,
        s.onboarding_tickets,
        s.asana_projects,
        s.slack_messages,
        s.inbox_depth,
        s.outbox_depth,
        s.dead_letters
    )
}
