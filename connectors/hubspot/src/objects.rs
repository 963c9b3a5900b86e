//! The HubSpot CRM object types handoff works with, and the per-type facts the client, the feed
//! and the emulator share (URL names, object type ids, the created- and modified-date
//! properties, webhook subscription prefixes, default returned properties).
//!
//! Three families: the four CRM records handoff reads, writes and polls ([`ObjectType::ALL`]);
//! the three engagement (activity) types a rep logs on a record ([`ObjectType::ENGAGEMENTS`]:
//! calls, emails, meetings), which handoff only needs so that logging one moves the contact's
//! "Last contacted" (`notes_last_contacted`); and the **users** object ([`ObjectType::Users`]),
//! one record per HubSpot user of the account, which handoff only searches for who is away
//! (`lead_handoff.routing_inputs.out_of_office`). Neither engagements nor users are polled,
//! written to state files or delivered as webhooks ([`ObjectType::has_webhooks`]).
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
//!
//! Users (`/crm/v3/objects/users`): the endpoints (list, read, `PATCH`, `batch/read`, search)
//! and the `id` = `hs_object_id` note are in HubSpot's Users API guide
//! (https://developers.hubspot.com/docs/api/crm/users, stored copy read with the `search` tool
//! **[docs]**), whose example response also shows `hs_createdate` / `hs_lastmodifieddate` /
//! `hs_object_id` on a user. The property table of that guide (`hs_availability_status`,
//! "available" or "away"; `hs_working_hours`, `hs_out_of_office_hours`, `hs_job_title`, …) was
//! read only in a third-party copy of the page (`Namit2111/Agent-Jivus`,
//! `RagAPI/root/docs/api/crm/users/content_user-properties_txt.md`) **[unverified]**.
//! `hs_email`, `hs_given_name`, `hs_family_name` come from integrations that read the users
//! object (requests such as `GET /crm/v3/objects/users?properties=hs_email,hs_given_name,
//! hs_family_name` and search bodies asking for `hs_availability_status` with them), not from a
//! HubSpot page **[unverified]**; the object type id `0-115` likewise from third-party
//! object-id tables **[unverified]**. Which properties a users read returns when it names none
//! was not found; the emulator returns the identity properties (see
//! [`ObjectType::default_properties`]).
//!
//! Notes (`/crm/v3/objects/notes`, [`ObjectType::Notes`]): the internal notes on a ticket that
//! handoff reads and writes for support-case handoffs. Object type id `0-46` (HubSpot "Using the
//! object APIs", <https://developers.hubspot.com/docs/guides/crm/using-object-apis>, object table,
//! stored copy read with the `search` tool **\[docs\]**); properties `hs_timestamp` (required),
//! `hs_note_body` (≤ 65,536 characters), `hubspot_owner_id` (HubSpot notes guide,
//! <https://developers.hubspot.com/docs/api-reference/crm-notes-v3/guide> **\[docs\]**). A note is
//! no engagement in the sense above (it does not move "Last contacted"); its `hs_createdate`
//! / `hs_lastmodifieddate` / `hs_object_id` are taken to be as on the engagements
//! **\[unverified\]**. Notes are neither polled, written to state files nor delivered as webhooks.

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
    /// The account's HubSpot users (`0-115`): `hs_email`, `hs_given_name`, `hs_family_name`,
    /// `hs_availability_status` (`available` | `away`), … Read and updated, never polled.
    Users,
    /// Notes (`0-46`): `hs_note_body`, `hs_timestamp`, `hubspot_owner_id`; the internal notes
    /// on a ticket (support-case handoffs). Read and created, never polled.
    Notes,
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

    /// Every type a path or a name may name ([`ObjectType::ALL`], the engagements, users,
    /// notes).
    pub const EVERY: [ObjectType; 9] = [
        ObjectType::Contacts,
        ObjectType::Companies,
        ObjectType::Deals,
        ObjectType::Tickets,
        ObjectType::Calls,
        ObjectType::Emails,
        ObjectType::Meetings,
        ObjectType::Users,
        ObjectType::Notes,
    ];

    /// Whether this is an engagement (call, email, meeting).
    pub fn is_engagement(self) -> bool {
        Self::ENGAGEMENTS.contains(&self)
    }

    /// Whether the emulator delivers writes to this type as webhooks (`contact.creation`, …):
    /// only the four CRM records of [`ObjectType::ALL`], the only subscriptions handoff makes
    /// (`vendor-specs/NOTES.md` §1.1); no engagement or user events.
    pub fn has_webhooks(self) -> bool {
        Self::ALL.contains(&self)
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
            Self::Users => "users",
            Self::Notes => "notes",
        }
    }

    /// The object type id (`0-1`, `0-2`, `0-3`, `0-5`; `0-48`, `0-49`, `0-47`; `0-115`;
    /// `0-46`).
    pub fn type_id(self) -> &'static str {
        match self {
            Self::Contacts => "0-1",
            Self::Companies => "0-2",
            Self::Deals => "0-3",
            Self::Tickets => "0-5",
            Self::Calls => "0-48",
            Self::Emails => "0-49",
            Self::Meetings => "0-47",
            Self::Users => "0-115",
            Self::Notes => "0-46",
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
            Self::Users => "user",
            Self::Notes => "note",
        }
    }

    /// The datetime property holding the creation time: `createdate` on the CRM records,
    /// `hs_createdate` on engagements, users and notes.
    pub fn created_property(self) -> &'static str {
        if self.is_engagement() || matches!(self, Self::Users | Self::Notes) {
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
            Self::Calls | Self::Emails | Self::Meetings | Self::Notes => {
                &["hs_createdate", "hs_lastmodifieddate", "hs_object_id"]
            }
            // Not documented (see the module doc): the system properties and who the user is.
            Self::Users => &[
                "hs_createdate",
                "hs_email",
                "hs_family_name",
                "hs_given_name",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
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
        assert_eq!("0-115".parse::<ObjectType>(), Ok(ObjectType::Users));
        assert_eq!("users".parse::<ObjectType>(), Ok(ObjectType::Users));
        // Users are read for out of office; they are neither polled nor delivered as webhooks.
        assert!(!ObjectType::ALL.contains(&ObjectType::Users));
        assert!(!ObjectType::Users.has_webhooks());
        assert_eq!(
            ObjectType::from_subscription_type("user.propertyChange"),
            None
        );
        assert_eq!(ObjectType::Users.created_property(), "hs_createdate");
        assert_eq!("0-46".parse::<ObjectType>(), Ok(ObjectType::Notes));
        assert!(!ObjectType::Notes.is_engagement() && !ObjectType::Notes.has_webhooks());
    }
}
