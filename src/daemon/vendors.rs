//! Builds the vendor side of the daemon ([`Vendors`]) from config, and adapts the connector
//! crates to the daemon's traits: HubSpot as the CRM reader and change feed, Slack
//! interactivity as a webhook source.

use super::Vendors;
use crate::config::{ConfigError, Loaded};
use crate::flows::owners::Owner;
use crate::flows::{CrmRead, Links};
use crate::outbox::effects::VendorEffects;
use crate::outbox::email::{Mailer, MailerSettings};
use futures::future::BoxFuture;
use handoff_asana::{AsanaClient, AsanaConfig};
use handoff_connector::{
    Change, ChangeKind, ChangeOrigin, ConnectorError, Record, SignatureError, WebhookRequest,
    WebhookSource,
};
use handoff_hubspot::{HubSpotClient, HubSpotConfig, HubSpotFeed, HubSpotWebhooks};
use handoff_slack::{SlackClient, SlackConfig};
use secrecy::SecretString;
use std::sync::Arc;

/// Everything needed to build [`Vendors`], with secrets resolved.
pub struct VendorSettings {
    pub hubspot: HubSpotConfig,
    pub slack: SlackConfig,
    pub asana: AsanaConfig,
    pub links: Links,
}

/// Resolves secrets and builds the vendors described by the config.
pub fn from_config(loaded: &Loaded) -> Result<Vendors, ConfigError> {
    let c = &loaded.config;
    let path = &loaded.path;
    let mut hubspot = HubSpotConfig::new(
        c.hubspot.base_url.clone(),
        c.hubspot.token.resolve(path, "hubspot.token")?,
        c.hubspot
            .client_secret
            .resolve(path, "hubspot.client_secret")?,
    );
    hubspot.requests_per_window = c.hubspot.rate.requests;
    hubspot.rate_window_ms = c.hubspot.rate.window_s * 1000;
    hubspot.poll_overlap_ms = c.hubspot.poll.overlap_ms;
    let mut slack = SlackConfig::new(
        c.slack.bot_token.resolve(path, "slack.bot_token")?,
        c.slack
            .signing_secret
            .resolve(path, "slack.signing_secret")?,
    )
    .with_base_url(c.slack.base_url.clone());
    slack.requests_per_minute = c.slack.requests_per_minute;
    let mut asana = AsanaConfig::new(
        c.asana.base_url.clone(),
        c.asana.token.resolve(path, "asana.token")?,
        c.asana.workspace_gid.clone(),
        c.asana.team_gid.clone(),
    );
    asana.requests_per_minute = c.asana.requests_per_minute;
    let settings = VendorSettings {
        hubspot,
        slack,
        asana,
        links: Links {
            record_url: c.hubspot.record_url.clone(),
            portal_id: c.hubspot.portal_id,
        },
    };
    build_with_mailer(settings, mailer(loaded)?).map_err(|e| ConfigError::Secret {
        path: path.clone(),
        field: e.vendor().to_string(),
        message: e.to_string(),
    })
}

/// The SMTP mailer of the config's `smtp` section (password resolved), `None` without one.
pub fn mailer(loaded: &Loaded) -> Result<Option<Mailer>, ConfigError> {
    let Some(smtp) = &loaded.config.smtp else {
        return Ok(None);
    };
    let settings = MailerSettings::from_config(smtp, &loaded.path)?;
    Mailer::new(settings)
        .map(Some)
        .map_err(|e| ConfigError::Secret {
            path: loaded.path.clone(),
            field: "smtp".into(),
            message: e.to_string(),
        })
}

/// Builds the vendors from resolved settings.
///
/// The change feed reads, for contacts, deals and companies, the properties the flows decide
/// on (unless the settings list some): a poll's snapshot is processed as is, and one without
/// `lifecyclestage` or `dealstage` would be judged "not sales-ready" / "not won" and dropped,
/// while its record version is marked seen so the webhook of the same change is deduplicated.
pub fn build(s: VendorSettings) -> Result<Vendors, ConnectorError> {
    build_with_mailer(s, None)
}

/// [`build`], with `mailer` sending the outbox's emails ([`crate::outbox::Action::SendEmail`]).
pub fn build_with_mailer(
    mut s: VendorSettings,
    mailer: Option<Mailer>,
) -> Result<Vendors, ConnectorError> {
    for object in ["contacts", "deals", "companies"] {
        s.hubspot
            .properties
            .entry(object.to_string())
            .or_insert_with(|| crate::flows::Flows::properties_for(object));
    }
    let hubspot = HubSpotClient::new(&s.hubspot)?;
    let slack = SlackClient::new(&s.slack)?;
    let team = s.asana.team_gid.clone();
    let asana = AsanaClient::new(&s.asana).map_err(ConnectorError::from)?;
    Ok(Vendors {
        crm: Arc::new(HubSpotCrm(hubspot.clone())),
        search: Arc::new(hubspot.clone()),
        feed: Arc::new(HubSpotFeed::new(hubspot.clone(), &s.hubspot)),
        hubspot_webhooks: Arc::new(HubSpotWebhooks::new(s.hubspot.client_secret.clone())),
        slack_interactions: Arc::new(SlackInteractions {
            signing_secret: s.slack.signing_secret.clone(),
        }),
        effects: Arc::new(
            VendorEffects::new(hubspot, slack, asana, team, s.links).with_mailer(mailer),
        ),
    })
}

/// HubSpot as the flows' CRM reader.
pub struct HubSpotCrm(pub HubSpotClient);

impl CrmRead for HubSpotCrm {
    fn batch_read<'a>(
        &'a self,
        object_type: &'a str,
        ids: &'a [String],
        properties: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Record>, ConnectorError>> {
        Box::pin(self.0.batch_read(object_type, ids, properties))
    }

    fn owners(&self) -> BoxFuture<'_, Result<Vec<Owner>, ConnectorError>> {
        Box::pin(async move {
            let owners = self.0.list_owners().await?;
            Ok(owners
                .into_iter()
                .filter(|o| !o.archived)
                .filter_map(|o| {
                    let name = [o.first_name.as_deref(), o.last_name.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    Some(Owner {
                        id: o.id,
                        email: o.email?,
                        name,
                    })
                })
                .collect())
        })
    }

    fn associated_ids<'a>(
        &'a self,
        object_type: &'a str,
        id: &'a str,
        to_type: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, ConnectorError>> {
        Box::pin(async move {
            let record = self
                .0
                .get_object_with_associations(object_type, id, &["hs_object_id"], &[to_type])
                .await?;
            Ok(record
                .associations
                .get(to_type)
                .cloned()
                .unwrap_or_default())
        })
    }

    fn property_history<'a>(
        &'a self,
        object_type: &'a str,
        id: &'a str,
        property: &'a str,
    ) -> BoxFuture<'a, Result<Vec<crate::flows::ownership::PropertyChange>, ConnectorError>> {
        Box::pin(async move {
            let history = self.0.property_history(object_type, id, property).await?;
            Ok(history
                .into_iter()
                .map(|h| crate::flows::ownership::PropertyChange {
                    timestamp_ms: h.timestamp_ms().unwrap_or_default(),
                    value: h.value,
                    source_type: h.source_type,
                    source_id: h.source_id,
                    source_label: h.source_label,
                    updated_by_user_id: h.updated_by_user_id,
                })
                .collect())
        })
    }
}

/// Slack interactivity requests (button clicks) as changes for the inbox.
pub struct SlackInteractions {
    pub signing_secret: SecretString,
}

impl WebhookSource for SlackInteractions {
    fn verify(&self, request: &WebhookRequest<'_>, now_ms: i64) -> Result<(), SignatureError> {
        handoff_slack::signature::verify(
            &self.signing_secret,
            request.headers,
            request.body,
            now_ms / 1000,
        )
    }

    fn parse(&self, body: &[u8], received_at_ms: i64) -> Result<Vec<Change>, ConnectorError> {
        let payload =
            handoff_slack::parse_block_actions(body).map_err(|e| ConnectorError::Decode {
                vendor: "slack",
                reason: e.to_string(),
            })?;
        Ok(payload
            .actions
            .iter()
            .map(|a| {
                let at_ms = a
                    .action_ts
                    .parse::<f64>()
                    .map(|s| (s * 1000.0) as i64)
                    .unwrap_or(received_at_ms);
                let id = format!("{}:{}", payload.channel_id, payload.message_ts);
                let mut props = serde_json::Map::new();
                for (k, v) in [
                    ("action_id", Some(a.action_id.clone())),
                    ("value", a.value.clone()),
                    ("user_id", Some(payload.user.id.clone())),
                    ("user_name", payload.user.username.clone()),
                    ("channel_id", Some(payload.channel_id.clone())),
                    ("message_ts", Some(payload.message_ts.clone())),
                    ("action_ts", Some(a.action_ts.clone())),
                ] {
                    if let Some(v) = v {
                        props.insert(k.into(), serde_json::Value::String(v));
                    }
                }
                Change {
                    source: "slack".into(),
                    object_type: crate::flows::claim::OBJECT_TYPE.into(),
                    object_id: id.clone(),
                    event_id: Some(format!(
                        "{}:{}:{}",
                        payload.user.id, a.action_id, a.action_ts
                    )),
                    modified_at_ms: at_ms,
                    received_at_ms,
                    origin: ChangeOrigin::Webhook,
                    kind: ChangeKind::Updated,
                    changed_property: Some(a.action_id.clone()),
                    snapshot: Some(Record {
                        id,
                        object_type: crate::flows::claim::OBJECT_TYPE.into(),
                        properties: props,
                        associations: Default::default(),
                    }),
                }
            })
            .collect())
    }
}
