//! The effects of outbox actions on the real (or emulated) vendors.
//!
//! Where the vendor can make a write idempotent, the key goes to the vendor (HubSpot: batch
//! upsert on the unique ticket property `handoff_idempotency_key`; property updates and
//! associations are idempotent by nature). Where it cannot (Slack messages, Asana projects),
//! the key is stored with the object (Slack message metadata, the project's unique name) and,
//! when an earlier attempt's outcome is unknown, looked up before anything is created. Email
//! (SMTP, [`super::email`]) has no lookup: it is sent again with the same `Message-ID`.

use super::email::Mailer;
use super::{Action, Effects};
use crate::flows::Links;
use futures::future::BoxFuture;
use handoff_asana::AsanaClient;
use handoff_connector::{ConnectorError, IdempotencyKey};
use handoff_hubspot::HubSpotClient;
use handoff_slack::{Message, MessageMetadata, SlackClient};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// The unique custom ticket property that carries the idempotency key.
pub const TICKET_KEY_PROPERTY: &str = handoff_hubspot::IDEMPOTENCY_PROPERTY;

/// Vendor clients behind [`Effects`].
pub struct VendorEffects {
    pub hubspot: HubSpotClient,
    pub slack: SlackClient,
    pub asana: AsanaClient,
    /// Asana team that owns onboarding projects.
    pub asana_team: String,
    pub links: Links,
    /// Asana template name → gid, read once.
    templates: tokio::sync::OnceCell<HashMap<String, String>>,
    /// Email → DM channel id, so each DM costs one call, not three.
    dm_channels: Mutex<HashMap<String, String>>,
    /// The SMTP relay for [`Action::SendEmail`] (`None`: no `smtp` section; such steps fail
    /// permanently).
    mailer: Option<Mailer>,
}

impl VendorEffects {
    pub fn new(
        hubspot: HubSpotClient,
        slack: SlackClient,
        asana: AsanaClient,
        asana_team: String,
        links: Links,
    ) -> Self {
        Self {
            hubspot,
            slack,
            asana,
            asana_team,
            links,
            templates: tokio::sync::OnceCell::new(),
            dm_channels: Mutex::new(HashMap::new()),
            mailer: None,
        }
    }

    /// Sends [`Action::SendEmail`] through `mailer`.
    pub fn with_mailer(mut self, mailer: Option<Mailer>) -> Self {
        self.mailer = mailer;
        self
    }

    async fn template_gid(&self, name: &str) -> Result<String, ConnectorError> {
        let templates = self
            .templates
            .get_or_try_init(|| async {
                let list = self
                    .asana
                    .list_project_templates(&self.asana_team)
                    .await
                    .map_err(ConnectorError::from)?;
                Ok::<_, ConnectorError>(
                    list.into_iter()
                        .filter_map(|t| Some((t.name?, t.gid)))
                        .collect::<HashMap<_, _>>(),
                )
            })
            .await?;
        templates.get(name).cloned().ok_or_else(|| ConnectorError::Rejected {
            vendor: "asana",
            status: 404,
            message: format!(
                "no project template named `{name}` in team {} (closed_won.tiers[].asana_template); found: {}",
                self.asana_team,
                templates.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })
    }

    async fn dm_channel(&self, email: &str) -> Result<String, ConnectorError> {
        let key = email.trim().to_lowercase();
        if let Some(c) = self
            .dm_channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(c.clone());
        }
        let user = self.slack.lookup_user_by_email(&key).await?;
        let channel = self.slack.open_dm(&user.id).await?;
        self.dm_channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, channel.clone());
        Ok(channel)
    }

    async fn run(
        &self,
        action: &Action,
        key: &IdempotencyKey,
        outcome_unknown: bool,
    ) -> Result<Value, ConnectorError> {
        match action {
            Action::UpdateCrmRecord {
                object_type,
                id,
                properties,
            } => {
                self.hubspot
                    .update_object(object_type, id, properties)
                    .await?;
                Ok(json!({ "id": id }))
            }
            Action::AssociateCrm {
                from_type,
                from_id,
                to_type,
                to_id,
            } => {
                self.hubspot
                    .associate_default(from_type, from_id, to_type, to_id)
                    .await?;
                Ok(json!({}))
            }
            Action::UpsertTicket {
                properties,
                associate,
            } => {
                let mut props = properties.clone();
                props.insert(TICKET_KEY_PROPERTY.into(), json!(key.as_str()));
                let ticket = self
                    .hubspot
                    .upsert_by_key("tickets", TICKET_KEY_PROPERTY, key, &props)
                    .await?;
                for (to_type, to_id) in associate {
                    self.hubspot
                        .associate_default("tickets", &ticket.id, to_type, to_id)
                        .await?;
                }
                Ok(json!({
                    "ticket_id": ticket.id,
                    "ticket_url": self.links.record("tickets", &ticket.id),
                }))
            }
            Action::InstantiateProject { template, name } => {
                let team = &self.asana_team;
                let existing = if outcome_unknown {
                    self.asana
                        .find_project_by_name(team, name)
                        .await
                        .map_err(ConnectorError::from)?
                } else {
                    None
                };
                let project = match existing {
                    Some(p) => p,
                    None => {
                        let gid = self.template_gid(template).await?;
                        let job = self
                            .asana
                            .instantiate_project(&gid, name, team)
                            .await
                            .map_err(ConnectorError::from)?;
                        self.asana
                            .wait_for_job(&job.gid)
                            .await
                            .map_err(ConnectorError::from)?
                    }
                };
                Ok(json!({
                    "project_gid": project.gid,
                    "project_url": format!("https://app.asana.com/0/{}/list", project.gid),
                }))
            }
            Action::SlackDm {
                email,
                text,
                blocks,
            } => {
                let blocks = blocks.as_array().cloned().unwrap_or_default();
                let channel = self.dm_channel(email).await?;
                if outcome_unknown {
                    if let Some(found) = self.slack.find_message_by_key(&channel, key).await? {
                        return Ok(json!({"channel": found.channel, "ts": found.ts}));
                    }
                }
                let posted = self
                    .slack
                    .post_message(&Message {
                        channel,
                        text: text.clone(),
                        blocks,
                        metadata: Some(MessageMetadata::handoff(key)),
                    })
                    .await?;
                Ok(json!({"channel": posted.channel, "ts": posted.ts}))
            }
            Action::SlackUpdate {
                channel,
                ts,
                text,
                blocks,
            } => {
                let blocks = blocks.as_array().cloned().unwrap_or_default();
                let posted = self
                    .slack
                    .update_message(channel, ts, text, &blocks)
                    .await?;
                Ok(json!({"channel": posted.channel, "ts": posted.ts}))
            }
            Action::SendEmail {
                to,
                subject,
                text,
                message_id,
            } => {
                let mailer = self.mailer.as_ref().ok_or_else(|| ConnectorError::Config {
                    vendor: super::email::VENDOR,
                    reason: "no `smtp` section in the config to send email through".into(),
                })?;
                // At least once: an unknown outcome is sent again, same Message-ID.
                mailer.send(to, subject, text, message_id).await
            }
        }
    }
}

impl Effects for VendorEffects {
    fn execute<'a>(
        &'a self,
        action: &'a Action,
        key: &'a IdempotencyKey,
        outcome_unknown: bool,
    ) -> BoxFuture<'a, Result<Value, ConnectorError>> {
        Box::pin(self.run(action, key, outcome_unknown))
    }
}
