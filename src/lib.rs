//! handoff: moves leads and customers between a CRM, Slack and a PM tool without losing them.
//!
//! The library behind the `handoff` binary. Read it top to bottom in this order:
//! [`config`] (the daemon's YAML config), [`mapping`] (admin-edited field mappings and gates),
//! [`state`] (everything durable, in sled), [`flows`] (what happens to a lead or a won deal),
//! [`outbox`] (side effects executed at least once, taking effect at most once), and
//! [`daemon`] (intake, polling, workers, the HTTP server and shutdown).
//!
//! With the `emulators` feature (on by default) it also holds `sandbox` and `emulate`, which run
//! the daemon against in-process emulators of the vendors; the service build leaves them out
//! (`cargo build --release --no-default-features`).

pub mod admin_client;
pub mod cli_support;
pub mod clock;
pub mod config;
pub mod daemon;
#[cfg(feature = "emulators")]
pub mod emulate;
pub mod flows;
pub mod mapping;
pub mod outbox;
pub mod report;
pub mod routing;
#[cfg(feature = "emulators")]
pub mod sandbox;
pub mod state;
