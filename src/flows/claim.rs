//! "Claim lead": the owner clicks the button in the DM; handoff records the claim, sets the
//! lead status in the CRM and edits the message so it shows who claimed it and when.
//!
//! The click arrives as a verified Slack `block_actions` request, which the server turns into a
//! change (source `slack`, object type [`OBJECT_TYPE`]) in the inbox like any other, so it is
//! durable before Slack gets its 200.

use super::{count, Env, FlowError, Flows};
use crate::outbox::Action;
use crate::state::{AuditEntry, Completion, Saga};
use handoff_connector::{IdempotencyKey, Record};
use serde_json::{json, Map};

/// Object type of Slack interaction changes.
pub const OBJECT_TYPE: &str = "block_actions";

/// The saga key of a lead's claim (first claim wins).
pub fn saga_key(lead_record_key: &str) -> String {
    format!("claim:{lead_record_key}")
}

/// Properties the server stores on an interaction record: `action_id`, `value` (the lead's
/// record key), `user_id`, `user_name`, `channel_id`, `message_ts`, `action_ts`.
pub(super) fn decide(
    _flows: &Flows,
    env: &Env<'_>,
    click: &Record,
) -> Result<Completion, FlowError> {
    if click.prop("action_id").as_deref() != Some("claim_lead") {
        return Ok(Completion::default());
    }
    let lead_key = click.prop("value").unwrap_or_default();
    let Some(contact_id) = lead_key.strip_prefix("hubspot:contacts:") else {
        return Err(FlowError::BadRecord {
            record: format!("slack:{OBJECT_TYPE}:{}", click.id),
            reason: format!("claim button carries `{lead_key}`, not a HubSpot contact key"),
        });
    };
    let key = saga_key(&lead_key);
    if env.store.saga(&key)?.is_some() {
        return Ok(Completion::default());
    }
    let user = click.prop("user_id").unwrap_or_default();
    let channel = click.prop("channel_id").unwrap_or_default();
    let ts = click.prop("message_ts").unwrap_or_default();
    let when = jiff::Timestamp::from_millisecond(env.now_ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let mut props = Map::new();
    props.insert("hs_lead_status".into(), json!("IN_PROGRESS"));
    let text = format!("Lead claimed by <@{user}> at {when}.");
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!(":white_check_mark: Claimed by <@{user}> at {when}.")}}
    ]);
    let steps = vec![
        (
            IdempotencyKey::new(format!("{key}:status")),
            "mark_claimed",
            Action::UpdateCrmRecord {
                object_type: "contacts".into(),
                id: contact_id.to_string(),
                properties: props,
            }
            .to_json(),
        ),
        (
            IdempotencyKey::new(format!("{key}:message")),
            "update_message",
            Action::SlackUpdate {
                channel,
                ts,
                text,
                blocks,
            }
            .to_json(),
        ),
    ];
    count("claim", "claimed");
    Ok(Completion {
        sagas: vec![Saga::new(key, "claim", &lead_key, steps, env.now_ms)],
        audit: vec![AuditEntry::new(
            env.now_ms,
            &lead_key,
            "claimed",
            format!("claimed in Slack by {user}"),
            json!({"slack_user": user}),
        )],
        state: vec![],
        ..Completion::default()
    })
}
