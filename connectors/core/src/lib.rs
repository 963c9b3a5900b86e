//! The contract every handoff connector shares.
//!
//! A connector (one crate per vendor under `connectors/`) turns a vendor's API into three things
//! the daemon understands:
//!
//! * [`Change`]s: "record X of type T changed at time M", found by polling a [`ChangeFeed`] from a
//!   [`Cursor`] or received as a verified webhook ([`WebhookSource`]);
//! * [`Record`]s: the vendor's object as JSON (`id`, `properties`, `associations`), which mappings
//!   read with dotted paths;
//! * writes, each carrying an [`IdempotencyKey`], through a [`VendorClient`] that paces requests to
//!   the vendor's rate budget (governor), retries 429/5xx/timeouts with full-jitter backoff (backon)
//!   and honours `Retry-After`.
//!
//! Flows reach a CRM through the [`Crm`] trait (semantic reads and writes keyed by
//! [`RecordKey`] and [`ObjectKind`]) and a PM tool through [`ProjectTool`]; a connector built
//! from its config section hands the daemon a [`CrmConnection`] or [`PmConnection`].
//!
//! Errors are classed ([`ErrorClass`]) so the daemon's retry and dead-letter logic never has to
//! know which vendor it is talking to. The written contract is `docs/specs/connector.md`.
//!
//! With the `emulator` feature, the `emulator` module holds the pieces every vendor emulator
//! shares (rate windows, fault injection, serving, writing state files), and `memory_crm` an
//! in-memory [`Crm`] for flow-level tests.

pub mod auth;
pub mod change;
pub mod connection;
pub mod crm;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod error;
pub mod http;
pub mod key;
#[cfg(feature = "emulator")]
pub mod memory_crm;
pub mod pacing;
pub mod person;
pub mod pm;
pub mod record;
pub mod secret;
pub mod source;
pub mod time;

pub use auth::{AccessToken, SharedTokenSource, SingleFlight, TokenSource};
pub use change::{Change, ChangeKind, ChangeOrigin, IdempotencyKey};
pub use connection::{CrmConnection, PmConnection};
pub use crm::{
    note_marker, CaseComment, CaseRef, Conversation, Crm, EmailQuery, FieldChange, Fields, Owner,
    PersonRecord,
};
pub use error::{ConnectorError, ErrorClass, SignatureError};
pub use http::{ClientConfig, VendorClient, VendorHooks};
pub use key::{KeyError, ObjectKind, RecordKey};
pub use person::Person;
pub use pm::{Creation, ProjectRef, ProjectTool};
pub use record::Record;
pub use secret::{SecretError, SecretRef};
pub use source::{
    ChangeFeed, ChangeSource, Cursor, PollBatch, PollSource, WebhookRequest, WebhookSource,
};

/// Milliseconds since the Unix epoch (UTC) now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
