//! Parsing `block_actions` interaction payloads (a click on a Block Kit button).
//!
//! Slack POSTs interactions as `application/x-www-form-urlencoded` with a single field
//! `payload` holding JSON (vendor-specs NOTES.md §3.2,
//! <https://docs.slack.dev/reference/interaction-payloads/block_actions-payload>). Field names
//! follow the SDK sample `BlockActionPayload.json`. Verify the signature over the raw body
//! ([`crate::signature::verify`]) **before** calling [`parse_block_actions`].

use serde::Deserialize;

/// Why an interactivity body is not a usable `block_actions` payload.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InteractionError {
    /// The form has no `payload` field.
    #[error("interactivity body has no `payload` form field")]
    MissingPayload,
    /// `payload` is not JSON of the expected shape.
    #[error("interactivity payload is not valid JSON: {0}")]
    Json(String),
    /// The payload is another interaction type (`view_submission`, `shortcut`, …).
    #[error("interaction type is {0:?}, expected \"block_actions\"")]
    WrongType(String),
    /// A field handoff needs is absent or empty; names it by its JSON path.
    #[error("block_actions payload has no `{0}`")]
    Missing(&'static str),
}

/// The user who clicked (`user` in the payload).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ActingUser {
    /// Slack user id, `U…` / `W…`.
    pub id: String,
    /// Handle, when Slack sends it.
    #[serde(default)]
    pub username: Option<String>,
    /// Display name, when Slack sends it.
    #[serde(default)]
    pub name: Option<String>,
    /// Workspace id `T…`, when Slack sends it.
    #[serde(default)]
    pub team_id: Option<String>,
}

/// One element interaction (`actions[]` in the payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// The element's `action_id`, e.g. [`crate::blocks::CLAIM_LEAD_ACTION`].
    pub action_id: String,
    /// The block holding the element.
    pub block_id: String,
    /// The button's `value` (for "Claim lead": the record key), or for a `static_select` the
    /// chosen option's `selected_option.value` (Slack sends no `value` on a select action;
    /// `block_actions` payload reference, SDK sample `BlockActionPayload.json`); `None` for URL
    /// buttons without one.
    pub value: Option<String>,
    /// When the click happened, Slack's `"<epoch s>.<µs>"` string.
    pub action_ts: String,
    /// Element type, e.g. `button`.
    pub r#type: String,
}

/// A parsed `block_actions` interaction on a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockActions {
    pub user: ActingUser,
    /// Channel holding the message (`container.channel_id`, else `channel.id`).
    pub channel_id: String,
    /// The clicked message's `ts` (`container.message_ts`, else `message.ts`), the key for
    /// `chat.update`.
    pub message_ts: String,
    /// At least one action.
    pub actions: Vec<Action>,
    /// Short-lived webhook to reply to the interaction (30 minutes, 5 uses per Slack docs).
    pub response_url: Option<String>,
    /// Short-lived id for opening a modal (3 s).
    pub trigger_id: Option<String>,
}

impl BlockActions {
    /// The first action with `action_id`, if the user clicked it.
    pub fn action(&self, action_id: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.action_id == action_id)
    }
}

#[derive(Deserialize)]
struct RawPayload {
    #[serde(rename = "type")]
    kind: Option<String>,
    user: Option<ActingUser>,
    container: Option<RawContainer>,
    channel: Option<RawChannel>,
    message: Option<RawMessage>,
    #[serde(default)]
    actions: Vec<RawAction>,
    response_url: Option<String>,
    trigger_id: Option<String>,
}

#[derive(Deserialize)]
struct RawContainer {
    message_ts: Option<String>,
    channel_id: Option<String>,
}

#[derive(Deserialize)]
struct RawChannel {
    id: Option<String>,
}

#[derive(Deserialize)]
struct RawMessage {
    ts: Option<String>,
}

#[derive(Deserialize)]
struct RawAction {
    action_id: Option<String>,
    block_id: Option<String>,
    value: Option<String>,
    #[serde(default)]
    selected_option: Option<RawOption>,
    action_ts: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// A select menu's chosen option (`selected_option: {text, value}`).
#[derive(Deserialize)]
struct RawOption {
    value: Option<String>,
}

/// Parses a raw interactivity request body (form-encoded, field `payload`).
pub fn parse_block_actions(body: &[u8]) -> Result<BlockActions, InteractionError> {
    let payload = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or(InteractionError::MissingPayload)?;
    parse_payload_json(&payload)
}

/// Parses the JSON of the `payload` field.
pub fn parse_payload_json(json: &str) -> Result<BlockActions, InteractionError> {
    let raw: RawPayload =
        serde_json::from_str(json).map_err(|e| InteractionError::Json(e.to_string()))?;
    match raw.kind.as_deref() {
        Some("block_actions") => {}
        Some(other) => return Err(InteractionError::WrongType(other.to_string())),
        None => return Err(InteractionError::Missing("type")),
    }
    let user = raw
        .user
        .filter(|u| !u.id.is_empty())
        .ok_or(InteractionError::Missing("user.id"))?;
    let container = raw.container.as_ref();
    let channel_id = nonempty(container.and_then(|c| c.channel_id.clone()))
        .or_else(|| nonempty(raw.channel.and_then(|c| c.id)))
        .ok_or(InteractionError::Missing("container.channel_id"))?;
    let message_ts = nonempty(container.and_then(|c| c.message_ts.clone()))
        .or_else(|| nonempty(raw.message.and_then(|m| m.ts)))
        .ok_or(InteractionError::Missing("container.message_ts"))?;
    if raw.actions.is_empty() {
        return Err(InteractionError::Missing("actions"));
    }
    let actions = raw
        .actions
        .into_iter()
        .map(|a| {
            Ok(Action {
                action_id: nonempty(a.action_id)
                    .ok_or(InteractionError::Missing("actions[].action_id"))?,
                block_id: nonempty(a.block_id)
                    .ok_or(InteractionError::Missing("actions[].block_id"))?,
                value: a.value.or_else(|| a.selected_option.and_then(|o| o.value)),
                action_ts: nonempty(a.action_ts)
                    .ok_or(InteractionError::Missing("actions[].action_ts"))?,
                r#type: nonempty(a.kind).ok_or(InteractionError::Missing("actions[].type"))?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BlockActions {
        user,
        channel_id,
        message_ts,
        actions,
        response_url: raw.response_url,
        trigger_id: raw.trigger_id,
    })
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> serde_json::Value {
        json!({
            "type": "block_actions",
            "team": {"id": "T0HANDOFF", "domain": "handoff"},
            "user": {"id": "U0REP0001", "username": "ana", "name": "ana", "team_id": "T0HANDOFF"},
            "api_app_id": "A0HANDOFF",
            "container": {"type": "message", "message_ts": "1700000000.000100",
                          "channel_id": "D0REP0001", "is_ephemeral": false},
            "trigger_id": "1.2.abc",
            "channel": {"id": "D0REP0001", "name": "directmessage"},
            "message": {"type": "message", "ts": "1700000000.000100", "text": "New lead"},
            "response_url": "https://hooks.slack.com/actions/T0HANDOFF/1/abc",
            "actions": [{"action_id": "claim_lead", "block_id": "b1", "value": "hubspot:contacts:42",
                         "type": "button", "action_ts": "1700000001.000200",
                         "text": {"type": "plain_text", "text": "Claim lead"}}]
        })
    }

    fn form(v: &serde_json::Value) -> Vec<u8> {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &v.to_string())
            .finish()
            .into_bytes()
    }

    #[test]
    fn parses_a_claim_click() {
        let parsed = parse_block_actions(&form(&sample())).unwrap();
        assert_eq!(parsed.user.id, "U0REP0001");
        assert_eq!(parsed.user.team_id.as_deref(), Some("T0HANDOFF"));
        assert_eq!(parsed.channel_id, "D0REP0001");
        assert_eq!(parsed.message_ts, "1700000000.000100");
        let claim = parsed.action("claim_lead").unwrap();
        assert_eq!(claim.value.as_deref(), Some("hubspot:contacts:42"));
        assert_eq!(claim.r#type, "button");
        assert!(parsed.action("open_in_crm").is_none());
    }

    #[test]
    fn a_static_select_carries_the_selected_options_value() {
        let mut v = sample();
        v["actions"] = serde_json::json!([
            {"action_id": "reject_lead", "block_id": "lead_actions", "type": "static_select",
             "action_ts": "1700000001.000200",
             "selected_option": {"text": {"type": "plain_text", "text": "Not a fit"},
                                 "value": "not_a_fit|hubspot:contacts:4"}},
            {"action_id": "claim_lead", "block_id": "lead_actions", "type": "button",
             "action_ts": "1700000001.000300", "value": "hubspot:contacts:4"}
        ]);
        let parsed = parse_block_actions(&form(&v)).unwrap();
        let reject = parsed.action("reject_lead").unwrap();
        assert_eq!(
            reject.value.as_deref(),
            Some("not_a_fit|hubspot:contacts:4")
        );
        assert_eq!(reject.r#type, "static_select");
        let claim = parsed.action("claim_lead").unwrap();
        assert_eq!(claim.value.as_deref(), Some("hubspot:contacts:4"));
    }

    #[test]
    fn falls_back_to_channel_and_message_when_container_is_partial() {
        let mut v = sample();
        v["container"] = json!({"type": "message"});
        let parsed = parse_block_actions(&form(&v)).unwrap();
        assert_eq!(parsed.channel_id, "D0REP0001");
        assert_eq!(parsed.message_ts, "1700000000.000100");
    }

    #[test]
    fn errors_name_what_is_missing() {
        assert_eq!(
            parse_block_actions(b"foo=bar"),
            Err(InteractionError::MissingPayload)
        );
        let mut v = sample();
        v["type"] = json!("view_submission");
        assert_eq!(
            parse_block_actions(&form(&v)),
            Err(InteractionError::WrongType("view_submission".into()))
        );
        let mut v = sample();
        v.as_object_mut().unwrap().remove("user");
        assert_eq!(
            parse_block_actions(&form(&v)),
            Err(InteractionError::Missing("user.id"))
        );
        let mut v = sample();
        v["actions"][0].as_object_mut().unwrap().remove("action_id");
        assert_eq!(
            parse_block_actions(&form(&v)),
            Err(InteractionError::Missing("actions[].action_id"))
        );
        let mut v = sample();
        v["actions"] = json!([]);
        assert_eq!(
            parse_block_actions(&form(&v)),
            Err(InteractionError::Missing("actions"))
        );
        assert!(matches!(
            parse_block_actions(b"payload=%7Bnot-json"),
            Err(InteractionError::Json(_))
        ));
    }
}
