//! Tests of the ticket → case mapping, the chatbot transcript, the L1 comment and the
//! simulation's choices of which tickets escalate and when closed ones close.

use super::*;
use crate::flows::cases::note::is_customer_turn;

/// Ticket 3 of the dataset, a chat.
fn chat() -> Ticket {
    Ticket {
        ticket_id: 3,
        customer_name: "David Williams".into(),
        customer_email: "david_williams@example.com".into(),
        product: "Canon DSLR Camera".into(),
        date_of_purchase: Some("2021-10-27".into()),
        ticket_type: "Billing inquiry".into(),
        subject: "Product compatibility".into(),
        description: "I'm having an issue with the product purchased.".into(),
        status: "Open".into(),
        resolution: None,
        priority: "High".into(),
        channel: "Chat".into(),
        first_response_time: Some("2023-06-01 13:01:03".into()),
        time_to_resolution: None,
    }
}

#[test]
fn a_ticket_becomes_a_case_with_its_fields_as_they_are() {
    let t = chat();
    let seed = case_seed(&t, None, None);
    assert_eq!(seed.subject, "Product compatibility");
    assert_eq!(
        seed.description,
        "I'm having an issue with the product purchased."
    );
    assert_eq!(seed.priority, "High");
    assert_eq!(seed.origin, "Chat");
    assert_eq!(seed.case_type, "Billing inquiry");
    assert_eq!(seed.product, "Canon DSLR Camera");
    assert_eq!(seed.email, "david_williams@example.com");
    assert_eq!((seed.account_id, seed.owner_id), (None, None));
    let linked = case_seed(&t, Some("001A"), Some("005B"));
    assert_eq!(
        (linked.account_id, linked.owner_id),
        (Some("001A"), Some("005B"))
    );
    // Accounts are matched by the email's domain.
    assert_eq!(
        email_domain("Ana.Lima@AcmeCorporation.com").as_deref(),
        Some("acmecorporation.com")
    );
    assert_eq!(email_domain("no-at-sign"), None);
    assert_eq!(
        email_domain(&t.customer_email).as_deref(),
        Some("example.com")
    );
}

#[test]
fn the_transcript_is_bot_and_visitor_turns_from_the_ticket() {
    let mut t = chat();
    t.subject = "Data loss <urgent> & more".into();
    let body = transcript(&t);
    assert!(
        body.starts_with("( 2s ) Bot: Hi David, I'm the support bot."),
        "{body}"
    );
    assert!(body.contains("<br>( 9s ) Visitor: Data loss &lt;urgent&gt; &amp; more with my Canon DSLR Camera. I'm having an issue with the product purchased."), "{body}");
    assert!(body.contains("I can help with a billing inquiry. Is it about your Canon DSLR Camera bought on 2021-10-27?"), "{body}");
    assert!(body.contains("Visitor: Yes. I was charged and I do not understand the amount."));
    // As the CRM connector reads it back: five turns, two the customer's, entities decoded.
    let plain = handoff_salesforce::crm::cases::transcript_text(&body);
    let lines: Vec<&str> = plain.lines().collect();
    assert_eq!(lines.len(), 5, "{plain}");
    let customer: Vec<&&str> = lines.iter().filter(|l| is_customer_turn(l)).collect();
    assert_eq!(customer.len(), 2, "{plain}");
    assert!(customer[0].contains("Data loss <urgent> & more"));
    assert!(lines[4].ends_with("Bot: Thanks. I'm connecting you with an agent now."));

    let mut social = chat();
    social.channel = "Social media".into();
    social.ticket_type = "Refund request".into();
    social.date_of_purchase = None;
    let body = transcript(&social);
    assert!(body.contains("thanks for your message!"), "{body}");
    assert!(
        body.contains("Is it about your Canon DSLR Camera?"),
        "{body}"
    );
    assert!(body.contains("Visitor: Yes. I would like my money back."));
}

#[test]
fn the_l1_comment_says_what_was_tried_from_the_resolution_or_the_type() {
    let t = chat();
    let c = l1_work(&t);
    assert!(
        c.starts_with("Ticket #3 (Billing inquiry, High): checked the invoices"),
        "{c}"
    );
    assert!(c.ends_with("escalating to L2."), "{c}");
    let mut resolved = chat();
    resolved.resolution = Some("Replacement sent to customer.".into());
    assert!(l1_work(&resolved).contains("tried: Replacement sent to customer. Not solved"));
}

#[test]
fn unresolved_urgent_tickets_escalate_and_closed_ones_close_after_their_resolution_time() {
    let mut t = chat();
    assert!(escalates(&t) && !closes(&t));
    t.priority = "Critical".into();
    t.status = "Pending Customer Response".into();
    assert!(escalates(&t));
    t.priority = "Medium".into();
    assert!(!escalates(&t));
    t.priority = "High".into();
    t.status = "Closed".into();
    assert!(!escalates(&t) && closes(&t));

    // 2 h 30 min from first response to resolution.
    t.first_response_time = Some("2023-06-01 10:00:00".into());
    t.time_to_resolution = Some("2023-06-01 12:30:00".into());
    assert_eq!(close_delay_ms(&t), 150 * 60_000);
    // Resolved before the first response (the dataset's quirk): soon after arriving.
    t.time_to_resolution = Some("2023-06-01 04:00:00".into());
    assert_eq!(close_delay_ms(&t), 20 * 60_000);
    // A day: capped, so it closes inside the simulated period.
    t.time_to_resolution = Some("2023-06-02 10:00:00".into());
    assert_eq!(close_delay_ms(&t), MAX_CLOSE_DELAY_MS);
    t.time_to_resolution = None;
    assert_eq!(close_delay_ms(&t), 20 * 60_000);

    let d = escalate_after_ms(&t);
    assert!((10 * 60_000..40 * 60_000).contains(&d), "{d}");
}

#[test]
fn the_embedded_tickets_have_bot_cases_escalations_and_closures() {
    let data = crate::sandbox::data::Dataset::embedded().unwrap();
    let cfg: CasesConfig =
        serde_saphyr::from_str("mapping: m\nupdate_mapping: u\nrules: r.yaml\n").unwrap();
    let bot = data
        .tickets
        .iter()
        .filter(|t| cfg.is_bot_origin(&t.channel))
        .count();
    let esc = data.tickets.iter().filter(|t| escalates(t)).count();
    let closed = data.tickets.iter().filter(|t| closes(t)).count();
    assert!(bot > 200 && bot < 300, "{bot}");
    assert!(esc > 100, "{esc}");
    assert!(closed > 100, "{closed}");
}

#[test]
fn the_support_rules_name_exactly_the_seeded_support_team() {
    use std::collections::BTreeSet;
    let rules = crate::sandbox::bundled::bundled_support_rules().unwrap();
    let mut named: BTreeSet<String> = BTreeSet::new();
    named.insert(rules.fallback_owner().to_lowercase());
    for t in rules.teams() {
        named.extend(t.members.iter().map(|m| m.email.to_lowercase()));
        named.extend(t.members.iter().map(|m| m.manager.to_lowercase()));
    }
    let seeded: BTreeSet<String> = crate::sandbox::seed::SUPPORT
        .iter()
        .map(|(first, last, _)| crate::sandbox::data::person_email(&format!("{first} {last}")))
        .collect();
    assert_eq!(named, seeded);
    let tier = |p: &str| {
        rules
            .teams()
            .iter()
            .filter(|t| t.name.starts_with(p))
            .count()
    };
    assert_eq!((tier("L1"), tier("L2")), (4, 2));
}

#[test]
fn rounds_are_the_next_mark_of_their_grid() {
    assert_eq!(next_round(0, CLOSE_ROUND_MS), 0);
    assert_eq!(next_round(1, CLOSE_ROUND_MS), CLOSE_ROUND_MS);
    assert_eq!(next_round(CLOSE_ROUND_MS, CLOSE_ROUND_MS), CLOSE_ROUND_MS);
    // 2026-11-19 15:03:20 UTC → 15:30 and 16:00.
    let t = 1_795_100_400_000 + 200_000;
    assert_eq!(
        next_round(t, ESCALATION_ROUND_MS),
        1_795_100_400_000 + 1_800_000
    );
    assert_eq!(next_round(t, CLOSE_ROUND_MS), 1_795_100_400_000 + 3_600_000);
}
