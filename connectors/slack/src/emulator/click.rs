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
//!
//! A choice in a `static_select` menu has the same envelope; its action carries
//! `type: "static_select"`, `selected_option: {text, value}` (the chosen option as the
//! message's element declares it), `placeholder`, and no `value` (same sample, `actions[]`);
//! `state.values.<block_id>.<action_id>` holds `{type, selected_option}` as Slack reports the
//! block's input state.

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
/// `channel`; with `selected = Some(value)`, choosing the option `value` of the
/// `static_select` `action_id`.
pub(crate) fn block_actions_payload(
    ws: &mut Workspace,
    channel: &str,
    ts: &str,
    action_id: &str,
    member: &Member,
    selected: Option<&str>,
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
    let mut state_values = json!({});
    match selected {
        None => {
            for field in ["text", "value", "style", "url"] {
                if let Some(v) = element.get(field) {
                    action[field] = v.clone();
                }
            }
        }
        Some(value) => {
            if element["type"] != "static_select" {
                return Err(EmulatorError::OptionNotFound {
                    action_id: action_id.to_string(),
                    value: value.to_string(),
                });
            }
            let option = static_options(element)
                .find(|o| o["value"] == value)
                .cloned()
                .ok_or_else(|| EmulatorError::OptionNotFound {
                    action_id: action_id.to_string(),
                    value: value.to_string(),
                })?;
            let chosen = json!({"text": option["text"], "value": option["value"]});
            action["selected_option"] = chosen.clone();
            if let Some(p) = element.get("placeholder") {
                action["placeholder"] = p.clone();
            }
            state_values = json!({ block_id.clone(): { action_id: {"type": "static_select", "selected_option": chosen} } });
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
        "state": {"values": state_values},
        "response_url": format!("https://hooks.slack.com/actions/{}/{clicked_s}{seq:04}/{seq:024x}", ws.team_id),
        "actions": [action],
    }))
}

/// The options of a select element: `options`, or every group's in `option_groups`.
fn static_options(element: &Value) -> impl Iterator<Item = &Value> {
    let flat = element["options"].as_array().into_iter().flatten();
    let grouped = element["option_groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["options"].as_array().into_iter().flatten());
    flat.chain(grouped)
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

    #[test]
    fn a_static_select_choice_carries_the_selected_option_and_no_value() {
        let mut ws = Workspace::new("T0TEST0001".into());
        let id = ws.add_member("ana@example.com", "Ana");
        let member = ws.member(&id).cloned().unwrap();
        let reason =
            |v: &str, t: &str| json!({"text": {"type": "plain_text", "text": t}, "value": v});
        ws.messages.push(super::super::workspace::Stored {
            channel: "D0TEST0001".into(),
            message: json!({"type": "message", "ts": "1700000000.000100", "blocks": [
                {"type": "actions", "block_id": "lead_actions", "elements": [
                    {"type": "static_select", "action_id": "reject_lead",
                     "placeholder": {"type": "plain_text", "text": "Reject…"},
                     "options": [reason("not_a_fit|k", "Not a fit"), reason("duplicate|k", "Duplicate")]}
                ]}
            ]}),
        });
        let p = block_actions_payload(
            &mut ws,
            "D0TEST0001",
            "1700000000.000100",
            "reject_lead",
            &member,
            Some("duplicate|k"),
        )
        .unwrap();
        let a = &p["actions"][0];
        assert_eq!(a["type"], "static_select");
        assert_eq!(a["selected_option"]["value"], "duplicate|k");
        assert_eq!(a["selected_option"]["text"]["text"], "Duplicate");
        assert!(a.get("value").is_none());
        assert_eq!(
            p["state"]["values"]["lead_actions"]["reject_lead"]["selected_option"]["value"],
            "duplicate|k"
        );
        // An option the menu does not offer is refused.
        assert!(matches!(
            block_actions_payload(
                &mut ws,
                "D0TEST0001",
                "1700000000.000100",
                "reject_lead",
                &member,
                Some("nope|k")
            ),
            Err(EmulatorError::OptionNotFound { .. })
        ));
    }
}
