//! The side effects a flow can ask for. Each is stored in a saga step as JSON and executed by
//! the outbox executor with the step's idempotency key.

use serde::{Deserialize, Serialize};

/// One vendor write.
///
/// Text fields may contain placeholders filled from earlier steps of the same saga when the
/// step runs: `{ticket_id}`, `{ticket_url}` (from [`Action::UpsertTicket`]), `{project_gid}`,
/// `{project_url}` (from [`Action::InstantiateProject`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// `PATCH /crm/v3/objects/{object_type}/{id}`: set properties (idempotent by nature).
    UpdateCrmRecord {
        object_type: String,
        id: String,
        properties: serde_json::Map<String, serde_json::Value>,
    },
    /// `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{id}` (idempotent).
    AssociateCrm {
        from_type: String,
        from_id: String,
        to_type: String,
        to_id: String,
    },
    /// Create the ticket once: HubSpot batch upsert on the unique custom property
    /// `handoff_idempotency_key` (= the step key), then default associations to each of
    /// `associate` (object type, id).
    UpsertTicket {
        properties: serde_json::Map<String, serde_json::Value>,
        associate: Vec<(String, String)>,
    },
    /// Instantiate an Asana project from the template named `template`, once (looked up by
    /// `name` in the team when a previous attempt's outcome is unknown).
    InstantiateProject { template: String, name: String },
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
}

impl Action {
    /// The vendor the action writes to (for metrics and rate budgets).
    pub fn vendor(&self) -> &'static str {
        match self {
            Action::UpdateCrmRecord { .. }
            | Action::AssociateCrm { .. }
            | Action::UpsertTicket { .. } => "hubspot",
            Action::InstantiateProject { .. } => "asana",
            Action::SlackDm { .. } | Action::SlackUpdate { .. } => "slack",
            Action::SendEmail { .. } => super::email::VENDOR,
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
    fn actions_round_trip_as_tagged_json() {
        let a = Action::AssociateCrm {
            from_type: "contacts".into(),
            from_id: "1".into(),
            to_type: "companies".into(),
            to_id: "2".into(),
        };
        let json = a.to_json();
        assert_eq!(json["type"], "associate_crm");
        assert_eq!(serde_json::from_value::<Action>(json).unwrap(), a);
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
        assert_eq!(a.vendor(), "smtp");
        assert_eq!(serde_json::from_value::<Action>(json).unwrap(), a);
    }
}
