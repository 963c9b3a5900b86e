//! The emulated org's data model: objects, their fields and types, required and derived
//! fields, picklists, and record ids.
//!
//! Fields are those NOTES §2.5 (system fields; Lead, Opportunity, Account, Case), S4 (history),
//! S5 (Task), S7 (Case, unverified extras; `CaseComment`, unverified; `LiveChatTranscript`)
//! and S8 (conversion) name, plus the standard Lead and
//! Account fields the shipped mappings read (`Phone`, `Website`, `NumberOfEmployees`,
//! `AnnualRevenue`, `HasOptedOutOfEmail`, `BillingCountry`, …), which are not in the notes and
//! were checked against the Salesforce Field Reference pages "Lead" and "Account" and the
//! Object Reference (`sforce_api_objects_lead`). Contact, User, Group and
//! Event fields are not in the notes: the few used are named as on Lead (`FirstName`,
//! `LastName`, `Email`) or as the connector reads them (`User.Name`, `User.IsActive`,
//! `User.Username`, `Group.Name`, `Group.Type`, `Group.Email`): unverified. Custom fields an
//! admin creates are added with [`super::EmulatorConfig::custom_fields`] (default: Case and
//! Lead `Handoff_Idempotency_Key__c`, a unique external id) or by seeding a record that sets
//! them.
//!
//! Record ids: [`super::ids`].

/// A field's type, as comparisons and writes need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// An id or a reference to a record (`OwnerId`, `AccountId`).
    Id,
    /// Text, picklists and long text.
    Text,
    /// A checkbox.
    Bool,
    /// `2013-05-20T20:49:32.000+0000`.
    DateTime,
    /// `YYYY-MM-DD`.
    Date,
    /// Numbers, currency, percent.
    Number,
}

use FieldType::*;

/// One SObject.
#[derive(Debug)]
pub struct ObjectDef {
    /// The API name (`Lead`).
    pub name: &'static str,
    /// The key prefix of its ids (S6).
    pub prefix: &'static str,
    /// Its own fields (system fields come from [`SYSTEM_FIELDS`] unless `history`).
    pub fields: &'static [(&'static str, FieldType)],
    /// Required on create (§2.5).
    pub required: &'static [&'static str],
    /// Fields the system maintains (never written through the API).
    pub derived: &'static [&'static str],
    /// Whether the API may create and update it.
    pub writable: bool,
    /// Field history of owner changes: `(history object, parent field)` (S4).
    pub history: Option<(&'static str, &'static str)>,
    /// A history object itself (no `LastModified*`/`SystemModstamp`).
    pub is_history: bool,
}

/// The system fields of every (non-history) object (§2.5).
pub const SYSTEM_FIELDS: [(&str, FieldType); 7] = [
    ("Id", Id),
    ("CreatedDate", DateTime),
    ("CreatedById", Id),
    ("LastModifiedDate", DateTime),
    ("LastModifiedById", Id),
    ("SystemModstamp", DateTime),
    ("IsDeleted", Bool),
];

const HISTORY_FIELDS: [(&str, FieldType); 8] = [
    ("Id", Id),
    ("CreatedDate", DateTime),
    ("CreatedById", Id),
    ("IsDeleted", Bool),
    ("Field", Text),
    ("DataType", Text),
    ("OldValue", Text),
    ("NewValue", Text),
];

macro_rules! history {
    ($name:literal, $parent:literal) => {
        ObjectDef {
            name: $name,
            prefix: "017",
            fields: &[($parent, Id)],
            required: &[],
            derived: &[],
            writable: false,
            history: None,
            is_history: true,
        }
    };
}

pub use super::ids::{make_id, object_of_id};

/// Every object the emulator knows.
pub static OBJECTS: [ObjectDef; 14] = [
    ObjectDef {
        name: "Lead",
        prefix: "00Q",
        fields: &[
            ("FirstName", Text),
            ("LastName", Text),
            ("Company", Text),
            ("Email", Text),
            ("Status", Text),
            ("LeadSource", Text),
            ("OwnerId", Id),
            ("IsConverted", Bool),
            ("ConvertedAccountId", Id),
            ("ConvertedContactId", Id),
            ("ConvertedOpportunityId", Id),
            ("ConvertedDate", Date),
            // Standard Lead fields of the Salesforce Field Reference, "Lead"
            // (developer.salesforce.com/docs/platform/field-reference/…/salesforce-field-reference-lead).
            ("Title", Text),
            ("Phone", Text),
            ("MobilePhone", Text),
            ("Website", Text),
            ("Street", Text),
            ("City", Text),
            ("State", Text),
            ("PostalCode", Text),
            ("Country", Text),
            ("Industry", Text),
            ("NumberOfEmployees", Number),
            ("AnnualRevenue", Number),
            ("Description", Text),
            ("DoNotCall", Bool),
            ("HasOptedOutOfEmail", Bool),
            ("LastActivityDate", Date),
        ],
        required: &["LastName", "Company", "Status"],
        derived: &[
            "IsConverted",
            "ConvertedAccountId",
            "ConvertedContactId",
            "ConvertedOpportunityId",
            "ConvertedDate",
        ],
        writable: true,
        history: Some(("LeadHistory", "LeadId")),
        is_history: false,
    },
    ObjectDef {
        name: "Contact",
        prefix: "003",
        fields: &[
            ("FirstName", Text),
            ("LastName", Text),
            ("Email", Text),
            ("AccountId", Id),
            ("OwnerId", Id),
        ],
        required: &["LastName"],
        derived: &[],
        writable: true,
        history: None,
        is_history: false,
    },
    ObjectDef {
        name: "Account",
        prefix: "001",
        fields: &[
            ("Name", Text),
            ("OwnerId", Id),
            ("Type", Text),
            ("Industry", Text),
            ("Website", Text),
            ("ParentId", Id),
            // Standard Account fields (Salesforce Field Reference, "Account").
            ("NumberOfEmployees", Number),
            ("AnnualRevenue", Number),
            ("BillingCountry", Text),
            // "Year Started", the year the company was legally established (Salesforce Field
            // Reference, "Account": `YearStarted`, a string of at most 4 characters).
            ("YearStarted", Text),
        ],
        required: &["Name"],
        derived: &[],
        writable: true,
        history: None,
        is_history: false,
    },
    ObjectDef {
        name: "Opportunity",
        prefix: "006",
        fields: &[
            ("Name", Text),
            ("AccountId", Id),
            ("Amount", Number),
            ("CloseDate", Date),
            ("StageName", Text),
            ("Probability", Number),
            ("IsClosed", Bool),
            ("IsWon", Bool),
            ("ForecastCategory", Text),
            ("ForecastCategoryName", Text),
            ("Type", Text),
            ("LeadSource", Text),
            ("NextStep", Text),
            ("Pricebook2Id", Id),
            ("HasOpportunityLineItem", Bool),
            ("ContactId", Id),
            ("CampaignId", Id),
            ("OwnerId", Id),
        ],
        required: &["Name", "StageName", "CloseDate"],
        derived: &["IsClosed", "IsWon", "HasOpportunityLineItem"],
        writable: true,
        history: Some(("OpportunityFieldHistory", "OpportunityId")),
        is_history: false,
    },
    ObjectDef {
        name: "Case",
        prefix: "500",
        fields: &[
            ("Subject", Text),
            ("Status", Text),
            ("Priority", Text),
            ("Origin", Text),
            ("AccountId", Id),
            ("ContactId", Id),
            ("OwnerId", Id),
            ("IsClosed", Bool),
            ("ClosedDate", DateTime),
            ("Description", Text),
            ("Type", Text),
            ("Reason", Text),
            ("ParentId", Id),
            ("IsEscalated", Bool),
            ("SuppliedEmail", Text),
        ],
        required: &[],
        derived: &["IsClosed", "ClosedDate"],
        writable: true,
        history: Some(("CaseHistory", "CaseId")),
        is_history: false,
    },
    ObjectDef {
        name: "Task",
        prefix: "00T",
        fields: &[
            ("WhoId", Id),
            ("WhatId", Id),
            ("Subject", Text),
            ("TaskSubtype", Text),
            ("Status", Text),
            ("ActivityDate", Date),
            ("OwnerId", Id),
            ("IsClosed", Bool),
            ("Priority", Text),
            ("Description", Text),
            ("CallType", Text),
            ("CallDurationInSeconds", Number),
            ("CallDisposition", Text),
            ("AccountId", Id),
        ],
        required: &[],
        derived: &["IsClosed", "AccountId"],
        writable: true,
        history: None,
        is_history: false,
    },
    ObjectDef {
        name: "Event",
        prefix: "00U",
        fields: &[
            ("WhoId", Id),
            ("WhatId", Id),
            ("Subject", Text),
            ("EventSubtype", Text),
            ("ActivityDate", Date),
            ("OwnerId", Id),
        ],
        required: &[],
        derived: &[],
        writable: true,
        history: None,
        is_history: false,
    },
    ObjectDef {
        name: "User",
        prefix: "005",
        fields: &[
            ("Username", Text),
            ("Email", Text),
            ("FirstName", Text),
            ("LastName", Text),
            ("Name", Text),
            ("IsActive", Bool),
        ],
        required: &[],
        derived: &[],
        writable: false,
        history: None,
        is_history: false,
    },
    ObjectDef {
        name: "Group",
        prefix: "00G",
        fields: &[("Name", Text), ("Type", Text), ("Email", Text)],
        required: &[],
        derived: &[],
        writable: false,
        history: None,
        is_history: false,
    },
    // A comment on a case (NOTES-next S7, unverified: `ParentId`, `CommentBody`,
    // `IsPublished`; the system fields of §2.5). `ParentId` is taken to be required and to
    // name a Case (not in the notes). Key prefix `00a`: not in the notes (S6 lists none for
    // it; "Could not establish": key prefixes); third-party key-prefix lists give `00a`
    // (unverified). It collides with no other prefix the emulator uses.
    ObjectDef {
        name: "CaseComment",
        prefix: "00a",
        fields: &[
            ("ParentId", Id),
            ("CommentBody", Text),
            ("IsPublished", Bool),
        ],
        required: &["ParentId"],
        derived: &[],
        writable: true,
        history: None,
        is_history: false,
    },
    // A chat's transcript (NOTES-next S7 [docs], v24+): `Body` (the chat contents, HTML-ish
    // text), `CaseId`, `ContactId`, `AccountId`, `ChatKey`, `EndTime`, `EndedBy`,
    // `IsChatbotSession`, `ChatDuration` (seconds). Key prefix `570`: not in the notes and not
    // verified; chosen because it collides with no other prefix the emulator uses.
    ObjectDef {
        name: "LiveChatTranscript",
        prefix: "570",
        fields: &[
            ("Body", Text),
            ("CaseId", Id),
            ("ContactId", Id),
            ("AccountId", Id),
            ("ChatKey", Text),
            ("EndTime", DateTime),
            ("EndedBy", Text),
            ("IsChatbotSession", Bool),
            ("ChatDuration", Number),
        ],
        required: &[],
        derived: &[],
        writable: true,
        history: None,
        is_history: false,
    },
    history!("LeadHistory", "LeadId"),
    history!("OpportunityFieldHistory", "OpportunityId"),
    history!("CaseHistory", "CaseId"),
];

/// The object named `name` (exact API name).
pub fn object(name: &str) -> Option<&'static ObjectDef> {
    OBJECTS.iter().find(|o| o.name == name)
}

impl ObjectDef {
    /// Every field: system (or history) fields, then its own.
    pub fn all_fields(&self) -> impl Iterator<Item = (&'static str, FieldType)> + '_ {
        let base: &'static [(&'static str, FieldType)] = if self.is_history {
            &HISTORY_FIELDS
        } else {
            &SYSTEM_FIELDS
        };
        base.iter().chain(self.fields.iter()).copied()
    }

    /// The standard field `name`'s type (exact API name).
    pub fn field(&self, name: &str) -> Option<FieldType> {
        self.all_fields().find(|(f, _)| *f == name).map(|(_, t)| t)
    }

    /// Whether the API may not write `field` (system or derived).
    pub fn read_only(&self, field: &str) -> bool {
        SYSTEM_FIELDS.iter().any(|(f, _)| *f == field) || self.derived.contains(&field)
    }

    /// Whether records have an `OwnerId`.
    pub fn owned(&self) -> bool {
        self.fields.iter().any(|(f, _)| *f == "OwnerId")
    }
}

/// A Lead status value (the `LeadStatus` picklist; S8: converting needs one with
/// `IsConverted`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadStatus {
    pub name: String,
    /// Whether it is a converted status (`IsConverted`, S8).
    pub converted: bool,
}

/// An Opportunity stage (`OpportunityStage`, §2.5: `IsClosed`/`IsWon` come from it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    pub name: String,
    /// Records at this stage have `IsClosed = true`.
    pub closed: bool,
    /// Records at this stage have `IsWon = true`.
    pub won: bool,
}

/// The Lead Status picklist of a new org: `Open - Not Contacted` (the default), `Working -
/// Contacted`, `Closed - Converted` (converted), `Closed - Not Converted`. Not in the notes
/// (unverified: from Salesforce's setup help and the `LeadStatus` object, whose `IsDefault` and
/// `IsConverted` mark them); orgs often rename them, which is why the shipped mappings map them
/// in YAML.
pub fn default_lead_statuses() -> Vec<LeadStatus> {
    [
        ("Open - Not Contacted", false),
        ("Working - Contacted", false),
        ("Closed - Converted", true),
        ("Closed - Not Converted", false),
    ]
    .into_iter()
    .map(|(n, c)| LeadStatus {
        name: n.into(),
        converted: c,
    })
    .collect()
}

/// The standard Opportunity stages. `Closed Won` (closed, won) and `Closed Lost` (closed) as
/// the brief gives them; the open stages are Salesforce's default picklist as commonly
/// documented (not in the notes: unverified).
pub fn default_stages() -> Vec<Stage> {
    let open = [
        "Prospecting",
        "Qualification",
        "Needs Analysis",
        "Value Proposition",
        "Id. Decision Makers",
        "Perception Analysis",
        "Proposal/Price Quote",
        "Negotiation/Review",
    ];
    let mut stages: Vec<Stage> = open
        .iter()
        .map(|n| Stage {
            name: n.to_string(),
            closed: false,
            won: false,
        })
        .collect();
    stages.push(Stage {
        name: "Closed Won".into(),
        closed: true,
        won: true,
    });
    stages.push(Stage {
        name: "Closed Lost".into(),
        closed: true,
        won: false,
    });
    stages
}
