//! Support's case handoffs in the sandbox (`cases:` in
//! `src/sandbox/handoff-hubspot-salesforce.yaml`): the tickets of the support dataset arrive as
//! support cases in the sales CRM, bot conversations with a chat transcript, and a simulated
//! support team works them; the checks at the end ([`checks`]) read both emulators' state and
//! the daemon's audit trail.
//!
//! * **Cases.** Each ticket of `support-tickets/customer_support_tickets.csv` (the first 500 in
//!   the embedded data) is one case, created on the replay's timeline like the leads
//!   ([`super::replay`]): spread evenly over it, so cases arrive in business hours, at night and
//!   at the weekend. The case is the ticket as it is ([`case_seed`]): subject, description
//!   (the dataset's one sentence), priority, channel as origin, type, product, the customer's
//!   email, status `New`, and the account whose web domain is the email's (the dataset's
//!   addresses are all `example.com`, which no sandbox account has, so none match; the summary
//!   counts them).
//! * **Bot conversations.** Tickets from `cases.bot_origins` channels (`Chat`, `Social media`)
//!   wait in the support queue and get a chatbot transcript ([`transcript`]: a few turns
//!   composed from the ticket's type, subject and product); handoff offers them to an L1 agent.
//!   Email and phone tickets go straight to an L1 agent (on shift if any, in turn), as an
//!   assignment rule in the CRM would: handoff does not route them.
//! * **Agents** ([`agents`]). An agent offered a case in Slack clicks Accept 1–4 simulated
//!   minutes later, 85% of the time; the others never do, so the first-response SLA reminds,
//!   tells the lead and offers the case to someone else. An L2 agent accepts an escalation
//!   2–8 minutes later, 90% of the time.
//! * **Escalations** ([`escalates`]): tickets the dataset leaves unresolved (status `Open` or
//!   `Pending Customer Response`) at priority High or Critical, about a third, are escalated by
//!   their L1 agent 10–40 minutes after the agent took them: an internal comment saying what
//!   L1 tried ([`l1_work`]; the ticket's `Resolution` when set, which the dataset only sets on
//!   closed tickets), then `Status = Escalated`, both as that agent.
//! * **Closing** ([`closes`]): closed tickets are closed by their owner (the admin for a case
//!   nobody took) after the dataset's time from first response to resolution
//!   ([`close_delay_ms`]), at least 15 minutes after an agent accepted it.
//! * **Rounds.** The agents write escalations and closes in rounds of simulated time
//!   ([`ESCALATION_ROUND_MS`], [`CLOSE_ROUND_MS`]): a change someone other than handoff makes
//!   in a polled CRM holds the simulated clock until the daemon's next poll (up to a second of
//!   real time), so writes spread over the day would each stop it; in rounds they share the
//!   stops.

pub mod agents;
pub mod checks;

use super::crm::{CaseSeed, SandboxCrm, SupportDesk};
use super::data::{Dataset, Ticket};
use super::seed::World;
use crate::clock::{Clock, SimClock};
use crate::config::cases::CasesConfig;
use crate::routing::RuleSet;
use handoff_slack::SlackEmulator;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const MIN: i64 = 60_000;

/// The shortest time from an acceptance to the case being closed (simulated ms).
pub const CLOSE_AFTER_ACCEPT_MS: i64 = 15 * MIN;

/// The longest time a closed ticket stays open in the simulation (simulated ms): the last
/// cases arrive on Monday morning and are closed before the simulated period ends.
pub const MAX_CLOSE_DELAY_MS: i64 = 8 * 60 * MIN;

/// Escalations are written at the next mark of this grid of simulated time (half an hour,
/// UTC): L1's triage round.
pub const ESCALATION_ROUND_MS: i64 = 30 * MIN;

/// Closes are written at the next mark of this grid of simulated time (two hours, UTC).
pub const CLOSE_ROUND_MS: i64 = 2 * 60 * MIN;

/// The first mark of the grid of `round` ms (from the epoch) at or after `at_ms`.
pub fn next_round(at_ms: i64, round: i64) -> i64 {
    at_ms.div_euclid(round) * round
        + if at_ms.rem_euclid(round) == 0 {
            0
        } else {
            round
        }
}

/// A 64-bit FNV-1a hash: the simulation's decisions are functions of the case, so a run is
/// repeatable up to timing.
pub fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// A number of ms in `[lo, hi)` minutes picked by `h`.
pub(crate) fn minutes(h: u64, lo: i64, hi: i64) -> i64 {
    lo * MIN + ((h >> 8) % ((hi - lo) * MIN) as u64) as i64
}

/// Whether the simulated L1 agent escalates the ticket: the dataset left it unresolved (not
/// `Closed`) at priority `High` or `Critical`.
pub fn escalates(t: &Ticket) -> bool {
    !t.status.trim().eq_ignore_ascii_case("closed")
        && ["high", "critical"]
            .iter()
            .any(|p| t.priority.trim().eq_ignore_ascii_case(p))
}

/// Whether the ticket is closed in the dataset (so the simulation closes its case).
pub fn closes(t: &Ticket) -> bool {
    t.status.trim().eq_ignore_ascii_case("closed")
}

/// How long after its arrival a closed ticket's case is closed: the dataset's time from first
/// response to resolution, between 20 minutes and [`MAX_CLOSE_DELAY_MS`]. The dataset's
/// resolution is sometimes *before* its first response (and unreadable times count as none):
/// such a ticket is closed 20 minutes after it arrives.
pub fn close_delay_ms(t: &Ticket) -> i64 {
    let at = |s: &Option<String>| {
        jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", s.as_deref()?.trim())
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    };
    let gap = match (at(&t.first_response_time), at(&t.time_to_resolution)) {
        (Some(first), Some(resolved)) => resolved - first,
        _ => 0,
    };
    gap.clamp(20 * MIN, MAX_CLOSE_DELAY_MS)
}

/// How long after an L1 agent took the case they escalate it (10–40 minutes, by ticket).
pub fn escalate_after_ms(t: &Ticket) -> i64 {
    minutes(hash(&format!("escalate|{}", t.ticket_id)), 10, 40)
}

/// The domain of an email address (`ana@acme.com` → `acme.com`), lower case.
pub fn email_domain(email: &str) -> Option<String> {
    let (_, d) = email.trim().rsplit_once('@')?;
    let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
    (!d.is_empty()).then_some(d)
}

/// The case a ticket becomes: its fields as they are, with `account_id` (the account of the
/// customer's email domain, if any) and `owner_id` (`None`: the support queue).
pub fn case_seed<'a>(
    t: &'a Ticket,
    account_id: Option<&'a str>,
    owner_id: Option<&'a str>,
) -> CaseSeed<'a> {
    CaseSeed {
        subject: &t.subject,
        description: &t.description,
        priority: &t.priority,
        origin: &t.channel,
        case_type: &t.ticket_type,
        product: &t.product,
        email: &t.customer_email,
        account_id,
        owner_id,
    }
}

/// `&`, `<` and `>` as entities: a transcript's body is HTML-ish text.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chatbot conversation of a bot ticket, as a chat transcript's `Body` stores it: turns
/// `( <n>s ) Bot: …` and `( <n>s ) Visitor: …` separated by `<br>`, composed from the ticket's
/// type, subject, product, description and channel; the bot hands over to a person at the end.
pub fn transcript(t: &Ticket) -> String {
    let first = t.customer_name.split_whitespace().next().unwrap_or("there");
    let product = t.product.trim();
    let subject = t.subject.trim();
    let kind = t.ticket_type.trim().to_lowercase();
    let greeting = if t.channel.trim().eq_ignore_ascii_case("social media") {
        format!("Hi {first}, thanks for your message! I'm the support bot. What can I do for you?")
    } else {
        format!("Hi {first}, I'm the support bot. What can I help you with today?")
    };
    let ask = match kind.as_str() {
        "refund request" => "I would like my money back.",
        "technical issue" => "It still does not work after a restart.",
        "billing inquiry" => "I was charged and I do not understand the amount.",
        "product inquiry" => "I need to know whether it can do what I need.",
        "cancellation request" => "Please cancel it.",
        _ => "I need help with it.",
    };
    let bought = t
        .date_of_purchase
        .as_deref()
        .map(|d| format!(" bought on {}", d.trim()))
        .unwrap_or_default();
    let turns = [
        (2, "Bot", greeting),
        (
            9,
            "Visitor",
            format!("{subject} with my {product}. {}", t.description.trim()),
        ),
        (
            12,
            "Bot",
            format!("I can help with a {kind}. Is it about your {product}{bought}?"),
        ),
        (20, "Visitor", format!("Yes. {ask}")),
        (
            23,
            "Bot",
            "Thanks. I'm connecting you with an agent now.".to_string(),
        ),
    ];
    turns
        .iter()
        .map(|(s, who, said)| format!("( {s}s ) {who}: {}", escape(said)))
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The internal comment an L1 agent writes before escalating: what they tried (the ticket's
/// `Resolution` when it has one, else the checks of its type), and why it goes to L2.
pub fn l1_work(t: &Ticket) -> String {
    let product = t.product.trim();
    let subject = t.subject.trim().to_lowercase();
    let tried = match t.resolution.as_deref().map(str::trim) {
        Some(r) if !r.is_empty() => format!("tried: {}", r.trim_end_matches('.')),
        _ => match t.ticket_type.trim().to_lowercase().as_str() {
            "technical issue" => format!(
                "reproduced the {subject} on the {product}, walked the customer through a restart and an update, collected the logs"
            ),
            "billing inquiry" => format!(
                "checked the invoices and payments for the {product}; the charge cannot be explained from L1"
            ),
            "refund request" => format!(
                "checked the purchase of the {product} against the refund policy; the refund needs an approval above L1"
            ),
            "cancellation request" => format!(
                "confirmed the customer's identity and the {product} subscription; cancelling needs a contract change"
            ),
            "product inquiry" => format!(
                "answered from the {product} knowledge base; the question on {subject} goes beyond it"
            ),
            _ => format!("followed the {subject} runbook for the {product}"),
        },
    };
    format!(
        "Ticket #{} ({}, {}): {tried}. Not solved for the customer: escalating to L2.",
        t.ticket_id,
        t.ticket_type.trim(),
        t.priority.trim()
    )
}

/// What the simulation has done, for the progress line and the summary.
#[derive(Debug, Default)]
pub struct SupportCounts {
    pub cases_opened: AtomicU64,
    pub bot_conversations: AtomicU64,
    /// Email and phone cases given to an L1 agent at creation.
    pub assigned_at_creation: AtomicU64,
    pub matched_to_accounts: AtomicU64,
    pub l1_accepts: AtomicU64,
    pub l1_ignored: AtomicU64,
    pub l2_accepts: AtomicU64,
    pub l2_ignored: AtomicU64,
    pub escalations: AtomicU64,
    /// Escalations given up: the agent never became the case's owner.
    pub escalations_given_up: AtomicU64,
    pub closes: AtomicU64,
    /// Writes or clicks an emulator or the daemon refused.
    pub failed: AtomicU64,
}

impl SupportCounts {
    /// The simulated team's actions by name.
    pub fn totals(&self) -> BTreeMap<&'static str, u64> {
        [
            ("l1_accepts", &self.l1_accepts),
            ("l1_ignored", &self.l1_ignored),
            ("l2_accepts", &self.l2_accepts),
            ("l2_ignored", &self.l2_ignored),
            ("escalations", &self.escalations),
            ("escalations_given_up", &self.escalations_given_up),
            ("closes", &self.closes),
            ("failed", &self.failed),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.load(Relaxed)))
        .collect()
    }
}

/// A support case the replay opened, and what the simulation does with it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The ticket (index into [`Dataset::tickets`]).
    pub ticket: usize,
    /// A bot conversation (handoff offers it).
    pub bot: bool,
    /// The owner when it was opened (the support queue, or the L1 agent it was given to).
    pub initial_owner: Option<String>,
    /// When the latest accepted offer will be clicked (simulated ms), while it is pending.
    pub accept_due_ms: Option<i64>,
    /// The L1 agent (email) who accepted, and when.
    pub accepted: Option<(String, i64)>,
    /// The L1 agent escalated it.
    pub escalated: bool,
}

/// The simulated support team and the case replay: see the module docs.
pub struct Support {
    crm: Arc<dyn SandboxCrm>,
    data: Arc<Dataset>,
    world: Arc<World>,
    clock: SimClock,
    slack: SlackEmulator,
    cases: CasesConfig,
    /// Tier 1 agents with their teams' calendars, tier 2 agents (emails), the fallback owner.
    l1: Vec<(String, crate::routing::BusinessCalendar)>,
    l2: Vec<String>,
    fallback: String,
    /// Account id by web domain, read once the accounts are seeded.
    accounts: HashMap<String, String>,
    /// Owner ids of the people the sandbox seeded (anyone else acts through the admin).
    people: HashSet<String>,
    pub counts: SupportCounts,
    plans: Mutex<HashMap<String, Plan>>,
    /// Case ids in creation order.
    opened: Mutex<Vec<String>>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Support {
    /// The support team of `rules` (tier 1: teams named `L1 …`, tier 2: `L2 …`) working the
    /// cases of `crm`'s [`SupportDesk`] with `cases` (the bot origins), the people of `world`,
    /// on `clock`, until `stop`. `None` when the CRM has no support cases.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        crm: Arc<dyn SandboxCrm>,
        data: Arc<Dataset>,
        world: Arc<World>,
        rules: &RuleSet,
        cases: CasesConfig,
        clock: SimClock,
        slack: SlackEmulator,
        stop: CancellationToken,
    ) -> Option<Support> {
        let accounts = crm.support()?.accounts_by_domain();
        let tier = |prefix: &str| {
            rules
                .teams()
                .iter()
                .filter(|t| t.name.starts_with(prefix))
                .flat_map(|t| {
                    t.members
                        .iter()
                        .map(|m| (m.email.to_lowercase(), t.calendar.clone()))
                })
                .collect::<Vec<_>>()
        };
        let l1 = tier("L1");
        let l2 = tier("L2").into_iter().map(|(e, _)| e).collect();
        let people = world.owners_by_email.values().cloned().collect();
        Some(Support {
            crm,
            data,
            world,
            clock,
            slack,
            cases,
            l1,
            l2,
            fallback: rules.fallback_owner().to_lowercase(),
            accounts,
            people,
            counts: SupportCounts::default(),
            plans: Mutex::new(HashMap::new()),
            opened: Mutex::new(Vec::new()),
            tasks: TaskTracker::new(),
            stop,
        })
    }

    fn desk(&self) -> &dyn SupportDesk {
        self.crm
            .support()
            .expect("Support::new checked that the CRM has support cases")
    }

    /// Tier 2 agents (emails, lower case).
    pub fn l2_agents(&self) -> &[String] {
        &self.l2
    }

    /// The rule set's fallback owner (email, lower case).
    pub fn fallback(&self) -> &str {
        &self.fallback
    }

    /// The cases opened so far, in order, with their plans.
    pub fn opened(&self) -> Vec<(String, Plan)> {
        let plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        self.opened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|id| Some((id.clone(), plans.get(id)?.clone())))
            .collect()
    }

    /// The plan of case `id`, if the replay opened it.
    fn plan(&self, id: &str) -> Option<Plan> {
        self.plans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn update_plan(&self, id: &str, f: impl FnOnce(&mut Plan)) {
        if let Some(p) = self
            .plans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(id)
        {
            f(p);
        }
    }

    /// The L1 agent (email) an email or phone ticket `i` is given to: in turn among the agents
    /// on shift at `now_ms`, or among all when nobody is.
    fn l1_for(&self, i: usize, now_ms: i64) -> Option<&str> {
        let now = jiff::Timestamp::from_millisecond(now_ms).unwrap_or_default();
        let on: Vec<&str> = self
            .l1
            .iter()
            .filter(|(_, cal)| cal.is_open(now))
            .map(|(e, _)| e.as_str())
            .collect();
        let all: Vec<&str> = self.l1.iter().map(|(e, _)| e.as_str()).collect();
        let pool = if on.is_empty() { all } else { on };
        pool.get(i % pool.len().max(1)).copied()
    }

    /// The progress line's part: cases, bot conversations, accepts, escalations, closes.
    pub fn progress(&self) -> String {
        let c = &self.counts;
        format!(
            "support {} cases ({} bot), {} accepted, {} escalated, {} closed",
            c.cases_opened.load(Relaxed),
            c.bot_conversations.load(Relaxed),
            c.l1_accepts.load(Relaxed) + c.l2_accepts.load(Relaxed),
            c.escalations.load(Relaxed),
            c.closes.load(Relaxed)
        )
    }

    /// Ticket `i` arrives now: its case is opened (a bot conversation with its transcript, or
    /// given to an L1 agent), and what its owner will do is scheduled on the clock.
    pub fn arrive(self: &Arc<Self>, i: usize) {
        let Some(t) = self.data.tickets.get(i) else {
            return;
        };
        let now = self.clock.now_ms();
        let bot = self.cases.is_bot_origin(&t.channel);
        let account = email_domain(&t.customer_email).and_then(|d| self.accounts.get(&d));
        let agent = if bot { None } else { self.l1_for(i, now) };
        let owner_id = agent.and_then(|a| self.world.owners_by_email.get(a));
        let desk = self.desk();
        let id = match desk.open_case(&case_seed(
            t,
            account.map(String::as_str),
            owner_id.map(String::as_str),
        )) {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(ticket = t.ticket_id, error = %e, "sandbox could not open a case");
                self.counts.failed.fetch_add(1, Relaxed);
                return;
            }
        };
        self.counts.cases_opened.fetch_add(1, Relaxed);
        if account.is_some() {
            self.counts.matched_to_accounts.fetch_add(1, Relaxed);
        }
        if bot {
            match desk.add_transcript(&id, &transcript(t), now) {
                Ok(()) => {
                    self.counts.bot_conversations.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    tracing::warn!(case = %id, error = %e, "sandbox could not add a transcript");
                    self.counts.failed.fetch_add(1, Relaxed);
                }
            }
        } else if agent.is_some() {
            self.counts.assigned_at_creation.fetch_add(1, Relaxed);
        }
        let plan = Plan {
            ticket: i,
            bot,
            initial_owner: desk.case_owner(&id),
            accept_due_ms: None,
            accepted: None,
            escalated: false,
        };
        self.plans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), plan);
        self.opened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(id.clone());
        if let (Some(agent), true) = (agent, escalates(t)) {
            let at = next_round(now + escalate_after_ms(t), ESCALATION_ROUND_MS);
            let wait = self.clock.sleep_until_ms(at);
            let (me, agent, id) = (self.clone(), agent.to_string(), id.clone());
            self.tasks.spawn(async move {
                tokio::select! {
                    _ = wait => me.escalate(&id, &agent).await,
                    _ = me.stop.cancelled() => {}
                }
            });
        }
        if closes(t) {
            let at = next_round(now + close_delay_ms(t), CLOSE_ROUND_MS);
            let wait = self.clock.sleep_until_ms(at);
            let me = self.clone();
            self.tasks.spawn(async move {
                tokio::select! {
                    _ = wait => me.close(&id, at).await,
                    _ = me.stop.cancelled() => {}
                }
            });
        }
    }

    /// `agent` (email) escalates case `id` once it is theirs: the internal comment on what L1
    /// tried, then `Status = Escalated`, both as them. Looked at again each round while it is
    /// not theirs yet; given up after 12 rounds.
    async fn escalate(&self, id: &str, agent: &str) {
        let Some(plan) = self.plan(id) else { return };
        if plan.escalated {
            return;
        }
        let Some(user) = self.world.owners_by_email.get(agent).cloned() else {
            self.counts.failed.fetch_add(1, Relaxed);
            return;
        };
        for _ in 0..12 {
            if self.desk().case_owner(id).as_deref() == Some(user.as_str()) {
                let t = &self.data.tickets[plan.ticket];
                let desk = self.desk();
                let done = desk
                    .comment(&user, id, &l1_work(t), false)
                    .and_then(|()| desk.set_case_status(&user, id, "Escalated"));
                match done {
                    Ok(()) => {
                        self.update_plan(id, |p| p.escalated = true);
                        self.counts.escalations.fetch_add(1, Relaxed);
                    }
                    Err(e) => {
                        tracing::warn!(case = %id, error = %e, "sandbox could not escalate a case");
                        self.counts.failed.fetch_add(1, Relaxed);
                    }
                }
                return;
            }
            let next = next_round(self.clock.now_ms() + 1, ESCALATION_ROUND_MS);
            let wait = self.clock.sleep_until_ms(next);
            tokio::select! {
                _ = wait => {}
                _ = self.stop.cancelled() => return,
            }
        }
        self.counts.escalations_given_up.fetch_add(1, Relaxed);
    }

    /// Closes case `id` (due at `at`) as its owner, or as the admin when a queue or someone the
    /// sandbox did not seed owns it; not before [`CLOSE_AFTER_ACCEPT_MS`] after an acceptance
    /// (a pending one is waited for), and once the accepting agent owns it (12 rounds at
    /// most). Every wait ends at a close round.
    async fn close(&self, id: &str, mut at: i64) {
        let mut tries = 0;
        loop {
            let now = self.clock.now_ms();
            let Some(plan) = self.plan(id) else { return };
            let next = match (&plan.accepted, plan.accept_due_ms) {
                (Some((agent, t)), _) => {
                    let user = self.world.owners_by_email.get(agent);
                    if now < t + CLOSE_AFTER_ACCEPT_MS {
                        Some(t + CLOSE_AFTER_ACCEPT_MS)
                    } else if tries < 12
                        && user.is_some()
                        && self.desk().case_owner(id).as_ref() != user
                    {
                        tries += 1;
                        Some(now + 1)
                    } else {
                        None
                    }
                }
                (None, Some(due)) if now < due + CLOSE_AFTER_ACCEPT_MS => {
                    Some(due + CLOSE_AFTER_ACCEPT_MS)
                }
                _ => None,
            };
            match next {
                Some(t) => at = next_round(t.max(at), CLOSE_ROUND_MS),
                None if now >= at => break,
                None => {}
            }
            let wait = self.clock.sleep_until_ms(at);
            tokio::select! {
                _ = wait => {}
                _ = self.stop.cancelled() => return,
            }
        }
        let desk = self.desk();
        let user = desk
            .case_owner(id)
            .filter(|o| self.people.contains(o))
            .unwrap_or_else(|| desk.admin_id());
        match desk.set_case_status(&user, id, "Closed") {
            Ok(()) => {
                self.counts.closes.fetch_add(1, Relaxed);
            }
            Err(e) => {
                tracing::warn!(case = %id, error = %e, "sandbox could not close a case");
                self.counts.failed.fetch_add(1, Relaxed);
            }
        }
    }

    /// Waits for the simulation's actions in flight (they end early once stopped).
    pub async fn finish(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

#[cfg(test)]
mod tests;
