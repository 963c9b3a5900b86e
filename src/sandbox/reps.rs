//! The simulated sales reps: they read their lead DMs in Slack and act in simulated time.
//!
//! For each (lead, rep) pair the rep decides once, by a hash of the two (so a reminder or a
//! re-sent DM does not change their mind): 55% claim from Slack within 1–4 simulated minutes,
//! 10% log a call on the lead in the CRM ([`SandboxCrm::log_call`]), 10% set a "working" lead
//! status in the CRM ([`SandboxCrm::set_status`]), 5% reject from Slack (the `reject_lead`
//! select, value `not_a_fit|<record key>`), and 20% ignore the DM (the SLA steps follow). For
//! one lead in forty, a marketing tool re-assigns the lead behind handoff's back half a
//! simulated minute after the DM ([`SandboxCrm::meddle`]). A step the daemon or an emulator
//! does not support yet fails quietly and is counted as failed.
//!
//! With support's case handoffs on, the same read of Slack hands case DMs (those with an
//! "Accept" button) to the simulated support agents ([`super::support::agents`]).

use super::crm::SandboxCrm;
use super::seed::World;
use crate::clock::{Clock, SimClock};
use crate::flows::lead::message::parse_lead_ref;
use handoff_slack::SlackEmulator;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What the simulated reps did.
#[derive(Debug, Default)]
pub struct RepCounts {
    pub claims_clicked: AtomicU64,
    pub calls_logged: AtomicU64,
    pub statuses_set: AtomicU64,
    pub rejects_sent: AtomicU64,
    pub ignored: AtomicU64,
    /// Owner changes made by a marketing workflow (the ownership rule reverts them).
    pub workflow_owner_changes: AtomicU64,
    /// Actions an emulator or the daemon refused (a feature not there yet, or a failure).
    pub failed: AtomicU64,
}

impl RepCounts {
    /// The counts by name, for the summary and the progress view.
    pub fn totals(&self) -> std::collections::BTreeMap<&'static str, u64> {
        [
            ("claims", &self.claims_clicked),
            ("calls", &self.calls_logged),
            ("status changes", &self.statuses_set),
            ("rejects", &self.rejects_sent),
            ("ignored", &self.ignored),
            ("workflow_owner_changes", &self.workflow_owner_changes),
            ("failed", &self.failed),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.load(Relaxed)))
        .collect()
    }
}

/// A rep's choice for one lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Claim,
    LogCall,
    SetStatus,
    Reject,
    Ignore,
}

/// The choice and its delay (simulated ms) for `record_key` DMed to `rep`.
pub fn choose(record_key: &str, rep: &str) -> (Choice, i64) {
    let h = format!("{record_key}|{rep}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
    let minutes = |lo: u64, hi: u64| ((lo * 60_000) + (h >> 8) % ((hi - lo) * 60_000)) as i64;
    match h % 20 {
        0..=10 => (Choice::Claim, minutes(1, 4)),
        11..=12 => (Choice::LogCall, minutes(2, 6)),
        13..=14 => (Choice::SetStatus, minutes(1, 5)),
        15 => (Choice::Reject, 120_000),
        _ => (Choice::Ignore, 0),
    }
}

/// For one lead in 40 (by a hash of its key), the owner id a marketing workflow assigns it
/// to behind handoff's back; `None` for the others.
fn workflow_meddles(record_key: &str, world: &World) -> Option<String> {
    let h = record_key.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    });
    if h % 40 != 0 {
        return None;
    }
    let mut ids: Vec<&String> = world.owner_ids.values().collect();
    ids.sort();
    ids.get((h / 40) as usize % ids.len().max(1))
        .map(|s| s.to_string())
}

/// How the reps reach the vendors.
#[derive(Clone)]
pub struct RepEnv {
    pub slack: SlackEmulator,
    /// Messages posted to Slack so far ([`super::local::LocalVendors::slack_posts`]): DMs are
    /// read again only when it moved.
    pub slack_posts: Arc<AtomicU64>,
    /// The messages posted and the DM channels opened ([`super::local::LocalVendors::slack_feed`]):
    /// only the new messages are read.
    pub slack_feed: Arc<super::local::SlackFeed>,
    pub crm: Arc<dyn SandboxCrm>,
    /// The daemon's Slack interactivity endpoint and the signing secret (for rejects).
    pub interactivity_url: url::Url,
    pub slack_signing_secret: secrecy::SecretString,
    pub world: Arc<World>,
    pub clock: SimClock,
    pub http: reqwest::Client,
    pub counts: Arc<RepCounts>,
}

/// A lead DM: where it is, to whom, about which record.
struct Dm {
    channel: String,
    ts: String,
    /// The lead's record key (`hubspot:contacts:42`, `salesforce:Lead:00Q…`).
    record_key: String,
    /// What the DM's controls carry: the record key, or `<record_key>@<n>` after a
    /// reassignment (`flows::lead::message::lead_ref`).
    lead_ref: String,
}

fn lead_dm(m: &Value) -> Option<Dm> {
    let button = m["blocks"].as_array()?.iter().find_map(|b| {
        b["elements"]
            .as_array()?
            .iter()
            .find(|e| e["action_id"] == "claim_lead")
            .cloned()
    })?;
    Some(Dm {
        channel: m["channel"].as_str()?.to_string(),
        ts: m["ts"].as_str()?.to_string(),
        record_key: parse_lead_ref(button["value"].as_str()?).0.to_string(),
        lead_ref: button["value"].as_str()?.to_string(),
    })
}

/// The reps' memory: which DMs they have read and which leads they have decided on.
pub struct Reps {
    env: RepEnv,
    reps: Vec<String>,
    /// The simulated support agents, who get the case DMs.
    support: Option<Arc<super::support::Support>>,
    tasks: TaskTracker,
    channel_of: HashMap<String, String>,
    /// Slack user id → email, of every person.
    email_of: HashMap<String, String>,
    decided: HashSet<(String, String)>,
    seen: HashSet<String>,
    /// [`RepEnv::slack_posts`] at the last read of the DMs.
    read_at: Option<u64>,
    /// How many messages of [`RepEnv::slack_feed`] were read.
    read: usize,
}

impl Reps {
    /// Reps (emails) acting through `env`.
    pub fn new(env: RepEnv, reps: Vec<String>) -> Reps {
        let email_of = env
            .world
            .slack_users
            .iter()
            .map(|(email, id)| (id.clone(), email.clone()))
            .collect();
        Reps {
            env,
            reps,
            support: None,
            tasks: TaskTracker::new(),
            channel_of: HashMap::new(),
            email_of,
            read: 0,
            decided: HashSet::new(),
            seen: HashSet::new(),
            read_at: None,
        }
    }

    /// Hands the case DMs to the simulated support agents of `support`.
    pub fn with_support(mut self, support: Option<Arc<super::support::Support>>) -> Reps {
        self.support = support;
        self
    }

    /// The person whose DM channel `channel` is, if one of the reps: the member the daemon
    /// opened it with, else (a channel opened before the feed) found in the reps' DMs.
    fn person_of(&mut self, channel: &str) -> Option<String> {
        if let Some(email) = self
            .env
            .slack_feed
            .dm_member(channel)
            .and_then(|user| self.email_of.get(&user))
        {
            return self.reps.contains(email).then(|| email.clone());
        }
        if !self.channel_of.contains_key(channel) {
            for rep in &self.reps {
                if let Some(c) = self.env.slack.dm_messages_for(rep).first() {
                    if let Some(c) = c["channel"].as_str() {
                        self.channel_of.insert(c.to_string(), rep.clone());
                    }
                }
            }
        }
        self.channel_of.get(channel).cloned()
    }

    /// Reads new lead DMs and schedules each rep's action on the clock (and hands new case
    /// DMs to the support agents). The wait for an action is registered on the clock before
    /// this returns, so a jump never passes it.
    pub fn scan(&mut self, stop: &CancellationToken) {
        // No new DM unless a message was posted since the last read.
        let posts = self.env.slack_posts.load(Relaxed);
        if self.read_at == Some(posts) {
            return;
        }
        self.read_at = Some(posts);
        let new = self.env.slack_feed.since(self.read);
        self.read += new.len();
        for m in new {
            let Some(dm) = lead_dm(&m) else {
                if let Some(support) = self.support.clone() {
                    if let Some(dm) = super::support::agents::case_dm(&m) {
                        if self.seen.insert(format!("{}:{}", dm.channel, dm.ts)) {
                            if let Some(agent) = self.person_of(&dm.channel) {
                                support.on_dm(dm, agent);
                            }
                        }
                    }
                }
                continue;
            };
            if !self.seen.insert(format!("{}:{}", dm.channel, dm.ts)) {
                continue;
            }
            let Some(rep) = self.person_of(&dm.channel) else {
                continue;
            };
            if !self.decided.insert((dm.record_key.clone(), rep.clone())) {
                continue;
            }
            if let Some(to) = workflow_meddles(&dm.record_key, &self.env.world) {
                // A marketing workflow re-assigns this MQL half a simulated minute after the
                // DM: not the system of record at MQL, so handoff writes its owner back.
                let env = self.env.clone();
                let stop = stop.clone();
                let lead_id = dm.record_key.rsplit(':').next().unwrap_or_default();
                let lead_id = lead_id.to_string();
                let wait = env.clock.sleep_until_ms(env.clock.now_ms() + 30_000);
                self.tasks.spawn(async move {
                    tokio::select! {
                        _ = wait => {}
                        _ = stop.cancelled() => return,
                    }
                    let counter = if env.crm.meddle(&lead_id, &to) {
                        &env.counts.workflow_owner_changes
                    } else {
                        &env.counts.failed
                    };
                    counter.fetch_add(1, Relaxed);
                });
            }
            let (choice, delay) = choose(&dm.record_key, &rep);
            if choice == Choice::Ignore {
                self.env.counts.ignored.fetch_add(1, Relaxed);
                continue;
            }
            let env = self.env.clone();
            let stop = stop.clone();
            let wait = env.clock.sleep_until_ms(env.clock.now_ms() + delay);
            self.tasks.spawn(async move {
                tokio::select! {
                    _ = wait => {}
                    _ = stop.cancelled() => return,
                }
                let ok = act(&env, choice, &rep, &dm).await;
                let counter = match (ok, choice) {
                    (false, _) => &env.counts.failed,
                    (true, Choice::Claim) => &env.counts.claims_clicked,
                    (true, Choice::LogCall) => &env.counts.calls_logged,
                    (true, Choice::SetStatus) => &env.counts.statuses_set,
                    (true, _) => &env.counts.rejects_sent,
                };
                counter.fetch_add(1, Relaxed);
            });
        }
    }

    /// Waits for the actions in flight, the support agents' too (they end early once `stop`
    /// is cancelled).
    pub async fn finish(self) {
        self.tasks.close();
        self.tasks.wait().await;
        if let Some(support) = &self.support {
            support.finish().await;
        }
    }
}

async fn act(env: &RepEnv, choice: Choice, rep: &str, dm: &Dm) -> bool {
    let Some(user) = env.world.slack_users.get(rep) else {
        return false;
    };
    let rep_id = env
        .world
        .owners_by_email
        .get(rep)
        .map(String::as_str)
        .unwrap_or_default();
    let lead_id = dm.record_key.rsplit(':').next().unwrap_or_default();
    match choice {
        Choice::Claim => env
            .slack
            .click(&dm.channel, &dm.ts, "claim_lead", user)
            .await
            .is_ok_and(|s| s.is_success()),
        Choice::SetStatus => env.crm.set_status(rep_id, lead_id).await,
        Choice::LogCall => env.crm.log_call(rep_id, lead_id, env.clock.now_ms()).await,
        Choice::Reject => reject(env, user, rep, dm).await,
        Choice::Ignore => true,
    }
}

/// Posts a signed `block_actions` payload choosing "not a fit" in the DM's `reject_lead`
/// select, as Slack would.
async fn reject(env: &RepEnv, user: &str, rep: &str, dm: &Dm) -> bool {
    let now_s = handoff_connector::now_ms() / 1000;
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": rep.split('@').next().unwrap_or(rep)},
        "container": {"type": "message", "message_ts": dm.ts, "channel_id": dm.channel},
        "channel": {"id": dm.channel},
        "message": {"ts": dm.ts},
        "actions": [{
            "type": "static_select",
            "action_id": "reject_lead",
            "block_id": "lead_actions",
            "selected_option": {
                "text": {"type": "plain_text", "text": "Not a fit"},
                "value": format!("not_a_fit|{}", dm.lead_ref)
            },
            "action_ts": format!("{now_s}.000100")
        }]
    });
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let sig = handoff_slack::signature::sign(&env.slack_signing_secret, now_s, body.as_bytes());
    env.http
        .post(env.interactivity_url.clone())
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(handoff_slack::signature::SIGNATURE_HEADER, sig)
        .header(
            handoff_slack::signature::TIMESTAMP_HEADER,
            now_s.to_string(),
        )
        .body(body)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_follow_the_stated_shares_and_delays() {
        let mut n: HashMap<&str, usize> = HashMap::new();
        for i in 0..4000 {
            let (c, delay) = choose(&format!("hubspot:contacts:{i}"), "rep@example.com");
            let name = match c {
                Choice::Claim => {
                    assert!((60_000..240_000).contains(&delay));
                    "claim"
                }
                Choice::LogCall => "call",
                Choice::SetStatus => "status",
                Choice::Reject => "reject",
                Choice::Ignore => "ignore",
            };
            *n.entry(name).or_default() += 1;
        }
        let share = |k: &str| n[k] as f64 / 4000.0;
        assert!((share("claim") - 0.55).abs() < 0.04, "{n:?}");
        assert!((share("ignore") - 0.20).abs() < 0.03, "{n:?}");
        assert!(share("reject") > 0.03 && share("call") > 0.07, "{n:?}");
    }
}
