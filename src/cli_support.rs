//! Reports shared by the CLI and the admin API (so both print the same thing).

use crate::state::{AuditEntry, StateError, Store};
use serde::Serialize;

/// A record's audit trail, for `handoff audit`.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct AuditReport {
    /// The record keys found (`system:object:id`); a bare id may match several types.
    pub records: Vec<String>,
    pub entries: Vec<AuditEntry>,
}

/// The trail of `record`: a full key (`system:object:id`) or a bare id (`42`), with the
/// records linked to it as the same person in another CRM (`person:<key>` flow state).
pub fn audit_report(store: &Store, record: &str) -> Result<AuditReport, StateError> {
    let mut records = if record.contains(':') {
        vec![record.to_string()]
    } else {
        store.audit_records_with_id(record)?
    };
    // The same person's records in another CRM (a marketing CRM's contact and its sales Lead).
    for r in records.clone() {
        let linked: Vec<String> = store
            .get_json(&crate::flows::marketing::person_key(&r))?
            .unwrap_or_default();
        for l in linked {
            if !records.contains(&l) {
                records.push(l);
            }
        }
    }
    let mut entries = Vec::new();
    for r in &records {
        entries.extend(store.audit_of(r)?);
    }
    entries.sort_by_key(|e| e.at_ms);
    Ok(AuditReport { records, entries })
}

/// Renders an audit report for people: one line per entry, UTC times.
pub fn render_audit(report: &AuditReport) -> String {
    if report.entries.is_empty() {
        return "no audit entries for that record\n".into();
    }
    let mut out = String::new();
    for e in &report.entries {
        let at = jiff::Timestamp::from_millisecond(e.at_ms)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_else(|_| e.at_ms.to_string());
        out.push_str(&format!(
            "{at}  {:<24} {:<16} {}\n",
            e.record_key, e.event, e.message
        ));
    }
    out
}
