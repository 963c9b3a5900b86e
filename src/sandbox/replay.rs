//! Replays the sandbox's history as HubSpot activity, in date order, on the simulated clock:
//! opportunities are created when engaged and move to won or lost when closed, and contacts
//! arrive as marketing-qualified leads; the whole timeline is laid over the simulated days'
//! arrival sessions ([`super::sim::event_time`]), so leads arrive in business hours, after
//! hours and on the weekend. The HubSpot emulator turns each write into signed webhooks,
//! exactly as a portal would.
//!
//! Scenario choices (the datasets carry no such fields): one arriving lead in six belongs to an
//! existing account (its email and company are the account's), one in twenty has no legal basis
//! for processing (no consent), and one in two hundred and fifty is obvious test data.

use super::data::{account_domain, Dataset, Opportunity};
use super::seed::World;
use crate::clock::{Clock, SimClock};
use handoff_hubspot::HubSpotEmulator;
use serde_json::{json, Map, Value};
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
    /// Ids of the contacts created as leads.
    pub lead_ids: Mutex<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    DealOpen(usize),
    Lead(usize),
    DealClose(usize),
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

/// Builds the ordered timeline: (day, event).
fn timeline(data: &Dataset) -> Vec<(i64, Event)> {
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
    events.sort();
    events
}

fn deal_stage(o: &Opportunity) -> &'static str {
    match o.deal_stage.as_str() {
        "Won" | "Lost" | "Engaging" => "qualifiedtobuy",
        _ => "appointmentscheduled",
    }
}

/// Plays the timeline into the HubSpot emulator, each event at its simulated time on `clock`.
pub async fn run(
    data: Arc<Dataset>,
    world: Arc<World>,
    hubspot: HubSpotEmulator,
    clock: SimClock,
    counts: Arc<ReplayCounts>,
    stop: CancellationToken,
) {
    let events = timeline(&data);
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
        {
            match *event {
                Event::Lead(i) => {
                    let id = hubspot.create_object("contacts", lead_properties(&data, i));
                    counts
                        .lead_ids
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(id);
                    counts.leads_created.fetch_add(1, Ordering::Relaxed);
                }
                Event::DealOpen(i) => {
                    let o = &data.opportunities[i];
                    let amount = o
                        .close_value
                        .filter(|_| o.close_date.is_some())
                        .or_else(|| prices.get(o.product.as_str()).copied());
                    let mut p = Map::new();
                    p.insert(
                        "dealname".into(),
                        json!(format!(
                            "{} — {} ({})",
                            o.account.as_deref().unwrap_or("New prospect"),
                            o.product,
                            o.opportunity_id
                        )),
                    );
                    p.insert("pipeline".into(), json!("default"));
                    p.insert("dealstage".into(), json!(deal_stage(o)));
                    p.insert("product".into(), json!(o.product));
                    if let Some(a) = amount {
                        p.insert("amount".into(), json!(format!("{a}")));
                    }
                    if let Some(owner) = world.owner_ids.get(&o.sales_agent) {
                        p.insert("hubspot_owner_id".into(), json!(owner));
                    }
                    let id = hubspot.create_object("deals", p);
                    if let Some(company) = o.account.as_ref().and_then(|a| world.company_ids.get(a))
                    {
                        if let Err(e) = hubspot.associate("deals", &id, "companies", company) {
                            tracing::warn!(deal = %id, error = %e, "sandbox could not associate a deal");
                        }
                    }
                    deal_ids.insert(i, id);
                    counts.deals_created.fetch_add(1, Ordering::Relaxed);
                }
                Event::DealClose(i) => {
                    let o = &data.opportunities[i];
                    if let Some(id) = deal_ids.get(&i) {
                        let mut p = Map::new();
                        let won = o.deal_stage == "Won";
                        p.insert(
                            "dealstage".into(),
                            json!(if won { "closedwon" } else { "closedlost" }),
                        );
                        if let Some(v) = o.close_value {
                            p.insert("amount".into(), json!(format!("{v}")));
                        }
                        if let Some(d) = &o.close_date {
                            p.insert("closedate".into(), json!(format!("{d}T00:00:00.000Z")));
                        }
                        if let Err(e) = hubspot.update_object("deals", id, p) {
                            tracing::warn!(deal = %id, error = %e, "sandbox could not close a deal");
                        }
                        counts.deals_closed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        counts.events_replayed.fetch_add(1, Ordering::Relaxed);
    }
}

fn lead_properties(data: &Dataset, i: usize) -> Map<String, Value> {
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
    let mut p = Map::new();
    for (k, v) in [
        ("email", email),
        ("firstname", c.first_name.clone()),
        ("lastname", c.last_name.clone()),
        ("company", company),
        ("website", website),
        ("city", c.city.clone()),
        ("country", c.country.clone()),
        ("phone", c.phone_1.clone()),
        ("lifecyclestage", "marketingqualifiedlead".into()),
    ] {
        if !v.is_empty() {
            p.insert(k.into(), json!(v));
        }
    }
    // The datablist rows carry no source: the sandbox assigns HubSpot "Original source"
    // (`hs_analytics_source`) values in turn, so a third of the leads come in as demo
    // requests (direct, organic and paid search) under the example's 5-minute SLA.
    const SOURCES: [&str; 9] = [
        "DIRECT_TRAFFIC",
        "EMAIL_MARKETING",
        "ORGANIC_SEARCH",
        "REFERRALS",
        "SOCIAL_MEDIA",
        "PAID_SEARCH",
        "OFFLINE",
        "OTHER_CAMPAIGNS",
        "PAID_SOCIAL",
    ];
    p.insert(
        "hs_analytics_source".into(),
        json!(SOURCES[i % SOURCES.len()]),
    );
    if i % 20 != 7 {
        p.insert(
            "hs_legal_basis".into(),
            json!("Legitimate interest – prospect/lead"),
        );
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_is_ordered_and_complete() {
        let data = Dataset::embedded().unwrap();
        let t = timeline(&data);
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
        // A deal never closes before it opens.
        let pos = |e: Event| t.iter().position(|(_, x)| *x == e);
        for (i, o) in data.opportunities.iter().enumerate() {
            if o.close_date.is_some() {
                assert!(pos(Event::DealOpen(i)) < pos(Event::DealClose(i)));
            }
        }
    }
}
