//! "Claim lead": the owner clicks the button in the DM; handoff records the claim, sets the
//! lead status in the CRM and edits the message so it shows who claimed it and when.
//!
//! The click arrives as a verified Slack `block_actions` request, which the server turns into a
//! change (source `slack`, object type [`OBJECT_TYPE`]) in the inbox like any other, so it is
//! durable before Slack gets its 200.
//!
//! A claim is a first touch: a lead of record still `Open` becomes `Touched` (by `claim`) and
//! its pending SLA timers are cancelled in the same commit ([`super::first_touch::touch`]).

use super::lead::message::parse_lead_ref;
use super::lead_state::{self, LeadState};
use super::writes::{LeadStatusWord, LeadUpdate};
use super::{count, first_touch, Env, FlowError, Flows};
use crate::outbox::Action;
use crate::state::{AuditEntry, Completion, Saga};
use handoff_connector::{IdempotencyKey, ObjectKind, Record, RecordKey};
use serde_json::json;

/// Object type of Slack interaction changes.
pub const OBJECT_TYPE: &str = "block_actions";

/// The saga key of a lead's claim for one assignment: `claim:<lead ref>` (the lead reference
/// of [`super::lead::message::lead_ref`]: the record key for the first owner, so
/// `claim:<record key>`; `claim:<record key>@2` for the second). First claim wins.
pub fn saga_key(lead_ref: &str) -> String {
    format!("claim:{lead_ref}")
}

/// A click on the DM of an earlier assignment (the lead was reassigned since): no claim, no
/// first touch; the old DM is edited to say who owns the lead now, once, and the click is
/// audited as `stale_click`. `None` when the click is for the current assignment (or the lead
/// has no lead of record).
pub(super) fn stale_click(
    env: &Env<'_>,
    click: &Record,
    lead_ref: &str,
    assignment: u32,
    state: Option<&LeadState>,
) -> Result<Option<Completion>, FlowError> {
    let Some(state) = state.filter(|s| s.assignments > assignment) else {
        return Ok(None);
    };
    let key = format!("stale:{lead_ref}");
    if env.store.saga(&key)?.is_some() {
        return Ok(Some(Completion::default()));
    }
    let user = click.prop("user_id").unwrap_or_default();
    let text = format!(
        "This lead was reassigned to {} (no first touch within the SLA); nothing to do here.",
        state.owner_email
    );
    let step = (
        IdempotencyKey::new(format!("{key}:message")),
        "update_message",
        Action::SlackUpdate {
            channel: click.prop("channel_id").unwrap_or_default(),
            ts: click.prop("message_ts").unwrap_or_default(),
            text: text.clone(),
            blocks: json!([{"type": "section", "text": {"type": "mrkdwn", "text": format!(":arrow_right: {text}")}}]),
        }
        .to_json(),
    );
    count("claim", "stale");
    Ok(Some(Completion {
        sagas: vec![Saga::new(
            key,
            "claim",
            &state.record_key,
            vec![step],
            env.now_ms,
        )],
        audit: vec![AuditEntry::new(
            env.now_ms,
            &state.record_key,
            "stale_click",
            format!(
                "{} on the DM of assignment {assignment} by {user}; assignment {} ({}) owns the lead",
                click.prop("action_id").unwrap_or_default(),
                state.assignments,
                state.owner_email
            ),
            json!({
                "action_id": click.prop("action_id"),
                "slack_user": user,
                "clicked_assignment": assignment,
                "current_assignment": state.assignments,
                "owner_email": state.owner_email,
            }),
        )],
        ..Completion::default()
    }))
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
    let value = click.prop("value").unwrap_or_default();
    let (lead_key, assignment) = parse_lead_ref(&value);
    let lead_key = lead_key.to_string();
    let record = lead_record(env, &lead_key).ok_or_else(|| FlowError::BadRecord {
        record: format!("slack:{OBJECT_TYPE}:{}", click.id),
        reason: format!(
            "claim button carries `{value}`, not the key of a {} lead",
            env.crm.system()
        ),
    })?;
    let state = lead_state::load(env.store, &lead_key)?;
    if let Some(stale) = stale_click(env, click, &value, assignment, state.as_ref())? {
        return Ok(stale);
    }
    let key = saga_key(&value);
    if env.store.saga(&key)?.is_some() {
        return Ok(Completion::default());
    }
    let user = click.prop("user_id").unwrap_or_default();
    let when = click_time(env.now_ms);
    let write = flows.lead_write(&record, &LeadUpdate::status(LeadStatusWord::Working))?;
    let steps = answer_steps(
        &key,
        "mark_claimed",
        write,
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
    if let Some(state) = state.filter(|s| s.is_open()) {
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

/// The lead record a button carries (`lead_key`), if it is a lead of the configured CRM.
pub(super) fn lead_record(env: &Env<'_>, lead_key: &str) -> Option<RecordKey> {
    let key: RecordKey = lead_key.parse().ok()?;
    (env.kind_of(&key) == Some(ObjectKind::Lead)).then_some(key)
}

/// The two steps that answer a click on a lead DM (claim, reject): the CRM `write` (step
/// `{key}:status`, named `status_step`), then an edit of the DM the click came from
/// (`channel_id`, `message_ts` of the interaction record) to say what happened: `text` as the
/// notification text, `mrkdwn` as its one section block.
pub(super) fn answer_steps(
    key: &str,
    status_step: &'static str,
    write: Action,
    click: &Record,
    text: String,
    mrkdwn: String,
) -> Vec<(IdempotencyKey, &'static str, serde_json::Value)> {
    vec![
        (
            IdempotencyKey::new(format!("{key}:status")),
            status_step,
            write.to_json(),
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
