//! Emulated button clicks: a signed `block_actions` interaction POSTed to the app's
//! interactivity URL, as Slack sends it.
//!
//! The body is `application/x-www-form-urlencoded` with one field, `payload` (JSON); headers
//! `X-Slack-Signature` / `X-Slack-Request-Timestamp` sign the raw body (NOTES.md §3.1–3.2).
//! The payload is built from the stored message, with field names from the SDK sample
//! `BlockActionPayload.json`: `type`, `user{id,username,name,team_id}`, `api_app_id`,
//! `container{type:"message",message_ts,channel_id,is_ephemeral}`, `trigger_id`,
//! `team{id,domain}`, `enterprise`, `is_enterprise_install`, `channel{id,name}`, `message`,
//! `state{values}`, `response_url`, `actions[]{action_id,block_id,text,value,type,style,url,
//! action_ts}`.

use super::workspace::{parse_ts, Member, Workspace, APP_ID};
use super::EmulatorError;
use serde_json::{json, Value};

/// Finds the interactive element with `action_id` in `blocks` (`actions` block elements or a
/// `section` accessory); returns it with its block's `block_id`.
fn find_element<'a>(blocks: &'a [Value], action_id: &str) -> Option<(&'a Value, String)> {
    blocks.iter().find_map(|block| {
        let block_id = block["block_id"].as_str().unwrap_or_default().to_string();
        block["elements"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(block.get("accessory"))
            .find(|el| el["action_id"] == action_id)
            .map(|el| (el, block_id))
    })
}

/// The `block_actions` payload for `member` clicking `action_id` on the message `ts` in
/// `channel`.
pub(crate) fn block_actions_payload(
    ws: &mut Workspace,
    channel: &str,
    ts: &str,
    action_id: &str,
    member: &Member,
) -> Result<Value, EmulatorError> {
    let message = ws
        .find_message(channel, ts)
        .ok_or_else(|| EmulatorError::MessageNotFound {
            channel: channel.to_string(),
            ts: ts.to_string(),
        })?
        .message
        .clone();
    let blocks = message["blocks"].as_array().cloned().unwrap_or_default();
    let (element, block_id) = find_element(&blocks, action_id)
        .ok_or_else(|| EmulatorError::ActionNotFound(action_id.to_string()))?;
    let mut action = json!({
        "action_id": action_id,
        "block_id": block_id,
        "type": element["type"],
        "action_ts": ws.next_ts(),
    });
    for field in ["text", "value", "style", "url"] {
        if let Some(v) = element.get(field) {
            action[field] = v.clone();
        }
    }
    let seq = ws.next_seq();
    let clicked_s = action["action_ts"].as_str().and_then(parse_ts).unwrap_or(0) / 1_000_000;
    let channel_name = if channel.starts_with('D') {
        "directmessage"
    } else {
        "mpdm"
    };
    let team_domain = ws.team_id.to_ascii_lowercase();
    Ok(json!({
        "type": "block_actions",
        "user": {
            "id": member.id,
            "username": member.name,
            "name": member.name,
            "team_id": ws.team_id,
        },
        "api_app_id": APP_ID,
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": false,
        },
        "trigger_id": format!("{seq}.{clicked_s}.{seq:032x}"),
        "team": {"id": ws.team_id, "domain": team_domain},
        "enterprise": null,
        "is_enterprise_install": false,
        "channel": {"id": channel, "name": channel_name},
        "message": message,
        "state": {"values": {}},
        "response_url": format!("https://hooks.slack.com/actions/{}/{clicked_s}{seq:04}/{seq:024x}", ws.team_id),
        "actions": [action],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_buttons_in_actions_blocks_and_accessories() {
        let blocks = vec![
            json!({"type": "section", "block_id": "s1",
                   "accessory": {"type": "button", "action_id": "acc", "value": "v0"}}),
            json!({"type": "actions", "block_id": "a1",
                   "elements": [{"type": "button", "action_id": "claim_lead", "value": "k"}]}),
        ];
        let (el, block) = find_element(&blocks, "claim_lead").unwrap();
        assert_eq!((el["value"].as_str(), block.as_str()), (Some("k"), "a1"));
        assert_eq!(find_element(&blocks, "acc").unwrap().1, "s1");
        assert!(find_element(&blocks, "nope").is_none());
    }
}
