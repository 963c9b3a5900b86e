//! What a connector hands the daemon once built from its config section: the trait objects the
//! daemon wires (reads and writes, change feed, webhook endpoint), nothing vendor-specific.

use crate::{ChangeFeed, Crm, PollSource, ProjectTool, WebhookSource};
use std::sync::Arc;

/// A CRM connector, built: see `docs/specs/connector.md`.
#[derive(Clone)]
pub struct CrmConnection {
    /// Reads, searches and writes.
    pub crm: Arc<dyn Crm>,
    /// The change feed and when to poll it (`None`: the config lists no `poll` source).
    pub poll: Option<(Arc<dyn ChangeFeed>, PollSource)>,
    /// The webhook endpoint: path under the daemon's public URL (`webhooks/hubspot`) and its
    /// verifier/parser (`None`: the config lists no `webhook` source).
    pub webhook: Option<(&'static str, Arc<dyn WebhookSource>)>,
}

/// A PM-tool connector, built.
#[derive(Clone)]
pub struct PmConnection {
    pub tool: Arc<dyn ProjectTool>,
}
