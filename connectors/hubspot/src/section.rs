//! The `crm:` section of `handoff.yaml` when `type: hubspot`, and [`connect`], which turns it
//! into the CRM, change feed and webhook endpoint the daemon wires.
//!
//! ```yaml
//! crm:
//!   type: hubspot
//!   token: { env: HUBSPOT_TOKEN }                # private-app access token
//!   client_secret: { env: HUBSPOT_CLIENT_SECRET } # the app's client secret (webhook v3 signatures)
//!   portal_id: 12345678
//!   rate: { requests: 190, window_s: 10 }        # the ten-second bucket (private app, Professional)
//!   search_per_second: 4                         # CRM search's own budget
//!   changes:
//!     - webhook                                  # POST <public_url>webhooks/hubspot
//!     - poll: { schedule: "0 * * * * *", objects: [companies, contacts, deals] }
//! ```
//!
//! Budgets follow HubSpot's published limits (`vendor-specs/NOTES.md` §1.2).

use crate::client::{HubSpotClient, VENDOR};
use crate::config::HubSpotConfig;
use crate::crm::HubSpotCrm;
use crate::feed::HubSpotFeed;
use crate::webhook::HubSpotWebhooks;
use handoff_connector::{ChangeSource, ConnectorError, CrmConnection, PollSource, SecretRef};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The path under the daemon's public URL that HubSpot posts webhooks to.
pub const WEBHOOK_PATH: &str = "webhooks/hubspot";

/// `crm:` with `type: hubspot` (every key but `type`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpotSection {
    /// API root, `https://api.hubapi.com` in production.
    #[serde(default = "default_base_url")]
    pub base_url: url::Url,
    /// Private-app access token.
    pub token: SecretRef,
    /// The app's client secret, which signs webhooks (v3).
    pub client_secret: SecretRef,
    /// The portal (hub) id, used in "Open in CRM" links.
    pub portal_id: u64,
    /// Link to a record in the CRM UI; `{portal_id}`, `{object_type_id}` and `{id}` are filled.
    #[serde(default = "default_record_url")]
    pub record_url: String,
    /// Budget of the ten-second bucket (private apps, Professional: 190 per 10 s).
    #[serde(default)]
    pub rate: RateBudget,
    /// CRM search requests per second (HubSpot: 4 per token; search is exempt from the bucket).
    #[serde(default = "default_search_per_second")]
    pub search_per_second: u32,
    /// How changes reach handoff: `webhook`, `poll`, or both (default: both, polling contacts
    /// and deals every minute as the backstop).
    #[serde(
        default = "default_changes",
        deserialize_with = "ChangeSource::deserialize_list"
    )]
    pub changes: Vec<ChangeSource>,
}

/// A request budget: `requests` per `window_s` seconds.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateBudget {
    pub requests: u32,
    pub window_s: u64,
}

impl Default for RateBudget {
    fn default() -> Self {
        Self {
            requests: 190,
            window_s: 10,
        }
    }
}

fn default_base_url() -> url::Url {
    "https://api.hubapi.com".parse().expect("literal URL")
}
fn default_record_url() -> String {
    "https://app.hubspot.com/contacts/{portal_id}/record/{object_type_id}/{id}".into()
}
fn default_search_per_second() -> u32 {
    4
}
fn default_changes() -> Vec<ChangeSource> {
    vec![
        ChangeSource::Webhook,
        ChangeSource::Poll(PollSource::every_minute(&["contacts", "deals"])),
    ]
}

/// Builds the HubSpot CRM from its section: resolves the secrets, sizes both rate budgets, and
/// reads `fields` (object → property names the mappings read) on every poll and read.
///
/// Errors: [`ConnectorError::Config`] naming the config field (`crm.token: environment
/// variable HUBSPOT_TOKEN is not set`), never a secret's value; or a zero budget.
pub fn connect(
    section: &HubSpotSection,
    fields: &BTreeMap<String, Vec<String>>,
) -> Result<CrmConnection, ConnectorError> {
    let secret = |r: &SecretRef, field: &str| {
        r.resolve().map_err(|e| ConnectorError::Config {
            vendor: VENDOR,
            reason: format!("crm.{field}: {e}"),
        })
    };
    let mut config = HubSpotConfig::new(
        section.base_url.clone(),
        secret(&section.token, "token")?,
        secret(&section.client_secret, "client_secret")?,
    );
    config.requests_per_window = section.rate.requests;
    config.rate_window_ms = section.rate.window_s * 1000;
    config.search_requests_per_second = section.search_per_second;
    config.properties = fields.clone();
    let poll = ChangeSource::poll(&section.changes).cloned();
    if let Some(p) = &poll {
        config.poll_overlap_ms = p.overlap_ms;
    }
    let client = HubSpotClient::new(&config)?;
    let crm = HubSpotCrm::new(client.clone(), section.portal_id, &section.record_url);
    Ok(CrmConnection {
        crm: Arc::new(crm),
        poll: poll.map(|p| {
            let feed: Arc<dyn handoff_connector::ChangeFeed> =
                Arc::new(HubSpotFeed::new(client.clone(), &config));
            (feed, p)
        }),
        webhook: ChangeSource::webhook(&section.changes).then(|| {
            let source: Arc<dyn handoff_connector::WebhookSource> =
                Arc::new(HubSpotWebhooks::new(config.client_secret.clone()));
            (WEBHOOK_PATH, source)
        }),
    })
}
