//! handoff: moves leads and customers between a CRM, Slack and Asana without losing them.
//!
//! The library behind the `handoff` binary. Read it top to bottom in this order:
//! [`config`] (the daemon's YAML config), [`mapping`] (admin-edited field mappings and gates),
//! [`state`] (everything durable, in sled), [`flows`] (what happens to a lead or a won deal),
//! [`outbox`] (side effects executed at least once, taking effect at most once), and
//! [`daemon`] (intake, polling, workers, the HTTP server and shutdown).

pub mod admin_client;
pub mod cli_support;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod emulate;
pub mod flows;
pub mod mapping;
pub mod outbox;
pub mod report;
pub mod routing;
pub mod sandbox;
pub mod state;
