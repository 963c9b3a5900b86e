//! The emulated Web API methods: arguments in, Slack's `ok: true` body or an error code out.
//!
//! Shapes follow `slack_web_openapi_v2.json` (200 examples, `default` error enums) and the
//! java-slack-sdk samples; behaviours follow the method docs:
//! `chat.update` keeps `blocks` and `metadata` that are left out (an empty `blocks` array
//! removes them); `conversations.history` is newest first, `limit` defaults to 100 (max 999),
//! pages with an opaque `cursor` / `response_metadata.next_cursor` (base64 of `next_ts:<ts>`,
//! as in the spec example) and returns `metadata` only with `include_all_metadata=true`.

use super::params::{ApiFail, Params};
use super::workspace::{
    format_ts, parse_ts, Stored, Workspace, APP_ID, BOT_ID, BOT_NAME, BOT_USER_ID,
};
use base64::Engine;
use serde_json::{json, Value};

/// Slack truncates/refuses text past 40,000 characters (`msg_too_long`).
const MAX_TEXT_CHARS: usize = 40_000;
/// Block Kit allows at most 50 blocks per message.
const MAX_BLOCKS: usize = 50;
/// `conversations.history` `limit` default and maximum.
const HISTORY_DEFAULT_LIMIT: usize = 100;
const HISTORY_MAX_LIMIT: usize = 999;

type Answer = Result<Value, ApiFail>;

/// `auth.test`.
pub(crate) fn auth_test(ws: &Workspace) -> Answer {
    Ok(json!({
        "ok": true,
        "url": format!("https://{}.slack.com/", ws.team_id.to_ascii_lowercase()),
        "team": "handoff emulator",
        "user": BOT_NAME,
        "team_id": ws.team_id,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": false
    }))
}

/// `users.lookupByEmail` (`email` required; `users_not_found`).
pub(crate) fn users_lookup_by_email(ws: &Workspace, p: &Params) -> Answer {
    let email = p.str("email").ok_or_else(|| {
        ApiFail::detail("invalid_arguments", "[ERROR] missing required field: email")
    })?;
    let member = ws.member_by_email(&email).ok_or("users_not_found")?;
    Ok(json!({"ok": true, "user": ws.user_json(member)}))
}

/// `conversations.open` (`users` comma-separated, or `channel` to reopen).
pub(crate) fn conversations_open(ws: &mut Workspace, p: &Params) -> Answer {
    if let Some(channel) = p.str("channel") {
        if !ws.has_channel(&channel) {
            return Err("channel_not_found".into());
        }
        return Ok(
            json!({"ok": true, "no_op": true, "already_open": true, "channel": {"id": channel}}),
        );
    }
    let users: Vec<String> = p
        .str("users")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect();
    if users.is_empty() {
        return Err("users_list_not_supplied".into());
    }
    if users.len() > 8 {
        return Err("too_many_users".into());
    }
    if users.iter().any(|u| ws.member(u).is_none()) {
        return Err("user_not_found".into());
    }
    let (id, existed) = ws.open_conversation(&users);
    let mut body = json!({"ok": true, "channel": {"id": id}});
    if existed {
        body["no_op"] = json!(true);
        body["already_open"] = json!(true);
    }
    Ok(body)
}

/// Resolves `channel`: a conversation id, or a member id (posts to the bot's DM with them).
fn resolve_channel(ws: &mut Workspace, p: &Params) -> Result<String, ApiFail> {
    let channel = p.str("channel").ok_or("channel_not_found")?;
    if ws.has_channel(&channel) {
        return Ok(channel);
    }
    if ws.member(&channel).is_some() {
        return Ok(ws.open_conversation(&[channel]).0);
    }
    Err("channel_not_found".into())
}

/// Validates `blocks` (array of ≤ 50 objects with `type`) and fills in missing `block_id`s
/// and element `action_id`s as Slack does.
fn read_blocks(ws: &mut Workspace, p: &Params) -> Result<Option<Vec<Value>>, ApiFail> {
    let Some(v) = p.json("blocks", "invalid_blocks")? else {
        return Ok(None);
    };
    let Value::Array(mut blocks) = v else {
        return Err(ApiFail::detail(
            "invalid_blocks",
            "[ERROR] blocks must be an array",
        ));
    };
    if blocks.len() > MAX_BLOCKS {
        return Err(ApiFail::detail(
            "invalid_blocks",
            "[ERROR] no more than 50 items allowed",
        ));
    }
    for (i, block) in blocks.iter_mut().enumerate() {
        let Some(obj) = block.as_object_mut() else {
            return Err(ApiFail::detail(
                "invalid_blocks",
                format!("[ERROR] block {i} is not an object"),
            ));
        };
        if !obj.get("type").is_some_and(Value::is_string) {
            return Err(ApiFail::detail(
                "invalid_blocks",
                format!("[ERROR] missing required field: type [json-pointer:/blocks/{i}]"),
            ));
        }
        if !obj.contains_key("block_id") {
            obj.insert("block_id".into(), json!(format!("b{:x}", ws.next_seq())));
        }
        let mut fill = |el: &mut Value| {
            let is_button = el.get("type").and_then(Value::as_str) == Some("button");
            if is_button && el.get("action_id").is_none() {
                el["action_id"] = json!(format!("a{:x}", ws.next_seq()));
            }
        };
        if let Some(elements) = obj.get_mut("elements").and_then(Value::as_array_mut) {
            elements.iter_mut().for_each(&mut fill);
        }
        if let Some(accessory) = obj.get_mut("accessory") {
            fill(accessory);
        }
    }
    Ok(Some(blocks))
}

/// Validates `metadata`: an object with a string `event_type` and an object `event_payload`.
fn read_metadata(p: &Params) -> Result<Option<Value>, ApiFail> {
    let Some(meta) = p.json("metadata", "invalid_metadata_format")? else {
        return Ok(None);
    };
    let ok = meta.get("event_type").is_some_and(Value::is_string)
        && meta.get("event_payload").is_some_and(Value::is_object);
    if !ok {
        return Err(ApiFail::detail(
            "invalid_metadata_format",
            "[ERROR] metadata needs a string event_type and an object event_payload",
        ));
    }
    Ok(Some(
        json!({"event_type": meta["event_type"], "event_payload": meta["event_payload"]}),
    ))
}

fn read_text(p: &Params) -> Result<Option<String>, ApiFail> {
    let text = p.str("text");
    if text
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS)
    {
        return Err("msg_too_long".into());
    }
    Ok(text)
}

/// `chat.postMessage` (`channel`; `text` and/or `blocks`; optional `metadata`).
pub(crate) fn chat_post_message(ws: &mut Workspace, p: &Params) -> Answer {
    let channel = resolve_channel(ws, p)?;
    let text = read_text(p)?;
    let blocks = read_blocks(ws, p)?;
    let metadata = read_metadata(p)?;
    if text.is_none() && blocks.as_ref().is_none_or(Vec::is_empty) {
        return Err("no_text".into());
    }
    let ts = ws.next_ts();
    let mut message = json!({
        "type": "message",
        "text": text.unwrap_or_default(),
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "team": ws.team_id,
        "ts": ts,
    });
    if let Some(blocks) = blocks {
        message["blocks"] = Value::Array(blocks);
    }
    if let Some(metadata) = metadata {
        message["metadata"] = metadata;
    }
    ws.messages.push(Stored {
        channel: channel.clone(),
        message: message.clone(),
    });
    Ok(json!({"ok": true, "channel": channel, "ts": ts, "message": message}))
}

/// `chat.update` (`channel`, `ts`; new `text`, `blocks`, `metadata`; left-out fields kept).
pub(crate) fn chat_update(ws: &mut Workspace, p: &Params) -> Answer {
    let channel = p.str("channel").ok_or("channel_not_found")?;
    if !ws.has_channel(&channel) {
        return Err("channel_not_found".into());
    }
    let ts = p.str("ts").ok_or("message_not_found")?;
    let text = read_text(p)?;
    let blocks = read_blocks(ws, p)?;
    let metadata = read_metadata(p)?;
    if text.is_none() && blocks.is_none() {
        return Err("no_text".into());
    }
    let edited_ts = ws.next_ts();
    let stored = ws
        .find_message_mut(&channel, &ts)
        .ok_or("message_not_found")?;
    if stored.message["user"] != BOT_USER_ID {
        return Err("cant_update_message".into());
    }
    let m = &mut stored.message;
    if let Some(text) = text {
        m["text"] = json!(text);
    }
    match blocks {
        Some(b) if b.is_empty() => {
            m.as_object_mut().map(|o| o.remove("blocks"));
        }
        Some(b) => m["blocks"] = Value::Array(b),
        None => {}
    }
    if let Some(meta) = metadata {
        m["metadata"] = meta;
    }
    m["edited"] = json!({"user": BOT_USER_ID, "ts": edited_ts});
    let mut message = m.clone();
    if let Some(o) = message.as_object_mut() {
        o.remove("ts");
    }
    Ok(json!({"ok": true, "channel": channel, "ts": ts, "text": m["text"], "message": message}))
}

fn encode_cursor(ts: &str) -> String {
    let digits: String = ts.chars().filter(char::is_ascii_digit).collect();
    base64::engine::general_purpose::STANDARD.encode(format!("next_ts:{digits}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.strip_prefix("next_ts:")?.parse().ok()
}

/// `conversations.history` (`channel`; `limit`, `cursor`, `latest`, `oldest`, `inclusive`,
/// `include_all_metadata`).
pub(crate) fn conversations_history(ws: &Workspace, p: &Params) -> Answer {
    let channel = p.str("channel").ok_or("channel_not_found")?;
    if !ws.has_channel(&channel) {
        return Err("channel_not_found".into());
    }
    let limit = p
        .str("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(HISTORY_DEFAULT_LIMIT)
        .min(HISTORY_MAX_LIMIT);
    let inclusive = p.bool("inclusive");
    let bound = |name: &str, bad: &'static str| -> Result<Option<i64>, ApiFail> {
        p.str(name)
            .map(|t| parse_ts(&t).ok_or(ApiFail::code(bad)))
            .transpose()
    };
    let latest = bound("latest", "invalid_ts_latest")?;
    let oldest = bound("oldest", "invalid_ts_oldest")?;
    let start = match p.str("cursor") {
        Some(c) => Some(decode_cursor(&c).ok_or("invalid_cursor")?),
        None => None,
    };
    let include_metadata = p.bool("include_all_metadata");
    let mut matching = ws
        .messages
        .iter()
        .rev()
        .filter(|s| s.channel == channel)
        .filter(|s| {
            let t = parse_ts(s.ts()).unwrap_or(0);
            let below_latest = latest.is_none_or(|l| if inclusive { t <= l } else { t < l });
            let above_oldest = oldest.is_none_or(|o| if inclusive { t >= o } else { t > o });
            let from_cursor = start.is_none_or(|c| t <= c);
            below_latest && above_oldest && from_cursor
        });
    let page: Vec<Value> = matching
        .by_ref()
        .take(limit)
        .map(|s| {
            let mut m = s.message.clone();
            if !include_metadata {
                m.as_object_mut().map(|o| o.remove("metadata"));
            }
            m
        })
        .collect();
    let next = matching.next();
    let next_cursor = next
        .map(|s| encode_cursor(&format_ts(parse_ts(s.ts()).unwrap_or(0))))
        .unwrap_or_default();
    Ok(json!({
        "ok": true,
        "messages": page,
        "has_more": next.is_some(),
        "pin_count": 0,
        "channel_actions_ts": null,
        "channel_actions_count": 0,
        "response_metadata": {"next_cursor": next_cursor}
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: Value) -> Params {
        Params(v.as_object().unwrap().clone())
    }

    fn setup() -> (Workspace, String) {
        let mut ws = Workspace::new("T0EMU".into());
        let user = ws.add_member("ana@example.com", "Ana");
        let (dm, _) = ws.open_conversation(&[user]);
        (ws, dm)
    }

    #[test]
    fn cursor_matches_the_spec_example_encoding() {
        // slack_web_openapi_v2.json, conversations.history 200 example.
        assert_eq!(
            encode_cursor("1512085861.000543"),
            "bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz"
        );
        assert_eq!(
            decode_cursor("bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz"),
            Some(1512085861000543)
        );
    }

    #[test]
    fn post_requires_text_or_blocks_and_valid_metadata() {
        let (mut ws, dm) = setup();
        let err = chat_post_message(&mut ws, &params(json!({"channel": dm}))).unwrap_err();
        assert_eq!(err.code, "no_text");
        let err = chat_post_message(&mut ws, &params(json!({"channel": "C404", "text": "x"})))
            .unwrap_err();
        assert_eq!(err.code, "channel_not_found");
        let err = chat_post_message(
            &mut ws,
            &params(json!({"channel": dm, "text": "x", "metadata": {"event_type": 3}})),
        )
        .unwrap_err();
        assert_eq!(err.code, "invalid_metadata_format");
        let ok = chat_post_message(
            &mut ws,
            &params(json!({"channel": dm, "text": "x", "blocks": "[{\"type\":\"actions\",\"elements\":[{\"type\":\"button\",\"text\":{\"type\":\"plain_text\",\"text\":\"Go\"}}]}]"})),
        )
        .unwrap();
        assert!(ok["message"]["blocks"][0]["block_id"].is_string());
        assert!(ok["message"]["blocks"][0]["elements"][0]["action_id"].is_string());
    }

    #[test]
    fn history_strips_metadata_unless_asked() {
        let (mut ws, dm) = setup();
        chat_post_message(
            &mut ws,
            &params(json!({"channel": dm, "text": "x",
                           "metadata": {"event_type": "handoff_notification", "event_payload": {"idempotency_key": "k"}}})),
        )
        .unwrap();
        let plain = conversations_history(&ws, &params(json!({"channel": dm}))).unwrap();
        assert!(plain["messages"][0].get("metadata").is_none());
        let full = conversations_history(
            &ws,
            &params(json!({"channel": dm, "include_all_metadata": "true"})),
        )
        .unwrap();
        assert_eq!(
            full["messages"][0]["metadata"]["event_payload"]["idempotency_key"],
            "k"
        );
        assert_eq!(full["response_metadata"]["next_cursor"], "");
        let err = conversations_history(&ws, &params(json!({"channel": dm, "cursor": "%%%"})))
            .unwrap_err();
        assert_eq!(err.code, "invalid_cursor");
    }
}
