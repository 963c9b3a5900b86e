//! The effects of outbox actions on the real (or emulated) vendors, through the seams: the
//! CRM ([`Crm`]), the PM tool ([`ProjectTool`]), Slack and SMTP.
//!
//! Where the vendor can make a write idempotent, the key goes to the vendor (the CRM's case
//! upsert on its idempotency field; field updates and links are idempotent by nature). Where
//! it cannot (Slack messages, PM projects), the key is stored with the object (Slack message
//! metadata, the project's unique name) and, when an earlier attempt's outcome is unknown,
//! looked up before anything is created. Email (SMTP, [`super::email`]) has no lookup: it is
//! sent again with the same `Message-ID`.
//!
//! Actions stored before the CRM seam (`update_crm_record`, `associate_crm`, `upsert_ticket`,
//! `instantiate_project`) name the CRM's objects directly; they run against the configured CRM
//! and keep their old result names (`ticket_url`, `project_gid`) for the placeholders of the
//! steps stored after them.

use super::email::Mailer;
use super::{Action, Effects};
use futures::future::BoxFuture;
use handoff_connector::{ConnectorError, Creation, Crm, IdempotencyKey, ProjectTool, RecordKey};
use handoff_slack::{Message, MessageMetadata, SlackClient};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a PM tool's creation job is polled (every [`ProjectTool::job_poll_interval`])
/// before the step is retried later.
const JOB_TIMEOUT: Duration = Duration::from_secs(120);

/// The vendors behind [`Effects`].
pub struct VendorEffects {
    pub crm: Arc<dyn Crm>,
    /// The marketing CRM in front of `crm`, when the config has one: writes to its records
    /// (by their key's system) go to it.
    pub marketing: Option<Arc<dyn Crm>>,
    pub pm: Arc<dyn ProjectTool>,
    pub slack: SlackClient,
    /// Email → DM channel id, so each DM costs one call, not three.
    dm_channels: Mutex<HashMap<String, String>>,
    /// The SMTP relay for [`Action::SendEmail`] (`None`: no `smtp` section; such steps fail
    /// permanently).
    mailer: Option<Mailer>,
}

impl VendorEffects {
    pub fn new(crm: Arc<dyn Crm>, pm: Arc<dyn ProjectTool>, slack: SlackClient) -> Self {
        Self {
            crm,
            marketing: None,
            pm,
            slack,
            dm_channels: Mutex::new(HashMap::new()),
            mailer: None,
        }
    }

    /// Sends writes to `marketing`'s records through it.
    pub fn with_marketing(mut self, marketing: Option<Arc<dyn Crm>>) -> Self {
        self.marketing = marketing;
        self
    }

    /// The CRM whose records are named `system` (the sales CRM when no other matches: legacy
    /// actions name no system).
    fn crm_of(&self, system: &str) -> &dyn Crm {
        match &self.marketing {
            Some(m) if m.system() == system => m.as_ref(),
            _ => self.crm.as_ref(),
        }
    }

    /// Sends [`Action::SendEmail`] through `mailer`.
    pub fn with_mailer(mut self, mailer: Option<Mailer>) -> Self {
        self.mailer = mailer;
        self
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

    /// A legacy action's record: the configured CRM's `object` `id`.
    fn legacy_key(&self, object: &str, id: &str) -> RecordKey {
        RecordKey::new(self.crm.system(), object, id)
    }

    /// The project `name`, created from `template` unless it exists (looked up first when an
    /// earlier attempt's outcome is unknown); waits for the PM tool's job.
    async fn project(
        &self,
        template: &str,
        name: &str,
        key: &IdempotencyKey,
        outcome_unknown: bool,
    ) -> Result<handoff_connector::ProjectRef, ConnectorError> {
        if outcome_unknown {
            if let Some(p) = self.pm.find_project(name).await? {
                return Ok(p);
            }
        }
        let job_id = match self.pm.create_from_template(template, name, key).await? {
            Creation::Ready(p) => return Ok(p),
            Creation::Running { job_id } => job_id,
        };
        let started = tokio::time::Instant::now();
        loop {
            if let Some(p) = self.pm.poll_job(&job_id).await? {
                return Ok(p);
            }
            if started.elapsed() >= JOB_TIMEOUT {
                // The tool may still finish it: the retry looks the project up by name.
                return Err(ConnectorError::Transient {
                    vendor: self.pm.system(),
                    reason: format!(
                        "job {job_id} for project `{name}` still runs after {JOB_TIMEOUT:?}"
                    ),
                });
            }
            tokio::time::sleep(self.pm.job_poll_interval()).await;
        }
    }

    async fn run(
        &self,
        action: &Action,
        key: &IdempotencyKey,
        outcome_unknown: bool,
    ) -> Result<Value, ConnectorError> {
        match action {
            Action::CrmUpdate { record, fields } => {
                self.crm_of(&record.system).update(record, fields).await?;
                Ok(json!({ "id": record.id }))
            }
            Action::UpdateCrmRecord {
                object_type,
                id,
                properties,
            } => {
                let record = self.legacy_key(object_type, id);
                self.crm.update(&record, properties).await?;
                Ok(json!({ "id": id }))
            }
            Action::CrmLink { from, to } => {
                self.crm_of(&from.system).associate(from, to).await?;
                Ok(json!({}))
            }
            Action::AssociateCrm {
                from_type,
                from_id,
                to_type,
                to_id,
            } => {
                let (from, to) = (
                    self.legacy_key(from_type, from_id),
                    self.legacy_key(to_type, to_id),
                );
                self.crm.associate(&from, &to).await?;
                Ok(json!({}))
            }
            Action::CrmUpsertCase { fields, links } => {
                let case = self.crm.upsert_case(key, fields, links).await?;
                Ok(json!({ "case_id": case.key.id, "case_url": case.url }))
            }
            Action::CrmUpsertLead { system, fields } => {
                let lead = self.crm_of(system).upsert_lead(key, fields).await?;
                Ok(json!({ "lead_id": lead.id, "lead_key": lead.to_string() }))
            }
            Action::CrmCaseNote { case, body } => {
                let id = self
                    .crm_of(&case.system)
                    .add_case_note(key, case, body)
                    .await?;
                Ok(json!({ "note_id": id }))
            }
            Action::UpsertTicket {
                properties,
                associate,
            } => {
                let links: Vec<RecordKey> = associate
                    .iter()
                    .map(|(object, id)| self.legacy_key(object, id))
                    .collect();
                let case = self.crm.upsert_case(key, properties, &links).await?;
                Ok(json!({ "ticket_id": case.key.id, "ticket_url": case.url }))
            }
            Action::CreateProject { template, name } => {
                let p = self.project(template, name, key, outcome_unknown).await?;
                Ok(json!({ "project_id": p.id, "project_url": p.url }))
            }
            Action::InstantiateProject { template, name } => {
                let p = self.project(template, name, key, outcome_unknown).await?;
                Ok(json!({ "project_gid": p.id, "project_url": p.url }))
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
    fn vendor(&self, action: &Action) -> &'static str {
        match action.target() {
            super::Target::Crm => match action {
                Action::CrmUpdate { record, .. } => self.crm_of(&record.system).system(),
                Action::CrmLink { from, .. } => self.crm_of(&from.system).system(),
                Action::CrmUpsertLead { system, .. } => self.crm_of(system).system(),
                Action::CrmCaseNote { case, .. } => self.crm_of(&case.system).system(),
                _ => self.crm.system(),
            },
            super::Target::Pm => self.pm.system(),
            other => other.as_str(),
        }
    }

    fn execute<'a>(
        &'a self,
        action: &'a Action,
        key: &'a IdempotencyKey,
        outcome_unknown: bool,
    ) -> BoxFuture<'a, Result<Value, ConnectorError>> {
        Box::pin(self.run(action, key, outcome_unknown))
    }
}

#[cfg(all(test, feature = "emulators"))]
#[path = "effects_tests.rs"]
mod tests;
