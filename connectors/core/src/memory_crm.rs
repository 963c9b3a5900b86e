//! [`MemoryCrm`]: an in-memory [`Crm`] for flow-level tests, where a whole emulator would be
//! more than the test needs. It holds records by key and owners, answers a scripted owner
//! history, records every write, and counts reads. It speaks no vendor's API: the object
//! names and the system name are the test's choice.

use crate::{
    CaseRef, ConnectorError, Crm, EmailQuery, FieldChange, Fields, IdempotencyKey, ObjectKind,
    Owner, Record, RecordKey,
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
}
