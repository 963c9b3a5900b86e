//! "Claim lead": the owner clicks the button in the DM; handoff records the claim, sets the
//! lead status in the CRM and edits the message so it shows who claimed it and when.
//!
//! The click arrives as a verified Slack `block_actions` request, which the server turns into a
//! change (source `slack`, object type [`OBJECT_TYPE`]) in the inbox like any other, so it is
//! durable before Slack gets its 200.
//!
//! A claim is a first touch: a lead of record still `Open` becomes `Touched` (by `claim`) and
//! its pending SLA timers are cancelled in the same commit ([`super::first_touch::touch`]).

use super::{count, first_touch, lead_state, Env, FlowError, Flows};
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
    flows: &Flows,
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
    let when = click_time(env.now_ms);
    let mut props = Map::new();
    props.insert("hs_lead_status".into(), json!("IN_PROGRESS"));
    let steps = answer_steps(
        &key,
        "mark_claimed",
        contact_id,
        props,
        click,
        format!("Lead claimed by <@{user}> at {when}."),
        format!(":white_check_mark: Claimed by <@{user}> at {when}."),
    );
    count("claim", "claimed");
    let mut completion = Completion {
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
    };
    if let Some(state) = lead_state::load(env.store, &lead_key)?.filter(|s| s.is_open()) {
        let touched = first_touch::touch(flows, env, state, "claim", env.now_ms);
        completion.audit.extend(touched.audit);
        completion.state.extend(touched.state);
        completion.cancel_timers.extend(touched.cancel_timers);
    }
    Ok(completion)
}

/// A click's time as the edited DM shows it (`2026-11-25 15:00 UTC`).
pub(super) fn click_time(now_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(now_ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The two steps that answer a click on a lead DM (claim, reject): write `props` to the
/// contact in the CRM (step `{key}:status`, named `status_step`), then edit the DM the click
/// came from (`channel_id`, `message_ts` of the interaction record) to say what happened:
/// `text` as the notification text, `mrkdwn` as its one section block.
pub(super) fn answer_steps(
    key: &str,
    status_step: &'static str,
    contact_id: &str,
    props: Map<String, serde_json::Value>,
    click: &Record,
    text: String,
    mrkdwn: String,
) -> Vec<(IdempotencyKey, &'static str, serde_json::Value)> {
    vec![
        (
            IdempotencyKey::new(format!("{key}:status")),
            status_step,
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
                channel: click.prop("channel_id").unwrap_or_default(),
                ts: click.prop("message_ts").unwrap_or_default(),
                text,
                blocks: json!([{"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}]),
            }
            .to_json(),
        ),
    ]
}
