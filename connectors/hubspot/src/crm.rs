//! HubSpot behind handoff's CRM seam: [`HubSpotCrm`] implements [`handoff_connector::Crm`]
//! with CRM v3 objects, associations v4, owners, search and property history.
//!
//! | kind | HubSpot object |
//! | --- | --- |
//! | Lead, Contact | `contacts` (a HubSpot lead is a contact at a lifecycle stage) |
//! | Account | `companies` |
//! | Deal | `deals` |
//! | Case | `tickets` |
//! | Activity | `calls`, `emails`, `meetings` (not polled: logging one moves the contact's `notes_last_contacted`) |
//! | User | `users` |
//!
//! The owner field is `hubspot_owner_id`; its history (`propertiesWithHistory`) carries each
//! write's `sourceType`/`sourceId` (CRM v3 specs, `ValueWithTimestamp`). Cases are tickets
//! upserted on the unique custom property [`IDEMPOTENCY_PROPERTY`]. Record links follow the
//! configured template (`record_url`, with `{portal_id}`, `{object_type_id}`, `{id}`).
//!
//! `find_by_email` searches contacts (HubSpot's lead object here, [`ObjectKind::Lead`]) with
//! `email IN (…)`, [`EMAILS_PER_SEARCH`] emails (lower case, each once) per search, sorted by
//! `createdate` ascending and paged with `after`; HubSpot has no converted-lead state and no
//! primary account on the result, so `account` is `None`. `upsert_lead` is refused with
//! [`ConnectorError::Config`]: HubSpot is not a target for leads handed over from another CRM
//! in this release.
//!
//! Support cases (tickets): `case_conversation` keeps the trait's default and answers `None`:
//! HubSpot has no chat transcript among its CRM objects (its conversations inbox is not a CRM
//! object handoff reads; a ticket's `source_type` tells a chat through the mapping instead).
//! `case_comments` are the notes associated with the ticket, and `add_case_note` writes a note
//! associated with it once ([`notes`]).

pub mod notes;

use crate::client::{HubSpotClient, IDEMPOTENCY_PROPERTY, VENDOR};
use crate::objects::ObjectType;
use crate::search::{Filter, FilterGroup, Operator, SearchRequest, Sort};
use crate::time::parse_ms;
use futures::future::BoxFuture;
use handoff_connector::{
    CaseComment, CaseRef, ConnectorError, Crm, EmailQuery, FieldChange, Fields, IdempotencyKey,
    ObjectKind, Owner, PersonRecord, Record, RecordKey,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The property holding a record's owner (a HubSpot owner id).
pub const OWNER_PROPERTY: &str = "hubspot_owner_id";
/// The contact property holding its lead status (HubSpot's default "Lead status").
pub const LEAD_STATUS_PROPERTY: &str = "hs_lead_status";
/// The system name in record keys.
pub const SYSTEM: &str = "hubspot";
/// Search results read per page (HubSpot's maximum).
const PAGE: u32 = 200;
/// HubSpot refuses to page a search past 10,000 results (`vendor-specs/NOTES.md` §1.3).
const MAX_RESULTS: usize = 10_000;
/// Emails per `find_by_email` search: the values of one `IN` filter, 100 as HubSpot's cap on
/// them is taken to be. Unverified: `vendor-specs/NOTES.md` §1.3 gives the filter-group and
/// filter limits but no cap on `values`, and the emulator enforces none.
pub const EMAILS_PER_SEARCH: usize = 100;
/// The contact property holding the email.
const EMAIL_PROPERTY: &str = "email";
/// The contact property holding its creation time.
const CREATED_PROPERTY: &str = "createdate";

/// HubSpot as handoff's CRM.
#[derive(Clone, Debug)]
pub struct HubSpotCrm {
    client: HubSpotClient,
    portal_id: u64,
    record_url: String,
}

impl HubSpotCrm {
    /// The CRM over `client`; links are `record_url` with `{portal_id}`, `{object_type_id}` and
    /// `{id}` filled (e.g. `https://app.hubspot.com/contacts/{portal_id}/record/{object_type_id}/{id}`).
    pub fn new(client: HubSpotClient, portal_id: u64, record_url: impl Into<String>) -> Self {
        Self {
            client,
            portal_id,
            record_url: record_url.into(),
        }
    }

    /// The client underneath (the feed shares its rate budgets).
    pub fn client(&self) -> &HubSpotClient {
        &self.client
    }

    fn object(&self, record: &RecordKey) -> Result<ObjectType, ConnectorError> {
        if record.system != SYSTEM {
            return Err(ConnectorError::Config {
                vendor: VENDOR,
                reason: format!("{record} is not a HubSpot record"),
            });
        }
        record
            .object
            .parse::<ObjectType>()
            .map_err(|e| ConnectorError::Config {
                vendor: VENDOR,
                reason: format!("{record}: {e}"),
            })
    }

    /// Checks that `case` is a HubSpot ticket (the only object with case notes here).
    fn ticket(&self, case: &RecordKey) -> Result<(), ConnectorError> {
        match self.object(case)? {
            ObjectType::Tickets => Ok(()),
            other => Err(ConnectorError::Config {
                vendor: VENDOR,
                reason: format!("{case} is a {other} record, not a ticket: only tickets are cases"),
            }),
        }
    }
}

impl Crm for HubSpotCrm {
    fn system(&self) -> &'static str {
        SYSTEM
    }

    fn object_of(&self, kind: ObjectKind) -> Option<&'static str> {
        Some(match kind {
            ObjectKind::Lead | ObjectKind::Contact => ObjectType::Contacts.name(),
            ObjectKind::Account => ObjectType::Companies.name(),
            ObjectKind::Deal => ObjectType::Deals.name(),
            ObjectKind::Case => ObjectType::Tickets.name(),
            ObjectKind::Activity => ObjectType::Calls.name(),
            ObjectKind::User => ObjectType::Users.name(),
        })
    }

    fn kind_of(&self, object: &str) -> Option<ObjectKind> {
        let kind = match object.parse::<ObjectType>().ok()? {
            ObjectType::Contacts => ObjectKind::Lead,
            ObjectType::Companies => ObjectKind::Account,
            ObjectType::Deals => ObjectKind::Deal,
            ObjectType::Tickets => ObjectKind::Case,
            ObjectType::Calls | ObjectType::Emails | ObjectType::Meetings => ObjectKind::Activity,
            ObjectType::Users => ObjectKind::User,
            ObjectType::Notes => return None,
        };
        Some(kind)
    }

    fn read<'a>(
        &'a self,
        object: &'a str,
        ids: &'a [String],
        fields: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Record>, ConnectorError>> {
        Box::pin(self.client.batch_read(object, ids, fields))
    }

    fn owners(&self) -> BoxFuture<'_, Result<Vec<Owner>, ConnectorError>> {
        Box::pin(async move {
            let owners = self.client.list_owners().await?;
            Ok(owners
                .into_iter()
                .filter(|o| !o.archived)
                .filter_map(|o| {
                    let name = [o.first_name.as_deref(), o.last_name.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    Some(Owner {
                        id: o.id,
                        email: o.email?.trim().to_lowercase(),
                        name,
                    })
                })
                .collect())
        })
    }

    fn associated<'a>(
        &'a self,
        record: &'a RecordKey,
        to: ObjectKind,
    ) -> BoxFuture<'a, Result<Vec<RecordKey>, ConnectorError>> {
        Box::pin(async move {
            let object = self.object(record)?;
            let Some(to_object) = self.object_of(to) else {
                return Ok(Vec::new());
            };
            let found = self
                .client
                .get_object_with_associations(
                    object.name(),
                    &record.id,
                    &["hs_object_id"],
                    &[to_object],
                )
                .await?;
            Ok(found
                .associations
                .get(to_object)
                .into_iter()
                .flatten()
                .map(|id| RecordKey::new(SYSTEM, to_object, id))
                .collect())
        })
    }

    fn owner_history<'a>(
        &'a self,
        record: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Vec<FieldChange>, ConnectorError>> {
        Box::pin(async move {
            let object = self.object(record)?;
            let history = self
                .client
                .property_history(object.name(), &record.id, OWNER_PROPERTY)
                .await?;
            Ok(history
                .into_iter()
                .map(|h| FieldChange {
                    timestamp_ms: h.timestamp_ms().unwrap_or_default(),
                    value: h.value,
                    source_type: h.source_type,
                    source_id: h.source_id,
                    source_label: h.source_label,
                    // Which app wrote an INTEGRATION entry is not verified (the `sourceId`
                    // shape): `ownership.systems` decides what INTEGRATION means.
                    by_handoff: false,
                })
                .collect())
        })
    }

    fn count_open_leads<'a>(
        &'a self,
        owner_id: &'a str,
        statuses: &'a [String],
    ) -> BoxFuture<'a, Result<u64, ConnectorError>> {
        Box::pin(async move {
            let mut status = Filter::new(LEAD_STATUS_PROPERTY, Operator::In, "");
            status.value = None;
            status.values = Some(statuses.iter().map(|s| json!(s)).collect());
            let request = SearchRequest {
                filter_groups: vec![FilterGroup {
                    filters: vec![Filter::new(OWNER_PROPERTY, Operator::Eq, owner_id), status],
                }],
                properties: vec!["hs_object_id".into()],
                limit: Some(1),
                ..Default::default()
            };
            let page = self
                .client
                .search(ObjectType::Contacts.name(), &request)
                .await?;
            Ok(page.total)
        })
    }

    fn count_modified<'a>(
        &'a self,
        object: &'a str,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'a, Result<u64, ConnectorError>> {
        Box::pin(async move {
            let kind: ObjectType = object.parse().map_err(|_| ConnectorError::Config {
                vendor: VENDOR,
                reason: format!("no HubSpot object `{object}` to count"),
            })?;
            let modified = kind.modified_property();
            let request = SearchRequest {
                filter_groups: vec![FilterGroup {
                    filters: vec![
                        Filter::new(modified, Operator::Gte, from_ms.to_string()),
                        Filter::new(modified, Operator::Lt, to_ms.to_string()),
                    ],
                }],
                properties: vec!["hs_object_id".into()],
                limit: Some(1),
                ..Default::default()
            };
            Ok(self.client.search(kind.name(), &request).await?.total)
        })
    }

    fn emails_where<'a>(
        &'a self,
        query: &'a EmailQuery,
    ) -> BoxFuture<'a, Result<Vec<String>, ConnectorError>> {
        Box::pin(async move {
            let mut filter = Filter::new(&query.field, Operator::In, "");
            filter.value = None;
            let mut values: Vec<Value> = Vec::new();
            for v in &query.values {
                // HubSpot compares enumeration values exactly; offer the usual spellings.
                for s in [v.clone(), v.to_lowercase(), v.to_uppercase()] {
                    if !values.iter().any(|x| x.as_str() == Some(&s)) {
                        values.push(Value::String(s));
                    }
                }
            }
            filter.values = Some(values);
            let mut request = SearchRequest {
                filter_groups: vec![FilterGroup {
                    filters: vec![filter],
                }],
                properties: vec![query.email_field.clone(), query.field.clone()],
                limit: Some(PAGE),
                ..Default::default()
            };
            let mut emails = BTreeSet::new();
            let mut read = 0;
            loop {
                let page = self.client.search(&query.object, &request).await?;
                read += page.results.len();
                emails.extend(page.results.iter().filter_map(|r| {
                    r.properties
                        .get(&query.email_field)
                        .and_then(Value::as_str)
                        .map(|e| e.trim().to_lowercase())
                }));
                match page.next_after {
                    Some(after) if read < MAX_RESULTS && !page.results.is_empty() => {
                        request.after = Some(after)
                    }
                    _ => return Ok(emails.into_iter().collect()),
                }
            }
        })
    }

    fn record_url(&self, record: &RecordKey) -> String {
        let type_id = record
            .object
            .parse::<ObjectType>()
            .map(ObjectType::type_id)
            .unwrap_or(record.object.as_str());
        self.record_url
            .replace("{portal_id}", &self.portal_id.to_string())
            .replace("{object_type_id}", type_id)
            .replace("{id}", &record.id)
    }

    fn update<'a>(
        &'a self,
        record: &'a RecordKey,
        fields: &'a Fields,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move {
            let object = self.object(record)?;
            self.client
                .update_object(object.name(), &record.id, fields)
                .await?;
            Ok(())
        })
    }

    fn associate<'a>(
        &'a self,
        from: &'a RecordKey,
        to: &'a RecordKey,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        Box::pin(async move {
            let (a, b) = (self.object(from)?, self.object(to)?);
            self.client
                .associate_default(a.name(), &from.id, b.name(), &to.id)
                .await
        })
    }

    fn upsert_case<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        fields: &'a Fields,
        links: &'a [RecordKey],
    ) -> BoxFuture<'a, Result<CaseRef, ConnectorError>> {
        Box::pin(async move {
            let tickets = ObjectType::Tickets.name();
            let mut props = fields.clone();
            props.insert(IDEMPOTENCY_PROPERTY.into(), json!(key.as_str()));
            let ticket = self
                .client
                .upsert_by_key(tickets, IDEMPOTENCY_PROPERTY, key, &props)
                .await?;
            let case = RecordKey::new(SYSTEM, tickets, ticket.id);
            for link in links {
                self.associate(&case, link).await?;
            }
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
            let contacts = ObjectType::Contacts.name();
            let mut found: Vec<(Option<i64>, u64, PersonRecord)> = Vec::new();
            for chunk in wanted.chunks(EMAILS_PER_SEARCH) {
                let mut filter = Filter::new(EMAIL_PROPERTY, Operator::In, "");
                filter.value = None;
                filter.values = Some(chunk.iter().map(|e| json!(e)).collect());
                let mut request = SearchRequest {
                    filter_groups: vec![FilterGroup {
                        filters: vec![filter],
                    }],
                    sorts: vec![Sort::ascending(CREATED_PROPERTY)],
                    properties: vec![
                        EMAIL_PROPERTY.into(),
                        OWNER_PROPERTY.into(),
                        CREATED_PROPERTY.into(),
                    ],
                    limit: Some(PAGE),
                    ..Default::default()
                };
                let mut read = 0;
                loop {
                    let page = self.client.search(contacts, &request).await?;
                    read += page.results.len();
                    for r in &page.results {
                        let Some(email) = r.prop(EMAIL_PROPERTY) else {
                            continue;
                        };
                        let created = r.prop(CREATED_PROPERTY).and_then(|t| parse_ms(&t));
                        let order = r.id.parse::<u64>().unwrap_or(u64::MAX);
                        found.push((
                            created,
                            order,
                            PersonRecord {
                                key: RecordKey::new(SYSTEM, contacts, &r.id),
                                kind: ObjectKind::Lead,
                                email: email.trim().to_lowercase(),
                                owner_id: r.prop(OWNER_PROPERTY).filter(|o| !o.is_empty()),
                                account: None,
                            },
                        ));
                    }
                    match page.next_after {
                        Some(after) if read < MAX_RESULTS && !page.results.is_empty() => {
                            request.after = Some(after)
                        }
                        _ => break,
                    }
                }
            }
            // Oldest first across the searches (ties by id, as within one).
            found.sort_by_key(|(created, id, _)| (*created, *id));
            Ok(found.into_iter().map(|(_, _, p)| p).collect())
        })
    }

    /// The contact's `email` property (a batch read of one).
    fn email_of<'a>(
        &'a self,
        record: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Option<String>, ConnectorError>> {
        Box::pin(async move {
            let found = self
                .client
                .batch_read(
                    &record.object,
                    std::slice::from_ref(&record.id),
                    &[EMAIL_PROPERTY.to_string()],
                )
                .await?;
            Ok(found
                .first()
                .and_then(|r| r.prop(EMAIL_PROPERTY))
                .map(|e| e.trim().to_lowercase())
                .filter(|e| !e.is_empty()))
        })
    }

    /// The notes associated with the ticket, oldest first by `hs_timestamp`, all internal
    /// ([`notes`]).
    fn case_comments<'a>(
        &'a self,
        case: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Vec<CaseComment>, ConnectorError>> {
        Box::pin(async move {
            self.ticket(case)?;
            notes::comments(&self.client, &case.id).await
        })
    }

    /// A note associated with the ticket (type [`notes::NOTE_TO_TICKET`]) ending with the note
    /// marker, written once even when a write's answer is lost ([`notes`]).
    fn add_case_note<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        case: &'a RecordKey,
        body: &'a str,
    ) -> BoxFuture<'a, Result<String, ConnectorError>> {
        Box::pin(async move {
            self.ticket(case)?;
            notes::add_note(&self.client, key, &case.id, body).await
        })
    }

    fn upsert_lead<'a>(
        &'a self,
        _key: &'a IdempotencyKey,
        _fields: &'a Fields,
    ) -> BoxFuture<'a, Result<RecordKey, ConnectorError>> {
        Box::pin(async move {
            Err(ConnectorError::Config {
                vendor: VENDOR,
                reason: "HubSpot is not a target for leads handed over from another CRM in this \
                         release: hand leads to Salesforce, or let HubSpot be the marketing CRM"
                    .into(),
            })
        })
    }
}

/// The HubSpot contact a [`handoff_connector::Person`] becomes (`{id, object_type: contacts,
/// properties}`), with HubSpot's default contact properties: `email`, `firstname`, `lastname`,
/// `company`, `website`, `city`, `country`, `phone`, `mobilephone`, `hs_analytics_source`
/// (the person's source as given), `lifecyclestage` `marketingqualifiedlead` when sales-ready,
/// and a GDPR `hs_legal_basis` when the person consented. Empty values are left out.
pub fn lead_record(person: &handoff_connector::Person) -> Record {
    let mut p = serde_json::Map::new();
    for (k, v) in [
        ("email", person.email.as_str()),
        ("firstname", &person.first_name),
        ("lastname", &person.last_name),
        ("company", &person.company),
        ("website", &person.website),
        ("city", &person.city),
        ("country", &person.country),
        ("phone", &person.phone),
        ("mobilephone", &person.mobile_phone),
        (
            "hs_analytics_source",
            person.source.as_deref().unwrap_or(""),
        ),
    ] {
        if !v.is_empty() {
            p.insert(k.into(), json!(v));
        }
    }
    if person.sales_ready {
        p.insert("lifecyclestage".into(), json!("marketingqualifiedlead"));
    }
    if person.consent {
        p.insert(
            "hs_legal_basis".into(),
            json!("Legitimate interest – prospect/lead"),
        );
    }
    Record {
        id: person.id.clone(),
        object_type: ObjectType::Contacts.name().into(),
        properties: p,
        associations: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HubSpotConfig;
    use secrecy::SecretString;

    #[tokio::test]
    async fn upsert_lead_is_refused_as_config() {
        let config = HubSpotConfig::new(
            "http://127.0.0.1:9/".parse().unwrap(),
            SecretString::from("pat-test"),
            SecretString::from("secret"),
        );
        let crm = HubSpotCrm::new(
            HubSpotClient::new(&config).unwrap(),
            1,
            "https://app.hubspot.com/contacts/{portal_id}/record/{object_type_id}/{id}",
        );
        let mut fields = Fields::new();
        fields.insert("email".into(), json!("kim@acme-widgets.io"));
        let err = crm
            .upsert_lead(&IdempotencyKey::new("marketing:x:1:lead"), &fields)
            .await
            .unwrap_err();
        let ConnectorError::Config { vendor, reason } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*vendor, "hubspot");
        assert!(
            reason.contains("not a target for leads handed over from another CRM"),
            "{reason}"
        );
        assert_eq!(err.class(), handoff_connector::ErrorClass::Permanent);
    }
}
