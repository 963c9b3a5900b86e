//! Replays the sandbox's history as CRM activity, in date order, on the simulated clock:
//! opportunities are created when engaged and move to won or lost when closed, and contacts
//! arrive as marketing-qualified leads; the whole timeline is laid over the simulated days'
//! arrival sessions ([`super::sim::event_time`]), so leads arrive in business hours, after
//! hours and on the weekend. How each write reaches the daemon is the CRM's way (HubSpot signs
//! a webhook for each; Salesforce waits for the next poll). With a marketing CRM in front,
//! leads arrive there ([`SandboxCrm::arrival_system`]) and deals in the sales CRM.
//!
//! With support's case handoffs on ([`super::support`]), the support tickets join the
//! timeline the same way as the contacts: spread evenly over its days, each opened as a case at
//! its time ([`super::support::Support::arrive`]).
//!
//! Scenario choices (the datasets carry no such fields): one arriving lead in six belongs to an
//! existing account (its email and company are the account's), one in twenty has no legal basis
//! for processing (no consent), one in two hundred and fifty is obvious test data, and lead
//! sources cycle through the CRM's values ([`SandboxCrm::lead_source`]).

use super::crm::{DealClose, DealSeed, SandboxCrm};
use super::data::{account_domain, Dataset};
use super::seed::World;
use super::support::Support;
use crate::clock::{Clock, SimClock};
use handoff_connector::Person;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Counters the progress view reads.
#[derive(Debug, Default)]
pub struct ReplayCounts {
    pub leads_created: AtomicU64,
    pub deals_created: AtomicU64,
    pub deals_closed: AtomicU64,
    /// Timeline events played so far, and in all.
    pub events_replayed: AtomicU64,
    pub events_total: AtomicU64,
    /// Ids of the records created as leads.
    pub lead_ids: Mutex<Vec<String>>,
}

impl ReplayCounts {
    /// The ids of the records created as leads so far, as a set.
    pub fn arrivals(&self) -> std::collections::BTreeSet<String> {
        self.lead_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    DealOpen(usize),
    Lead(usize),
    DealClose(usize),
    /// A support ticket arriving as a case.
    Case(usize),
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn day(date: &str) -> Option<i64> {
    let d: jiff::civil::Date = date.trim().parse().ok()?;
    Some(
        d.to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_second()
            / 86_400,
    )
}

/// Builds the ordered timeline: (day, event); with `cases`, the support tickets too.
fn timeline(data: &Dataset, cases: bool) -> Vec<(i64, Event)> {
    let mut events = Vec::new();
    let mut last = i64::MIN;
    let mut first = i64::MAX;
    for (i, o) in data.opportunities.iter().enumerate() {
        if let Some(d) = o.engage_date.as_deref().and_then(day) {
            events.push((d, Event::DealOpen(i)));
            first = first.min(d);
            last = last.max(d);
        }
        if let Some(d) = o.close_date.as_deref().and_then(day) {
            events.push((d, Event::DealClose(i)));
            last = last.max(d);
        }
    }
    if first > last {
        first = 0;
        last = 0;
    }
    // Opportunities still prospecting have no dates: they open on the last day.
    for (i, o) in data.opportunities.iter().enumerate() {
        if o.engage_date.is_none() {
            events.push((last, Event::DealOpen(i)));
        }
    }
    let span = (last - first).max(1) as usize;
    let n = data.customers.len().max(1);
    for i in 0..data.customers.len() {
        events.push((first + (i * span / n) as i64, Event::Lead(i)));
    }
    if cases {
        let n = data.tickets.len().max(1);
        for i in 0..data.tickets.len() {
            events.push((first + (i * span / n) as i64, Event::Case(i)));
        }
    }
    events.sort();
    events
}

/// The date `days` after `YYYY-MM-DD` `date`, as `YYYY-MM-DD`.
fn add_days(date: &str, days: i64) -> Option<String> {
    let d: jiff::civil::Date = date.trim().parse().ok()?;
    d.checked_add(jiff::Span::new().days(days))
        .ok()
        .map(|d| d.to_string())
}

/// The day (days since 1970-01-01) as `YYYY-MM-DD`.
fn date_of(day: i64) -> String {
    jiff::Timestamp::from_second(day * 86_400)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Plays the timeline into the CRM, each event at its simulated time on `clock`; with
/// `support`, the support tickets arrive as cases too.
pub async fn run(
    data: Arc<Dataset>,
    world: Arc<World>,
    crm: Arc<dyn SandboxCrm>,
    clock: SimClock,
    counts: Arc<ReplayCounts>,
    stop: CancellationToken,
    support: Option<Arc<Support>>,
) {
    let events = timeline(&data, support.is_some());
    let last_day = events.iter().map(|(d, _)| *d).max().unwrap_or_default();
    let prices: HashMap<&str, f64> = data
        .products
        .iter()
        .map(|p| (p.product.as_str(), p.sales_price))
        .collect();
    counts
        .events_total
        .store(events.len() as u64, Ordering::Relaxed);
    let mut deal_ids: HashMap<usize, String> = HashMap::new();
    let n = events.len();
    for (k, (_, event)) in events.iter().enumerate() {
        tokio::select! {
            _ = clock.sleep_until_ms(super::sim::event_time(k, n)) => {}
            _ = stop.cancelled() => return,
        }
        match *event {
            Event::Case(i) => {
                if let Some(support) = &support {
                    support.arrive(i);
                }
            }
            Event::Lead(i) => {
                let person = lead_person(&data, i, crm.lead_source(i));
                let system = crm.arrival_system();
                let created = crate::config::lead_record(system, &person)
                    .ok_or_else(|| format!("no lead record for the CRM {system}"))
                    .and_then(|record| crm.create_lead(record.properties));
                match created {
                    Ok(id) => {
                        counts
                            .lead_ids
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(id);
                        counts.leads_created.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => tracing::warn!(error = %e, "sandbox could not create a lead"),
                }
            }
            Event::DealOpen(i) => {
                let o = &data.opportunities[i];
                let amount = o
                    .close_value
                    .filter(|_| o.close_date.is_some())
                    .or_else(|| prices.get(o.product.as_str()).copied());
                let expected_close = o
                    .close_date
                    .clone()
                    .or_else(|| o.engage_date.as_deref().and_then(|d| add_days(d, 30)))
                    .unwrap_or_else(|| date_of(last_day));
                let deal = DealSeed {
                    name: format!(
                        "{} — {} ({})",
                        o.account.as_deref().unwrap_or("New prospect"),
                        o.product,
                        o.opportunity_id
                    ),
                    maven_stage: &o.deal_stage,
                    product: &o.product,
                    amount,
                    owner_id: world.owner_ids.get(&o.sales_agent).map(String::as_str),
                    account_id: o
                        .account
                        .as_ref()
                        .and_then(|a| world.company_ids.get(a))
                        .map(String::as_str),
                    expected_close,
                };
                match crm.open_deal(&deal) {
                    Ok(id) => {
                        deal_ids.insert(i, id);
                        counts.deals_created.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::warn!(deal = %o.opportunity_id, error = %e, "sandbox could not open a deal")
                    }
                }
            }
            Event::DealClose(i) => {
                let o = &data.opportunities[i];
                if let Some(id) = deal_ids.get(&i) {
                    let close = DealClose {
                        won: o.deal_stage == "Won",
                        amount: o.close_value,
                        close_date: o.close_date.as_deref(),
                    };
                    if let Err(e) = crm.close_deal(id, &close) {
                        tracing::warn!(deal = %id, error = %e, "sandbox could not close a deal");
                    }
                    counts.deals_closed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        counts.events_replayed.fetch_add(1, Ordering::Relaxed);
    }
}

/// The person arriving as the `i`-th lead, with `source` (the CRM's spelling).
fn lead_person(data: &Dataset, i: usize, source: &str) -> Person {
    let c = &data.customers[i];
    let mut company = c.company.clone();
    let mut email = c.email.clone();
    let mut website = c.website.clone();
    if i % 6 == 3 && !data.accounts.is_empty() {
        let a = &data.accounts[i / 6 % data.accounts.len()];
        company = a.account.clone();
        let domain = account_domain(&a.account);
        email = format!(
            "{}.{}@{domain}",
            c.first_name.to_lowercase(),
            c.last_name.to_lowercase()
        );
        website = format!("https://{domain}/");
    }
    if i % 250 == 125 {
        email = format!("test{i}@test.com");
    }
    Person {
        id: String::new(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        company,
        email,
        phone: c.phone_1.clone(),
        mobile_phone: String::new(),
        website,
        city: c.city.clone(),
        country: c.country.clone(),
        source: Some(source.to_string()),
        consent: i % 20 != 7,
        sales_ready: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_is_ordered_and_complete() {
        let data = Dataset::embedded().unwrap();
        let t = timeline(&data, true);
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
        let opens = t
            .iter()
            .filter(|(_, e)| matches!(e, Event::DealOpen(_)))
            .count();
        let closes = t
            .iter()
            .filter(|(_, e)| matches!(e, Event::DealClose(_)))
            .count();
        let leads = t
            .iter()
            .filter(|(_, e)| matches!(e, Event::Lead(_)))
            .count();
        assert_eq!(opens, data.opportunities.len());
        assert_eq!(
            closes,
            data.opportunities
                .iter()
                .filter(|o| o.close_date.is_some())
                .count()
        );
        assert_eq!(leads, data.customers.len());
        let cases = t
            .iter()
            .filter(|(_, e)| matches!(e, Event::Case(_)))
            .count();
        assert_eq!(cases, data.tickets.len());
        assert!(!timeline(&data, false)
            .iter()
            .any(|(_, e)| matches!(e, Event::Case(_))));
        // A deal never closes before it opens.
        let pos = |e: Event| t.iter().position(|(_, x)| *x == e);
        for (i, o) in data.opportunities.iter().enumerate() {
            if o.close_date.is_some() {
                assert!(pos(Event::DealOpen(i)) < pos(Event::DealClose(i)));
            }
        }
    }
}
