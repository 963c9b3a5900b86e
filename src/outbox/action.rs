//! The side effects a flow can ask for. Each is stored in a saga step as JSON and executed by
//! the outbox executor with the step's idempotency key.

use handoff_connector::RecordKey;
use serde::{Deserialize, Serialize};

/// Which kind of system an action writes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The CRM (through [`handoff_connector::Crm`]).
    Crm,
    /// The PM tool (through [`handoff_connector::ProjectTool`]).
    Pm,
    /// Slack.
    Slack,
    /// SMTP.
    Email,
}

impl Target {
    /// `crm`, `pm`, `slack`, `smtp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Crm => "crm",
            Target::Pm => "pm",
            Target::Slack => "slack",
            Target::Email => super::email::VENDOR,
        }
    }
}

/// One vendor write.
///
/// Text fields may contain placeholders filled from earlier steps of the same saga when the
/// step runs: `{case_id}`, `{case_url}` (from [`Action::CrmUpsertCase`]), `{project_id}`,
/// `{project_url}` (from [`Action::CreateProject`]); sagas written before the CRM seam use
/// `{ticket_id}`, `{ticket_url}` and `{project_gid}`, which the legacy actions still return.
///
/// CRM field names in actions come from the admin's outbound mappings at decision time, so a
/// stored saga replays exactly the write that was decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Set `fields` on a CRM record ([`handoff_connector::Crm::update`]; idempotent by nature).
    CrmUpdate {
        record: RecordKey,
        fields: serde_json::Map<String, serde_json::Value>,
    },
    /// Link two CRM records ([`handoff_connector::Crm::associate`]; idempotent by nature).
    CrmLink { from: RecordKey, to: RecordKey },
    /// Create the case once, upserted on the step's idempotency key
    /// ([`handoff_connector::Crm::upsert_case`]), linked to `links`. Result: `case_id`,
    /// `case_url`.
    CrmUpsertCase {
        fields: serde_json::Map<String, serde_json::Value>,
        links: Vec<RecordKey>,
    },
    /// Create a lead in the CRM named `system` once, with `fields`, upserted on the step's
    /// idempotency key ([`handoff_connector::Crm::upsert_lead`]): a marketing CRM's contact
    /// handed to the sales CRM. Result: `lead_id`, `lead_key`.
    CrmUpsertLead {
        system: String,
        fields: serde_json::Map<String, serde_json::Value>,
    },
    /// Add the internal note `body` to the case `case` once, found again by the step's
    /// idempotency key after a crash ([`handoff_connector::Crm::add_case_note`]: a private
    /// comment or note on the CRM's case). Result: `note_id`.
    CrmCaseNote { case: RecordKey, body: String },
    /// Create the project `name` from the PM tool's template named `template`, once (looked up
    /// by `name` when a previous attempt's outcome is unknown). Result: `project_id`,
    /// `project_url`.
    CreateProject { template: String, name: String },
    /// DM the Slack user with this email, once (message metadata carries the step key).
    SlackDm {
        email: String,
        text: String,
        blocks: serde_json::Value,
    },
    /// Edit a posted message (`chat.update`, idempotent by nature).
    SlackUpdate {
        channel: String,
        ts: String,
        text: String,
        blocks: serde_json::Value,
    },
    /// Send a plain-text email over SMTP (see [`super::email`]). At least once: SMTP cannot be
    /// asked whether an earlier attempt was delivered, so an unknown outcome is sent again,
    /// with the same `message_id` (`<…@…>`, from [`super::email::message_id`] of the step key)
    /// so receivers can deduplicate.
    SendEmail {
        /// Recipient address (`a@b` or `Name <a@b>`).
        to: String,
        subject: String,
        text: String,
        message_id: String,
    },
    /// Legacy ([`Action::CrmUpdate`] as written before the CRM seam, with the CRM's object
    /// name and id): runs against the configured CRM.
    UpdateCrmRecord {
        object_type: String,
        id: String,
        properties: serde_json::Map<String, serde_json::Value>,
    },
    /// Legacy [`Action::CrmLink`].
    AssociateCrm {
        from_type: String,
        from_id: String,
        to_type: String,
        to_id: String,
    },
    /// Legacy [`Action::CrmUpsertCase`]; results `ticket_id`, `ticket_url`.
    UpsertTicket {
        properties: serde_json::Map<String, serde_json::Value>,
        associate: Vec<(String, String)>,
    },
    /// Legacy [`Action::CreateProject`]; results `project_gid`, `project_url`.
    InstantiateProject { template: String, name: String },
}

impl Action {
    /// The kind of system the action writes to (for metrics and rate budgets).
    pub fn target(&self) -> Target {
        match self {
            Action::CrmUpdate { .. }
            | Action::CrmLink { .. }
            | Action::CrmUpsertCase { .. }
            | Action::CrmUpsertLead { .. }
            | Action::CrmCaseNote { .. }
            | Action::UpdateCrmRecord { .. }
            | Action::AssociateCrm { .. }
            | Action::UpsertTicket { .. } => Target::Crm,
            Action::CreateProject { .. } | Action::InstantiateProject { .. } => Target::Pm,
            Action::SlackDm { .. } | Action::SlackUpdate { .. } => Target::Slack,
            Action::SendEmail { .. } => Target::Email,
        }
    }

    /// As JSON for a saga step.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("actions serialise")
    }
}

/// Replaces `{name}` placeholders in every string inside `value`.
pub fn fill(value: &mut serde_json::Value, vars: &[(String, String)]) {
    match value {
        serde_json::Value::String(s) if s.contains('{') => {
            for (k, v) in vars {
                *s = s.replace(&format!("{{{k}}}"), v);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| fill(i, vars)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|i| fill(i, vars)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_nested_strings_only_when_known() {
        let mut v = serde_json::json!({"text": "see {ticket_url}", "blocks": [{"t": "{project_url} {other}"}]});
        fill(
            &mut v,
            &[
                ("ticket_url".into(), "https://t/1".into()),
                ("project_url".into(), "https://p/2".into()),
            ],
        );
        assert_eq!(v["text"], "see https://t/1");
        assert_eq!(v["blocks"][0]["t"], "https://p/2 {other}");
    }

    #[test]
    fn actions_round_trip_as_tagged_json_with_keys_as_strings() {
        let a = Action::CrmLink {
            from: RecordKey::new("crm", "people", "1"),
            to: RecordKey::new("crm", "accounts", "2"),
        };
        let json = a.to_json();
        assert_eq!(json["type"], "crm_link");
        assert_eq!(json["from"], "crm:people:1");
        assert_eq!(serde_json::from_value::<Action>(json).unwrap(), a);
    }

    #[test]
    fn actions_stored_before_the_crm_seam_still_read() {
        let stored = serde_json::json!({"type": "update_crm_record", "object_type": "contacts",
            "id": "23", "properties": {"owner": "7"}});
        let a: Action = serde_json::from_value(stored).unwrap();
        assert_eq!(a.target(), Target::Crm);
        let stored =
            serde_json::json!({"type": "instantiate_project", "template": "T", "name": "N"});
        let a: Action = serde_json::from_value(stored).unwrap();
        assert_eq!(a.target(), Target::Pm);
    }

    #[test]
    fn an_email_action_is_tagged_send_email_and_belongs_to_smtp() {
        let a = Action::SendEmail {
            to: "ana@northwind.test".into(),
            subject: "Thanks".into(),
            text: "Hi".into(),
            message_id: "<1.handoff@maven.test>".into(),
        };
        let json = a.to_json();
        assert_eq!(json["type"], "send_email");
        assert_eq!(json["message_id"], "<1.handoff@maven.test>");
        assert_eq!(a.target().as_str(), "smtp");
        assert_eq!(serde_json::from_value::<Action>(json).unwrap(), a);
    }
}
