//! The HubSpot CRM object types handoff works with, and the per-type facts the client, the feed
//! and the emulator share (URL names, object type ids, the created- and modified-date
//! properties, webhook subscription prefixes, default returned properties).
//!
//! Two families: the four CRM records handoff reads, writes and polls ([`ObjectType::ALL`]),
//! and the three engagement (activity) types a rep logs on a record ([`ObjectType::ENGAGEMENTS`]:
//! calls, emails, meetings), which handoff only needs so that logging one moves the contact's
//! "Last contacted" (`notes_last_contacted`).
//!
//! Sources: HubSpot CRM search guide (default returned properties per search endpoint:
//! contacts return `lastmodifieddate`, companies/deals/tickets return `hs_lastmodifieddate`),
//! `vendor-specs/NOTES.md` §1.6 (object type ids `0-1` contacts, `0-2` companies, `0-3` deals,
//! `0-5` tickets; the deals spec spells its path `/crm/v3/objects/0-3`). Engagement type ids
//! (`0-48` calls, `0-49` emails, `0-47` meetings) and their `hs_createdate` /
//! `hs_lastmodifieddate` / `hs_timestamp` properties: HubSpot's object type id table and the
//! engagements guides (developers.hubspot.com/docs/api/crm/calls, …/email, …/meetings) — read
//! from memory of those pages and from recorded calls-API responses in public connectors, not
//! re-read this session **[unverified]**.

use std::fmt;
use std::str::FromStr;

/// A HubSpot CRM object type handoff works with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectType {
    Contacts,
    Companies,
    Deals,
    Tickets,
    /// Engagement: a logged call (`0-48`).
    Calls,
    /// Engagement: a logged email (`0-49`).
    Emails,
    /// Engagement: a meeting (`0-47`).
    Meetings,
}

/// A path segment that names no object type handoff knows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Unable to infer object type from: {0}")]
pub struct UnknownObjectType(pub String);

impl ObjectType {
    /// The four CRM record types, in the order handoff polls them (webhooks, state files and
    /// the feed only know these).
    pub const ALL: [ObjectType; 4] = [
        ObjectType::Contacts,
        ObjectType::Companies,
        ObjectType::Deals,
        ObjectType::Tickets,
    ];

    /// The engagement types whose creation sets the associated contacts' "Last contacted".
    pub const ENGAGEMENTS: [ObjectType; 3] =
        [ObjectType::Calls, ObjectType::Emails, ObjectType::Meetings];

    /// Every type a path or a name may name ([`ObjectType::ALL`] then the engagements).
    pub const EVERY: [ObjectType; 7] = [
        ObjectType::Contacts,
        ObjectType::Companies,
        ObjectType::Deals,
        ObjectType::Tickets,
        ObjectType::Calls,
        ObjectType::Emails,
        ObjectType::Meetings,
    ];

    /// Whether this is an engagement (call, email, meeting).
    pub fn is_engagement(self) -> bool {
        Self::ENGAGEMENTS.contains(&self)
    }

    /// The plural name used in `/crm/v3/objects/{name}` and in [`handoff_connector::Change`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Contacts => "contacts",
            Self::Companies => "companies",
            Self::Deals => "deals",
            Self::Tickets => "tickets",
            Self::Calls => "calls",
            Self::Emails => "emails",
            Self::Meetings => "meetings",
        }
    }

    /// The object type id (`0-1`, `0-2`, `0-3`, `0-5`; `0-48`, `0-49`, `0-47`).
    pub fn type_id(self) -> &'static str {
        match self {
            Self::Contacts => "0-1",
            Self::Companies => "0-2",
            Self::Deals => "0-3",
            Self::Tickets => "0-5",
            Self::Calls => "0-48",
            Self::Emails => "0-49",
            Self::Meetings => "0-47",
        }
    }

    /// The singular name, as in webhook subscription types (`contact.creation`) and v3
    /// association type names (`contact_to_company`).
    pub fn singular(self) -> &'static str {
        match self {
            Self::Contacts => "contact",
            Self::Companies => "company",
            Self::Deals => "deal",
            Self::Tickets => "ticket",
            Self::Calls => "call",
            Self::Emails => "email",
            Self::Meetings => "meeting",
        }
    }

    /// The datetime property holding the creation time: `createdate` on the CRM records,
    /// `hs_createdate` on engagements.
    pub fn created_property(self) -> &'static str {
        if self.is_engagement() {
            "hs_createdate"
        } else {
            "createdate"
        }
    }

    /// The datetime property holding the last modification: `lastmodifieddate` on contacts,
    /// `hs_lastmodifieddate` on the others (HubSpot search guide, default returned properties).
    pub fn modified_property(self) -> &'static str {
        match self {
            Self::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// Properties HubSpot returns when a read or search names none (search guide table).
    pub fn default_properties(self) -> &'static [&'static str] {
        match self {
            Self::Contacts => &[
                "createdate",
                "email",
                "firstname",
                "hs_object_id",
                "lastmodifieddate",
                "lastname",
            ],
            Self::Companies => &[
                "createdate",
                "domain",
                "hs_lastmodifieddate",
                "hs_object_id",
                "name",
            ],
            Self::Deals => &[
                "amount",
                "closedate",
                "createdate",
                "dealname",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "pipeline",
            ],
            Self::Tickets => &[
                "content",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
                "hs_pipeline",
                "hs_pipeline_stage",
                "hs_ticket_category",
                "hs_ticket_priority",
                "subject",
            ],
            Self::Calls | Self::Emails | Self::Meetings => {
                &["hs_createdate", "hs_lastmodifieddate", "hs_object_id"]
            }
        }
    }

    /// The object type named by a webhook `subscriptionType` prefix (`contact.creation` →
    /// contacts), if handoff handles it.
    pub fn from_subscription_type(subscription_type: &str) -> Option<Self> {
        let prefix = subscription_type.split('.').next()?;
        Self::ALL.into_iter().find(|t| t.singular() == prefix)
    }
}

impl FromStr for ObjectType {
    type Err = UnknownObjectType;

    /// Accepts the plural name, the singular name (v4 associations accept `contact`) or the
    /// object type id, case-insensitively, of any type in [`ObjectType::EVERY`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        Self::EVERY
            .into_iter()
            .find(|t| t.name() == lower || t.singular() == lower || t.type_id() == lower)
            .ok_or_else(|| UnknownObjectType(s.to_string()))
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids_and_singulars_parse_to_the_same_type() {
        for t in ObjectType::EVERY {
            assert_eq!(t.name().parse::<ObjectType>(), Ok(t));
            assert_eq!(t.type_id().parse::<ObjectType>(), Ok(t));
            assert_eq!(t.singular().parse::<ObjectType>(), Ok(t));
        }
        assert!("leads".parse::<ObjectType>().is_err());
        assert_eq!(
            ObjectType::from_subscription_type("deal.propertyChange"),
            Some(ObjectType::Deals)
        );
        assert_eq!(ObjectType::from_subscription_type("object.creation"), None);
        // Engagement webhooks are not handled: handoff reads their effect on the contact.
        assert_eq!(ObjectType::from_subscription_type("call.creation"), None);
        assert_eq!("0-48".parse::<ObjectType>(), Ok(ObjectType::Calls));
    }
}
