//! "Accept": the agent clicks the button in the case DM; handoff writes them as the case's
//! owner (with `cases.accepted_status`, when set), counts the click as the first response, and
//! edits the DM to say who accepted and when.
//!
//! The click arrives as a verified Slack `block_actions` request, durable in the inbox before
//! Slack gets its 200 (as "Claim lead"). A click on the DM of an earlier assignment (the case
//! was reassigned or escalated since), or on a closed case, changes nothing: the DM is edited
//! once to say so, and the click is audited `case_stale_click`.

use super::super::claim::click_time;
use super::super::writes::CaseUpdate;
use super::message::parse_case_ref;
use super::{count, sla, state, Env, FlowError, Flows};
use crate::outbox::Action;
use crate::state::{AuditEntry, Completion, Saga};
use handoff_connector::{IdempotencyKey, Record, RecordKey};
use serde_json::json;

/// Handles an `accept_case` click. The interaction record's properties are those of
/// [`super::super::claim::decide`]: `action_id`, `value` (the case reference), `user_id`,
/// `channel_id`, `message_ts`.
pub(crate) fn decide(
    flows: &Flows,
    env: &Env<'_>,
    click: &Record,
) -> Result<Completion, FlowError> {
    let value = click.prop("value").unwrap_or_default();
    let bad = || FlowError::BadRecord {
        record: format!("slack:{}:{}", super::super::claim::OBJECT_TYPE, click.id),
        reason: format!("Accept button carries `{value}`, not a case reference"),
    };
    let (record_key, assignment) = parse_case_ref(&value).ok_or_else(bad)?;
    let key: RecordKey = record_key.parse().map_err(|_| bad())?;
    let Some(cfg) = flows.loaded.config.cases.as_ref() else {
        return Ok(Completion::default());
    };
    let Some(mut st) = state::load(env.store, record_key)? else {
        return Err(bad());
    };
    let user = click.prop("user_id").unwrap_or_default();
    let when = click_time(env.now_ms);
    if assignment != st.assignments || st.closed_ms.is_some() {
        let saga_key = format!("case-stale:{value}");
        if env.store.saga(&saga_key)?.is_some() {
            return Ok(Completion::default());
        }
        let text = match (&st.closed_ms, &st.agent_email) {
            (Some(_), _) => "This case is closed; nothing to do here.".to_string(),
            (None, Some(agent)) => format!(
                "This case moved on ({} now, {agent}); nothing to do here.",
                st.tier.as_str()
            ),
            (None, None) => "This case moved on; nothing to do here.".to_string(),
        };
        count("case_accept", "stale");
        return Ok(Completion {
            sagas: vec![Saga::new(
                saga_key.clone(),
                "case_accept",
                record_key,
                vec![message_step(&saga_key, click, &text)],
                env.now_ms,
            )],
            audit: vec![AuditEntry::new(
                env.now_ms,
                record_key,
                "case_stale_click",
                format!("Accept on the DM of assignment {assignment} by {user}; {text}"),
                json!({"slack_user": user, "clicked_assignment": assignment, "current_assignment": st.assignments}),
            )],
            ..Completion::default()
        });
    }
    let saga_key = format!("case-accept:{record_key}@{assignment}");
    if env.store.saga(&saga_key)?.is_some() {
        return Ok(Completion::default());
    }
    let prior = st.clone();
    let update = CaseUpdate {
        owner_id: st.agent_id.clone(),
        status: cfg.accepted_status.clone(),
    };
    let steps = vec![
        (
            IdempotencyKey::new(format!("{saga_key}:owner")),
            "accept_owner",
            flows.case_write(&key, &update)?.to_json(),
        ),
        message_step(
            &saga_key,
            click,
            &format!(":white_check_mark: Accepted by <@{user}> at {when}."),
        ),
    ];
    st.accepted_ms = Some(env.now_ms);
    let mut done = Completion {
        sagas: vec![Saga::new(
            saga_key,
            "case_accept",
            record_key,
            steps,
            env.now_ms,
        )],
        audit: vec![AuditEntry::new(
            env.now_ms,
            record_key,
            "case_accepted",
            format!(
                "{} accepted by {} (Slack {user})",
                st.tier.as_str(),
                st.agent_email.as_deref().unwrap_or("?")
            ),
            json!({"slack_user": user, "assignment": assignment, "agent_email": st.agent_email, "tier": st.tier}),
        )],
        ..Completion::default()
    };
    if st.first_response_ms.is_none() {
        done.merge(sla::responded(env, &mut st, env.now_ms, "accept"));
    }
    count("case_accept", "accepted");
    Ok(super::finish(done, Some(&prior), &st))
}

/// The edit of the DM the click came from, saying `text`.
fn message_step(
    saga_key: &str,
    click: &Record,
    text: &str,
) -> (IdempotencyKey, &'static str, serde_json::Value) {
    (
        IdempotencyKey::new(format!("{saga_key}:message")),
        "update_message",
        Action::SlackUpdate {
            channel: click.prop("channel_id").unwrap_or_default(),
            ts: click.prop("message_ts").unwrap_or_default(),
            text: text.to_string(),
            blocks: json!([{"type": "section", "text": {"type": "mrkdwn", "text": text}}]),
        }
        .to_json(),
    )
}
