//! The Slack Web API shapes handoff reads and writes: users, messages, message metadata.
//!
//! Field names are Slack's own (`slack_web_openapi_v2.json`, the java-slack-sdk samples
//! `users.lookupByEmail.json` / `chat.postMessage.json`, and the message metadata docs
//! <https://api.slack.com/metadata/using>). Only the fields handoff uses are typed; unknown
//! fields are ignored when reading.

use handoff_connector::IdempotencyKey;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `metadata.event_type` handoff stamps on every message it sends.
pub const METADATA_EVENT_TYPE: &str = "handoff_notification";
/// Key inside `metadata.event_payload` holding the idempotency key.
pub const METADATA_KEY_FIELD: &str = "idempotency_key";

/// A workspace member (`user` in `users.lookupByEmail` / `users.info`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct User {
    /// `U…` (or `W…` on Enterprise Grid).
    pub id: String,
    #[serde(default)]
    pub team_id: Option<String>,
    /// The handle.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub real_name: Option<String>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub profile: Profile,
}

/// `user.profile`, the parts handoff reads.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct Profile {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub real_name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// Message metadata (`metadata` on `chat.postMessage` / `chat.update` and on messages read with
/// `include_all_metadata=true`): an app-defined `event_type` and a JSON object payload.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct MessageMetadata {
    pub event_type: String,
    #[serde(default)]
    pub event_payload: Map<String, Value>,
}

impl MessageMetadata {
    /// handoff's tag: `{event_type: "handoff_notification", event_payload: {idempotency_key}}`.
    pub fn handoff(key: &IdempotencyKey) -> Self {
        let mut event_payload = Map::new();
        event_payload.insert(METADATA_KEY_FIELD.into(), Value::String(key.0.clone()));
        Self {
            event_type: METADATA_EVENT_TYPE.into(),
            event_payload,
        }
    }

    /// The idempotency key, when this is handoff's tag.
    pub fn handoff_key(&self) -> Option<&str> {
        if self.event_type != METADATA_EVENT_TYPE {
            return None;
        }
        self.event_payload.get(METADATA_KEY_FIELD)?.as_str()
    }
}

/// A message to send with `chat.postMessage` (JSON body; `text` is the notification and
/// accessibility fallback when `blocks` are present).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Message {
    /// Channel id (`C…`, `D…` for a DM, `G…`).
    pub channel: String,
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MessageMetadata>,
}

/// Where a message landed: its channel and `ts` (`"<epoch s>.<6 digits>"`, unique per channel,
/// the message's id for `chat.update`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// A message as `conversations.history` returns it, the parts handoff reads.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct HistoryMessage {
    #[serde(default)]
    pub ts: String,
    #[serde(default)]
    pub metadata: Option<MessageMetadata>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handoff_metadata_round_trips_its_key() {
        let key = IdempotencyKey::new("lead-route:hubspot:contacts:42");
        let meta = MessageMetadata::handoff(&key);
        let json = serde_json::to_value(&meta).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"event_type": "handoff_notification",
                               "event_payload": {"idempotency_key": "lead-route:hubspot:contacts:42"}})
        );
        let back: MessageMetadata = serde_json::from_value(json).unwrap();
        assert_eq!(back.handoff_key(), Some(key.as_str()));
        let other = MessageMetadata {
            event_type: "task_created".into(),
            ..back
        };
        assert_eq!(other.handoff_key(), None);
    }
}
