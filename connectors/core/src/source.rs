//! The two ways changes reach handoff: polling a change feed and receiving webhooks.

use crate::{Change, ConnectorError, SignatureError};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// Where a change feed stopped, opaque to the daemon (HubSpot: the `hs_lastmodifieddate` of the
/// newest change seen, UTC epoch ms as a decimal string).
///
/// The daemon stores it in the state module and advances it only after every change of the
/// batch is durably in the inbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor(pub String);

/// One poll's result.
#[derive(Clone, Debug, Default)]
pub struct PollBatch {
    /// Changes found, oldest first, each with its `snapshot`.
    pub changes: Vec<Change>,
    /// The cursor to store once `changes` are in the inbox; `None` leaves it where it was.
    pub next_cursor: Option<Cursor>,
    /// True when the feed has more changes right now (poll again without waiting).
    pub more: bool,
}

/// A vendor whose records can be polled for changes since a cursor.
///
/// Implementations MUST return changes oldest first and MUST re-read an overlap window before
/// the cursor (changes committed late with an older timestamp are not skipped; duplicates are
/// removed by the inbox).
pub trait ChangeFeed: Send + Sync {
    /// Changes of `object_type` since `cursor` (from the beginning when `None`).
    fn poll<'a>(
        &'a self,
        object_type: &'a str,
        cursor: Option<&'a Cursor>,
    ) -> BoxFuture<'a, Result<PollBatch, ConnectorError>>;
}

/// A webhook delivery as it arrived, before anything parsed it.
#[derive(Debug)]
pub struct WebhookRequest<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// The full URI the vendor posted to, as the vendor signs it (scheme, host, path, query).
    pub uri: &'a str,
    pub headers: &'a http::HeaderMap,
    /// The raw body bytes: signatures are computed over these, never over re-serialised JSON.
    pub body: &'a [u8],
}

/// A vendor that delivers changes by webhook.
pub trait WebhookSource: Send + Sync {
    /// Checks the delivery's signature and timestamp window. MUST be called before `parse`.
    fn verify(&self, request: &WebhookRequest<'_>, now_ms: i64) -> Result<(), SignatureError>;

    /// Parses a verified body into changes (`received_at_ms` stamped on each).
    fn parse(&self, body: &[u8], received_at_ms: i64) -> Result<Vec<Change>, ConnectorError>;

    /// The body the vendor expects with the 2xx once the changes are on disk, as
    /// `(content type, body)` (Salesforce Outbound Messages: a SOAP envelope with
    /// `<Ack>true</Ack>`). `None` (the default): an empty 200.
    fn ack(&self) -> Option<(&'static str, &'static str)> {
        None
    }
}

/// One way a connector's changes reach handoff, as config lists them (`changes:` of a CRM
/// section): a list, so a deployment can take webhooks, poll, or both (polling then is the
/// backstop for missed deliveries).
///
/// ```yaml
/// changes:
///   - webhook
///   - poll: { schedule: "0 * * * * *", objects: [contacts, deals, companies] }
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ChangeSource {
    /// The vendor posts changes to handoff (signed webhooks, Outbound Messages).
    Webhook,
    /// handoff polls the vendor's change feed.
    Poll(PollSource),
}

/// `poll:` of a change source: when and what to poll.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollSource {
    /// Cron schedule, six fields with seconds first (`0 */5 * * * *`: every five minutes).
    /// The daemon checks it at config load.
    #[serde(default = "default_schedule")]
    pub schedule: serde_saphyr::Spanned<String>,
    /// Vendor object names to poll (`contacts`, `Lead`), in this order on every tick.
    pub objects: Vec<String>,
    /// How far before the cursor each poll re-reads, ms (late commits are not skipped).
    #[serde(default = "default_overlap_ms")]
    pub overlap_ms: i64,
}

fn default_schedule() -> serde_saphyr::Spanned<String> {
    let here = serde_saphyr::Location::UNKNOWN;
    serde_saphyr::Spanned::new("0 * * * * *".into(), here, here)
}

fn default_overlap_ms() -> i64 {
    60_000
}

impl PollSource {
    /// Polls `objects` every minute (`0 * * * * *`) with the default 60 s overlap: the
    /// connectors' default when `changes:` is not given.
    pub fn every_minute(objects: &[&str]) -> Self {
        Self {
            schedule: default_schedule(),
            objects: objects.iter().map(|o| o.to_string()).collect(),
            overlap_ms: default_overlap_ms(),
        }
    }
}

impl ChangeSource {
    /// Reads `changes:` (use with `#[serde(deserialize_with)]`): at least one source, and
    /// `webhook` and `poll` at most once each, so no list silently turns intake off or has a
    /// second poll that would never run. Errors are serde errors at the list's position.
    pub fn deserialize_list<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<ChangeSource>, D::Error> {
        use serde::de::Error;
        let list = Vec::<ChangeSource>::deserialize(d)?;
        if list.is_empty() {
            return Err(D::Error::custom(
                "no change source: list `webhook`, `poll: {schedule, objects}`, or both",
            ));
        }
        let polls = list
            .iter()
            .filter(|s| matches!(s, ChangeSource::Poll(_)))
            .count();
        let webhooks = list.len() - polls;
        if polls > 1 || webhooks > 1 {
            return Err(D::Error::custom(
                "`webhook` and `poll` may each appear once (list every object in one `poll.objects`)",
            ));
        }
        Ok(list)
    }

    /// The poll settings among `sources`, if any source polls.
    pub fn poll(sources: &[ChangeSource]) -> Option<&PollSource> {
        sources.iter().find_map(|s| match s {
            ChangeSource::Poll(p) => Some(p),
            ChangeSource::Webhook => None,
        })
    }

    /// Whether `sources` includes webhooks.
    pub fn webhook(sources: &[ChangeSource]) -> bool {
        sources.iter().any(|s| matches!(s, ChangeSource::Webhook))
    }
}
