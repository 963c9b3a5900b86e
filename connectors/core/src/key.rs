//! Record keys and the canonical object kinds flows reason about.
//!
//! Every record handoff tracks is named by a [`RecordKey`]: the system that holds it, the
//! vendor's object name, and the vendor's id, written `system:object:id`
//! (`hubspot:contacts:42`, `salesforce:Lead:00Q5g00000AbCdEAAV`). That string is the key of
//! audit entries, sagas (`lead:<record key>`), timers and flow state, so its form never
//! changes: stores written before this type existed hold the same strings.
//!
//! Flows never compare object names; they ask the connector which [`ObjectKind`] an object is
//! (`Crm::kind_of`) and which object holds a kind (`Crm::object_of`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a record is, whatever the vendor calls it.
///
/// | kind | HubSpot | Salesforce |
/// | --- | --- | --- |
/// | `Lead` (the person marketing hands to sales) | contact | Lead |
/// | `Contact` (a person at a customer account) | contact | Contact |
/// | `Account` | company | Account |
/// | `Deal` | deal | Opportunity |
/// | `Case` | ticket | Case |
/// | `Activity` (a call, email or meeting) | engagement | Task, Event |
/// | `User` (someone who can own records) | owner, user | User, Queue |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Lead,
    Contact,
    Account,
    Deal,
    Case,
    Activity,
    User,
}

impl ObjectKind {
    /// Every kind, in the order of the table above.
    pub const ALL: [ObjectKind; 7] = [
        ObjectKind::Lead,
        ObjectKind::Contact,
        ObjectKind::Account,
        ObjectKind::Deal,
        ObjectKind::Case,
        ObjectKind::Activity,
        ObjectKind::User,
    ];

    /// The kind's name in lower case (`lead`, `account`, …), as config and audit show it.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Lead => "lead",
            ObjectKind::Contact => "contact",
            ObjectKind::Account => "account",
            ObjectKind::Deal => "deal",
            ObjectKind::Case => "case",
            ObjectKind::Activity => "activity",
            ObjectKind::User => "user",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record in one system: `system:object:id`.
///
/// `system` is the connector's name (`hubspot`, `salesforce`), `object` the vendor's object
/// name as its API spells it (`contacts`, `Lead`), `id` the vendor's id. Neither `system` nor
/// `object` may contain `:`; the id may (everything after the second `:` is the id).
/// Serialised as the string form.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey {
    pub system: String,
    pub object: String,
    pub id: String,
}

/// A string that is not `system:object:id`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a record key (expected system:object:id, e.g. hubspot:contacts:42)")]
pub struct KeyError(pub String);

impl RecordKey {
    /// A key from its parts.
    pub fn new(
        system: impl Into<String>,
        object: impl Into<String>,
        id: impl Into<String>,
    ) -> Self {
        Self {
            system: system.into(),
            object: object.into(),
            id: id.into(),
        }
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.system, self.object, self.id)
    }
}

impl FromStr for RecordKey {
    type Err = KeyError;

    /// Parses `system:object:id`; every part must be non-empty.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let mut parts = s.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(system), Some(object), Some(id))
                if !system.is_empty() && !object.is_empty() && !id.is_empty() =>
            {
                Ok(RecordKey::new(system, object, id))
            }
            _ => Err(KeyError(s.to_string())),
        }
    }
}

impl Serialize for RecordKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RecordKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_written_before_the_type_existed_parse_to_the_same_string() {
        for s in [
            "hubspot:contacts:42",
            "hubspot:deals:7",
            "salesforce:Lead:00Q5g00000AbCdEAAV",
            "slack:block_actions:D123:1700000000.0001",
        ] {
            let key: RecordKey = s.parse().unwrap();
            assert_eq!(key.to_string(), s);
        }
        let k: RecordKey = "slack:block_actions:D1:17.5".parse().unwrap();
        assert_eq!(
            (k.object.as_str(), k.id.as_str()),
            ("block_actions", "D1:17.5")
        );
    }

    #[test]
    fn malformed_keys_are_refused() {
        for s in [
            "",
            "hubspot",
            "hubspot:contacts",
            "hubspot::42",
            ":contacts:42",
            "hubspot:contacts:",
        ] {
            assert!(s.parse::<RecordKey>().is_err(), "{s}");
        }
    }

    #[test]
    fn keys_serialise_as_their_string_form() {
        let k = RecordKey::new("hubspot", "contacts", "42");
        let json = serde_json::to_value(&k).unwrap();
        assert_eq!(json, "hubspot:contacts:42");
        assert_eq!(serde_json::from_value::<RecordKey>(json).unwrap(), k);
        assert!(serde_json::from_value::<RecordKey>(serde_json::json!("nope")).is_err());
    }
}
