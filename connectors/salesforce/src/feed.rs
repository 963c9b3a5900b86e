//! `SalesforceFeed`: polls SObjects for changes with SOQL on `SystemModstamp`.
//!
//! `SystemModstamp` bumps on every change, system ones included, and is the field to sync on
//! (NOTES §2.5). Each poll of one object runs, through `queryAll` (so deleted rows, with
//! `IsDeleted = true`, come back; `queryAll` also returns archived Tasks and Events, S5):
//!
//! ```text
//! SELECT <fields> FROM <object> WHERE SystemModstamp >= <cursor − overlap>
//! ORDER BY SystemModstamp ASC, Id ASC
//! ```
//!
//! following `nextRecordsUrl` batch by batch (§2.3), oldest first.
//!
//! * **Cursor**: `<ms>:<Id>`, the `SystemModstamp` (UTC epoch ms) and `Id` of the newest
//!   change returned. Records are totally ordered by `(SystemModstamp, Id)`, so a cursor names
//!   an exact position even inside a run of records sharing one stamp (a bulk update).
//! * **Batch size**: a poll stops at a batch boundary once it has `batch_size` *new* changes
//!   (after the cursor's position) and answers `more: true` with the cursor
//!   `<ms>:<Id>:more`. The next poll resumes exactly after that position, without the
//!   overlap: `WHERE SystemModstamp > <ms> OR (SystemModstamp = <ms> AND Id > '<Id>')`, so a
//!   run longer than a batch is never skipped and never looped on. Re-reads from the overlap
//!   window are returned (the inbox drops them) but not counted. The first complete poll
//!   returns a plain cursor again, and the poll after it re-reads the overlap window.
//! * Datetime literals are unquoted `YYYY-MM-DDThh:mm:ssZ` (S11), whole seconds: the lower
//!   bound is rounded down, and re-reads that causes are returned like overlap re-reads.
//!   Comparing `Id` with `>` (as PK chunking does) is not in the notes (unverified).
//!
//! Each change: `source: "salesforce"`, `object_type` the SObject, `object_id` its `Id`,
//! `modified_at_ms` its `SystemModstamp` plus a fingerprint of the record's fields in the
//! milliseconds, `kind` Deleted (`IsDeleted`), Created (`CreatedDate == SystemModstamp`) or
//! Updated, `snapshot` the record as read.
//!
//! Why the fingerprint: Salesforce stamps whole seconds (`…:32.000+0000`, NOTES §2.4), and the
//! inbox drops a change whose record and modified time it has seen. Two writes to one record in
//! one second, polled in between, would share that time and the second would be dropped. The
//! milliseconds carry `FNV-1a(fields) % 1000` instead, so another version of the record is
//! another change, and the same version polled twice is still one. The cursor keeps the
//! stamp itself.

use crate::client::{to_record, SalesforceClient};
use crate::error::config;
use crate::objects::read_fields;
use crate::soql::{Cond, Literal, Select};
use crate::time::parse_ms;
use futures::future::BoxFuture;
use handoff_connector::{
    now_ms, Change, ChangeFeed, ChangeKind, ChangeOrigin, ConnectorError, Cursor, PollBatch,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The suffix of a cursor returned by a poll that stopped at its batch size.
const MORE_SUFFIX: &str = ":more";

/// A position in the `(SystemModstamp, Id)` order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    ms: i64,
    id: String,
}

/// A decoded cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Start {
    position: Position,
    /// Resume exactly after `position` (a truncated poll), without the overlap.
    exact: bool,
}

/// The Salesforce change feed.
#[derive(Clone, Debug)]
pub struct SalesforceFeed {
    client: SalesforceClient,
    fields: BTreeMap<String, Vec<String>>,
    overlap_ms: i64,
    max_changes: usize,
}

impl SalesforceFeed {
    /// A feed over `client` reading `fields` (SObject → field names) plus the connector's own,
    /// re-reading `overlap_ms` before the cursor, returning about `max_changes` new changes per
    /// poll (the batch size).
    pub fn new(
        client: SalesforceClient,
        fields: BTreeMap<String, Vec<String>>,
        overlap_ms: i64,
        max_changes: usize,
    ) -> Self {
        Self {
            client,
            fields,
            overlap_ms: overlap_ms.max(0),
            max_changes: max_changes.max(1),
        }
    }

    fn query(&self, object: &str, start: Option<&Start>) -> Result<String, ConnectorError> {
        let configured = self.fields.get(object).map(Vec::as_slice).unwrap_or(&[]);
        let mut q = Select::new(read_fields(object, configured, &[]), object)?;
        match start {
            None => {}
            Some(Start {
                position,
                exact: false,
            }) => {
                let lower = position.ms.saturating_sub(self.overlap_ms).max(0);
                q = q.filter(Cond::ge("SystemModstamp", Literal::DateTime(lower))?);
            }
            Some(Start {
                position,
                exact: true,
            }) => {
                let at = Literal::DateTime(position.ms);
                q = q.filter(
                    Cond::gt("SystemModstamp", at)?.or(Cond::eq("SystemModstamp", at)?
                        .and(Cond::gt("Id", Literal::Str(&position.id))?)),
                );
            }
        }
        Ok(q.order_by("SystemModstamp", false)?
            .order_by("Id", false)?
            .build())
    }

    async fn poll_object(
        &self,
        object: &str,
        cursor: Option<&Cursor>,
    ) -> Result<PollBatch, ConnectorError> {
        let start = cursor.map(parse_cursor).transpose()?;
        let soql = self.query(object, start.as_ref())?;
        let received = now_ms();
        let mut page = self.client.query_all(&soql).await?;
        let mut changes = Vec::new();
        let mut newest = start.as_ref().map(|s| s.position.clone());
        let mut fresh = 0usize;
        let more = loop {
            for row in std::mem::take(&mut page.records) {
                let (change, stamp) = to_change(object, row, received)?;
                let pos = Position {
                    ms: stamp,
                    id: change.object_id.clone(),
                };
                if start.as_ref().is_none_or(|s| pos > s.position) {
                    fresh += 1;
                }
                if newest.as_ref().is_none_or(|n| pos > *n) {
                    newest = Some(pos);
                }
                changes.push(change);
            }
            match (page.done, page.next_records_url.take()) {
                (false, Some(next)) if fresh >= self.max_changes => {
                    let _ = next; // the locator is abandoned; the cursor resumes exactly
                    break true;
                }
                (false, Some(next)) => page = self.client.query_more(&next).await?,
                _ => break false,
            }
        };
        let next_cursor = newest.map(|p| {
            let suffix = if more { MORE_SUFFIX } else { "" };
            Cursor(format!("{}:{}{suffix}", p.ms, p.id))
        });
        Ok(PollBatch {
            changes,
            next_cursor,
            more,
        })
    }
}

impl ChangeFeed for SalesforceFeed {
    fn poll<'a>(
        &'a self,
        object_type: &'a str,
        cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<PollBatch, ConnectorError>> {
        Box::pin(self.poll_object(object_type, cursor))
    }
}

/// The position a cursor names: `(SystemModstamp in UTC epoch ms, Id)`, `None` when it is not
/// one of this feed's cursors. A change at or before that position has been read.
pub fn cursor_position(cursor: &str) -> Option<(i64, String)> {
    let p = parse_cursor(&Cursor(cursor.to_string())).ok()?.position;
    Some((p.ms, p.id))
}

/// Decodes `<ms>:<Id>[:more]` (also a bare `<ms>`, which re-reads from that time).
fn parse_cursor(cursor: &Cursor) -> Result<Start, ConnectorError> {
    let bad = || config(format!("cursor {:?} is not <ms>:<Id>[:more]", cursor.0));
    let (text, exact) = match cursor.0.strip_suffix(MORE_SUFFIX) {
        Some(t) => (t, true),
        None => (cursor.0.as_str(), false),
    };
    let (ms, id) = text.split_once(':').unwrap_or((text, ""));
    let ms: i64 = ms.parse().map_err(|_| bad())?;
    if !id.chars().all(|c| c.is_ascii_alphanumeric()) || (exact && id.is_empty()) {
        return Err(bad());
    }
    Ok(Start {
        position: Position {
            ms,
            id: id.to_string(),
        },
        exact,
    })
}

/// 64-bit FNV-1a of `bytes` (stable across builds and releases: dedupe keys outlive them).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One queried row → a change and the row's `SystemModstamp` (UTC ms, the cursor's position).
fn to_change(
    object: &str,
    row: Map<String, Value>,
    received_at_ms: i64,
) -> Result<(Change, i64), ConnectorError> {
    let stamp = |field: &str| row.get(field).and_then(Value::as_str).and_then(parse_ms);
    let modified = stamp("SystemModstamp").ok_or_else(|| {
        crate::error::decode(format!("{object} row without a readable SystemModstamp"))
    })?;
    let kind = if row.get("IsDeleted").and_then(Value::as_bool) == Some(true) {
        ChangeKind::Deleted
    } else if stamp("CreatedDate") == Some(modified) {
        ChangeKind::Created
    } else {
        ChangeKind::Updated
    };
    let record = to_record(row, object);
    if record.id.is_empty() {
        return Err(crate::error::decode(format!("{object} row without an Id")));
    }
    // serde_json maps keep keys sorted: the same fields give the same bytes.
    let fields = serde_json::to_vec(&record.properties).unwrap_or_default();
    let version = modified - modified.rem_euclid(1000) + (fnv1a(&fields) % 1000) as i64;
    let change = Change {
        source: crate::objects::SYSTEM.into(),
        object_type: record.object_type.clone(),
        object_id: record.id.clone(),
        event_id: None,
        modified_at_ms: version,
        received_at_ms,
        origin: ChangeOrigin::Poll,
        kind,
        changed_property: None,
        snapshot: Some(record),
    };
    Ok((change, modified))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_as_positions() {
        assert_eq!(
            cursor_position("1795100400000:00Q000000000009AAA:more"),
            Some((1_795_100_400_000, "00Q000000000009AAA".into()))
        );
        assert_eq!(cursor_position("17"), Some((17, String::new())));
        assert_eq!(cursor_position("soon"), None);
    }

    #[test]
    fn cursors_round_trip_and_order_by_stamp_then_id() {
        let s = parse_cursor(&Cursor("1700000000000:00Q000000000009AAA:more".into())).unwrap();
        assert!(s.exact);
        assert_eq!(s.position.id, "00Q000000000009AAA");
        let plain = parse_cursor(&Cursor("1700000000000:00Q000000000009AAA".into())).unwrap();
        assert!(!plain.exact);
        assert!(parse_cursor(&Cursor("1700000000000".into())).is_ok());
        for bad in ["soon", "1:x'y", "1::more"] {
            assert!(parse_cursor(&Cursor(bad.into())).is_err(), "{bad}");
        }
        let a = Position {
            ms: 1,
            id: "00QB".into(),
        };
        let b = Position {
            ms: 1,
            id: "00QC".into(),
        };
        let c = Position {
            ms: 2,
            id: "00QA".into(),
        };
        assert!(a < b && b < c);
    }

    #[test]
    fn rows_become_changes_of_the_right_kind() {
        let row = |created: &str, modified: &str, deleted: bool| {
            let v = serde_json::json!({
                "attributes": {"type": "Lead"}, "Id": "00Q000000000001AAA",
                "CreatedDate": created, "SystemModstamp": modified, "IsDeleted": deleted
            });
            v.as_object().unwrap().clone()
        };
        let t0 = "2013-05-20T20:49:32.000+0000";
        let t1 = "2013-05-20T20:50:00.000+0000";
        assert_eq!(
            to_change("Lead", row(t0, t0, false), 0).unwrap().0.kind,
            ChangeKind::Created
        );
        assert_eq!(
            to_change("Lead", row(t0, t1, false), 0).unwrap().0.kind,
            ChangeKind::Updated
        );
        let (gone, stamp) = to_change("Lead", row(t0, t1, true), 5).unwrap();
        assert_eq!(gone.kind, ChangeKind::Deleted);
        assert_eq!(stamp, 1_369_083_000_000);
        assert_eq!(
            gone.modified_at_ms / 1000,
            stamp / 1000,
            "the stamp's second"
        );
        assert_eq!(gone.received_at_ms, 5);
        assert!(gone.snapshot.unwrap().properties.contains_key("IsDeleted"));
    }

    #[test]
    fn two_versions_in_one_second_are_two_changes_and_one_version_is_one() {
        let row = |status: &str| {
            let v = serde_json::json!({
                "attributes": {"type": "Lead"}, "Id": "00Q000000000001AAA", "Status": status,
                "CreatedDate": "2013-05-20T20:49:32.000+0000",
                "SystemModstamp": "2013-05-20T20:50:00.000+0000", "IsDeleted": false
            });
            v.as_object().unwrap().clone()
        };
        let open = to_change("Lead", row("Open - Not Contacted"), 0).unwrap().0;
        let again = to_change("Lead", row("Open - Not Contacted"), 9).unwrap().0;
        let working = to_change("Lead", row("Working - Contacted"), 0).unwrap().0;
        assert_eq!(open.dedupe_keys(), again.dedupe_keys(), "one version");
        assert_ne!(open.dedupe_keys(), working.dedupe_keys(), "two versions");
    }
}
