//! Routing a qualified lead to one owner: named account first, then territory and round robin.
//!
//! Pure decisions over the mapped lead, the team config and the current rotation positions; the
//! caller commits the new position with the decision (see [`crate::state::Completion`]), so the
//! rotation is durable and a change processed twice gets the same owner.

use crate::config::{LeadHandoffConfig, TeamConfig};
use serde::Serialize;

/// Why an owner was chosen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum RouteRule {
    /// The contact already had an owner in the CRM: that owner keeps it.
    ExistingOwner { owner_id: String },
    /// The lead's company is an existing account with an owner: that owner keeps it.
    NamedAccount { company_id: String },
    /// The team owning the lead's country, then round robin within the team.
    Territory { team: String, matched: String },
    /// No territory lists the country: the default team, round robin.
    DefaultTeam { team: String },
}

/// A routing decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route {
    /// Owner email (CRM owners and Slack users are matched by email).
    pub owner_email: String,
    pub rule: RouteRule,
    /// The rotation to store: (state key, next position), when round robin was used.
    #[serde(skip)]
    pub rotation: Option<(String, u64)>,
}

/// The flow-state key of a team's rotation position.
pub fn rotation_key(team: &str) -> String {
    format!("rr:team:{team}")
}

/// The team whose territory lists `country_code` (ISO alpha-2) or `country` (name), compared
/// case-insensitively; `None` when no territory lists it.
pub fn territory_team<'a>(
    config: &'a LeadHandoffConfig,
    country_code: Option<&str>,
    country: Option<&str>,
) -> Option<(&'a TeamConfig, String)> {
    let wanted: Vec<&str> = [country_code, country].into_iter().flatten().collect();
    config.teams.iter().find_map(|team| {
        team.countries.iter().find_map(|c| {
            wanted
                .iter()
                .find(|w| w.trim().eq_ignore_ascii_case(c.trim()))
                .map(|w| (team, w.to_string()))
        })
    })
}

/// Picks the member at `position` and returns the next position.
pub fn round_robin(team: &TeamConfig, position: u64) -> (&str, u64) {
    let n = team.members.len() as u64;
    let member = &team.members[(position % n) as usize];
    (member.as_str(), (position + 1) % n)
}

/// Routes a lead by territory and round robin. `position_of(key)` reads a stored rotation
/// position (0 when none).
pub fn route_by_territory(
    config: &LeadHandoffConfig,
    country_code: Option<&str>,
    country: Option<&str>,
    position_of: impl Fn(&str) -> u64,
) -> Route {
    let (team, rule) = match territory_team(config, country_code, country) {
        Some((team, matched)) => (
            team,
            RouteRule::Territory {
                team: team.name.clone(),
                matched,
            },
        ),
        None => {
            let team = config
                .teams
                .iter()
                .find(|t| t.name == config.default_team.value)
                .expect("default team is checked at config load");
            (
                team,
                RouteRule::DefaultTeam {
                    team: team.name.clone(),
                },
            )
        }
    };
    let key = rotation_key(&team.name);
    let (owner, next) = round_robin(team, position_of(&key));
    Route {
        owner_email: owner.to_string(),
        rule,
        rotation: Some((key, next)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config() -> LeadHandoffConfig {
        let yaml = r#"
mapping: m
update_mapping: u
account_mapping: a
teams:
  - { name: East, members: [a@x.com, b@x.com], countries: [DE, France] }
  - { name: West, members: [c@x.com], countries: [US] }
default_team: West
"#;
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn territory_matches_code_or_name_case_insensitively() {
        let c = config();
        assert_eq!(territory_team(&c, Some("de"), None).unwrap().0.name, "East");
        assert_eq!(
            territory_team(&c, None, Some("france")).unwrap().0.name,
            "East"
        );
        assert!(territory_team(&c, Some("BR"), Some("Brazil")).is_none());
    }

    #[test]
    fn unknown_country_goes_to_the_default_team() {
        let r = route_by_territory(&config(), Some("BR"), None, |_| 0);
        assert_eq!(
            r.rule,
            RouteRule::DefaultTeam {
                team: "West".into()
            }
        );
        assert_eq!(r.owner_email, "c@x.com");
    }

    proptest! {
        /// Over any number of leads, strict round robin gives each member a share within one
        /// assignment of every other member's.
        #[test]
        fn round_robin_is_fair(leads in 1usize..500) {
            let c = config();
            let team = &c.teams[0];
            let mut pos = 0;
            let mut counts = std::collections::HashMap::new();
            for _ in 0..leads {
                let (m, next) = round_robin(team, pos);
                *counts.entry(m.to_string()).or_insert(0usize) += 1;
                pos = next;
            }
            let max = counts.values().max().copied().unwrap_or(0);
            let min = if counts.len() < team.members.len() { 0 } else { counts.values().min().copied().unwrap_or(0) };
            prop_assert!(max - min <= 1);
        }
    }
}
