//! Seeds the emulators with the sandbox's world before the daemon starts: the 35 sales agents
//! and their managers as CRM owners in their regional teams, a small customer-success team
//! (the CSM pool), a Slack user for each of them (same email), the 85 accounts (each with a
//! web domain and, as its owner, the agent with most opportunities on it; an account without
//! opportunities has no owner, or the CRM's default owner, who is then a Slack user too), and
//! one Asana project template per customer tier. What each becomes in the CRM is the CRM's business
//! ([`SandboxCrm::add_person`], [`SandboxCrm::add_account`]).
//!
//! With support's case handoffs (`cases:`, the two-CRM sandbox), [`seed_support`] adds the
//! support team of [`SUPPORT`] the same way: CRM users and Slack members with their emails.
//!
//! The two agents of [`AWAY`] are marked away for the whole run where the CRM holds an
//! availability (HubSpot's `hs_availability_status`, which the daemon's refresher reads through
//! `lead_handoff.routing_inputs.out_of_office` in `handoff.yaml`, so routing leaves them out).

use super::crm::{AccountSeed, SandboxCrm, Staff};
use super::data::{account_domain, person_email, Dataset};
use handoff_asana::AsanaEmulator;
use handoff_slack::SlackEmulator;
use std::collections::HashMap;

/// The customer-success team added as the CSM pool (the Maven data has none).
pub const CSMS: [(&str, &str); 4] = [
    ("Priya", "Natarajan"),
    ("Tom", "Okafor"),
    ("Lena", "Fischer"),
    ("Marco", "Rossi"),
];

/// The support team (the datasets have none), as `src/sandbox/support-routing.yaml` names
/// them by email ([`person_email`] of the name): L1 agents on four shifts (Americas, EMEA,
/// APAC, weekend), L2 experts in New York and Berlin, the two tiers' leads (the SLA breach DMs
/// go to them) and the head of support, the rule set's fallback owner.
pub const SUPPORT: [(&str, &str, &str); 18] = [
    ("Ana", "Moreno", "L1 Americas"),
    ("Ben", "Carter", "L1 Americas"),
    ("Chloe", "Nguyen", "L1 Americas"),
    ("Diego", "Alvarez", "L1 Americas"),
    ("Elif", "Demir", "L1 EMEA"),
    ("Finn", "Larsen", "L1 EMEA"),
    ("Greta", "Vogel", "L1 EMEA"),
    ("Hana", "Sato", "L1 APAC"),
    ("Ivan", "Tan", "L1 APAC"),
    ("Jade", "Okoye", "L1 Weekend"),
    ("Kofi", "Mensah", "L1 Weekend"),
    ("Lucas", "Meyer", "L1 lead"),
    ("Maya", "Patel", "L2 Americas"),
    ("Noah", "Kim", "L2 Americas"),
    ("Olga", "Petrova", "L2 EMEA"),
    ("Paulo", "Costa", "L2 EMEA"),
    ("Omar", "Farouk", "L2 lead"),
    ("Nadia", "Haddad", "Head of support"),
];

/// Sales agents (Maven `sales_agent` names) marked `away` in the CRM for the whole run (where
/// it holds availability): one in East, one in Central (also in the partner-referrals pool),
/// both of whom get leads otherwise.
pub const AWAY: [&str; 2] = ["Corliss Cosme", "Anna Snelling"];

/// Ids the replay needs.
#[derive(Debug, Default)]
pub struct World {
    /// Sales agent name → CRM owner id.
    pub owner_ids: HashMap<String, String>,
    /// Email → CRM owner id, for every person seeded.
    pub owners_by_email: HashMap<String, String>,
    /// Account name → CRM account id.
    pub company_ids: HashMap<String, String>,
    /// Email → Slack user id, for every person.
    pub slack_users: HashMap<String, String>,
    /// Emails of the sales agents (who receive lead DMs and click "Claim lead").
    pub agent_emails: Vec<String>,
    /// Emails of the agents marked away ([`AWAY`]).
    pub away_emails: Vec<String>,
}

/// Seeds the CRM, Slack and Asana; returns the ids the replay uses.
pub fn seed(
    data: &Dataset,
    crm: &dyn SandboxCrm,
    slack: &SlackEmulator,
    asana: &AsanaEmulator,
) -> World {
    let mut world = World::default();
    let person = |first: &str, last: &str, team: &str, world: &mut World| -> String {
        let name = format!("{first} {last}");
        let email = person_email(&name);
        let away = AWAY.contains(&name.as_str());
        if away {
            world.away_emails.push(email.clone());
        }
        let id = crm.add_person(&Staff {
            email: &email,
            first,
            last,
            team: Some(team),
            away: Some(away),
        });
        let slack_id = slack.add_user(&email, &format!("{first} {last}"));
        world.slack_users.insert(email.clone(), slack_id);
        world.owners_by_email.insert(email, id.clone());
        id
    };
    let mut managers: Vec<(&str, &str)> = Vec::new();
    for a in &data.agents {
        let (first, last) = split_name(&a.sales_agent);
        let id = person(first, last, &a.regional_office, &mut world);
        world.owner_ids.insert(a.sales_agent.clone(), id);
        world.agent_emails.push(person_email(&a.sales_agent));
        if !managers.iter().any(|(m, _)| *m == a.manager) {
            managers.push((&a.manager, &a.regional_office));
        }
    }
    for (manager, office) in managers {
        let (first, last) = split_name(manager);
        person(first, last, office, &mut world);
    }
    for (first, last) in CSMS {
        person(first, last, "Customer Success", &mut world);
    }
    // Whoever the CRM gives ownerless records to (a Salesforce account without an agent is
    // its creator's) can be routed a named account's lead: they are in Slack too.
    if let Some(owner) = crm.default_owner() {
        let slack_id = slack.add_user(&owner.email, &owner.name);
        world.slack_users.insert(owner.email.clone(), slack_id);
        world.owners_by_email.insert(owner.email, owner.id);
    }

    // The named-account owner: the agent with most opportunities on the account.
    let mut counts: HashMap<(&str, &str), usize> = HashMap::new();
    for o in &data.opportunities {
        if let Some(acct) = &o.account {
            *counts
                .entry((acct.as_str(), o.sales_agent.as_str()))
                .or_default() += 1;
        }
    }
    for a in &data.accounts {
        let owner = counts
            .iter()
            .filter(|((acct, _), _)| *acct == a.account)
            .max_by_key(|((_, agent), n)| (**n, std::cmp::Reverse(*agent)))
            .and_then(|((_, agent), _)| world.owner_ids.get(*agent).cloned());
        let domain = account_domain(&a.account);
        let seed = AccountSeed {
            name: &a.account,
            domain: &domain,
            industry: &a.sector,
            country: &a.office_location,
            employees: a.employees,
            revenue_usd: a.revenue.map(|r| r * 1_000_000.0),
            year_established: a.year_established,
            owner_id: owner.as_deref(),
        };
        match crm.add_account(&seed) {
            Ok(id) => {
                world.company_ids.insert(a.account.clone(), id);
            }
            Err(e) => {
                tracing::warn!(account = %a.account, error = %e, "sandbox could not create an account")
            }
        }
    }

    for (tier, extra) in [
        (
            "Enterprise",
            vec![
                "Executive sponsor call",
                "Security review",
                "Integration plan",
            ],
        ),
        ("Growth", vec!["Integration plan"]),
        ("Starter", vec![]),
    ] {
        let mut kickoff = vec!["Welcome email", "Kickoff call"];
        kickoff.extend(extra);
        asana.add_template(
            format!("Onboarding — {tier}"),
            vec![
                (
                    "Kickoff".to_string(),
                    kickoff.into_iter().map(String::from).collect(),
                ),
                (
                    "Go live".to_string(),
                    vec![
                        "Training session".to_string(),
                        "First value review".to_string(),
                    ],
                ),
            ],
        );
    }
    world
}

/// Adds the support team ([`SUPPORT`]) as CRM owners (their team: `Support`) and Slack
/// members, as [`seed`] adds the sales organisation; returns their emails.
pub fn seed_support(crm: &dyn SandboxCrm, slack: &SlackEmulator, world: &mut World) -> Vec<String> {
    let mut emails = Vec::new();
    for (first, last, _) in SUPPORT {
        let email = person_email(&format!("{first} {last}"));
        let id = crm.add_person(&Staff {
            email: &email,
            first,
            last,
            team: Some("Support"),
            away: Some(false),
        });
        let slack_id = slack.add_user(&email, &format!("{first} {last}"));
        world.slack_users.insert(email.clone(), slack_id);
        world.owners_by_email.insert(email.clone(), id);
        emails.push(email);
    }
    emails
}

fn split_name(name: &str) -> (&str, &str) {
    name.trim().split_once(' ').unwrap_or((name, ""))
}

/// Adds every person the rule set names (reps, managers, queue owners, the fallback owner)
/// who is not seeded yet as a CRM owner and a Slack user, so any owner the engine can choose
/// exists in both. Returns how many were added.
pub fn add_rule_people(
    rules: &crate::routing::RuleSet,
    crm: &dyn SandboxCrm,
    slack: &SlackEmulator,
    world: &mut World,
) -> usize {
    let mut emails: Vec<String> = vec![rules.fallback_owner().to_string()];
    for t in rules.teams() {
        emails.extend(t.members.iter().map(|m| m.email.clone()));
        emails.extend(t.members.iter().map(|m| m.manager.clone()));
        emails.extend(t.managers.iter().cloned());
        emails.extend(t.queue_owner.iter().cloned());
    }
    for r in &rules.rules {
        emails.extend(r.queue_owner.iter().cloned());
        emails.extend(r.manager.iter().cloned());
    }
    let mut added = 0;
    for email in emails {
        let email = email.trim().to_lowercase();
        if world.slack_users.contains_key(&email) {
            continue;
        }
        let local = email.split('@').next().unwrap_or_default();
        let mut parts = local.split(['.', '-']).map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        });
        let first = parts.next().unwrap_or_default();
        let last = parts.collect::<Vec<_>>().join(" ");
        let owner = crm.add_person(&Staff {
            email: &email,
            first: &first,
            last: &last,
            team: None,
            away: None,
        });
        let id = slack.add_user(&email, &format!("{first} {last}"));
        world.slack_users.insert(email.clone(), id);
        world.owners_by_email.insert(email, owner);
        added += 1;
    }
    added
}
