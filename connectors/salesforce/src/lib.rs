//! Salesforce connector for handoff: the CRM seam ([`handoff_connector::Crm`]), a SOQL change
//! feed and Outbound Messages, over the REST API with OAuth 2.0.
//!
//! What it does for handoff:
//!
//! * **Authenticates** as a dedicated integration user with the JWT bearer flow or a refresh
//!   token ([`auth`]); the token's `instance_url` is the API base URL, and a 401
//!   `INVALID_SESSION_ID` refreshes once for every concurrent caller (core
//!   [`handoff_connector::SingleFlight`]).
//! * **Reads and writes** records ([`client`], [`crm`]): SOQL `query`/`queryAll` with
//!   `nextRecordsUrl` paging, sObject GET/PATCH/POST, upsert by external id (the Case
//!   idempotency key, and the Lead's when a marketing CRM hands leads over), sObject Collections; `Sforce-Auto-Assign: FALSE` on writes where
//!   handoff picks the owner.
//! * **Stays inside the org's daily API allocation** ([`limits`]): `Sforce-Limit-Info` on every
//!   response, handoff's share of it, 403 `REQUEST_LIMIT_EXCEEDED` as a rate limit.
//! * **Finds changes** by polling `SystemModstamp` with `queryAll` ([`feed`]), and from
//!   Outbound Messages ([`outbound`]).
//! * **Tells handoff's own writes** from a rep's in owner field history (`CreatedById` = the
//!   integration user; [`crm`]).
//!
//! [`connect`] builds all of it from the `crm:` section ([`SalesforceSection`]). The
//! `emulator` feature adds [`emulator::SalesforceEmulator`], an in-memory org behind axum for
//! tests, `handoff sandbox` and `handoff emulate`.
//!
//! Vendor facts come from `vendor-specs/NOTES.md` §2 and `NOTES-next.md` S1–S12 (cited as §2.x
//! and Sx); choices the notes mark unverified say so where they are made.

pub mod auth;
pub mod client;
pub mod collections;
pub mod config;
pub mod connect;
pub mod crm;
pub mod error;
pub mod feed;
pub mod limits;
pub mod objects;
pub mod outbound;
pub mod person;
pub mod soql;
pub mod time;
pub mod token;
pub mod wire;

#[cfg(feature = "emulator")]
pub mod emulator;

pub use auth::{Identity, SalesforceAuth};
pub use client::{ClientSettings, QueryPage, SalesforceClient, SaveResult};
pub use config::{AuthSection, JwtSection, RefreshTokenSection, SalesforceSection};
pub use connect::connect;
pub use crm::SalesforceCrm;
pub use error::VENDOR;
pub use feed::SalesforceFeed;
pub use objects::SYSTEM;
pub use outbound::{ack_body, OutboundMessages, ACK_CONTENT_TYPE, WEBHOOK_PATH};
pub use person::lead_record;
pub use token::Grant;
