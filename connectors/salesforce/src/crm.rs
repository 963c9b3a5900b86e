//! Salesforce behind handoff's CRM seam: [`SalesforceCrm`] implements [`Crm`] with SOQL,
//! sObject and sObject Collections calls ([`SalesforceClient`]). Kinds and lookups:
//! [`crate::objects`].
//!
//! * `owners`: active Users (`SELECT Id, Name, Email FROM User WHERE IsActive = true`) and
//!   Queues (`Group` with `Type = 'Queue'`, S6); owners without an email are left out (config
//!   and routing name people by email). `User.Name`, `User.Email`, `User.IsActive` and
//!   `Group.Email` are not in the notes (unverified).
//! * `owner_history` (S4): the `Owner` rows of `LeadHistory`, `OpportunityFieldHistory`,
//!   `CaseHistory`. An owner change writes two rows, one with display names and one with ids;
//!   the id row is the one whose `NewValue` is an id (the `DataType` that marks it is
//!   unverified, so it is not relied on). One entry per change, newest first, `source_type`
//!   `USER`, `source_id` = `CreatedById`, `by_handoff` when that is the integration user.
//! * `record_url` (S10, unverified): `{lightning_url}/lightning/r/{Object}/{id}/view`, base
//!   `lightning_url`, else the instance URL from the token, else the login URL.
//! * `find_by_email`: `SELECT Id, Email, OwnerId, CreatedDate FROM Lead WHERE IsConverted =
//!   false AND Email IN (…) ORDER BY CreatedDate, Id` and `SELECT Id, Email, OwnerId,
//!   AccountId, CreatedDate FROM Contact WHERE Email IN (…) ORDER BY CreatedDate, Id`,
//!   [`EMAILS_PER_QUERY`] emails a query (quoted, lower case, each once; SOQL's text `IN`
//!   ignores case, S11). Leads first, then contacts, each oldest first across the chunks.
//! * `upsert_lead`: `PATCH sobjects/Lead/{idempotency_field}/{key}` (S9), the same external-id
//!   field as Case (`Handoff_Idempotency_Key__c` by default), which the admin creates on Lead
//!   too when a marketing CRM hands leads to Salesforce.
//! * Writes send `Sforce-Auto-Assign: FALSE` on Lead, Case and Account (S6), so the owner
//!   handoff chose stays.
//! * `case_conversation`, `case_comments`, `add_case_note` (S7): the Case's newest
//!   `LiveChatTranscript` as plain text, its `CaseComment`s oldest first, and handoff's notes as
//!   private CaseComments carrying [`handoff_connector::crm::note_marker`], written once
//!   ([`cases`]).

pub mod cases;

use crate::auth::same_id;
use crate::client::{is_id, to_record, SalesforceClient};
use crate::error::{config, VENDOR};
use crate::objects::{
    self, history_of, key_prefix, lookup, read_fields, OWNER_HISTORY_FIELD, SYSTEM,
};
use crate::soql::{Cond, Literal, Select};
use crate::time::parse_ms;
use futures::future::BoxFuture;
use handoff_connector::{
    CaseComment, CaseRef, ConnectorError, Conversation, Crm, EmailQuery, FieldChange, Fields,
    IdempotencyKey, ObjectKind, Owner, PersonRecord, Record, RecordKey,
};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Emails per `find_by_email` query (one Lead and one Contact query per chunk).
pub const EMAILS_PER_QUERY: usize = 100;

/// Salesforce as handoff's CRM.
#[derive(Clone, Debug)]
pub struct SalesforceCrm {
    client: SalesforceClient,
    fields: BTreeMap<String, Vec<String>>,
    lightning_url: Option<url::Url>,
    idempotency_field: String,
}

impl SalesforceCrm {
    /// The CRM over `client`. `fields`: SObject → fields the daemon's mappings read (read with
    /// the connector's own on every `read`); `idempotency_field`: the external-id field
    /// `upsert_case` (on Case) and `upsert_lead` (on Lead) upsert on.
    pub fn new(
        client: SalesforceClient,
        fields: BTreeMap<String, Vec<String>>,
        lightning_url: Option<url::Url>,
        idempotency_field: impl Into<String>,
    ) -> Self {
        Self {
            client,
            fields,
            lightning_url,
            idempotency_field: idempotency_field.into(),
        }
    }

    /// The client underneath (the feed shares its token and budgets).
    pub fn client(&self) -> &SalesforceClient {
        &self.client
    }

    fn check<'k>(&self, record: &'k RecordKey) -> Result<&'k RecordKey, ConnectorError> {
        if record.system != SYSTEM {
            return Err(config(format!("{record} is not a Salesforce record")));
        }
        if !is_id(&record.id) {
            return Err(config(format!("{record}: not a Salesforce id")));
        }
        Ok(record)
    }

    fn configured(&self, object: &str) -> &[String] {
        self.fields.get(object).map(Vec::as_slice).unwrap_or(&[])
    }

    async fn owners_of(&self, soql: String) -> Result<Vec<Owner>, ConnectorError> {
        let rows = self.client.query_every(&soql, false).await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(Owner {
                    id: str_field(r, "Id")?.to_string(),
                    email: str_field(r, "Email")?.trim().to_lowercase(),
                    name: str_field(r, "Name").unwrap_or_default().to_string(),
                })
            })
            .collect())
    }

    /// The rows of `object` (`Lead` or `Contact`) whose `Email` is one of `emails`, each chunk
    /// ordered by `CreatedDate, Id`; Leads only when not converted.
    async fn people_of(
        &self,
        object: &str,
        fields: &[&str],
        emails: &[String],
    ) -> Result<Vec<Map<String, Value>>, ConnectorError> {
        let mut rows = Vec::new();
        for chunk in emails.chunks(EMAILS_PER_QUERY) {
            let mut select = Select::new(fields.iter().copied(), object)?;
            if object == "Lead" {
                select = select.filter(Cond::eq("IsConverted", Literal::Bool(false))?);
            }
            let soql = select
                .filter(Cond::is_in("Email", chunk)?)
                .order_by("CreatedDate", false)?
                .order_by("Id", false)?
                .build();
            rows.extend(self.client.query_every(&soql, false).await?);
        }
        if emails.len() > EMAILS_PER_QUERY {
            // Oldest first across the chunks, as one query would have answered.
            rows.sort_by_cached_key(|r| {
                (
                    str_field(r, "CreatedDate").and_then(parse_ms),
                    str_field(r, "Id").unwrap_or_default().to_string(),
                )
            });
        }
        Ok(rows)
    }
}

/// A Lead or Contact row of `find_by_email` as a [`PersonRecord`] (`None` without an id or an
/// email).
fn person(
    row: &Map<String, Value>,
    object: &'static str,
    kind: ObjectKind,
) -> Option<PersonRecord> {
    Some(PersonRecord {
        key: RecordKey::new(SYSTEM, object, str_field(row, "Id")?),
        kind,
        email: str_field(row, "Email")?.trim().to_lowercase(),
        owner_id: str_field(row, "OwnerId").map(str::to_string),
        account: str_field(row, "AccountId").map(|id| RecordKey::new(SYSTEM, "Account", id)),
    })
}

fn str_field<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

impl Crm for SalesforceCrm {
    fn system(&self) -> &'static str {
        SYSTEM
    }

    fn object_of(&self, kind: ObjectKind) -> Option<&'static str> {
        Some(objects::object_of(kind))
    }

    fn is_integration_user(&self, owner_id: &str) -> bool {
        self.client
            .known_identity()
            .is_some_and(|me| crate::auth::same_id(owner_id, &me.user_id))
    }

    fn kind_of(&self, object: &str) -> Option<ObjectKind> {
        objects::kind_of(object)
    }

    fn read<'a>(
        &'a self,
        object: &'a str,
        ids: &'a [String],
        fields: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Record>, ConnectorError>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let wanted = read_fields(object, self.configured(object), fields);
            let rows = self.client.retrieve(object, ids, &wanted).await?;
            Ok(rows.into_iter().map(|r| to_record(r, object)).collect())
        })
    }

    fn owners(&self) -> BoxFuture<'_, Result<Vec<Owner>, ConnectorError>> {
        Box::pin(async move {
            let users = Select::new(["Id", "Name", "Email"], "User")?
                .filter(Cond::eq("IsActive", Literal::Bool(true))?)
                .order_by("Id", false)?
                .build();
            let queues = Select::new(["Id", "Name", "Email"], "Group")?
                .filter(Cond::eq("Type", Literal::Str("Queue"))?)
                .order_by("Id", false)?
                .build();
            let mut owners = self.owners_of(users).await?;
            owners.extend(self.owners_of(queues).await?);
            Ok(owners)
        })
    }

    fn associated<'a>(
        &'a self,
        record: &'a RecordKey,
        to: ObjectKind,
    ) -> BoxFuture<'a, Result<Vec<RecordKey>, ConnectorError>> {
        Box::pin(async move {
            let record = self.check(record)?;
            let target = objects::object_of(to);
            let Some(field) = lookup(&record.object, target) else {
                return Ok(Vec::new());
            };
            let row = self
                .client
                .get(&record.object, &record.id, &[field.to_string()])
                .await?;
            let Some(id) = str_field(&row, field) else {
                return Ok(Vec::new());
            };
            // A polymorphic lookup (WhoId) may point at another object: check the key prefix.
            let matches = key_prefix(target).is_none_or(|p| id.starts_with(p));
            Ok(if matches {
                vec![RecordKey::new(SYSTEM, target, id)]
            } else {
                Vec::new()
            })
        })
    }

    fn owner_history<'a>(
        &'a self,
        record: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Vec<FieldChange>, ConnectorError>> {
        Box::pin(async move {
            let record = self.check(record)?;
            let Some((history, parent)) = history_of(&record.object) else {
                return Ok(Vec::new());
            };
            let soql = Select::new(
                [
                    "Id",
                    "Field",
                    "OldValue",
                    "NewValue",
                    "CreatedById",
                    "CreatedDate",
                ],
                history,
            )?
            .filter(Cond::eq(parent, Literal::Str(&record.id))?)
            .filter(Cond::eq("Field", Literal::Str(OWNER_HISTORY_FIELD))?)
            .order_by("CreatedDate", true)?
            .order_by("Id", true)?
            .build();
            let rows = self.client.query_every(&soql, false).await?;
            let me = self.client.identity().await?.user_id;
            let mut changes: Vec<FieldChange> = rows
                .iter()
                .filter(|r| str_field(r, "NewValue").is_some_and(is_id))
                .map(|r| {
                    let by = str_field(r, "CreatedById").map(str::to_string);
                    FieldChange {
                        value: str_field(r, "NewValue").unwrap_or_default().to_string(),
                        timestamp_ms: str_field(r, "CreatedDate")
                            .and_then(parse_ms)
                            .unwrap_or_default(),
                        source_type: "USER".into(),
                        by_handoff: by.as_deref().is_some_and(|id| same_id(id, &me)),
                        source_id: by,
                        source_label: None,
                    }
                })
                .collect();
            changes.sort_by_key(|c| std::cmp::Reverse(c.timestamp_ms));
            Ok(changes)
        })
    }

    fn count_open_leads<'a>(
        &'a self,
        owner_id: &'a str,
        statuses: &'a [String],
    ) -> BoxFuture<'a, Result<u64, ConnectorError>> {
        Box::pin(async move {
            if statuses.is_empty() {
                return Ok(0);
            }
            let soql = Select::count("Lead")?
                .filter(Cond::eq("OwnerId", Literal::Str(owner_id))?)
                .filter(Cond::is_in("Status", statuses)?)
                .filter(Cond::eq("IsConverted", Literal::Bool(false))?)
                .build();
            self.client.count(&soql).await
        })
    }

    fn count_modified<'a>(
        &'a self,
        object: &'a str,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'a, Result<u64, ConnectorError>> {
        Box::pin(async move {
            let soql = Select::count(object)?
                .filter(Cond::ge("SystemModstamp", Literal::DateTime(from_ms))?)
                .filter(Cond::lt("SystemModstamp", Literal::DateTime(to_ms))?)
                .build();
            self.client.count(&soql).await
        })
    }

    fn emails_where<'a>(
        &'a self,
        query: &'a EmailQuery,
    ) -> BoxFuture<'a, Result<Vec<String>, ConnectorError>> {
        Box::pin(async move {
            if query.values.is_empty() {
                return Ok(Vec::new());
            }
            // SOQL's text `IN` ignores case, so `Away` also finds `away`.
            let soql = Select::new(["Id", query.email_field.as_str()], &query.object)?
                .filter(Cond::is_in(&query.field, &query.values)?)
                .build();
            let rows = self.client.query_every(&soql, false).await?;
            let emails: BTreeSet<String> = rows
                .iter()
                .filter_map(|r| str_field(r, &query.email_field))
                .map(|e| e.trim().to_lowercase())
                .collect();
            Ok(emails.into_iter().collect())
        })
    }

    fn record_url(&self, record: &RecordKey) -> String {
        let base = self
            .lightning_url
            .clone()
            .or_else(|| self.client.known_identity().map(|i| i.instance_url))
            .unwrap_or_else(|| self.client.login_url().clone());
        format!(
            "{}/lightning/r/{}/{}/view",
            base.as_str().trim_end_matches('/'),
            record.object,
            record.id
        )
    }

    fn update<'a>(
        &'a self,
        record: &'a RecordKey,
        fields: &'a Fields,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move {
            let record = self.check(record)?;
            self.client.update(&record.object, &record.id, fields).await
        })
    }

    fn can_link(&self, from: ObjectKind, to: ObjectKind) -> bool {
        lookup(objects::object_of(from), objects::object_of(to)).is_some()
    }

    fn associate<'a>(
        &'a self,
        from: &'a RecordKey,
        to: &'a RecordKey,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move {
            let (from, to) = (self.check(from)?, self.check(to)?);
            let field = lookup(&from.object, &to.object).ok_or_else(|| {
                config(format!(
                    "{} has no lookup field to {}: they cannot be linked",
                    from.object, to.object
                ))
            })?;
            let mut fields = Fields::new();
            fields.insert(field.into(), Value::String(to.id.clone()));
            self.client.update(&from.object, &from.id, &fields).await
        })
    }

    /// Upserts the Case whose idempotency field (`Handoff_Idempotency_Key__c`, a unique
    /// external-id text field on Case) is `key` (S9), with `fields` plus `AccountId` /
    /// `ContactId` from the links that are Salesforce Accounts / Contacts. A Case has no
    /// Opportunity lookup: Opportunity links (and links to other systems) are ignored.
    fn upsert_case<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        fields: &'a Fields,
        links: &'a [RecordKey],
    ) -> BoxFuture<'a, Result<CaseRef, ConnectorError>> {
        Box::pin(async move {
            let mut body = fields.clone();
            for link in links {
                match (link.system.as_str(), lookup("Case", &link.object)) {
                    (SYSTEM, Some(field)) if is_id(&link.id) => {
                        body.insert(field.into(), Value::String(link.id.clone()));
                    }
                    _ => {
                        tracing::debug!(vendor = VENDOR, link = %link, "not a Case lookup; ignored")
                    }
                }
            }
            let (id, _created) = self
                .client
                .upsert("Case", &self.idempotency_field, key.as_str(), &body)
                .await?;
            let case = RecordKey::new(SYSTEM, "Case", id);
            Ok(CaseRef {
                url: self.record_url(&case),
                key: case,
            })
        })
    }

    fn find_by_email<'a>(
        &'a self,
        emails: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<PersonRecord>, ConnectorError>> {
        Box::pin(async move {
            let wanted = handoff_connector::crm::distinct_emails(emails);
            if wanted.is_empty() {
                return Ok(Vec::new());
            }
            let leads = self
                .people_of("Lead", &["Id", "Email", "OwnerId", "CreatedDate"], &wanted)
                .await?;
            let contacts = self
                .people_of(
                    "Contact",
                    &["Id", "Email", "OwnerId", "AccountId", "CreatedDate"],
                    &wanted,
                )
                .await?;
            Ok(leads
                .iter()
                .filter_map(|r| person(r, "Lead", ObjectKind::Lead))
                .chain(
                    contacts
                        .iter()
                        .filter_map(|r| person(r, "Contact", ObjectKind::Contact)),
                )
                .collect())
        })
    }

    /// `Email` of the Lead or Contact `record` (one GET of the sObject row).
    fn email_of<'a>(
        &'a self,
        record: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Option<String>, ConnectorError>> {
        Box::pin(async move {
            let record = self.check(record)?;
            match self
                .client
                .get(&record.object, &record.id, &["Email".to_string()])
                .await
            {
                Ok(row) => Ok(str_field(&row, "Email").map(|e| e.trim().to_lowercase())),
                Err(ConnectorError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    /// Upserts the Lead whose idempotency field (`Handoff_Idempotency_Key__c` by default: the
    /// Case's external-id field, created on Lead too) is `key` (S9), with `fields`. A value
    /// Salesforce refuses (`INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST`, `REQUIRED_FIELD_MISSING`)
    /// comes back as [`ConnectorError::Rejected`] naming the field ([`crate::error`]).
    fn upsert_lead<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        fields: &'a Fields,
    ) -> BoxFuture<'a, Result<RecordKey, ConnectorError>> {
        Box::pin(async move {
            let (id, _created) = self
                .client
                .upsert("Lead", &self.idempotency_field, key.as_str(), fields)
                .await?;
            Ok(RecordKey::new(SYSTEM, "Lead", id))
        })
    }

    /// The Case's newest `LiveChatTranscript` (S7), its `Body` as plain text ([`cases`]).
    fn case_conversation<'a>(
        &'a self,
        case: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Option<Conversation>, ConnectorError>> {
        Box::pin(cases::conversation(&self.client, case))
    }

    /// The Case's `CaseComment`s (S7), oldest first, with `IsPublished` and `CreatedById`
    /// ([`cases`]).
    fn case_comments<'a>(
        &'a self,
        case: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Vec<CaseComment>, ConnectorError>> {
        Box::pin(cases::comments(&self.client, case))
    }

    /// A private `CaseComment` (`IsPublished: false`, S7) ending with the note marker, written
    /// once even when a write's answer is lost ([`cases`]).
    fn add_case_note<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        case: &'a RecordKey,
        body: &'a str,
    ) -> BoxFuture<'a, Result<String, ConnectorError>> {
        Box::pin(cases::add_note(&self.client, key, case, body))
    }
}
