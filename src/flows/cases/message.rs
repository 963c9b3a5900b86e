//! The case DM to the one agent who must act (Block Kit): the detected intent, the last turns
//! of the chat, an account summary, and the buttons "Accept" (`accept_case`, value = the case
//! reference, see [`case_ref`]) and "Open in CRM" (a URL button). An L2 handoff's DM carries
//! the handoff note instead of the turns.
//!
//! Block Kit shapes follow the SDK sample `api/chat.postMessage.json` of `vendor-specs/slack/`
//! (section `text`/`fields`, context `elements`, actions with `button` elements: `action_id`,
//! `text`, `value` at most 2,000 characters, `url`, `style`); a section's `text` is at most
//! 3,000 characters (Block Kit reference), so the note is cut to fit.

use super::super::field;
use serde_json::{json, Map, Value};

/// The `action_id` of the Accept button.
pub const ACCEPT_ACTION: &str = "accept_case";

/// The longest section text Slack takes (Block Kit section `text`: 3,000 characters).
const MAX_SECTION: usize = 3_000;

/// The reference an Accept button carries: `case:<record_key>@<assignment>`, so a click on the
/// DM of an earlier assignment is recognised as stale.
pub fn case_ref(record_key: &str, assignment: u32) -> String {
    format!("case:{record_key}@{assignment}")
}

/// Splits a case reference into `(record_key, assignment)`; `None` if it is not one.
pub fn parse_case_ref(value: &str) -> Option<(&str, u32)> {
    let rest = value.strip_prefix("case:")?;
    let (key, n) = rest.rsplit_once('@')?;
    Some((key, n.parse().ok()?))
}

/// The account as the agent's DM summarises it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountSummary {
    pub name: Option<String>,
    pub tier: Option<String>,
    /// Open cases handoff knows of for the account, this one included.
    pub open_cases: usize,
    /// Recent deals in words (`Acme renewal — 12,000 — Closed Won`), newest first.
    pub deals: Vec<String>,
}

impl AccountSummary {
    /// One line for the DM.
    pub fn line(&self) -> String {
        let Some(name) = self.name.as_deref() else {
            return "*Account:* none linked to this case".to_string();
        };
        let mut parts = vec![format!("*Account:* {name}")];
        if let Some(t) = &self.tier {
            parts.push(format!("tier {t}"));
        }
        parts.push(format!("{} open case(s)", self.open_cases));
        if !self.deals.is_empty() {
            parts.push(format!("deals: {}", self.deals.join("; ")));
        }
        parts.join(" · ")
    }
}

/// What one case DM says.
pub struct CaseMessage<'a> {
    /// The mapped case.
    pub case: &'a Map<String, Value>,
    /// [`case_ref`] of the assignment.
    pub case_ref: &'a str,
    pub crm_url: &'a str,
    /// `L1` or `L2`.
    pub tier: &'a str,
    /// The last turns of the chat (bot cases), oldest first.
    pub turns: &'a [String],
    /// The handoff note (L2).
    pub note: Option<&'a str>,
    pub account: &'a AccountSummary,
    /// Why this agent, in words.
    pub why: &'a str,
}

/// The detected intent: the case's type and subject, with its product.
pub fn intent(case: &Map<String, Value>) -> String {
    let what = [field(case, "type"), field(case, "subject")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(": ");
    let what = if what.is_empty() {
        "no type or subject".to_string()
    } else {
        what
    };
    match field(case, "product") {
        Some(p) => format!("{what} ({p})"),
        None => what,
    }
}

/// The DM: `(fallback text, blocks)`.
pub fn agent_message(m: &CaseMessage<'_>) -> (String, Value) {
    let priority = field(m.case, "priority").unwrap_or("no priority");
    let intent = intent(m.case);
    let text = match m.note {
        None => format!(
            "A customer is waiting ({priority}): {intent}. Accept to take the conversation."
        ),
        Some(_) => {
            format!("Escalated to you ({priority}): {intent}. The handoff note is on the case.")
        }
    };
    let headline = match m.note {
        None => format!("*{} case for you* ({priority}): {intent}", m.tier),
        Some(_) => format!("*Escalated to {}* ({priority}): {intent}", m.tier),
    };
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": headline}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": m.account.line()}}),
    ];
    if !m.turns.is_empty() {
        let turns = m
            .turns
            .iter()
            .map(|t| format!("> {t}"))
            .collect::<Vec<_>>()
            .join("\n");
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": fit(&format!("*Last turns:*\n{turns}"))}}));
    }
    if let Some(note) = m.note {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": fit(&format!("```{note}```"))}}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": m.why}]}));
    blocks.push(json!({"type": "actions", "block_id": "case_actions", "elements": [
        {"type": "button", "action_id": ACCEPT_ACTION, "style": "primary", "text": {"type": "plain_text", "text": "Accept"}, "value": m.case_ref},
        {"type": "button", "action_id": "open_in_crm", "text": {"type": "plain_text", "text": "Open in CRM"}, "url": m.crm_url}
    ]}));
    (text, Value::Array(blocks))
}

fn fit(s: &str) -> String {
    if s.chars().count() <= MAX_SECTION {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX_SECTION - 1).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offer_carries_intent_turns_account_and_both_buttons() {
        let case: Map<String, Value> = serde_json::from_value(json!({
            "type": "Refund request", "subject": "Payment issue", "product": "GoPro Hero",
            "priority": "High"}))
        .unwrap();
        let account = AccountSummary {
            name: Some("Acme".into()),
            tier: Some("Enterprise".into()),
            open_cases: 2,
            deals: vec!["Acme renewal — 12000 — Closed Won".into()],
        };
        let turns = vec!["Visitor: refund please".to_string()];
        let r = case_ref("crm:cases:500A", 1);
        let (text, blocks) = agent_message(&CaseMessage {
            case: &case,
            case_ref: &r,
            crm_url: "https://crm/500A",
            tier: "L1",
            turns: &turns,
            note: None,
            account: &account,
            why: "rule chat_refunds",
        });
        assert!(text.contains("Refund request: Payment issue (GoPro Hero)"));
        let blocks = blocks.as_array().unwrap();
        assert!(blocks[1]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("tier Enterprise · 2 open case(s)"));
        assert!(blocks[2]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("> Visitor: refund please"));
        let actions = &blocks.last().unwrap()["elements"];
        assert_eq!(actions[0]["action_id"], ACCEPT_ACTION);
        assert_eq!(actions[0]["value"], "case:crm:cases:500A@1");
        assert_eq!(actions[1]["url"], "https://crm/500A");
        assert_eq!(
            parse_case_ref("case:crm:cases:500A@3"),
            Some(("crm:cases:500A", 3))
        );
        assert_eq!(parse_case_ref("crm:people:1"), None);
    }
}
