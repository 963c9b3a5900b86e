//! The audit trail: every decision about a record and why, for `handoff audit <record>`.

use super::{decode, encode, StateError, Store};
use serde::{Deserialize, Serialize};

/// One line of a record's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// UTC ms.
    pub at_ms: i64,
    /// `system:object:id`, e.g. `crm:contacts:42`.
    pub record_key: String,
    /// What happened: `received`, `gates`, `nurtured`, `matched_account`, `routed`,
    /// `saga_created`, `step_done`, `step_failed`, `dead_lettered`, `claimed`, ...
    pub event: String,
    /// One human sentence (what an admin reads first).
    pub message: String,
    /// Structured detail (gate results, rule, owner, vendor ids).
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl AuditEntry {
    pub fn new(
        at_ms: i64,
        record_key: &str,
        event: &str,
        message: impl Into<String>,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            at_ms,
            record_key: record_key.to_string(),
            event: event.to_string(),
            message: message.into(),
            detail,
        }
    }
}

/// `record_key`, a zero byte, then the id big-endian: a prefix scan returns one record's history
/// in order.
pub(super) fn audit_key(record_key: &str, id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(record_key.len() + 9);
    key.extend_from_slice(record_key.as_bytes());
    key.push(0);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

impl Store {
    /// Appends entries outside a saga or completion (e.g. a rejected webhook about a record).
    pub fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StateError> {
        for e in entries {
            let id = self.inner.db.generate_id()?;
            self.inner
                .audit
                .insert(audit_key(&e.record_key, id), encode(e, "audit entry")?)?;
        }
        Ok(())
    }

    /// A record's history, oldest first.
    pub fn audit_of(&self, record_key: &str) -> Result<Vec<AuditEntry>, StateError> {
        let mut prefix = record_key.as_bytes().to_vec();
        prefix.push(0);
        self.inner
            .audit
            .scan_prefix(prefix)
            .map(|item| {
                let (_, v) = item?;
                decode(&v, "audit entry")
            })
            .collect()
    }

    /// Record keys whose key ends with `:<id>` (so `handoff audit 42` finds
    /// `crm:contacts:42` and `crm:deals:42`). Scans the trail.
    pub fn audit_records_with_id(&self, id: &str) -> Result<Vec<String>, StateError> {
        let suffix = format!(":{id}");
        let mut found: Vec<String> = Vec::new();
        for item in self.inner.audit.iter() {
            let (k, _) = item?;
            let Some(pos) = k.iter().position(|b| *b == 0) else {
                continue;
            };
            let record = String::from_utf8_lossy(&k[..pos]);
            if record.ends_with(&suffix) && found.last().map(String::as_str) != Some(&record) {
                found.push(record.into_owned());
            }
        }
        found.dedup();
        Ok(found)
    }
}

impl Store {
    /// Every audit entry whose `at_ms` (UTC ms) is at or after `since_ms` (all entries when
    /// `None`), streamed from the trail and decoded one at a time, so a report over the whole
    /// trail never holds it in memory. Order: record key, then oldest first within a record
    /// (the tree has no time index, so `since_ms` filters rather than seeks).
    ///
    /// Each item is an entry, or the [`StateError`] of reading or decoding one.
    pub fn audit_entries(
        &self,
        since_ms: Option<i64>,
    ) -> impl Iterator<Item = Result<AuditEntry, StateError>> + Send + 'static {
        self.inner.audit.iter().filter_map(move |item| {
            let entry = item
                .map_err(StateError::from)
                .and_then(|(_, v)| decode::<AuditEntry>(&v, "audit entry"));
            match entry {
                Ok(e) if since_ms.is_some_and(|since| e.at_ms < since) => None,
                other => Some(other),
            }
        })
    }
}
