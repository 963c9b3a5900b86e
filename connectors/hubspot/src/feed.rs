//! `HubSpotFeed`: polls contacts, companies, deals and tickets for changes through CRM search.
//!
//! Each poll searches `modified GTE (cursor − overlap)`, sorted ascending on the modified-date
//! property (`lastmodifieddate` on contacts, `hs_lastmodifieddate` on companies, deals and
//! tickets, the properties HubSpot's search guide lists as returned by default for each type),
//! paging with `after`.
//!
//! * **10,000-result cap**: one search query pages through at most 10,000 results (an `after`
//!   of 10,000 gets a 400). When the next `after` would reach it, the feed starts a new query
//!   whose lower bound is the newest modified timestamp seen (`GTE`, so records sharing that
//!   exact millisecond are re-read, never skipped; re-reads are dropped within the batch).
//! * **Batch size**: a poll stops after about `max_changes_per_poll` *new* changes (modified at
//!   or after the cursor) and answers `more: true`; re-reads from the overlap window are
//!   returned too (the inbox deduplicates them) but do not count.
//! * **Cursor**: the newest modified time seen, UTC epoch ms as a decimal string (`"1700…"`).
//!   A truncated poll answers `"<ms>:catchup"`: the next poll resumes at exactly `<ms>` without
//!   the overlap window, so a burst larger than one batch inside the overlap window (a bulk
//!   import) still makes progress; the first complete poll returns a plain cursor again.
//!
//! Changes carry `snapshot: Some(record)`, `origin: Poll`, `modified_at_ms` from the modified
//! property (ISO-8601 string, parsed), and `kind: Created` when `createdate` equals the
//! modified time, else `Updated`.

use crate::client::HubSpotClient;
use crate::config::HubSpotConfig;
use crate::objects::ObjectType;
use crate::search::MAX_RESULTS_PER_QUERY;
use crate::search::{Filter, FilterGroup, Operator, SearchRequest, Sort, MAX_LIMIT};
use crate::time::parse_ms;
use futures::future::BoxFuture;
use handoff_connector::{
    now_ms, Change, ChangeFeed, ChangeKind, ChangeOrigin, ConnectorError, Cursor, PollBatch, Record,
};
use std::collections::{BTreeMap, HashSet};

/// The suffix of a cursor returned by a truncated poll.
const CATCHUP_SUFFIX: &str = ":catchup";

/// The HubSpot change feed.
#[derive(Clone, Debug)]
pub struct HubSpotFeed {
    client: HubSpotClient,
    overlap_ms: i64,
    max_changes: usize,
    properties: BTreeMap<String, Vec<String>>,
}

/// Where a poll starts, decoded from the stored cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Start {
    /// The cursor's time (UTC epoch ms), if there was a cursor.
    cursor_ms: Option<i64>,
    /// The first query's lower bound (`GTE`), UTC epoch ms.
    lower_ms: i64,
}

impl HubSpotFeed {
    /// A feed reading through `client`, with the overlap, batch size and per-type properties
    /// of `config`.
    pub fn new(client: HubSpotClient, config: &HubSpotConfig) -> Self {
        Self {
            client,
            overlap_ms: config.poll_overlap_ms.max(0),
            max_changes: config.max_changes_per_poll.max(1),
            properties: config.properties.clone(),
        }
    }

    fn start(&self, cursor: Option<&Cursor>) -> Result<Start, ConnectorError> {
        let Some(cursor) = cursor else {
            return Ok(Start {
                cursor_ms: None,
                lower_ms: 0,
            });
        };
        let (text, catchup) = match cursor.0.strip_suffix(CATCHUP_SUFFIX) {
            Some(t) => (t, true),
            None => (cursor.0.as_str(), false),
        };
        let ms: i64 = text.parse().map_err(|_| ConnectorError::Config {
            vendor: crate::client::VENDOR,
            reason: format!("cursor {:?} is not epoch milliseconds", cursor.0),
        })?;
        let lower_ms = if catchup {
            ms
        } else {
            ms.saturating_sub(self.overlap_ms).max(0)
        };
        Ok(Start {
            cursor_ms: Some(ms),
            lower_ms,
        })
    }

    fn properties(&self, kind: ObjectType) -> Vec<String> {
        let mut props: Vec<String> = match self.properties.get(kind.name()) {
            Some(list) if !list.is_empty() => list.clone(),
            _ => kind
                .default_properties()
                .iter()
                .map(|p| p.to_string())
                .collect(),
        };
        for required in ["hs_object_id", "createdate", kind.modified_property()] {
            if !props.iter().any(|p| p == required) {
                props.push(required.to_string());
            }
        }
        props
    }

    fn request(&self, kind: ObjectType, lower_ms: i64, after: Option<String>) -> SearchRequest {
        SearchRequest {
            filter_groups: vec![FilterGroup {
                filters: vec![Filter::new(
                    kind.modified_property(),
                    Operator::Gte,
                    lower_ms.to_string(),
                )],
            }],
            sorts: vec![Sort::ascending(kind.modified_property())],
            properties: self.properties(kind),
            query: None,
            limit: Some(MAX_LIMIT),
            after,
        }
    }

    /// Polls one object type from `cursor` (from the beginning when `None`).
    pub async fn poll_type(
        &self,
        kind: ObjectType,
        cursor: Option<&Cursor>,
    ) -> Result<PollBatch, ConnectorError> {
        let start = self.start(cursor)?;
        let received_at_ms = now_ms();
        let mut lower = start.lower_ms;
        let mut after: Option<String> = None;
        let mut seen: HashSet<(String, i64)> = HashSet::new();
        let mut changes: Vec<Change> = Vec::new();
        let mut new_changes = 0usize;
        let mut newest: Option<i64> = start.cursor_ms;
        let mut truncated = false;

        loop {
            let page = self
                .client
                .search(kind.name(), &self.request(kind, lower, after.take()))
                .await?;
            let mut last_ms_in_page = None;
            for record in page.results {
                let Some(modified) = record
                    .prop(kind.modified_property())
                    .and_then(|v| parse_ms(&v))
                else {
                    tracing::warn!(object_type = kind.name(), id = %record.id, "record without a modified date skipped");
                    continue;
                };
                last_ms_in_page = Some(modified);
                if !seen.insert((record.id.clone(), modified)) {
                    continue;
                }
                if start.cursor_ms.is_none_or(|c| modified >= c) {
                    new_changes += 1;
                }
                newest = Some(newest.map_or(modified, |n| n.max(modified)));
                changes.push(change(kind, record, modified, received_at_ms));
            }
            let Some(next) = page.next_after else {
                break;
            };
            let last = last_ms_in_page.unwrap_or(lower);
            // Stop once the batch is full, but only where the next poll starts later than this
            // one did (otherwise a crowd of records sharing one millisecond would loop).
            if new_changes >= self.max_changes && last > start.lower_ms {
                truncated = true;
                break;
            }
            let next_offset = next.parse::<u64>().unwrap_or(0);
            if next_offset >= MAX_RESULTS_PER_QUERY {
                if last > lower {
                    lower = last;
                } else {
                    tracing::warn!(
                        object_type = kind.name(),
                        modified_ms = last,
                        "more than 10,000 records share one modified millisecond; skipping past it"
                    );
                    lower = last + 1;
                }
                after = None;
            } else {
                after = Some(next);
            }
        }

        let next_cursor = newest.map(|ms| {
            if truncated {
                Cursor(format!("{ms}{CATCHUP_SUFFIX}"))
            } else {
                Cursor(ms.to_string())
            }
        });
        Ok(PollBatch {
            changes,
            next_cursor,
            more: truncated,
        })
    }
}

fn change(kind: ObjectType, record: Record, modified: i64, received_at_ms: i64) -> Change {
    let created = record.prop("createdate").and_then(|v| parse_ms(&v));
    Change {
        source: crate::client::VENDOR.to_string(),
        object_type: kind.name().to_string(),
        object_id: record.id.clone(),
        event_id: None,
        modified_at_ms: modified,
        received_at_ms,
        origin: ChangeOrigin::Poll,
        kind: if created == Some(modified) {
            ChangeKind::Created
        } else {
            ChangeKind::Updated
        },
        changed_property: None,
        snapshot: Some(record),
    }
}

impl ChangeFeed for HubSpotFeed {
    fn poll<'a>(
        &'a self,
        object_type: &'a str,
        cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<PollBatch, ConnectorError>> {
        Box::pin(async move {
            let kind = object_type
                .parse::<ObjectType>()
                .map_err(|e| ConnectorError::Config {
                    vendor: crate::client::VENDOR,
                    reason: e.to_string(),
                })?;
            self.poll_type(kind, cursor).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn feed() -> HubSpotFeed {
        let cfg = HubSpotConfig::new(
            "http://127.0.0.1:1/".parse().unwrap(),
            SecretString::from("t"),
            SecretString::from("s"),
        );
        HubSpotFeed::new(HubSpotClient::new(&cfg).unwrap(), &cfg)
    }

    #[test]
    fn cursors_decode_with_and_without_overlap() {
        let f = feed();
        assert_eq!(
            f.start(None).unwrap(),
            Start {
                cursor_ms: None,
                lower_ms: 0
            }
        );
        assert_eq!(
            f.start(Some(&Cursor("100000".into()))).unwrap(),
            Start {
                cursor_ms: Some(100_000),
                lower_ms: 40_000
            }
        );
        assert_eq!(
            f.start(Some(&Cursor("100000:catchup".into()))).unwrap(),
            Start {
                cursor_ms: Some(100_000),
                lower_ms: 100_000
            }
        );
        assert!(f.start(Some(&Cursor("yesterday".into()))).is_err());
    }

    #[test]
    fn requests_always_read_the_dates_the_feed_needs() {
        let f = feed();
        let req = f.request(ObjectType::Contacts, 5, None);
        for p in ["hs_object_id", "createdate", "lastmodifieddate"] {
            assert!(req.properties.iter().any(|x| x == p), "{p}");
        }
        assert_eq!(
            req.filter_groups[0].filters[0].property_name,
            "lastmodifieddate"
        );
        let deals = f.request(ObjectType::Deals, 5, None);
        assert_eq!(deals.sorts[0].property_name, "hs_lastmodifieddate");
    }
}
