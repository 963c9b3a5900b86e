//! `lead_handoff.routing_inputs`: what the daemon reads from the CRM for the routing engine,
//! and how often (the refresher is `daemon::load`).
//!
//! ```yaml
//! lead_handoff:
//!   routing_inputs:
//!     refresh_s: 300                 # one read of every input every five minutes
//!     open_statuses: [NEW, OPEN, IN_PROGRESS]
//!     out_of_office:                 # optional: who is away, from a CRM field
//!       object: users
//!       property: hs_availability_status
//!       away_values: [away]
//!       email_property: hs_email
//! ```
//!
//! Load: for every rep of a least-loaded pool, the number of contacts they own whose
//! `hs_lead_status` is one of `open_statuses` (a CRM search per rep, `limit: 1`, reading
//! `total`). HubSpot's search budget is 4 requests per second per token
//! (`vendor-specs/NOTES.md` §1.2) and the change-feed poller searches too, so the refresher
//! searches through the daemon's one HubSpot client and shares its search pace (4 per second,
//! `HubSpotConfig::search_requests_per_second`).
//!
//! Out of office: HubSpot's users object (`/crm/v3/objects/users`, HubSpot CRM Users API
//! guide, https://developers.hubspot.com/docs/api/crm/users) carries `hs_availability_status`,
//! documented as `available` or `away`; the user's email is `hs_email` (seen in integrations
//! that read the users object; not in this repository's specs). The HubSpot connector and its
//! emulator serve the users object (`handoff_hubspot::emulator::users`). Nothing is read
//! unless the section is configured, and its object and property are the admin's choice (any
//! object the CRM connector can search, with one record per rep).

use serde::Deserialize;

/// `lead_handoff.routing_inputs`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoutingInputsConfig {
    /// Seconds between two reads of the inputs (on the daemon's clock); default 300.
    #[serde(default = "default_refresh_s")]
    pub refresh_s: u64,
    /// `hs_lead_status` values that count as an open lead (default NEW, OPEN, IN_PROGRESS).
    #[serde(default = "default_open_statuses")]
    pub open_statuses: Vec<String>,
    /// Where reps' out-of-office status lives in the CRM; `None` reads none.
    #[serde(default)]
    pub out_of_office: Option<OutOfOfficeField>,
}

impl Default for RoutingInputsConfig {
    fn default() -> Self {
        Self {
            refresh_s: default_refresh_s(),
            open_statuses: default_open_statuses(),
            out_of_office: None,
        }
    }
}

/// A CRM field that says a rep is away: records of `object` whose `property` is one of
/// `away_values` mark the rep whose email is in `email_property` as out of office.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutOfOfficeField {
    /// CRM object type, e.g. `users`.
    pub object: String,
    /// The property holding the status, e.g. `hs_availability_status`.
    pub property: String,
    /// Values of `property` that mean "away" (compared case-insensitively), e.g. `[away]`.
    pub away_values: Vec<String>,
    /// The property holding the rep's email (default `hs_email`, the users object's).
    #[serde(default = "default_email_property")]
    pub email_property: String,
}

fn default_refresh_s() -> u64 {
    300
}
fn default_open_statuses() -> Vec<String> {
    ["NEW", "OPEN", "IN_PROGRESS"].map(String::from).to_vec()
}
fn default_email_property() -> String {
    "hs_email".into()
}

/// Checks what serde cannot: a positive refresh and pace, statuses and away values present.
pub fn check(c: &RoutingInputsConfig) -> Result<(), String> {
    if c.refresh_s == 0 {
        return Err("refresh_s: must be at least 1".into());
    }
    if c.open_statuses.is_empty() {
        return Err("open_statuses: list at least one hs_lead_status value".into());
    }
    if let Some(o) = &c.out_of_office {
        if o.object.trim().is_empty() || o.property.trim().is_empty() {
            return Err("out_of_office: object and property must not be empty".into());
        }
        if o.away_values.is_empty() {
            return Err("out_of_office.away_values: list at least one value".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_unknown_fields_are_refused() {
        let c: RoutingInputsConfig = serde_saphyr::from_str("{}").unwrap();
        assert_eq!(c, RoutingInputsConfig::default());
        assert_eq!(c.open_statuses, ["NEW", "OPEN", "IN_PROGRESS"]);
        let c: RoutingInputsConfig = serde_saphyr::from_str(
            "refresh_s: 60\nout_of_office: { object: users, property: hs_availability_status, away_values: [away] }",
        )
        .unwrap();
        assert_eq!(c.refresh_s, 60);
        assert_eq!(c.out_of_office.unwrap().email_property, "hs_email");
        assert!(serde_saphyr::from_str::<RoutingInputsConfig>("refresh: 60").is_err());
    }

    #[test]
    fn check_refuses_zero_and_empty_lists() {
        let mut c = RoutingInputsConfig::default();
        assert!(check(&c).is_ok());
        c.refresh_s = 0;
        assert!(check(&c).unwrap_err().starts_with("refresh_s"));
        c.refresh_s = 1;
        c.open_statuses.clear();
        assert!(check(&c).unwrap_err().starts_with("open_statuses"));
    }
}
