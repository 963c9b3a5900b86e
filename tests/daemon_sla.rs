//! Speed-to-lead SLAs, black box: the in-process daemon against the emulators, on a
//! [`ManualClock`] the test moves, with a rule set whose policy reminds at half of a 10-minute
//! window, escalates to the manager at the breach, reassigns 10 minutes later (once) and
//! recycles 30 minutes after the second owner's breach.
//!
//! - every step happens in order, at its time, and only then;
//! - a Claim before the reminder cancels the SLA (no reminder, no escalation, ever);
//! - a rep's lead-status change in the CRM, or a call logged on the contact, is a first touch;
//! - a reject from the Slack menu writes the disposition, edits the DM and recycles the lead;
//! - a restart with the SLA pending: the breach timer fires once (one escalation DM).

mod common;

use common::*;
use handoff::clock::ManualClock;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const MIN: Duration = Duration::from_secs(60);
/// Tuesday 2026-11-24 12:00 UTC.
const T0_MS: i64 = 1_795_521_600_000;
const MANAGER: &str = "cleo.central@example.com";

struct Sla {
    env: TestEnv,
    clock: Arc<ManualClock>,
}

async fn start(crm: CrmKind) -> Sla {
    let mut env = TestEnv::new(Options::on(crm)).await;
    env.use_rules(WEST_SLA_RULES, "");
    let clock = Arc::new(ManualClock::new(T0_MS));
    env.clock = Some(clock.clone());
    env.follow_clock();
    env.start_in_process().await;
    Sla { env, clock }
}

impl Sla {
    fn rk(&self, id: &str) -> String {
        self.env.lead_key(id)
    }

    fn sla_dm(&self, id: &str, assignment: u32, step: &str) -> String {
        format!("sla:{}:{assignment}:{step}:dm", self.rk(id))
    }

    /// Creates a lead, waits for its DM and for the daemon to settle; returns (lead id,
    /// owner email, the DM).
    async fn lead(&self, email: &str) -> (String, String, Value) {
        let id = self.env.new_lead(email);
        let key = format!("lead:{}:dm", self.rk(&id));
        assert!(
            wait_until(WAIT, || self.env.messages_with_key(&key).len() == 1).await,
            "no DM for {id}"
        );
        self.env.wait_idle(WAIT, Duration::from_millis(300)).await;
        let owner = self.env.lead_owner_email(&id).unwrap();
        let dm = self.env.messages_with_key(&key).remove(0);
        (id, owner, dm)
    }

    /// Moves the clock and lets the daemon act on it.
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

    async fn wait_audit(&self, id: &str, event: &str) -> Vec<Value> {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let entries = self.env.audit_events(&self.rk(id), event).await;
            if !entries.is_empty() {
                return entries;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no `{event}` audit for {id}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn sla_messages(&self, id: &str) -> Vec<Value> {
        let prefix = format!("sla:{}:", self.rk(id));
        self.env
            .slack
            .messages()
            .into_iter()
            .filter(|m| metadata_key(m).is_some_and(|k| k.starts_with(&prefix)))
            .collect()
    }
}

/// The other West rep.
fn other(rep: &str) -> &'static str {
    if rep == "wendy.west@example.com" {
        "walt.west@example.com"
    } else {
        "wendy.west@example.com"
    }
}

on_each_crm!(
    each_sla_step_acts_in_order_at_its_time,
    a_claim_before_the_reminder_cancels_the_sla,
    a_crm_status_change_or_a_logged_call_is_a_first_touch,
    a_reject_from_slack_writes_the_disposition_and_recycles,
    a_restart_with_a_pending_sla_fires_the_breach_once,
    a_claim_on_the_dm_of_a_previous_owner_is_no_first_touch,
);

async fn each_sla_step_acts_in_order_at_its_time(crm: CrmKind) {
    let t = start(crm).await;
    let (id, first, dm) = t.lead("demo@northwind-traders.io").await;
    assert!(has_button(&dm, "claim_lead"));
    assert!(
        has_button(&dm, "reject_lead"),
        "the DM offers the reject menu"
    );
    let routed = t.wait_audit(&id, "routed").await;
    let d = &routed[0]["detail"];
    assert_eq!(d["policy"], "demo_request");
    assert_eq!(d["sla_due_ms"], T0_MS + 600_000);
    assert_eq!(d["manager_email"], MANAGER);
    assert_eq!(d["assignment"], 1);

    // 4m59s: nothing yet. 5m: the reminder to the owner.
    t.advance(Duration::from_secs(299)).await;
    assert!(t.sla_messages(&id).is_empty());
    t.advance(Duration::from_secs(1)).await;
    let reminder = t.wait_dm(&t.sla_dm(&id, 1, "reminder")).await;
    assert_eq!(
        reminder["channel"],
        t.env.slack.dm_messages_for(&first)[0]["channel"]
    );
    assert_eq!(t.sla_messages(&id).len(), 1);

    // 10m: the breach; the escalation DM goes to the manager.
    t.advance(5 * MIN).await;
    let escalation = t.wait_dm(&t.sla_dm(&id, 1, "breach")).await;
    let to_manager = t.env.slack.dm_messages_for(MANAGER);
    assert!(to_manager.iter().any(|m| m["ts"] == escalation["ts"]));
    let breached = t.wait_audit(&id, "sla_breached").await;
    assert_eq!(breached[0]["detail"]["owner_email"], first.as_str());
    assert_eq!(breached[0]["detail"]["manager_email"], MANAGER);
    assert!(t.env.lead_shows(&id, json!({"status": "assigned"})));

    // 20m: reassigned to the other rep: CRM owner, a new DM with the controls.
    t.advance(10 * MIN).await;
    let second = other(&first);
    let new_dm = t.wait_dm(&t.sla_dm(&id, 1, "reassign")).await;
    assert!(t
        .env
        .slack
        .dm_messages_for(second)
        .iter()
        .any(|m| m["ts"] == new_dm["ts"]));
    assert!(has_button(&new_dm, "claim_lead") && has_button(&new_dm, "reject_lead"));
    assert!(
        wait_until(WAIT, || t.env.lead_owner_email(&id).as_deref()
            == Some(second))
        .await,
        "the CRM owner is the new rep"
    );
    let moved = t.wait_audit(&id, "sla_reassigned").await;
    assert_eq!(moved[0]["detail"]["from_owner_email"], first.as_str());
    assert_eq!(moved[0]["detail"]["to_owner_email"], second);
    assert_eq!(moved[0]["detail"]["assignment"], 2);

    // The second window: reminder at 25m, breach at 30m, then recycle at 60m (no more
    // reassignments).
    t.advance(5 * MIN).await;
    t.wait_dm(&t.sla_dm(&id, 2, "reminder")).await;
    t.advance(5 * MIN).await;
    t.wait_dm(&t.sla_dm(&id, 2, "breach")).await;
    t.advance(29 * MIN).await;
    assert!(t.env.lead_shows(&id, json!({"status": "assigned"})));
    t.advance(MIN).await;
    assert!(
        wait_until(WAIT, || t.env.lead_shows(
            &id,
            json!({"status": "nurture", "nurture_reason": "sla_expired"})
        ))
        .await,
        "recycled with its reason"
    );
    let recycled = t.wait_audit(&id, "recycled").await;
    assert_eq!(recycled[0]["detail"]["by"], "sla");
    assert_eq!(recycled[0]["detail"]["reason"], "sla_expired");
    assert_eq!(recycled[0]["detail"]["owner_email"], second);
    // Exactly one message per step: 2 reminders, 2 escalations, 1 reassignment DM.
    assert_eq!(t.sla_messages(&id).len(), 5);
    let metrics = t.env.metrics_text().await;
    for step in ["reminder", "breach", "reassign", "recycle"] {
        assert!(
            metrics.contains(&format!("handoff_sla_steps_total{{step=\"{step}\"}}")),
            "{step} counted"
        );
    }
}

async fn a_claim_before_the_reminder_cancels_the_sla(crm: CrmKind) {
    let t = start(crm).await;
    let (id, owner, dm) = t.lead("claim@northwind-traders.io").await;
    t.advance(2 * MIN).await;
    let user = &t.env.slack_ids[&owner];
    let status = t
        .env
        .slack
        .click(
            dm["channel"].as_str().unwrap(),
            dm["ts"].as_str().unwrap(),
            "claim_lead",
            user,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let touch = t.wait_audit(&id, "first_touch").await;
    let d = &touch[0]["detail"];
    assert_eq!(d["by"], "claim");
    assert_eq!(d["met"], true);
    assert_eq!(d["elapsed_ms"], 120_000);
    assert_eq!(d["business_elapsed_ms"], 120_000);
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    // handoff's own "working" write after the claim is no second touch.
    assert!(t.env.lead_shows(&id, json!({"status": "working"})));
    // Two hours later: no reminder, no escalation, no reassignment, ever.
    for _ in 0..4 {
        t.advance(30 * MIN).await;
    }
    assert!(t.sla_messages(&id).is_empty());
    assert_eq!(t.env.audit_events(&t.rk(&id), "first_touch").await.len(), 1);
    assert!(t
        .env
        .audit_events(&t.rk(&id), "sla_reminder")
        .await
        .is_empty());
}

async fn a_crm_status_change_or_a_logged_call_is_a_first_touch(crm: CrmKind) {
    let t = start(crm).await;
    let (by_status, _, _) = t.lead("status@northwind-traders.io").await;
    let (by_call, _, _) = t.lead("call@northwind-traders.io").await;
    t.advance(3 * MIN).await;
    // A rep sets the lead status in the CRM UI (to what claiming writes: a first-touch status).
    let (field, working) = t.env.status_field("working");
    let rep = t.env.lead_owner_email(&by_status).unwrap();
    t.env
        .rep_updates_lead(&by_status, &rep, props(json!({ field: working })));
    // Another logs a call at 00:04.
    let rep = t.env.lead_owner_email(&by_call).unwrap();
    t.env.rep_logs_call(&by_call, &rep, T0_MS + 240_000);
    let status = t.wait_audit(&by_status, "first_touch").await;
    assert_eq!(status[0]["detail"]["by"], "status");
    assert_eq!(status[0]["detail"]["touched_ms"], T0_MS + 180_000);
    let call = t.wait_audit(&by_call, "first_touch").await;
    assert_eq!(call[0]["detail"]["by"], "activity");
    assert_eq!(call[0]["detail"]["touched_ms"], T0_MS + 240_000);
    assert_eq!(call[0]["detail"]["met"], true);
    for _ in 0..3 {
        t.advance(30 * MIN).await;
    }
    assert!(t.sla_messages(&by_status).is_empty());
    assert!(t.sla_messages(&by_call).is_empty());
    assert!(t
        .env
        .metrics_text()
        .await
        .contains("handoff_first_touch_total{by=\"activity\",met=\"true\"}"));
}

async fn a_reject_from_slack_writes_the_disposition_and_recycles(crm: CrmKind) {
    let t = start(crm).await;
    let (id, owner, dm) = t.lead("student@northwind-traders.io").await;
    let user = &t.env.slack_ids[&owner];
    let (channel, ts) = (dm["channel"].as_str().unwrap(), dm["ts"].as_str().unwrap());
    let status = t
        .env
        .slack
        .select_option(
            channel,
            ts,
            "reject_lead",
            &format!("student_or_competitor|{}", t.rk(&id)),
            user,
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(
        wait_until(WAIT, || t.env.lead_shows(
            &id,
            json!({"status": "rejected", "rejection_reason": "student_or_competitor"})
        ))
        .await,
        "the disposition and reason are written to the CRM"
    );
    assert!(
        wait_until(WAIT, || {
            t.env.slack.dm_messages_for(&owner).iter().any(|m| {
                m["ts"] == ts
                    && m["text"]
                        .as_str()
                        .is_some_and(|s| s.contains("Student / competitor"))
            })
        })
        .await,
        "the DM says who rejected it and why"
    );
    let rejected = t.wait_audit(&id, "rejected").await;
    assert_eq!(rejected[0]["detail"]["reason"], "student_or_competitor");
    assert_eq!(rejected[0]["detail"]["slack_user"], user.as_str());
    assert_eq!(rejected[0]["detail"]["owner_email"], owner.as_str());
    let recycled = t.wait_audit(&id, "recycled").await;
    assert_eq!(recycled[0]["detail"]["by"], "reject");
    // The SLA is over: nothing fires later.
    for _ in 0..3 {
        t.advance(30 * MIN).await;
    }
    assert!(t.sla_messages(&id).is_empty());
    assert!(t
        .env
        .metrics_text()
        .await
        .contains("handoff_leads_rejected_total{reason=\"student_or_competitor\"}"));
}

async fn a_restart_with_a_pending_sla_fires_the_breach_once(crm: CrmKind) {
    let mut t = start(crm).await;
    let (id, _, _) = t.lead("restart@northwind-traders.io").await;
    t.advance(5 * MIN).await;
    t.wait_dm(&t.sla_dm(&id, 1, "reminder")).await;

    t.env.restart_in_process().await;
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    t.advance(5 * MIN).await;
    t.wait_dm(&t.sla_dm(&id, 1, "breach")).await;
    // And once more across a restart right after the breach was decided.
    t.env.restart_in_process().await;
    t.env.wait_idle(WAIT, Duration::from_millis(500)).await;

    assert_eq!(
        t.env.messages_with_key(&t.sla_dm(&id, 1, "breach")).len(),
        1
    );
    assert_eq!(
        t.env.messages_with_key(&t.sla_dm(&id, 1, "reminder")).len(),
        1
    );
    assert_eq!(
        t.env.slack.dm_messages_for(MANAGER).len(),
        1,
        "one escalation DM"
    );
    assert_eq!(
        t.env.audit_events(&t.rk(&id), "sla_breached").await.len(),
        1
    );
    assert_eq!(
        t.env.audit_events(&t.rk(&id), "sla_reminder").await.len(),
        1
    );
}

async fn a_claim_on_the_dm_of_a_previous_owner_is_no_first_touch(crm: CrmKind) {
    let t = start(crm).await;
    let (id, first, old_dm) = t.lead("stale@northwind-traders.io").await;
    // Breach at 10 minutes, reassignment at 20.
    t.advance(10 * MIN).await;
    t.advance(10 * MIN).await;
    let second = other(&first);
    let new_dm = t.wait_dm(&t.sla_dm(&id, 1, "reassign")).await;
    let claim_value = |m: &Value| {
        m["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            .find(|e| e["action_id"] == "claim_lead")
            .map(|e| e["value"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(claim_value(&old_dm), t.rk(&id));
    assert_eq!(claim_value(&new_dm), format!("{}@2", t.rk(&id)));

    // The first owner wakes up and claims on the old DM: not a touch for the new owner.
    let click = |dm: &Value, who: &str| {
        let (channel, ts) = (
            dm["channel"].as_str().unwrap().to_string(),
            dm["ts"].as_str().unwrap().to_string(),
        );
        let user = t.env.slack_ids[who].clone();
        let slack = t.env.slack.clone();
        async move {
            slack
                .click(&channel, &ts, "claim_lead", &user)
                .await
                .unwrap()
        }
    };
    assert_eq!(click(&old_dm, &first).await, 200);
    let stale = t.wait_audit(&id, "stale_click").await;
    assert_eq!(stale[0]["detail"]["clicked_assignment"], 1);
    assert_eq!(stale[0]["detail"]["current_assignment"], 2);
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert!(t
        .env
        .audit_events(&t.rk(&id), "first_touch")
        .await
        .is_empty());
    assert!(
        t.env.lead_shows(&id, json!({"status": "assigned"})),
        "no \"working\" for a stale claim"
    );
    // The old DM now says who owns the lead.
    assert!(
        wait_until(WAIT, || {
            t.env.slack.dm_messages_for(&first).iter().any(|m| {
                m["ts"] == old_dm["ts"] && m["text"].as_str().unwrap_or("").contains(second)
            })
        })
        .await,
        "the old DM was edited"
    );
    // The SLA goes on for the new owner: the reminder of assignment 2 at 25 minutes.
    t.advance(5 * MIN).await;
    t.wait_dm(&t.sla_dm(&id, 2, "reminder")).await;

    // The new owner's claim is the first touch.
    assert_eq!(click(&new_dm, second).await, 200);
    let touch = t.wait_audit(&id, "first_touch").await;
    assert_eq!(touch[0]["detail"]["by"], "claim");
    assert_eq!(touch[0]["detail"]["owner_email"], second);
    t.env.wait_idle(WAIT, Duration::from_millis(300)).await;
    assert!(t.env.lead_shows(&id, json!({"status": "working"})));
    t.advance(60 * MIN).await;
    assert!(t.env.audit_events(&t.rk(&id), "recycled").await.is_empty());
}
