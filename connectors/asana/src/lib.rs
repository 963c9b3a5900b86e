//! handoff's Asana connector.
//!
//! When a deal is closed-won, handoff creates the customer's onboarding project in Asana
//! by instantiating the project template for the customer's tier in a configured team, e.g.
//! `Onboarding: Acme (deal 123)` from "Onboarding — Enterprise".
//!
//! * [`config`]: [`AsanaConfig`] (API root, personal access token, workspace and team gids,
//!   rate budget, job polling);
//! * [`client`]: [`AsanaClient`], the REST calls, including
//!   [`AsanaClient::instantiate_project_once`], which looks the project up by exact name before
//!   instantiating (Asana writes carry no idempotency key);
//! * [`model`]: Asana's JSON shapes (`gid`, `resource_type`, `JobResponse`, `NextPage`, …);
//! * [`webhook`]: the `X-Hook-Secret` handshake and `X-Hook-Signature` verification;
//! * [`emulator`]: [`emulator::AsanaEmulator`], an axum server answering like Asana;
//! * [`pm`]: [`AsanaPm`], Asana behind handoff's PM-tool seam ([`handoff_connector::ProjectTool`]),
//!   built by [`connect`] from the `pm:` section of `handoff.yaml` ([`AsanaSection`]).
//!
//! Sources: `vendor-specs/asana/asana_oas.yaml` (OpenAPI 3) and `vendor-specs/NOTES.md` §4.

pub mod client;
pub mod config;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod error;
pub mod model;
pub mod pm;
pub mod webhook;

pub use client::AsanaClient;
pub use config::AsanaConfig;
#[cfg(feature = "emulator")]
pub use emulator::{AsanaEmulator, EmulatorConfig};
pub use error::AsanaError;
pub use model::{
    Job, JobStatus, NewTask, Project, ProjectCompact, ProjectTemplate, ProjectUpdate, Task,
};
pub use pm::{connect, AsanaPm, AsanaSection};
pub use webhook::AsanaWebhook;

/// The connector's name in errors, changes and metrics.
pub const VENDOR: &str = "asana";
