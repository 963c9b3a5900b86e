//! The handoff note: what an L2 agent needs so the customer never repeats themselves, posted
//! on the case itself (a private comment or note, [`handoff_connector::Crm::add_case_note`]) and sent in the
//! L2 agent's DM.
//!
//! ```text
//! Handoff note: escalation 1 to L2 (status Escalated)
//! Customer asked: Payment issue. I'm having an issue with the product purchased.
//! L1 (ana@example.com) tried:
//! - 2026-12-03 10:02 UTC: Asked for the order number; reset the licence.
//! Status history:
//! - New since 2026-12-03 09:58 UTC
//! - Escalated since 2026-12-03 10:40 UTC
//! Last customer messages:
//! > Visitor: it still fails after the reset
//! Time in L1: 42 min
//! ```
//!
//! A second escalation of the same case gets its own note, headed `escalation 2`, that says
//! when the first was and quotes only the L1 work since then: one note per escalation, never
//! two for one (each is an idempotent step keyed by the escalation number).
//!
//! Case comments hold at most 4,000 characters in one of the two CRMs (unverified: its field
//! reference's length); the note is cut at [`MAX_NOTE_CHARS`] with an ellipsis, leaving room
//! for the idempotency marker.

use super::state::CaseState;
use handoff_connector::{CaseComment, Conversation};

/// The longest note handoff writes, in characters (before the marker line).
pub const MAX_NOTE_CHARS: usize = 3_800;

/// The longest quote of one comment or message, in characters.
const MAX_QUOTE: usize = 280;

/// Everything a note is written from.
pub struct NoteInput<'a> {
    /// The escalation this note is for (1 = the first).
    pub escalation: u32,
    /// Why the case was escalated, in words (`status Escalated`, `open 8 h in L1`).
    pub reason: &'a str,
    /// The case's mapped `subject` and `description`.
    pub subject: &'a str,
    pub description: &'a str,
    /// The case as handoff holds it (statuses, times).
    pub state: &'a CaseState,
    /// Who worked the case before the escalation (email), if known.
    pub l1_agent: Option<&'a str>,
    /// The case's comments, oldest first.
    pub comments: &'a [CaseComment],
    /// Owner ids of the support team (comments they wrote are L1 work; others are the
    /// customer's).
    pub agent_ids: &'a [String],
    /// The chat conversation, if the case came from one.
    pub conversation: Option<&'a Conversation>,
    /// Customer messages to quote.
    pub last_messages: usize,
    /// When the previous escalation happened, UTC ms (for escalation 2 and later).
    pub previous_escalation_ms: Option<i64>,
    /// Now, UTC ms.
    pub now_ms: i64,
}

/// The note's text (see the module docs), at most [`MAX_NOTE_CHARS`] characters.
pub fn compose(input: &NoteInput<'_>) -> String {
    let st = input.state;
    let mut out = format!(
        "Handoff note: escalation {} to L2 ({})\n",
        input.escalation, input.reason
    );
    if let Some(prev) = input.previous_escalation_ms {
        out.push_str(&format!(
            "Escalated before on {}; this note adds what happened since.\n",
            utc(prev)
        ));
    }
    let asked = [input.subject, input.description]
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(". ");
    out.push_str(&format!(
        "Customer asked: {}\n",
        if asked.is_empty() {
            "(no subject or description)".to_string()
        } else {
            quote(&asked)
        }
    ));
    let since = input.previous_escalation_ms.unwrap_or(i64::MIN);
    let tried: Vec<&CaseComment> = input
        .comments
        .iter()
        .filter(|c| c.created_ms > since && is_agent(c, input.agent_ids))
        .filter(|c| !c.body.contains("[handoff:"))
        .collect();
    let l1 = input.l1_agent.unwrap_or("unassigned");
    if tried.is_empty() {
        out.push_str(&format!("L1 ({l1}) tried: nothing recorded on the case.\n"));
    } else {
        out.push_str(&format!("L1 ({l1}) tried:\n"));
        for c in tried {
            out.push_str(&format!("- {}: {}\n", utc(c.created_ms), quote(&c.body)));
        }
    }
    if !st.statuses.is_empty() {
        out.push_str("Status history:\n");
        for s in &st.statuses {
            out.push_str(&format!("- {} since {}\n", s.status, utc(s.at_ms)));
        }
    }
    let messages = customer_messages(input);
    if !messages.is_empty() {
        out.push_str("Last customer messages:\n");
        for m in messages {
            out.push_str(&format!("> {}\n", quote(&m)));
        }
    }
    out.push_str(&format!(
        "Time in L1: {}\n",
        duration_words(st.l1_ms(input.now_ms))
    ));
    cut(out)
}

/// Whether a comment is the support team's work (its writer is one of `agent_ids`).
fn is_agent(c: &CaseComment, agent_ids: &[String]) -> bool {
    c.author_id
        .as_ref()
        .is_some_and(|a| agent_ids.iter().any(|id| id == a))
}

/// The customer's last messages: public comments not written by the team, then the chat's
/// visitor turns (lines that do not start with the bot's or an agent's name are the
/// customer's when the transcript names speakers `Visitor:`/`Customer:`), newest last.
fn customer_messages(input: &NoteInput<'_>) -> Vec<String> {
    let mut messages: Vec<String> = Vec::new();
    if let Some(conv) = input.conversation {
        messages.extend(
            conv.body
                .lines()
                .map(str::trim)
                .filter(|l| is_customer_turn(l))
                .map(str::to_string),
        );
    }
    messages.extend(
        input
            .comments
            .iter()
            .filter(|c| c.public && !is_agent(c, input.agent_ids))
            .map(|c| c.body.trim().to_string()),
    );
    let n = messages.len().saturating_sub(input.last_messages);
    messages.split_off(n)
}

/// A transcript line spoken by the customer (`Visitor: …`, `Customer: …`, optionally after a
/// `( 12s )` time stamp, as chat transcripts write turns).
pub fn is_customer_turn(line: &str) -> bool {
    let line = line
        .strip_prefix('(')
        .and_then(|l| l.split_once(')'))
        .map_or(line, |(_, rest)| rest)
        .trim_start();
    ["visitor:", "customer:"]
        .iter()
        .any(|p| line.to_ascii_lowercase().starts_with(p))
}

/// The last `n` turns of a conversation (any speaker), for the agent's DM.
pub fn last_turns(conv: &Conversation, n: usize) -> Vec<String> {
    let turns: Vec<String> = conv
        .body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let skip = turns.len().saturating_sub(n);
    turns.into_iter().skip(skip).collect()
}

/// One line of a comment or message, shortened to [`MAX_QUOTE`] characters.
fn quote(s: &str) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX_QUOTE {
        flat
    } else {
        format!("{}…", flat.chars().take(MAX_QUOTE).collect::<String>())
    }
}

fn cut(s: String) -> String {
    if s.chars().count() <= MAX_NOTE_CHARS {
        return s;
    }
    format!(
        "{}…\n",
        s.chars().take(MAX_NOTE_CHARS - 2).collect::<String>()
    )
}

/// `2026-12-03 10:02 UTC`.
pub fn utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| format!("{ms} ms"))
}

/// `42 min`, `3 h 5 min`, `2 d 4 h`.
pub fn duration_words(ms: i64) -> String {
    let min = ms.max(0) / 60_000;
    match min {
        m if m < 60 => format!("{m} min"),
        m if m < 24 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} d {} h", m / (24 * 60), (m / 60) % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(id: &str, body: &str, public: bool, at: i64, by: Option<&str>) -> CaseComment {
        CaseComment {
            id: id.into(),
            body: body.into(),
            public,
            created_ms: at,
            author_id: by.map(str::to_string),
        }
    }

    fn state() -> CaseState {
        let mut s = CaseState::new("crm:cases:500A", true, "High", 0);
        s.observe_status("New", 0);
        s.observe_status("Escalated", 2_520_000);
        s.assign("ana@example.com", "005A", 60_000);
        s
    }

    #[test]
    fn the_note_says_what_was_asked_tried_and_said_with_times() {
        let st = state();
        let comments = vec![
            comment("1", "Reset the licence.", false, 600_000, Some("005A")),
            comment("2", "still broken", true, 900_000, None),
            comment("3", "older note [handoff:x]", false, 950_000, Some("005A")),
        ];
        let conv = Conversation {
            body:
                "( 1s ) Bot: Hi!\n( 5s ) Visitor: my payment failed\n( 9s ) Bot: Let me get someone"
                    .into(),
            is_bot: true,
            ended_ms: None,
        };
        let text = compose(&NoteInput {
            escalation: 1,
            reason: "status Escalated",
            subject: "Payment issue",
            description: "I'm having an issue with the product purchased.",
            state: &st,
            l1_agent: Some("ana@example.com"),
            comments: &comments,
            agent_ids: &["005A".to_string()],
            conversation: Some(&conv),
            last_messages: 3,
            previous_escalation_ms: None,
            now_ms: 2_520_000,
        });
        assert!(text.starts_with("Handoff note: escalation 1 to L2 (status Escalated)\n"));
        assert!(text.contains("Customer asked: Payment issue. I'm having an issue"));
        assert!(text
            .contains("L1 (ana@example.com) tried:\n- 1970-01-01 00:10 UTC: Reset the licence.\n"));
        assert!(
            !text.contains("older note"),
            "handoff's own notes are not L1 work"
        );
        assert!(text.contains("- Escalated since 1970-01-01 00:42 UTC"));
        assert!(text.contains("> ( 5s ) Visitor: my payment failed\n> still broken\n"));
        assert!(text.contains("Time in L1: 42 min"));
    }

    #[test]
    fn a_second_escalation_quotes_only_what_happened_since_the_first() {
        let st = state();
        let comments = vec![
            comment("1", "first try", false, 600_000, Some("005A")),
            comment("2", "second try", false, 3_000_000, Some("005A")),
        ];
        let text = compose(&NoteInput {
            escalation: 2,
            reason: "reopened 2 times",
            subject: "S",
            description: "",
            state: &st,
            l1_agent: Some("ana@example.com"),
            comments: &comments,
            agent_ids: &["005A".to_string()],
            conversation: None,
            last_messages: 3,
            previous_escalation_ms: Some(2_000_000),
            now_ms: 3_600_000,
        });
        assert!(text.starts_with("Handoff note: escalation 2 to L2"));
        assert!(text.contains("Escalated before on 1970-01-01 00:33 UTC"));
        assert!(text.contains("second try") && !text.contains("first try"));
    }

    #[test]
    fn long_notes_are_cut_and_turns_are_recognised() {
        let st = state();
        let long = "x".repeat(500);
        let comments: Vec<CaseComment> = (0..40)
            .map(|i| comment(&i.to_string(), &long, false, 600_000 + i, Some("005A")))
            .collect();
        let text = compose(&NoteInput {
            escalation: 1,
            reason: "r",
            subject: "S",
            description: "",
            state: &st,
            l1_agent: Some("ana@example.com"),
            comments: &comments,
            agent_ids: &["005A".to_string()],
            conversation: None,
            last_messages: 3,
            previous_escalation_ms: None,
            now_ms: 1,
        });
        assert!(text.chars().count() <= MAX_NOTE_CHARS);
        assert!(text.ends_with("…\n"));
        assert!(is_customer_turn("( 12s ) Visitor: hi"));
        assert!(is_customer_turn("Customer: hi"));
        assert!(!is_customer_turn("( 12s ) Bot: hi"));
        assert_eq!(duration_words(3 * 3_600_000 + 5 * 60_000), "3 h 5 min");
        assert_eq!(duration_words(50 * 3_600_000), "2 d 2 h");
    }
}
