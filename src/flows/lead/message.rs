//! The lead DM to its owner: who, from where, why now, and the controls (Block Kit).
//!
//! The `lead_actions` block holds the button `claim_lead` (value = the lead's reference, see
//! [`lead_ref`]), the URL button `open_in_crm`, and the `static_select` `reject_lead` whose
//! option values are `<reason_code>|<lead ref>` (e.g. `not_a_fit|crm:leads:42`), one
//! option per reject reason of the rule set's `sla:` section.
//!
//! The lead reference names the assignment the DM was sent for: the record key for the first
//! owner, `<record_key>@<n>` for the owner of assignment `n` after a reassignment. A click on
//! the DM of an earlier assignment is then recognised as stale (the lead has moved on) and does
//! not count as the current owner's first touch. Block Kit element shapes follow Slack's reference
//! (`static_select`: `action_id`, `placeholder`, `options[]{text, value}`; an option's `text`
//! is at most 75 characters and its `value` at most 150;
//! <https://docs.slack.dev/reference/block-kit/block-elements/select-menu-element>), as in the
//! SDK sample `api/chat.postMessage.json` of `vendor-specs/slack/`.

use super::super::field;
use crate::routing::sla::SlaConfig;
use handoff_connector::{Change, ChangeOrigin};
use serde_json::{json, Map, Value};

/// The `action_id` of the reject menu.
pub const REJECT_ACTION: &str = "reject_lead";

/// The option value of reject reason `code` for the lead reference `lead_ref`:
/// `<code>|<lead ref>`.
pub fn reject_value(code: &str, lead_ref: &str) -> String {
    format!("{code}|{lead_ref}")
}

/// The reference a DM's controls carry for assignment `assignment` of the lead `record_key`:
/// the record key itself for the first assignment, `<record_key>@<assignment>` after that.
pub fn lead_ref(record_key: &str, assignment: u32) -> String {
    if assignment <= 1 {
        record_key.to_string()
    } else {
        format!("{record_key}@{assignment}")
    }
}

/// Splits a lead reference into `(record_key, assignment)` (see [`lead_ref`]); a reference
/// without a valid `@<n>` suffix is assignment 1.
pub fn parse_lead_ref(lead_ref: &str) -> (&str, u32) {
    match lead_ref.rsplit_once('@') {
        Some((key, n)) => match n.parse::<u32>() {
            Ok(n) if n >= 1 => (key, n),
            _ => (lead_ref, 1),
        },
        None => (lead_ref, 1),
    }
}

/// "Why now" in words, for the DM's context line.
pub(crate) fn why_now(lead: &Map<String, Value>, change: &Change, route_words: &str) -> String {
    format!(
        "Why now: became sales-ready ({}) via {}. Routed by {}.",
        field(lead, "lifecycle_stage").unwrap_or("?"),
        match change.origin {
            ChangeOrigin::Webhook => format!("a {} webhook", change.source),
            ChangeOrigin::Poll => format!("the {} change feed", change.source),
            ChangeOrigin::Replay => "an admin replay".to_string(),
        },
        route_words
    )
}

/// The DM to the owner: `(fallback text, blocks)`. `lead_ref` is what the controls carry
/// ([`lead_ref`]); `why` is the context line; `sla` gives the reject reasons.
pub(crate) fn owner_message(
    lead: &Map<String, Value>,
    lead_ref: &str,
    crm_url: &str,
    why: &str,
    sla: &SlaConfig,
) -> (String, Value) {
    let name = [field(lead, "first_name"), field(lead, "last_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let name = if name.is_empty() {
        "(no name)".to_string()
    } else {
        name
    };
    let company = field(lead, "company").unwrap_or("unknown company");
    let text = format!("New lead for you: {name} at {company} — claim it so nobody else calls.");
    let facts = [
        ("Email", field(lead, "email")),
        ("Phone", field(lead, "phone")),
        ("Country", field(lead, "country")),
        ("Stage", field(lead, "lifecycle_stage")),
    ];
    let fields: Vec<Value> = facts
        .iter()
        .filter_map(|(k, v)| v.map(|v| json!({"type": "mrkdwn", "text": format!("*{k}*\n{v}")})))
        .collect();
    let blocks = json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!("*New lead:* {name} at *{company}*")}},
        {"type": "section", "fields": fields},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": why}]},
        {"type": "actions", "block_id": "lead_actions", "elements": [
            {"type": "button", "action_id": "claim_lead", "style": "primary", "text": {"type": "plain_text", "text": "Claim lead"}, "value": lead_ref},
            {"type": "button", "action_id": "open_in_crm", "text": {"type": "plain_text", "text": "Open in CRM"}, "url": crm_url},
            reject_select(lead_ref, sla)
        ]}
    ]);
    (text, blocks)
}

/// The `reject_lead` static select for the lead reference `lead_ref`.
pub(crate) fn reject_select(lead_ref: &str, sla: &SlaConfig) -> Value {
    let options: Vec<Value> = sla
        .reject_reasons
        .iter()
        .map(|(code, label)| {
            json!({"text": {"type": "plain_text", "text": label}, "value": reject_value(code, lead_ref)})
        })
        .collect();
    json!({
        "type": "static_select",
        "action_id": REJECT_ACTION,
        "placeholder": {"type": "plain_text", "text": "Reject…"},
        "options": options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dm_offers_claim_open_and_every_reject_reason() {
        let lead: Map<String, Value> =
            serde_json::from_value(json!({"first_name": "Ana", "company": "Northwind"})).unwrap();
        let (text, blocks) = owner_message(
            &lead,
            "crm:leads:42",
            "https://crm/42",
            "why",
            &SlaConfig::default(),
        );
        assert!(text.contains("Ana at Northwind"));
        let els = blocks[3]["elements"].as_array().unwrap();
        assert_eq!(els[0]["value"], "crm:leads:42");
        assert_eq!(els[2]["type"], "static_select");
        assert_eq!(els[2]["action_id"], REJECT_ACTION);
        let values: Vec<&str> = els[2]["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["value"].as_str().unwrap())
            .collect();
        assert_eq!(values.len(), 4);
        assert!(values.contains(&"not_a_fit|crm:leads:42"));
    }
}
