//! Builds the vendor side of the daemon ([`Vendors`]) from config: the CRM and PM connectors
//! their sections name (`config::CrmSection::connect`, `config::PmSection::connect`), Slack,
//! the SMTP mailer, and the webhook endpoints (the CRM's, Slack interactivity).

use super::server::WebhookRoute;
use super::Vendors;
use crate::config::{ConfigError, Loaded};
use crate::outbox::effects::VendorEffects;
use crate::outbox::email::{Mailer, MailerSettings};
use handoff_connector::{
    Change, ChangeKind, ChangeOrigin, ConnectorError, Record, SignatureError, WebhookRequest,
    WebhookSource,
};
use handoff_slack::{SlackClient, SlackConfig};
use secrecy::SecretString;
use std::sync::Arc;

/// The path Slack posts interactivity requests (button clicks) to.
pub const SLACK_INTERACTIVITY_PATH: &str = "slack/interactivity";

/// Resolves secrets and builds the vendors described by the config: the CRM reads what the
/// mappings read ([`Loaded::fields_by_object`]).
///
/// Errors: [`ConfigError::Secret`] naming the field of a secret that cannot be read (never its
/// value), or of a budget a connector refuses.
pub fn from_config(loaded: &Loaded) -> Result<Vendors, ConfigError> {
    let c = &loaded.config;
    let path = &loaded.path;
    // A connector's config error names its field (`crm.token: …`): keep it as the field.
    let connector = |section: &'static str| {
        move |e: ConnectorError| {
            let (field, message) = match &e {
                ConnectorError::Config { reason, .. } => match reason.split_once(": ") {
                    Some((field, message)) if field.starts_with(section) => {
                        (field.to_string(), message.to_string())
                    }
                    _ => (section.to_string(), reason.clone()),
                },
                other => (section.to_string(), other.to_string()),
            };
            ConfigError::Secret {
                path: path.clone(),
                field,
                message,
            }
        }
    };
    let crm = c
        .crm
        .connect(loaded.fields_by_object())
        .map_err(connector("crm"))?;
    let pm = c.pm.connect().map_err(connector("pm"))?;
    let signing_secret =
        crate::config::secret(&c.slack.signing_secret, path, "slack.signing_secret")?;
    let mut slack = SlackConfig::new(
        crate::config::secret(&c.slack.bot_token, path, "slack.bot_token")?,
        signing_secret.clone(),
    )
    .with_base_url(c.slack.base_url.clone());
    slack.requests_per_minute = c.slack.requests_per_minute;
    let slack = SlackClient::new(&slack).map_err(connector("slack"))?;
    let mut webhooks = vec![WebhookRoute {
        path: SLACK_INTERACTIVITY_PATH.into(),
        vendor: "slack",
        source: Arc::new(SlackInteractions { signing_secret }),
    }];
    let marketing = c
        .marketing
        .as_ref()
        .map(|m| m.crm.connect(loaded.fields_by_object()))
        .transpose()
        .map_err(connector("marketing.crm"))?;
    for connection in std::iter::once(&crm).chain(marketing.as_ref()) {
        if let Some((path, source)) = connection.webhook.clone() {
            webhooks.push(WebhookRoute {
                path: path.into(),
                vendor: connection.crm.system(),
                source,
            });
        }
    }
    let effects = VendorEffects::new(crm.crm.clone(), pm.tool, slack)
        .with_marketing(marketing.as_ref().map(|m| m.crm.clone()))
        .with_mailer(mailer(loaded)?);
    Ok(Vendors {
        crm: crm.crm.clone(),
        crm_poll: crm.poll.clone(),
        marketing: marketing.map(|m| super::MarketingVendor {
            crm: m.crm,
            poll: m.poll,
        }),
        webhooks,
        effects: Arc::new(effects),
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
