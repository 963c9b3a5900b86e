//! Block Kit builders for handoff's one DM (and its edited, claimed form).
//!
//! Shapes follow Block Kit's `section`, `actions`, `context` blocks and the `button` element
//! (<https://api.slack.com/reference/block-kit/blocks>, `…/block-elements#button>`): a button
//! has `type`, `text` (`plain_text`, ≤ 75 chars), `action_id` (≤ 255), and either `value`
//! (≤ 2000 chars, sent back on click) or `url` (≤ 3000 chars, opened in the browser).

use serde_json::{json, Value};

/// `action_id` of the "Claim lead" button; its `value` is the record key.
pub const CLAIM_LEAD_ACTION: &str = "claim_lead";
/// `action_id` of the "Open in CRM" URL button.
pub const OPEN_IN_CRM_ACTION: &str = "open_in_crm";
/// `block_id` of the actions block holding both buttons.
pub const ACTIONS_BLOCK_ID: &str = "handoff_actions";

/// A `section` block with `mrkdwn` text (≤ 3000 chars per Block Kit).
pub fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// A `context` block with one `mrkdwn` element (small grey text).
pub fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
}

/// The "Claim lead" button: `action_id` [`CLAIM_LEAD_ACTION`], `value` = `record_key`
/// (e.g. `hubspot:contacts:42`), `style: primary`.
pub fn claim_button(record_key: &str) -> Value {
    json!({
        "type": "button",
        "text": {"type": "plain_text", "text": "Claim lead", "emoji": true},
        "action_id": CLAIM_LEAD_ACTION,
        "value": record_key,
        "style": "primary"
    })
}

/// The "Open in CRM" URL button (`action_id` [`OPEN_IN_CRM_ACTION`]). Slack still sends a
/// `block_actions` payload when it is clicked; handoff ignores it.
pub fn open_in_crm_button(crm_url: &url::Url) -> Value {
    json!({
        "type": "button",
        "text": {"type": "plain_text", "text": "Open in CRM", "emoji": true},
        "action_id": OPEN_IN_CRM_ACTION,
        "url": crm_url.as_str()
    })
}

/// The DM asking one person to act: the message text, then both buttons.
pub fn handoff_dm(text: &str, record_key: &str, crm_url: &url::Url) -> Vec<Value> {
    vec![
        section(text),
        json!({
            "type": "actions",
            "block_id": ACTIONS_BLOCK_ID,
            "elements": [claim_button(record_key), open_in_crm_button(crm_url)]
        }),
    ]
}

/// The same DM after a claim (for `chat.update`): the text, "Claimed by <@user>" and only the
/// "Open in CRM" button, so the claim cannot be clicked twice.
pub fn claimed_dm(text: &str, claimed_by_user_id: &str, crm_url: &url::Url) -> Vec<Value> {
    vec![
        section(text),
        context(&format!(
            ":white_check_mark: Claimed by <@{claimed_by_user_id}>"
        )),
        json!({
            "type": "actions",
            "block_id": ACTIONS_BLOCK_ID,
            "elements": [open_in_crm_button(crm_url)]
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_carries_claim_value_and_crm_url() {
        let url: url::Url = "https://app.hubspot.com/contacts/1/record/0-1/42"
            .parse()
            .unwrap();
        let blocks = handoff_dm("*New lead*: Ana", "hubspot:contacts:42", &url);
        let elements = blocks[1]["elements"].as_array().unwrap();
        assert_eq!(elements[0]["action_id"], CLAIM_LEAD_ACTION);
        assert_eq!(elements[0]["value"], "hubspot:contacts:42");
        assert_eq!(elements[1]["url"], url.as_str());
        let claimed = claimed_dm("*New lead*: Ana", "U0REP", &url);
        assert!(claimed[1]["elements"][0]["text"]
            .as_str()
            .unwrap()
            .contains("<@U0REP>"));
        assert_eq!(claimed[2]["elements"].as_array().unwrap().len(), 1);
    }
}
