//! The simulated support agents' side of Slack: the case DMs they read ([`case_dm`]) and what
//! each does with one ([`choose`], [`Support::on_dm`]).
//!
//! For each DM the agent decides once, by a hash of the case, the assignment and the agent:
//! an L1 offer is accepted 1–4 simulated minutes later 85% of the time, an L2 handoff 2–8
//! minutes later 90% of the time; the other DMs are never answered, so the first-response SLA
//! reminds, tells the pool's lead and offers the case to someone else. An L1 agent who accepted
//! a ticket the dataset left unresolved at High or Critical priority escalates it
//! ([`super::escalates`]) 10–40 minutes after accepting, at the next escalation round.

use super::{
    escalate_after_ms, escalates, hash, minutes, next_round, Support, ESCALATION_ROUND_MS,
};
use crate::clock::Clock;
use crate::flows::cases::message::{parse_case_ref, ACCEPT_ACTION};
use serde_json::Value;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// The tier a case DM is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmTier {
    /// An offer of a bot conversation (`case-offer:…`).
    L1,
    /// An escalation or an L2 reassignment (`case-escalation:…`, `case-reassign:…`).
    L2,
}

/// A case DM with an Accept button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseDm {
    pub channel: String,
    pub ts: String,
    /// The case's record key (`salesforce:Case:500…`).
    pub record_key: String,
    /// The assignment the DM is for.
    pub assignment: u32,
    pub tier: DmTier,
}

/// The case DM `m` is (a Slack message with `channel` added), if it is one: its Accept button
/// carries the case reference; its delivery key (`metadata.event_payload.idempotency_key`, or
/// else its text) tells an L1 offer from an L2 handoff.
pub fn case_dm(m: &Value) -> Option<CaseDm> {
    let value = m["blocks"].as_array()?.iter().find_map(|b| {
        b["elements"]
            .as_array()?
            .iter()
            .find(|e| e["action_id"] == ACCEPT_ACTION)?["value"]
            .as_str()
    })?;
    let (record_key, assignment) = parse_case_ref(value)?;
    let key = m["metadata"]["event_payload"]["idempotency_key"].as_str();
    let offer = match key {
        Some(k) => k.starts_with("case-offer:"),
        None => !m["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Escalated")),
    };
    Some(CaseDm {
        channel: m["channel"].as_str()?.to_string(),
        ts: m["ts"].as_str()?.to_string(),
        record_key: record_key.to_string(),
        assignment,
        tier: if offer { DmTier::L1 } else { DmTier::L2 },
    })
}

/// What `agent` does with `dm`: `Some(delay)` (simulated ms) to click Accept, `None` to never
/// answer it (see the module docs for the shares).
pub fn choose(dm: &CaseDm, agent: &str) -> Option<i64> {
    let h = hash(&format!("{}@{}|{agent}", dm.record_key, dm.assignment));
    match dm.tier {
        DmTier::L1 if h % 100 < 85 => Some(minutes(h, 1, 4)),
        DmTier::L2 if h % 100 < 90 => Some(minutes(h, 2, 8)),
        _ => None,
    }
}

impl Support {
    /// `agent` (email) reads `dm`: decides ([`choose`]) and, to accept, schedules the click on
    /// the clock (and, for an L1 offer of a ticket to escalate, the escalation after it). The
    /// waits are registered before this returns, so a jump of the clock never passes them. DMs
    /// about cases the replay did not open are left alone.
    pub fn on_dm(self: &Arc<Self>, dm: CaseDm, agent: String) {
        let Some(id) = dm.record_key.rsplit(':').next().map(str::to_string) else {
            return;
        };
        let Some(plan) = self.plan(&id) else {
            return;
        };
        let l1 = dm.tier == DmTier::L1;
        let Some(delay) = choose(&dm, &agent) else {
            let ignored = if l1 {
                &self.counts.l1_ignored
            } else {
                &self.counts.l2_ignored
            };
            ignored.fetch_add(1, Relaxed);
            return;
        };
        let Some(user) = self.world.slack_users.get(&agent).cloned() else {
            self.counts.failed.fetch_add(1, Relaxed);
            return;
        };
        let at = self.clock.now_ms() + delay;
        if l1 {
            self.update_plan(&id, |p| p.accept_due_ms = Some(at));
        }
        let ticket = &self.data.tickets[plan.ticket];
        let accept = self.clock.sleep_until_ms(at);
        let escalation = (l1 && escalates(ticket) && !plan.escalated).then(|| {
            let when = next_round(at + escalate_after_ms(ticket), ESCALATION_ROUND_MS);
            self.clock.sleep_until_ms(when)
        });
        let me = self.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = accept => {}
                _ = me.stop.cancelled() => return,
            }
            let clicked = me
                .slack
                .click(&dm.channel, &dm.ts, ACCEPT_ACTION, &user)
                .await
                .is_ok_and(|s| s.is_success());
            if !clicked {
                me.counts.failed.fetch_add(1, Relaxed);
                return;
            }
            if l1 {
                me.counts.l1_accepts.fetch_add(1, Relaxed);
                let now = me.clock.now_ms();
                me.update_plan(&id, |p| p.accepted = Some((agent.clone(), now)));
            } else {
                me.counts.l2_accepts.fetch_add(1, Relaxed);
            }
            if let Some(wait) = escalation {
                tokio::select! {
                    _ = wait => me.escalate(&id, &agent).await,
                    _ = me.stop.cancelled() => {}
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dm(key: &str, value: &str) -> Value {
        json!({
            "channel": "D1", "ts": "1.000001", "text": "A customer is waiting (High): …",
            "metadata": {"event_type": "handoff", "event_payload": {"idempotency_key": key}},
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "*L1 case for you*"}},
                {"type": "actions", "block_id": "case_actions", "elements": [
                    {"type": "button", "action_id": "accept_case", "value": value},
                    {"type": "button", "action_id": "open_in_crm", "url": "https://crm/500A"}
                ]}
            ]
        })
    }

    #[test]
    fn case_dms_are_told_by_their_accept_button_and_key() {
        let offer = case_dm(&dm(
            "case-offer:salesforce:Case:500A@2:dm",
            "case:salesforce:Case:500A@2",
        ))
        .unwrap();
        assert_eq!(offer.record_key, "salesforce:Case:500A");
        assert_eq!((offer.assignment, offer.tier), (2, DmTier::L1));
        let l2 = case_dm(&dm(
            "case-escalation:salesforce:Case:500A:1:dm",
            "case:salesforce:Case:500A@3",
        ))
        .unwrap();
        assert_eq!((l2.assignment, l2.tier), (3, DmTier::L2));
        let lead = json!({"channel": "D1", "ts": "1", "blocks": [{"type": "actions", "elements": [
            {"action_id": "claim_lead", "value": "salesforce:Lead:00Q1"}]}]});
        assert_eq!(case_dm(&lead), None);
    }

    #[test]
    fn agents_accept_most_offers_within_minutes_and_ignore_the_rest() {
        let mut accepted = [0usize; 2];
        for i in 0..2000 {
            for (k, tier) in [DmTier::L1, DmTier::L2].into_iter().enumerate() {
                let dm = CaseDm {
                    channel: "D1".into(),
                    ts: "1".into(),
                    record_key: format!("salesforce:Case:{i}"),
                    assignment: 1,
                    tier,
                };
                if let Some(delay) = choose(&dm, "ana.moreno@example.com") {
                    accepted[k] += 1;
                    let (lo, hi) = if tier == DmTier::L1 { (1, 4) } else { (2, 8) };
                    assert!((lo * 60_000..hi * 60_000).contains(&delay), "{delay}");
                }
            }
        }
        let share = |n: usize| n as f64 / 2000.0;
        assert!((share(accepted[0]) - 0.85).abs() < 0.03, "{accepted:?}");
        assert!((share(accepted[1]) - 0.90).abs() < 0.03, "{accepted:?}");
    }
}
