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
}
