//! Support's case handoffs, black-box: an in-process daemon against the Salesforce emulator
//! with `cases:` on, on a manual clock.
//!
//! * A chat case with a bot transcript is offered to one L1 agent (DM with the intent, the
//!   last turns, the account and "Accept"); Accept writes the owner and the accepted status and
//!   is the first response.
//! * An L1 case escalated twice gets one handoff note per escalation on the case (never two
//!   for one, whatever the feed repeats), one L2 owner each time, and one DM per escalation.
//! * A bot case escalated while every L2 agent is out of office goes to the fallback, with the
//!   reason recorded.
//! * An unanswered offer: reminder, breach DM to the pool's lead, reassignment to the other L1
//!   agent; Accept on the old DM is stale.
//! * An L2 owner's public comment is the first response: no breach follows.
//! * A case handoff opened itself (an onboarding case) is left alone.
//! * A Low case still in L1 after its age limit (30 business minutes) is escalated once, even
//!   when handoff's own status write comes back through the feed.

mod common;

use common::*;
use handoff::clock::ManualClock;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const MIN: Duration = Duration::from_secs(60);
/// Tuesday 2026-11-24 12:00 UTC.
const T0_MS: i64 = 1_795_521_600_000;

const L1: [&str; 2] = ["wendy.west@example.com", "walt.west@example.com"];
const L2: [&str; 2] = ["erin.east@example.com", "ed.east@example.com"];
const L1_LEAD: &str = "cleo.central@example.com";
const L2_LEAD: &str = "cal.central@example.com";
const FALLBACK: &str = "cody.csm@example.com";

/// The support team: L1 (West reps, led by Cleo) and L2 (East reps, led by Cal), open around
/// the clock; a 10-minute first response for High and Critical with a reassignment 5 minutes
/// after the breach. `out_of_office` is spliced in as YAML.
fn support_rules(out_of_office: &str) -> String {
    format!(
        r#"name: support-test
teams:
  - name: L1
    time_zone: UTC
    hours: {{ days: [mon, tue, wed, thu, fri, sat, sun], open: "00:00", close: "23:59" }}
    groups:
      - {{ manager: {L1_LEAD}, reps: [{l1a}, {l1b}] }}
  - name: L2
    time_zone: UTC
    hours: {{ days: [mon, tue, wed, thu, fri, sat, sun], open: "00:00", close: "23:59" }}
    groups:
      - {{ manager: {L2_LEAD}, reps: [{l2a}, {l2b}] }}
{out_of_office}rules:
  - {{ name: l2_pool, when: [{{ field: support_tier, equals: L2 }}], strategy: round_robin, pool: {{ team: L2 }}, when_nobody_available: defer }}
  - {{ name: l1_chat, when: [{{ field: support_tier, equals: L1 }}], strategy: least_loaded, pool: {{ team: L1 }} }}
fallback: {{ owner: {FALLBACK} }}
sla:
  policies:
    - name: urgent
      when: [{{ field: priority, in: [High, Critical] }}]
      first_touch: 10m
      clock: business
      remind_at: 0.5
      reassign_after: 5m
      max_reassignments: 1
"#,
        l1a = L1[0],
        l1b = L1[1],
        l2a = L2[0],
        l2b = L2[1],
    )
}

const CASES_EXTRA: &str = "  accepted_status: accepted\n  escalate_when:\n    statuses: [Escalated]\n    flag: escalated\n    age: { Low: 30m }\n";

struct T {
    env: TestEnv,
    clock: Arc<ManualClock>,
}

impl T {
    async fn start(out_of_office: &str) -> T {
        let mut env = TestEnv::new(Options::on(CrmKind::Salesforce)).await;
        env.use_cases(&support_rules(out_of_office), CASES_EXTRA);
        let clock = Arc::new(ManualClock::new(T0_MS));
        env.clock = Some(clock.clone());
        env.follow_clock();
        env.start_in_process().await;
        T { env, clock }
    }

    fn rk(&self, id: &str) -> String {
        format!("salesforce:Case:{id}")
    }

    /// A case as a customer's channel opens it (owned by the integration user, as a bot or
    /// Email-to-Case creates it).
    fn open_case(&self, origin: &str, priority: &str, subject: &str) -> String {
        self.env.salesforce.create(
            "Case",
            props(
                json!({"Subject": subject, "Origin": origin, "Priority": priority,
                "Status": "New", "Type": "Technical issue", "Product__c": "GoPro Hero",
                "Description": "I'm having an issue with the product purchased."}),
            ),
        )
    }

    /// The L1 agent `email` edits the case.
    fn agent_sets(&self, email: &str, id: &str, fields: Value) {
        let user = self.env.owner_ids[email].clone();
        self.env
            .salesforce
            .update_as(&user, "Case", id, props(fields))
            .unwrap();
    }

    async fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.env.follow_clock();
        self.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    }

    async fn wait_dm(&self, key: &str) -> Value {
        assert!(
            wait_until(WAIT, || self.env.messages_with_key(key).len() == 1).await,
            "no message {key}"
        );
        self.env.messages_with_key(key).remove(0)
    }

    async fn click_accept(&self, dm: &Value, who: &str) -> u16 {
        let user = self.env.slack_ids[who].clone();
        self.env
            .slack
            .click(
                dm["channel"].as_str().unwrap(),
                dm["ts"].as_str().unwrap(),
                "accept_case",
                &user,
            )
            .await
            .unwrap()
            .as_u16()
    }

    fn case(&self, id: &str) -> Value {
        self.env.salesforce.get("Case", id).unwrap()
    }

    fn owner_of(&self, id: &str) -> Option<String> {
        let owner = self.case(id)["OwnerId"].as_str()?.to_string();
        self.env.owner_email(&owner)
    }

    fn notes(&self, id: &str) -> Vec<String> {
        self.env
            .salesforce
            .case_comments(id)
            .iter()
            .filter_map(|c| c["CommentBody"].as_str().map(str::to_string))
            .filter(|b| b.starts_with("Handoff note"))
            .collect()
    }
}

fn button_value(dm: &Value, action: &str) -> Option<String> {
    dm["blocks"]
        .as_array()?
        .iter()
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .find(|e| e["action_id"] == action)
        .and_then(|e| e["value"].as_str().map(str::to_string))
}

fn dm_text(dm: &Value) -> String {
    dm["blocks"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_case_is_offered_to_one_l1_agent_and_accept_writes_the_owner() {
    let t = T::start("").await;
    let id = t.open_case("Chat", "High", "Payment issue");
    t.env
        .salesforce
        .add_transcript(
            &id,
            "( 1s ) Bot: Hi, how can I help?<br>( 4s ) Visitor: my payment failed twice<br>( 7s ) Bot: Let me get a person",
            true,
            None,
        )
        .unwrap();
    let rk = t.rk(&id);
    let dm = t.wait_dm(&format!("case-offer:{rk}@1:dm")).await;
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let agent = t.env.audit_events(&rk, "case_offered").await[0]["detail"]["agent_email"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(L1.contains(&agent.as_str()), "an L1 agent: {agent}");
    let text = dm_text(&dm);
    assert!(
        text.contains("Technical issue: Payment issue (GoPro Hero)"),
        "{text}"
    );
    assert!(text.contains("Visitor: my payment failed twice"), "{text}");
    assert_eq!(
        button_value(&dm, "accept_case").unwrap(),
        format!("case:{rk}@1")
    );
    assert_eq!(
        t.env
            .messages_with_key(&format!("case-offer:{rk}@1:dm"))
            .len(),
        1
    );
    assert_ne!(
        t.owner_of(&id).as_deref(),
        Some(agent.as_str()),
        "not before Accept"
    );

    t.advance(2 * MIN).await;
    assert_eq!(t.click_accept(&dm, &agent).await, 200);
    let first = t.env.wait_audit(&rk, "case_first_response", WAIT).await;
    assert_eq!(first[0]["detail"]["by"], "accept");
    assert_eq!(first[0]["detail"]["waited_ms"], 120_000);
    assert_eq!(first[0]["detail"]["within_sla"], true);
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert_eq!(t.owner_of(&id).as_deref(), Some(agent.as_str()));
    assert_eq!(t.case(&id)["Status"], "Working");
    // The SLA ended: no reminder, no breach later.
    t.advance(30 * MIN).await;
    assert!(t
        .env
        .audit_events(&rk, "case_sla_reminder")
        .await
        .is_empty());
    assert!(t
        .env
        .audit_events(&rk, "case_sla_breached")
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalated_case_gets_one_note_per_escalation_and_one_l2_owner() {
    let t = T::start("").await;
    let id = t.open_case("Email", "Medium", "Hardware issue");
    let rk = t.rk(&id);
    let opened = t.env.wait_audit(&rk, "case_opened", WAIT).await;
    assert_eq!(opened[0]["detail"]["bot"], false);
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert!(
        t.env.salesforce.case_comments(&id).is_empty(),
        "no offer for an email case"
    );
    // The L1 agent works it, then escalates.
    t.agent_sets(
        L1[0],
        &id,
        json!({"OwnerId": t.env.owner_ids[L1[0]], "Status": "Working"}),
    );
    t.advance(MIN).await;
    t.env
        .salesforce
        .add_case_comment(
            &t.env.owner_ids[L1[0]],
            &id,
            "Reset the device; no change.",
            false,
        )
        .unwrap();
    t.env
        .salesforce
        .add_case_comment(
            &t.env.salesforce.ui_user_id(),
            &id,
            "still broken after the reset",
            true,
        )
        .unwrap();
    t.advance(20 * MIN).await;
    t.agent_sets(L1[0], &id, json!({"Status": "Escalated"}));
    let dm1 = t.wait_dm(&format!("case-escalation:{rk}:1:dm")).await;
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let notes = t.notes(&id);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("Handoff note: escalation 1 to L2 (status Escalated)"));
    assert!(
        notes[0].contains("Reset the device; no change."),
        "{}",
        notes[0]
    );
    assert!(
        notes[0].contains("> still broken after the reset"),
        "{}",
        notes[0]
    );
    assert!(notes[0].contains("- Escalated since"), "{}", notes[0]);
    let l2_first = t.owner_of(&id).unwrap();
    assert!(L2.contains(&l2_first.as_str()), "an L2 owner: {l2_first}");
    assert!(dm_text(&dm1).contains("Handoff note: escalation 1"));
    let in_dm: Vec<Value> = t.env.slack.dm_messages_for(&l2_first);
    assert_eq!(in_dm.len(), 1, "one DM to the L2 agent");

    // The feed brings the same version again (overlap): nothing new.
    t.advance(MIN).await;
    assert_eq!(t.notes(&id).len(), 1);
    // Back to work, then escalated again: a second note, never a duplicate of the first.
    t.agent_sets(&l2_first, &id, json!({"Status": "Working"}));
    t.advance(MIN).await;
    t.agent_sets(&l2_first, &id, json!({"Status": "Escalated"}));
    t.wait_dm(&format!("case-escalation:{rk}:2:dm")).await;
    t.advance(MIN).await;
    let notes = t.notes(&id);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[1].starts_with("Handoff note: escalation 2 to L2"));
    assert!(notes[1].contains("Escalated before on"));
    let escalated = t.env.audit_events(&rk, "case_escalated").await;
    assert_eq!(escalated.len(), 2);
    assert!(L2.contains(&t.owner_of(&id).unwrap().as_str()));
    assert!(t.env.dead_letters().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_case_escalated_while_every_l2_agent_is_away_goes_to_the_fallback_with_the_reason() {
    let away = format!(
        "out_of_office:\n  - {{ rep: {}, from: 2026-11-23, to: 2026-11-27 }}\n  - {{ rep: {}, from: 2026-11-23, to: 2026-11-27 }}\n",
        L2[0], L2[1]
    );
    let t = T::start(&away).await;
    let id = t.open_case("Chat", "Critical", "Account locked");
    let rk = t.rk(&id);
    t.wait_dm(&format!("case-offer:{rk}@1:dm")).await;
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let agent = t.env.audit_events(&rk, "case_offered").await[0]["detail"]["agent_email"]
        .as_str()
        .unwrap()
        .to_string();
    t.agent_sets(&agent, &id, json!({"IsEscalated": true}));
    t.wait_dm(&format!("case-escalation:{rk}:1:dm")).await;
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let escalated = t.env.audit_events(&rk, "case_escalated").await;
    assert_eq!(escalated.len(), 1);
    let d = &escalated[0]["detail"];
    assert_eq!(d["agent_email"], FALLBACK);
    assert_eq!(d["escalation_reason"], "escalated flag set");
    assert!(
        d["reason"].as_str().unwrap().contains("nobody available"),
        "reason recorded: {d}"
    );
    assert_eq!(t.owner_of(&id).as_deref(), Some(FALLBACK));
    assert_eq!(t.notes(&id).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_offer_reminds_escalates_to_the_lead_and_moves_to_the_other_agent() {
    let t = T::start("").await;
    let id = t.open_case("Social media", "High", "Refund");
    let rk = t.rk(&id);
    let old_dm = t.wait_dm(&format!("case-offer:{rk}@1:dm")).await;
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let first = t.env.audit_events(&rk, "case_offered").await[0]["detail"]["agent_email"]
        .as_str()
        .unwrap()
        .to_string();
    let second = if first == L1[0] { L1[1] } else { L1[0] };
    t.advance(5 * MIN).await;
    let reminder = t.wait_dm(&format!("case-sla:{rk}:1:reminder:dm")).await;
    assert!(t
        .env
        .slack
        .dm_messages_for(&first)
        .iter()
        .any(|m| m["ts"] == reminder["ts"]));
    t.advance(5 * MIN).await;
    let breach = t.wait_dm(&format!("case-sla:{rk}:1:breach:dm")).await;
    assert!(t
        .env
        .slack
        .dm_messages_for(L1_LEAD)
        .iter()
        .any(|m| m["ts"] == breach["ts"]));
    t.advance(5 * MIN).await;
    let new_dm = t.wait_dm(&format!("case-offer:{rk}@2:dm")).await;
    assert!(t
        .env
        .slack
        .dm_messages_for(second)
        .iter()
        .any(|m| m["ts"] == new_dm["ts"]));
    // The first agent accepts on the old DM: stale, the owner stays unwritten.
    assert_eq!(t.click_accept(&old_dm, &first).await, 200);
    t.env.wait_audit(&rk, "case_stale_click", WAIT).await;
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert_ne!(t.owner_of(&id).as_deref(), Some(first.as_str()));
    assert_eq!(t.click_accept(&new_dm, second).await, 200);
    t.env.wait_audit(&rk, "case_first_response", WAIT).await;
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert_eq!(t.owner_of(&id).as_deref(), Some(second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l2_owners_public_comment_is_the_first_response() {
    let t = T::start("").await;
    let id = t.open_case("Phone", "Critical", "Data loss");
    let rk = t.rk(&id);
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    t.agent_sets(
        L1[1],
        &id,
        json!({"OwnerId": t.env.owner_ids[L1[1]], "Status": "Escalated"}),
    );
    t.wait_dm(&format!("case-escalation:{rk}:1:dm")).await;
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    let l2 = t.owner_of(&id).unwrap();
    t.advance(3 * MIN).await;
    t.env
        .salesforce
        .add_case_comment(&t.env.owner_ids[&l2], &id, "Looking at it now.", true)
        .unwrap();
    // The reminder timer reads the comments first: answered, so no reminder.
    t.advance(3 * MIN).await;
    let first = t.env.wait_audit(&rk, "case_first_response", WAIT).await;
    assert_eq!(first[0]["detail"]["by"], "comment");
    assert_eq!(first[0]["detail"]["tier"], "L2");
    t.advance(20 * MIN).await;
    assert!(t
        .env
        .audit_events(&rk, "case_sla_reminder")
        .await
        .is_empty());
    assert!(t
        .env
        .audit_events(&rk, "case_sla_breached")
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_past_its_l1_age_is_escalated_once() {
    let t = T::start("").await;
    let id = t.open_case("Email", "Low", "Billing inquiry");
    let rk = t.rk(&id);
    t.env.wait_audit(&rk, "case_opened", WAIT).await;
    t.agent_sets(
        L1[0],
        &id,
        json!({"OwnerId": t.env.owner_ids[L1[0]], "Status": "Working"}),
    );
    t.advance(29 * MIN).await;
    assert!(t.env.audit_events(&rk, "case_escalated").await.is_empty());
    t.advance(MIN).await;
    t.wait_dm(&format!("case-escalation:{rk}:1:dm")).await;
    // handoff's write (status Escalated, the L2 owner) comes back through the feed.
    t.advance(MIN).await;
    t.advance(MIN).await;
    let escalated = t.env.audit_events(&rk, "case_escalated").await;
    assert_eq!(escalated.len(), 1, "{escalated:?}");
    assert_eq!(
        escalated[0]["detail"]["escalation_reason"],
        "open 30 min in L1 at priority Low"
    );
    assert_eq!(t.case(&id)["Status"], "Escalated");
    assert_eq!(t.notes(&id).len(), 1);
    assert!(L2.contains(&t.owner_of(&id).unwrap().as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_handoff_opened_itself_is_not_a_support_case() {
    let t = T::start("").await;
    let onboarding = t.env.salesforce.create(
        "Case",
        props(json!({"Subject": "Onboarding: Acme", "Origin": "Chat", "Priority": "High",
            "Status": "New", "Handoff_Idempotency_Key__c": "onboarding:salesforce:Opportunity:006A:case"})),
    );
    let support = t.open_case("Chat", "High", "Login fails");
    t.wait_dm(&format!("case-offer:{}@1:dm", t.rk(&support)))
        .await;
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert!(t.env.audit(&t.rk(&onboarding)).await.is_empty());
    assert!(t
        .env
        .messages_with_key(&format!("case-offer:{}@1:dm", t.rk(&onboarding)))
        .is_empty());
}
