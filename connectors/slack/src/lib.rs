//! handoff's Slack connector: one DM to the one person who must act, and their click back.
//!
//! handoff sends a sales rep (new lead) or a CSM (closed-won deal) a single bot DM with two
//! Block Kit buttons, **"Claim lead"** (`action_id` `claim_lead`, `value` = the record key) and
//! **"Open in CRM"** (a URL button). The click arrives at handoff's interactivity endpoint as a
//! signed `block_actions` payload; handoff records the claim and edits the message.
//!
//! * [`config`]: [`SlackConfig`] (base URL, bot token, signing secret, request budget);
//! * [`client`]: [`SlackClient`], the Web API calls (`users.lookupByEmail`,
//!   `conversations.open`, `chat.postMessage`, `chat.update`, `conversations.history`) and
//!   [`SlackClient::send_dm_once`], which uses message metadata as an idempotency key;
//! * [`model`]: the Slack JSON shapes handoff reads and writes;
//! * [`blocks`]: Block Kit builders for the DM;
//! * [`signature`]: `X-Slack-Signature` signing and verification;
//! * [`interaction`]: parsing `block_actions` payloads;
//! * [`emulator`]: [`SlackEmulator`], an axum emulator of the Web API methods above that also
//!   delivers signed clicks, for tests, benchmarks and `handoff sandbox`.
//!
//! Specs: `/work/shared/vendor-specs/slack/` and NOTES.md §3.

pub mod blocks;
pub mod client;
pub mod config;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod interaction;
pub mod model;
pub mod signature;

pub use client::{check_body, AuthInfo, SlackClient};
pub use config::SlackConfig;
#[cfg(feature = "emulator")]
pub use emulator::{EmulatorConfig, EmulatorError, SlackEmulator};
pub use interaction::{parse_block_actions, ActingUser, Action, BlockActions, InteractionError};
pub use model::{Message, MessageMetadata, Posted, User};

/// The connector's name in errors, metrics and `Change::source`.
pub const VENDOR: &str = "slack";
