//! HubSpot connector for handoff: CRM v3 (+ associations v4) with private-app bearer tokens.
//!
//! * [`HubSpotClient`] — the calls handoff makes (read, batch read, update, idempotent upsert on
//!   a unique property, default associations, search, owners, companies, one property's
//!   history), paced by two budgets
//!   (the ten-second bucket and search's per-second limit) and retried by the core client.
//! * [`HubSpotFeed`] — a [`handoff_connector::ChangeFeed`] over CRM search on the modified-date
//!   property, with an overlap window and the 10,000-results-per-query cap handled.
//! * [`HubSpotWebhooks`] — a [`handoff_connector::WebhookSource`] verifying v3 signatures
//!   (HMAC-SHA256, 5-minute window) and parsing event arrays into changes.
//! * [`emulator::HubSpotEmulator`] — an in-memory HubSpot portal behind axum (same paths, JSON
//!   shapes, paging, errors, 429s and rate-limit headers, signed webhook delivery, property
//!   history with each write's source, engagements moving "Last contacted", the users object
//!   with `hs_availability_status`) for tests,
//!   benchmarks and `handoff sandbox`.
//!
//! * [`HubSpotCrm`] — HubSpot behind handoff's CRM seam ([`handoff_connector::Crm`]), and
//!   [`connect`], which builds it (with the feed and webhook endpoint) from the `crm:` section
//!   of `handoff.yaml` ([`HubSpotSection`]).
//!
//! Shared pieces: [`config`] (the `hubspot:` config section), [`objects`] (the object types:
//! the four CRM records, engagements, users), [`search`] (typed search request), [`wire`] (JSON shapes), [`time`] (HubSpot
//! datetimes).

pub mod client;
pub mod config;
pub mod crm;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod feed;
pub mod objects;
pub mod search;
pub mod section;
pub mod time;
pub mod webhook;
pub mod wire;

pub use client::{HubSpotClient, Owner, OwnerTeam, IDEMPOTENCY_PROPERTY, VENDOR};
pub use config::HubSpotConfig;
pub use crm::{lead_record, HubSpotCrm};
#[cfg(feature = "emulator")]
pub use emulator::{EmulatorConfig, HubSpotEmulator, WriteSource};
pub use feed::HubSpotFeed;
pub use objects::ObjectType;
pub use search::{Direction, Filter, FilterGroup, Operator, SearchPage, SearchRequest, Sort};
pub use section::{connect, HubSpotSection};
pub use webhook::{sign_v1, sign_v2, sign_v3, HubSpotWebhooks};
pub use wire::ValueWithTimestamp;
