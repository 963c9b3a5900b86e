//! [`MemoryCrm`]: an in-memory [`Crm`] for flow-level tests, where a whole emulator would be
//! more than the test needs. It holds records by key and owners, answers a scripted owner
//! history, records every write, and counts reads. It speaks no vendor's API: the object
//! names and the system name are the test's choice.
//!
//! [`Crm::find_by_email`] reads the records it holds as the two CRMs shape them: the email is
//! the property named `email` in any case (HubSpot `email`, Salesforce `Email`), the owner
//! `hubspot_owner_id` or `OwnerId`, the creation time `createdate` or `CreatedDate`; a record
//! with `IsConverted` true is a converted lead and left out; a contact's account is its first
//! association to the [`ObjectKind::Account`] object. [`Crm::upsert_lead`] stores the lead as
//! a record whose id is the key (a second call with the key updates it) and records the write.

use crate::{
    note_marker, CaseComment, CaseRef, ConnectorError, Conversation, Crm, EmailQuery, FieldChange,
    Fields, IdempotencyKey, ObjectKind, Owner, PersonRecord, Record, RecordKey,
};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One write [`MemoryCrm`] took.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    Update(RecordKey, Fields),
    Link(RecordKey, RecordKey),
    Case(IdempotencyKey, Fields, Vec<RecordKey>),
    Lead(IdempotencyKey, Fields),
    /// A note added to a case (its key, the case, the body with its marker).
    Note(IdempotencyKey, RecordKey, String),
}

/// An in-memory CRM (see the module docs).
#[derive(Debug)]
pub struct MemoryCrm {
    system: &'static str,
    objects: Vec<(ObjectKind, &'static str)>,
    records: Mutex<HashMap<RecordKey, Record>>,
    owners: Mutex<Vec<Owner>>,
    history: Mutex<Vec<FieldChange>>,
    writes: Mutex<Vec<Write>>,
    comments: Mutex<HashMap<RecordKey, Vec<CaseComment>>>,
    conversations: Mutex<HashMap<RecordKey, Conversation>>,
    reads: AtomicUsize,
    history_reads: AtomicUsize,
}

impl MemoryCrm {
    /// An empty CRM named `system` whose `objects` hold each kind (the first object listed for
    /// a kind is [`Crm::object_of`] it).
    pub fn new(system: &'static str, objects: &[(ObjectKind, &'static str)]) -> Self {
        Self {
            system,
            objects: objects.to_vec(),
            records: Mutex::default(),
            owners: Mutex::default(),
            history: Mutex::default(),
            writes: Mutex::default(),
            comments: Mutex::default(),
            conversations: Mutex::default(),
            reads: AtomicUsize::new(0),
            history_reads: AtomicUsize::new(0),
        }
    }

    /// Adds (or replaces) `record`, an object of this CRM.
    pub fn put(&self, record: Record) -> &Self {
        let key = RecordKey::new(self.system, &record.object_type, &record.id);
        lock(&self.records).insert(key, record);
        self
    }

    /// Sets the owners [`Crm::owners`] answers.
    pub fn set_owners(&self, owners: Vec<Owner>) -> &Self {
        *lock(&self.owners) = owners;
        self
    }

    /// Sets the history [`Crm::owner_history`] answers for any record (newest first).
    pub fn set_owner_history(&self, history: Vec<FieldChange>) -> &Self {
        *lock(&self.history) = history;
        self
    }

    /// Adds `comment` to `case` (a comment a person wrote in the CRM).
    pub fn put_comment(&self, case: &RecordKey, comment: CaseComment) -> &Self {
        lock(&self.comments)
            .entry(case.clone())
            .or_default()
            .push(comment);
        self
    }

    /// Sets the chat conversation of `case`.
    pub fn put_conversation(&self, case: &RecordKey, conversation: Conversation) -> &Self {
        lock(&self.conversations).insert(case.clone(), conversation);
        self
    }

    /// Every write so far, in order.
    pub fn writes(&self) -> Vec<Write> {
        lock(&self.writes).clone()
    }

    /// How many [`Crm::read`] calls were made.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    /// How many [`Crm::owner_history`] calls were made.
    pub fn history_reads(&self) -> usize {
        self.history_reads.load(Ordering::SeqCst)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The value of the first of `names` (compared without case) the record has, as a string.
fn prop_of(record: &Record, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        record
            .properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .and_then(|(k, _)| record.prop(k))
            .filter(|v| !v.trim().is_empty())
    })
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, Result<T, ConnectorError>> {
    Box::pin(async move { Ok(value) })
}

impl Crm for MemoryCrm {
    fn system(&self) -> &'static str {
        self.system
    }

    fn object_of(&self, kind: ObjectKind) -> Option<&'static str> {
        self.objects
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, o)| *o)
    }

    fn kind_of(&self, object: &str) -> Option<ObjectKind> {
        self.objects
            .iter()
            .find(|(_, o)| *o == object)
            .map(|(k, _)| *k)
    }

    fn read<'a>(
        &'a self,
        object: &'a str,
        ids: &'a [String],
        _fields: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Record>, ConnectorError>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let records = lock(&self.records);
        let found = ids
            .iter()
            .filter_map(|id| {
                records
                    .get(&RecordKey::new(self.system, object, id))
                    .cloned()
            })
            .collect();
        ready(found)
    }

    fn owners(&self) -> BoxFuture<'_, Result<Vec<Owner>, ConnectorError>> {
        ready(lock(&self.owners).clone())
    }

    fn associated<'a>(
        &'a self,
        record: &'a RecordKey,
        to: ObjectKind,
    ) -> BoxFuture<'a, Result<Vec<RecordKey>, ConnectorError>> {
        let Some(object) = self.object_of(to) else {
            return ready(Vec::new());
        };
        let linked = lock(&self.records)
            .get(record)
            .and_then(|r| r.associations.get(object).cloned())
            .unwrap_or_default()
            .into_iter()
            .map(|id| RecordKey::new(self.system, object, id))
            .collect();
        ready(linked)
    }

    fn owner_history<'a>(
        &'a self,
        _record: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Vec<FieldChange>, ConnectorError>> {
        self.history_reads.fetch_add(1, Ordering::SeqCst);
        ready(lock(&self.history).clone())
    }

    fn count_open_leads<'a>(
        &'a self,
        _owner_id: &'a str,
        _statuses: &'a [String],
    ) -> BoxFuture<'a, Result<u64, ConnectorError>> {
        ready(0)
    }

    fn emails_where<'a>(
        &'a self,
        _query: &'a EmailQuery,
    ) -> BoxFuture<'a, Result<Vec<String>, ConnectorError>> {
        ready(Vec::new())
    }

    fn record_url(&self, record: &RecordKey) -> String {
        format!("https://crm.invalid/{}/{}", record.object, record.id)
    }

    fn update<'a>(
        &'a self,
        record: &'a RecordKey,
        fields: &'a Fields,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        lock(&self.writes).push(Write::Update(record.clone(), fields.clone()));
        ready(())
    }

    fn associate<'a>(
        &'a self,
        from: &'a RecordKey,
        to: &'a RecordKey,
    ) -> BoxFuture<'a, Result<(), ConnectorError>> {
        lock(&self.writes).push(Write::Link(from.clone(), to.clone()));
        ready(())
    }

    fn upsert_case<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        fields: &'a Fields,
        links: &'a [RecordKey],
    ) -> BoxFuture<'a, Result<CaseRef, ConnectorError>> {
        lock(&self.writes).push(Write::Case(key.clone(), fields.clone(), links.to_vec()));
        let object = self.object_of(ObjectKind::Case).unwrap_or("cases");
        let case = RecordKey::new(self.system, object, key.as_str());
        ready(CaseRef {
            url: self.record_url(&case),
            key: case,
        })
    }

    fn email_of<'a>(
        &'a self,
        record: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Option<String>, ConnectorError>> {
        let email = lock(&self.records)
            .get(record)
            .and_then(|r| prop_of(r, &["email"]))
            .map(|e| e.trim().to_lowercase());
        Box::pin(async move { Ok(email) })
    }

    fn find_by_email<'a>(
        &'a self,
        emails: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<PersonRecord>, ConnectorError>> {
        let wanted: Vec<String> = emails.iter().map(|e| e.trim().to_lowercase()).collect();
        let account_object = self.object_of(ObjectKind::Account);
        let records = lock(&self.records);
        let mut found: Vec<(u8, Option<i64>, String, PersonRecord)> = records
            .iter()
            .filter_map(|(key, r)| {
                let kind = self.kind_of(&r.object_type)?;
                let rank = match kind {
                    ObjectKind::Lead => 0,
                    ObjectKind::Contact => 1,
                    _ => return None,
                };
                let email = prop_of(r, &["email"])?.trim().to_lowercase();
                if !wanted.contains(&email) {
                    return None;
                }
                let converted = r
                    .properties
                    .get("IsConverted")
                    .is_some_and(|v| v == true || v == "true");
                if converted {
                    return None;
                }
                let account = match (kind, account_object) {
                    (ObjectKind::Contact, Some(object)) => r
                        .associations
                        .get(object)
                        .and_then(|ids| ids.first())
                        .map(|id| RecordKey::new(self.system, object, id)),
                    _ => None,
                };
                let created = prop_of(r, &["createdate", "CreatedDate"])
                    .and_then(|t| crate::time::parse_ms(&t));
                let person = PersonRecord {
                    key: key.clone(),
                    kind,
                    email,
                    owner_id: prop_of(r, &["hubspot_owner_id", "OwnerId"]),
                    account,
                };
                Some((rank, created, r.id.clone(), person))
            })
            .collect();
        found.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        ready(found.into_iter().map(|(_, _, _, p)| p).collect())
    }

    fn upsert_lead<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        fields: &'a Fields,
    ) -> BoxFuture<'a, Result<RecordKey, ConnectorError>> {
        lock(&self.writes).push(Write::Lead(key.clone(), fields.clone()));
        let object = self.object_of(ObjectKind::Lead).unwrap_or("leads");
        let lead = RecordKey::new(self.system, object, key.as_str());
        let mut records = lock(&self.records);
        let record = records.entry(lead.clone()).or_insert_with(|| Record {
            id: key.as_str().to_string(),
            object_type: object.to_string(),
            ..Record::default()
        });
        for (k, v) in fields {
            record.properties.insert(k.clone(), v.clone());
        }
        drop(records);
        ready(lead)
    }

    fn count_modified<'a>(
        &'a self,
        object: &'a str,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'a, Result<u64, ConnectorError>> {
        let n = lock(&self.records)
            .values()
            .filter(|r| r.object_type == object)
            .filter_map(|r| {
                prop_of(
                    r,
                    &["hs_lastmodifieddate", "lastmodifieddate", "SystemModstamp"],
                )
            })
            .filter_map(|v| crate::time::parse_ms(&v))
            .filter(|ms| (from_ms..to_ms).contains(ms))
            .count();
        ready(n as u64)
    }

    fn case_conversation<'a>(
        &'a self,
        case: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Option<Conversation>, ConnectorError>> {
        ready(lock(&self.conversations).get(case).cloned())
    }

    fn case_comments<'a>(
        &'a self,
        case: &'a RecordKey,
    ) -> BoxFuture<'a, Result<Vec<CaseComment>, ConnectorError>> {
        let mut comments = lock(&self.comments).get(case).cloned().unwrap_or_default();
        comments.sort_by_key(|c| c.created_ms);
        ready(comments)
    }

    fn add_case_note<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        case: &'a RecordKey,
        body: &'a str,
    ) -> BoxFuture<'a, Result<String, ConnectorError>> {
        let marker = note_marker(key);
        let mut comments = lock(&self.comments);
        let on_case = comments.entry(case.clone()).or_default();
        if let Some(found) = on_case.iter().find(|c| c.body.contains(&marker)) {
            return ready(found.id.clone());
        }
        let body = format!("{body}\n{marker}");
        let id = format!("note-{}", on_case.len() + 1);
        on_case.push(CaseComment {
            id: id.clone(),
            body: body.clone(),
            public: false,
            created_ms: crate::now_ms(),
            author_id: None,
        });
        drop(comments);
        lock(&self.writes).push(Write::Note(key.clone(), case.clone(), body));
        ready(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(object: &str, id: &str, props: serde_json::Value) -> Record {
        Record {
            id: id.into(),
            object_type: object.into(),
            properties: props.as_object().unwrap().clone(),
            associations: Default::default(),
        }
    }

    #[tokio::test]
    async fn people_are_found_by_email_leads_first_oldest_first_and_leads_upserted_once() {
        let crm = MemoryCrm::new(
            "salesforce",
            &[
                (ObjectKind::Lead, "Lead"),
                (ObjectKind::Contact, "Contact"),
                (ObjectKind::Account, "Account"),
            ],
        );
        let mut contact = record(
            "Contact",
            "003A",
            json!({"Email": "Pat@Example.com", "OwnerId": "005R", "CreatedDate": "2026-01-01T00:00:00.000+0000"}),
        );
        contact
            .associations
            .insert("Account".into(), vec!["001A".into()]);
        crm.put(contact)
            .put(record(
                "Lead",
                "00QNEW",
                json!({"Email": "pat@example.com", "OwnerId": "005R", "CreatedDate": "2026-03-01T00:00:00.000+0000"}),
            ))
            .put(record(
                "Lead",
                "00QOLD",
                json!({"Email": "PAT@example.com", "CreatedDate": "2026-02-01T00:00:00.000+0000"}),
            ))
            .put(record(
                "Lead",
                "00QCONV",
                json!({"Email": "pat@example.com", "IsConverted": true}),
            ))
            .put(record("Lead", "00QELSE", json!({"Email": "sam@example.com"})))
            .put(record("Account", "001A", json!({"Email": "pat@example.com"})));

        let found = crm
            .find_by_email(&["pAt@EXAMPLE.com".to_string()])
            .await
            .unwrap();
        let ids: Vec<&str> = found.iter().map(|p| p.key.id.as_str()).collect();
        assert_eq!(ids, ["00QOLD", "00QNEW", "003A"]);
        assert_eq!(
            found.iter().map(|p| p.kind).collect::<Vec<_>>(),
            [ObjectKind::Lead, ObjectKind::Lead, ObjectKind::Contact]
        );
        assert!(found.iter().all(|p| p.email == "pat@example.com"));
        assert_eq!(found[0].owner_id, None);
        assert_eq!(found[1].owner_id.as_deref(), Some("005R"));
        assert_eq!(found[0].account, None);
        assert_eq!(
            found[2].account,
            Some(RecordKey::new("salesforce", "Account", "001A"))
        );
        assert!(crm.find_by_email(&[]).await.unwrap().is_empty());

        let key = IdempotencyKey::new("lead:marketing:42");
        let mut fields = Fields::new();
        fields.insert("Email".into(), json!("new@example.com"));
        fields.insert("LastName".into(), json!("New"));
        let first = crm.upsert_lead(&key, &fields).await.unwrap();
        fields.insert("LastName".into(), json!("Newer"));
        let second = crm.upsert_lead(&key, &fields).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(
            first,
            RecordKey::new("salesforce", "Lead", "lead:marketing:42")
        );
        let leads = crm
            .find_by_email(&["new@example.com".to_string()])
            .await
            .unwrap();
        assert_eq!(leads.len(), 1, "one lead for one key");
        assert_eq!(leads[0].key, first);
        let stored = crm
            .read("Lead", std::slice::from_ref(&first.id), &[])
            .await
            .unwrap();
        assert_eq!(stored[0].properties["LastName"], "Newer");
        assert_eq!(crm.writes().len(), 2);
        assert!(
            matches!(&crm.writes()[1], Write::Lead(k, f) if *k == key && f["LastName"] == "Newer")
        );
    }
}
