//! The CRM seam: everything a flow may ask of a CRM, whichever vendor it is.
//!
//! Flows call [`Crm`]; each CRM connector (`connectors/hubspot`, `connectors/salesforce`)
//! implements it. The trait speaks in [`RecordKey`]s, [`ObjectKind`]s and *semantic*
//! operations ("how many open leads does this owner have", "create this case once"), never in a
//! vendor's query language or field names. The field names a write carries come from the
//! admin's outbound mappings (`mappings/*.yaml`), so the vocabulary of each CRM lives in its
//! connector and its mappings, not in flows.
//!
//! Errors are [`ConnectorError`]s, classed so the daemon retries, waits or dead-letters
//! without knowing the vendor. All methods are `&self` and callable concurrently: a connector
//! shares one rate budget (and, with OAuth, one token) across every call.

use crate::{ConnectorError, IdempotencyKey, ObjectKind, Record, RecordKey};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// Field name → value, as a write sends it (vendor field names, JSON values).
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// Someone (or a queue) who can own CRM records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The value the CRM's owner field takes for this owner (HubSpot owner id, Salesforce
    /// User or Queue id).
    pub id: String,
    /// Email, lower case: config, routing rules and Slack name people by email.
    pub email: String,
    /// Display name.
    pub name: String,
}

/// One write of a record's owner field, as the CRM's history reports it.
///
/// HubSpot: an entry of `propertiesWithHistory.hubspot_owner_id` (`ValueWithTimestamp`:
/// `value`, `timestamp`, `sourceType`, `sourceId`, `sourceLabel`). Salesforce: the `OwnerId`
/// row of `LeadHistory`/`OpportunityFieldHistory`/`CaseHistory` whose `DataType` holds ids
/// (`NewValue`, `CreatedDate`, `CreatedById`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    /// The owner id written (`""` when cleared).
    pub value: String,
    /// When, UTC epoch ms.
    pub timestamp_ms: i64,
    /// The kind of writer as the connector classes it (HubSpot: `sourceType` as sent,
    /// e.g. `CRM_UI`, `INTEGRATION`, `AUTOMATION_PLATFORM`; Salesforce: `USER`, see its
    /// connector). `ownership.systems` in `handoff.yaml` maps these to systems.
    pub source_type: String,
    /// Which writer (HubSpot `sourceId`; Salesforce the writing user's id, `CreatedById`).
    /// `ownership.systems` may list ids too; an id match wins over a type match.
    pub source_id: Option<String>,
    /// A readable name of the writer, when the CRM gives one.
    pub source_label: Option<String>,
    /// True when the connector knows the write was made with handoff's own credentials
    /// (Salesforce: `CreatedById` is the integration user). Such writes are never judged.
    pub by_handoff: bool,
}

/// The case (HubSpot ticket, Salesforce Case) [`Crm::upsert_case`] created or found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRef {
    pub key: RecordKey,
    /// The case in the CRM's UI.
    pub url: String,
}

/// Someone the CRM already has, found by email ([`Crm::find_by_email`]): a lead or a contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    /// The lead or contact (HubSpot `contacts`; Salesforce `Lead` or `Contact`).
    pub key: RecordKey,
    /// [`ObjectKind::Lead`] or [`ObjectKind::Contact`].
    pub kind: ObjectKind,
    /// Lower case.
    pub email: String,
    /// The owner field's value (a user or, on Salesforce, a queue); `None` when unowned.
    pub owner_id: Option<String>,
    /// The contact's account (Salesforce `Contact.AccountId`), when it has one.
    pub account: Option<RecordKey>,
}

/// A case's chat conversation, when it came from one (Salesforce `LiveChatTranscript` of the
/// case, NOTES-next S7: `Body`, `IsChatbotSession`, `EndTime`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// The conversation as text, one turn per line as the CRM stores it (Salesforce `Body` is
    /// HTML-ish text; connectors turn `<br>` and `<p>` into line breaks and drop other tags).
    pub body: String,
    /// Whether a bot took the conversation before a person (Salesforce `IsChatbotSession`).
    pub is_bot: bool,
    /// When it ended, UTC epoch ms (`EndTime`), if the CRM says.
    pub ended_ms: Option<i64>,
}

/// One comment on a case: Salesforce `CaseComment` (`CommentBody`, `IsPublished`,
/// `CreatedDate`, `CreatedById`; NOTES-next S7), HubSpot a note associated with the ticket
/// (`hs_note_body`, `hs_timestamp`, `hubspot_owner_id`; notes are internal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseComment {
    /// The comment's id in the CRM.
    pub id: String,
    /// Plain text.
    pub body: String,
    /// Whether the customer sees it (Salesforce `IsPublished`; HubSpot notes: `false`).
    pub public: bool,
    /// UTC epoch ms.
    pub created_ms: i64,
    /// The writer's user (owner) id, when the CRM says.
    pub author_id: Option<String>,
}

/// The marker line [`Crm::add_case_note`] ends a note with, so the note it wrote is found
/// again after a crash: `[handoff:<idempotency key>]`.
pub fn note_marker(key: &IdempotencyKey) -> String {
    format!("[handoff:{}]", key.as_str())
}

/// `emails` trimmed, lower-cased, without blanks and repeats, in their first order: what
/// [`Crm::find_by_email`] implementations look up.
pub fn distinct_emails(emails: &[String]) -> Vec<String> {
    let mut wanted: Vec<String> = Vec::new();
    for e in emails {
        let e = e.trim().to_lowercase();
        if !e.is_empty() && !wanted.contains(&e) {
            wanted.push(e);
        }
    }
    wanted
}

/// "Which records of `object` have `field` set to one of `values`?", answered with the
/// emails they carry in `email_field`: how handoff reads out-of-office flags kept in the CRM
/// (HubSpot users `hs_availability_status`; a custom field on Salesforce `User`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailQuery {
    /// Vendor object name (`users`, `User`).
    pub object: String,
    pub field: String,
    /// Compared as the CRM compares them; connectors offer the usual spellings (exact, lower
    /// and upper case).
    pub values: Vec<String>,
    pub email_field: String,
}

/// A CRM, as flows and the daemon use it. See the module docs.
pub trait Crm: Send + Sync {
    /// The system name in record keys and changes: `hubspot`, `salesforce`.
    fn system(&self) -> &'static str;

    /// The vendor object that holds records of `kind` (HubSpot `contacts` for
    /// [`ObjectKind::Lead`], Salesforce `Lead`); `None` when the CRM has no such object.
    fn object_of(&self, kind: ObjectKind) -> Option<&'static str>;

    /// The kind of a vendor object (`None` for objects flows do not know).
    fn kind_of(&self, object: &str) -> Option<ObjectKind>;

    /// The key of record `id` of `kind` in this CRM (`None` if the CRM has no such object).
    fn key(&self, kind: ObjectKind, id: &str) -> Option<RecordKey> {
        self.object_of(kind)
            .map(|object| RecordKey::new(self.system(), object, id))
    }

    /// Reads records of `object` by id with `fields` (vendor field names; the connector adds
    /// the ones it needs itself, such as the modified stamp). Ids the CRM does not find are
    /// left out. Connectors batch as the vendor allows (HubSpot 100, Salesforce 2,000 ids per
    /// call).
    fn read<'a>(
        &'a self,
        object: &'a str,
        ids: &'a [String],
        fields: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Record>, ConnectorError>>;

    /// Everyone who can own records (HubSpot owners not archived; Salesforce active Users and
    /// Queues).
    fn owners(&self) -> BoxFuture<'_, Result<Vec<Owner>, ConnectorError>>;

    /// Records of kind `to` linked to `record` (HubSpot associations; Salesforce lookup fields
    /// such as `Opportunity.AccountId`), first the primary one when the CRM has one.
    fn associated<'a>(
        &'a self,
        record: &'a RecordKey,
        to: ObjectKind,
    ) -> BoxFuture<'a, Result<Vec<RecordKey>, ConnectorError>>;

    /// The owner field's history on `record`, newest first, each entry with who wrote it.
    /// Empty when the CRM keeps none.
    fn owner_history<'a>(
        &'a self,
        record: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Vec<FieldChange>, ConnectorError>>;

    /// How many leads `owner_id` owns whose lead status is one of `statuses` (least-loaded
    /// routing). One count query (HubSpot search `total`; Salesforce `SELECT COUNT()`).
    fn count_open_leads<'a>(
        &'a self,
        owner_id: &'a str,
        statuses: &'a [String],
    ) -> BoxFuture<'a, Result<u64, ConnectorError>>;

    /// The emails (lower case) of records matching `query` (see [`EmailQuery`]).
    fn emails_where<'a>(
        &'a self,
        query: &'a EmailQuery,
    ) -> BoxFuture<'a, Result<Vec<String>, ConnectorError>>;

    /// The record in the CRM's UI ("Open in CRM").
    fn record_url(&self, record: &RecordKey) -> String;

    /// Sets `fields` on `record`: idempotent by nature (the same fields twice leave the record
    /// as after the first). Owners handoff chose stay: connectors turn the CRM's own
    /// assignment off for the write (Salesforce `Sforce-Auto-Assign: FALSE`).
    ///
    /// Errors: a value the CRM refuses (a bad picklist value, a missing required field, a
    /// read-only record) is [`ConnectorError::Rejected`] naming the field.
    fn update<'a>(
        &'a self,
        record: &'a RecordKey,
        fields: &'a Fields,
    ) -> BoxFuture<'a, Result<(), ConnectorError>>;

    /// Whether records of kind `from` can be linked to records of kind `to` with
    /// [`Crm::associate`] (HubSpot: any two CRM objects; Salesforce: only where a lookup field
    /// exists, e.g. a Lead has no Account lookup). Flows ask before planning a link.
    fn can_link(&self, from: ObjectKind, to: ObjectKind) -> bool {
        let _ = (from, to);
        true
    }

    /// Links `from` to `to` (HubSpot default association; Salesforce sets `from`'s lookup
    /// field to `to`, e.g. `Case.AccountId`). Idempotent by nature.
    fn associate<'a>(
        &'a self,
        from: &'a RecordKey,
        to: &'a RecordKey,
    ) -> BoxFuture<'a, Result<(), ConnectorError>>;

    /// Creates the case keyed `key` once, with `fields`, linked to `links` (a deal, an account,
    /// a contact): an upsert on the CRM's idempotency field (HubSpot ticket property
    /// `handoff_idempotency_key`, Salesforce external id `Handoff_Idempotency_Key__c`), so a
    /// retry after a crash finds the case instead of creating a second.
    fn upsert_case<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        fields: &'a Fields,
        links: &'a [RecordKey],
    ) -> BoxFuture<'a, Result<CaseRef, ConnectorError>>;

    /// How many records of `object` the CRM says were last modified in `[from_ms, to_ms)`
    /// (UTC ms): HubSpot search `total` on the object's last-modified property; Salesforce
    /// `SELECT COUNT() FROM <object> WHERE SystemModstamp >= from AND SystemModstamp < to`
    /// (whole seconds). One call. The completeness check compares it with the records handoff
    /// received for the same window.
    ///
    /// Errors: an object the CRM does not have is [`ConnectorError::Config`].
    fn count_modified<'a>(
        &'a self,
        object: &'a str,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'a, Result<u64, ConnectorError>>;

    /// Whether `owner_id` is the user handoff itself signs in as (Salesforce: the integration
    /// user, who owns the Leads handoff creates until they are routed). Such an owner is no
    /// owner for routing. `false` when the CRM has no such user or it is not known yet.
    fn is_integration_user(&self, _owner_id: &str) -> bool {
        false
    }

    /// The open leads and the contacts whose email is one of `emails` (compared without case),
    /// leads first, then contacts, each group oldest first. Converted Salesforce Leads are left
    /// out (their Contact stands for the person). One or two queries per 100 emails.
    ///
    /// How a lead from another system (a marketing CRM) is matched before one is created.
    fn find_by_email<'a>(
        &'a self,
        emails: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<PersonRecord>, ConnectorError>>;

    /// The email of a lead or contact (lower case; `None` when it has none or is gone). How a
    /// deal's contact is matched to the same person in a marketing CRM.
    fn email_of<'a>(
        &'a self,
        record: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Option<String>, ConnectorError>>;

    /// Creates the lead keyed `key` once, with `fields` (vendor field names): an upsert on the
    /// CRM's idempotency field (Salesforce external id `Handoff_Idempotency_Key__c` on Lead),
    /// so a retry after a crash between "created" and "recorded" finds the lead it created.
    /// Returns the lead's key.
    ///
    /// Errors: a value the CRM refuses (a picklist value, a missing required field) is
    /// [`ConnectorError::Rejected`] naming the field; a CRM that cannot take leads from another
    /// system this way is [`ConnectorError::Config`].
    fn upsert_lead<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        fields: &'a Fields,
    ) -> BoxFuture<'a, Result<RecordKey, ConnectorError>>;

    /// The chat conversation `case` came from, newest first if several (Salesforce: the
    /// `LiveChatTranscript` rows whose `CaseId` is the case); `None` when it has none. CRMs
    /// without chat transcripts answer `None` (HubSpot's conversations are not in its CRM
    /// objects; a ticket's `source_type` tells a chat through the mapping instead).
    fn case_conversation<'a>(
        &'a self,
        case: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Option<Conversation>, ConnectorError>> {
        let _ = case;
        Box::pin(async { Ok(None) })
    }

    /// The comments on `case`, oldest first (Salesforce `CaseComment` by `ParentId`; HubSpot
    /// the notes associated with the ticket). One or two calls.
    fn case_comments<'a>(
        &'a self,
        case: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Vec<CaseComment>, ConnectorError>>;

    /// Adds the internal note `body` to `case` once (Salesforce a `CaseComment` with
    /// `IsPublished` false; HubSpot a note associated with the ticket). The note ends with
    /// [`note_marker`]`(key)`; a retry after a crash finds the note carrying that marker among
    /// the case's comments instead of adding a second. Returns the note's id.
    ///
    /// Errors: `case` gone is [`ConnectorError::NotFound`]; a body the CRM refuses (too long)
    /// is [`ConnectorError::Rejected`].
    fn add_case_note<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        case: &'a RecordKey,
        body: &'a str,
    ) -> BoxFuture<'a, Result<String, ConnectorError>>;
}
