//! The SObjects handoff knows: which kind each is, which fields the connector always reads,
//! which lookup field links two of them, and where their owner history lives.
//!
//! | kind | SObject |
//! | --- | --- |
//! | Lead | `Lead` |
//! | Contact | `Contact` |
//! | Account | `Account` |
//! | Deal | `Opportunity` |
//! | Case | `Case` |
//! | Activity | `Task` (and `Event`, read as an activity) |
//! | User | `User` (owners also include Queues: `Group` with `Type = 'Queue'`, S6) |
//!
//! Field names are from NOTES §2.5 (common system fields; Lead, Opportunity, Account, Case),
//! S5 (Task), S8 (Lead conversion). Contact's fields are not in the notes: `FirstName`,
//! `LastName`, `Email` and `AccountId` are used as on Lead and as the lookup the brief names
//! (unverified).

use handoff_connector::ObjectKind;

/// The system name in record keys and changes.
pub const SYSTEM: &str = "salesforce";

/// The fields the connector reads on every record it polls or reads (§2.5).
pub const SYSTEM_FIELDS: [&str; 4] = ["Id", "SystemModstamp", "CreatedDate", "IsDeleted"];

/// Objects with an `OwnerId` (§2.5, S5).
pub const OWNED: [&str; 7] = [
    "Lead",
    "Contact",
    "Account",
    "Opportunity",
    "Case",
    "Task",
    "Event",
];

/// The SObject that holds records of `kind`.
pub fn object_of(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Lead => "Lead",
        ObjectKind::Contact => "Contact",
        ObjectKind::Account => "Account",
        ObjectKind::Deal => "Opportunity",
        ObjectKind::Case => "Case",
        ObjectKind::Activity => "Task",
        ObjectKind::User => "User",
    }
}

/// The kind of an SObject (`None` for objects flows do not know).
pub fn kind_of(object: &str) -> Option<ObjectKind> {
    Some(match object {
        "Lead" => ObjectKind::Lead,
        "Contact" => ObjectKind::Contact,
        "Account" => ObjectKind::Account,
        "Opportunity" => ObjectKind::Deal,
        "Case" => ObjectKind::Case,
        "Task" | "Event" => ObjectKind::Activity,
        "User" | "Group" => ObjectKind::User,
        _ => return None,
    })
}

/// Fields read when the config lists none for `object` (§2.5, S5, S8).
pub fn default_fields(object: &str) -> &'static [&'static str] {
    match object {
        "Lead" => &[
            "FirstName",
            "LastName",
            "Company",
            "Email",
            "Status",
            "LeadSource",
            "IsConverted",
            "ConvertedAccountId",
            "ConvertedContactId",
            "ConvertedOpportunityId",
            "ConvertedDate",
        ],
        "Opportunity" => &[
            "Name",
            "AccountId",
            "ContactId",
            "Amount",
            "CloseDate",
            "StageName",
            "IsClosed",
            "IsWon",
            "Type",
            "LeadSource",
        ],
        "Account" => &["Name", "Type", "Industry", "Website", "ParentId"],
        "Case" => &[
            "Subject",
            "Status",
            "Priority",
            "Origin",
            "AccountId",
            "ContactId",
            "IsClosed",
        ],
        "Contact" => &["FirstName", "LastName", "Email", "AccountId"],
        "Task" => &[
            "WhoId",
            "WhatId",
            "Subject",
            "TaskSubtype",
            "Status",
            "ActivityDate",
            "CreatedById",
        ],
        "Event" => &["WhoId", "WhatId", "Subject", "EventSubtype", "CreatedById"],
        _ => &[],
    }
}

/// The fields to read for `object`: the connector's own ([`SYSTEM_FIELDS`], `OwnerId` where
/// there is one), then `configured` (or [`default_fields`] when it is empty), then `asked`;
/// each once.
pub fn read_fields(object: &str, configured: &[String], asked: &[String]) -> Vec<String> {
    let mut out: Vec<String> = SYSTEM_FIELDS.iter().map(|s| s.to_string()).collect();
    if OWNED.contains(&object) {
        out.push("OwnerId".into());
    }
    let base: Vec<String> = if configured.is_empty() {
        default_fields(object)
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        configured.to_vec()
    };
    for f in base.into_iter().chain(asked.iter().cloned()) {
        if !out.iter().any(|x| x.eq_ignore_ascii_case(&f)) {
            out.push(f);
        }
    }
    out
}

/// The lookup field on `from` that points at a `to` record (`Opportunity.AccountId`), if one
/// exists: Opportunity → Account (`AccountId`), Contact (`ContactId`); Case → Account,
/// Contact; Contact → Account; Task/Event → Lead or Contact (`WhoId`, S5).
pub fn lookup(from: &str, to: &str) -> Option<&'static str> {
    Some(match (from, to) {
        ("Opportunity" | "Case" | "Contact", "Account") => "AccountId",
        ("Opportunity" | "Case", "Contact") => "ContactId",
        ("Task" | "Event", "Lead" | "Contact") => "WhoId",
        _ => return None,
    })
}

/// The key prefix of an object's ids (S6, unverified), for telling polymorphic lookups
/// (`WhoId`) apart.
pub fn key_prefix(object: &str) -> Option<&'static str> {
    Some(match object {
        "User" => "005",
        "Group" => "00G",
        "Lead" => "00Q",
        "Case" => "500",
        "Account" => "001",
        "Contact" => "003",
        "Opportunity" => "006",
        "Task" => "00T",
        "Event" => "00U",
        _ => return None,
    })
}

/// Where `object`'s field history lives: `(history object, parent id field)` (S4).
pub fn history_of(object: &str) -> Option<(&'static str, &'static str)> {
    Some(match object {
        "Lead" => ("LeadHistory", "LeadId"),
        "Opportunity" => ("OpportunityFieldHistory", "OpportunityId"),
        "Case" => ("CaseHistory", "CaseId"),
        _ => return None,
    })
}

/// The `Field` value of an owner change in history: `Owner` (S4 gives it for Lead; used for
/// Opportunity and Case too; unverified).
pub const OWNER_HISTORY_FIELD: &str = "Owner";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_fields_include_the_connectors_own() {
        for kind in ObjectKind::ALL {
            assert_eq!(kind_of(object_of(kind)), Some(kind));
        }
        assert_eq!(kind_of("Event"), Some(ObjectKind::Activity));
        let f = read_fields(
            "Lead",
            &["Email".into(), "Phone".into()],
            &["email".into(), "Title".into()],
        );
        assert_eq!(
            f,
            [
                "Id",
                "SystemModstamp",
                "CreatedDate",
                "IsDeleted",
                "OwnerId",
                "Email",
                "Phone",
                "Title"
            ]
        );
        assert!(read_fields("Lead", &[], &[]).contains(&"IsConverted".to_string()));
        assert_eq!(lookup("Opportunity", "Account"), Some("AccountId"));
        assert_eq!(lookup("Lead", "Account"), None);
    }
}
