//! The sandbox on two CRMs (`handoff sandbox --crm hubspot+salesforce`): HubSpot for marketing
//! in front of Salesforce for sales, as `marketing:` in
//! `src/sandbox/handoff-hubspot-salesforce.yaml` configures the daemon. It is composed of the
//! two single-CRM sandboxes, [`HubSpotSandbox`] and [`SalesforceSandbox`], each seeded and
//! driven as on its own, split by what each CRM holds:
//!
//! * People: every person is a HubSpot owner (and user) and a Salesforce User, with the same
//!   email, so an owner is the same person in both. The ids the replay, the reps and the
//!   summary use are the Salesforce ones. The Salesforce admin (who owns the accounts no agent
//!   has, and so may be routed a named account's lead) is a HubSpot owner too.
//! * Leads arrive as HubSpot contacts at MQL, as on HubSpot alone (the same "Original source"
//!   values). The daemon makes each qualified one (gates passed) one Salesforce Lead, which
//!   Salesforce's lead flow routes; one that fails a gate goes back to nurture in HubSpot.
//! * Accounts, opportunities, their closing and the onboarding Cases are Salesforce's; the reps
//!   act in Salesforce on the Lead whose key is in their DM (a status, a logged call). So are
//!   support cases (`cases:`, [`SandboxCrm::support`]: the support replay of
//!   [`crate::sandbox::support`]).
//! * The meddling marketing tool is HubSpot's workflow: it re-assigns the HubSpot contact of a
//!   routed Lead (same email) to another owner. Salesforce owns the owner field from MQL on,
//!   so handoff writes the Salesforce owner back over it.
//! * Idleness: HubSpot's webhooks delivered, Salesforce's changes polled, and, even where the
//!   echoes of handoff's own writes do not count, every Lead handoff created and still owns
//!   (not routed yet) read by the Lead feed: the lead flow must see it to route it, so the
//!   simulated clock never jumps past a new Lead.
//! * The summary counts, for each arriving contact, its Salesforce Lead (by email) when there is
//!   one, else the contact ([`SandboxCrm::arrived_leads`]), and adds the checks and counts
//!   across the two CRMs ([`TwoCrmChecks`], [`MarketingCounts`], from both emulators' final
//!   state).
//!
//! `--state-dir` leaves both CRMs' objects: `DIR/hubspot/…` and `DIR/salesforce/…`.

use super::hubspot::HubSpotSandbox;
use super::salesforce::SalesforceSandbox;
use super::{
    lead_key, text, AccountSeed, DealClose, DealSeed, DealView, DefaultOwner, LeadView, SandboxCrm,
    Staff,
};
use crate::clock::SimClock;
use crate::config::Config;
use crate::mapping::Mapping;
use crate::sandbox::report::{MarketingCounts, TwoCrmChecks, TwoCrmState};
use crate::sandbox::SandboxError;
use crate::state::StatusReport;
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

/// A Lead feed position: `(SystemModstamp ms, Id)`.
type Position = (i64, String);

/// HubSpot (marketing) in front of Salesforce (sales), for the sandbox.
pub struct TwoCrmSandbox {
    marketing: HubSpotSandbox,
    sales: SalesforceSandbox,
    /// Salesforce User id → the HubSpot owner id of the same person.
    owners: Mutex<HashMap<String, String>>,
    /// `marketing.lead_mapping`: its gates tell a qualified contact.
    lead_mapping: Mapping,
    /// The last answer of [`TwoCrmSandbox::created_leads_read`], by what it depends on: the
    /// integration user's newest Lead write and the daemon's Lead cursor.
    created_read: Mutex<Option<(CreatedReadKey, bool)>>,
}

/// What [`TwoCrmSandbox::created_leads_read`] depends on.
type CreatedReadKey = (Option<Position>, Option<Position>);

/// A Salesforce Lead as the checks read it.
struct SalesLead {
    id: String,
    /// Lower case.
    email: Option<String>,
    /// The owner, when a person: a User other than handoff's integration user.
    owner_id: Option<String>,
}

/// A HubSpot contact as the checks read it.
struct Contact<'a> {
    id: &'a str,
    json: &'a Value,
    /// Lower case.
    email: Option<String>,
}

impl TwoCrmSandbox {
    /// Composes the running HubSpot portal (`marketing`) and Salesforce org (`sales`) for the
    /// daemon `config` (its `marketing.lead_mapping` tells a qualified contact), and makes the
    /// org's admin a HubSpot owner.
    ///
    /// Errors: `config` has no `marketing:` section, or its lead mapping is not one the sandbox
    /// bundles.
    pub fn new(
        marketing: HubSpotSandbox,
        sales: SalesforceSandbox,
        config: &Config,
    ) -> Result<TwoCrmSandbox, SandboxError> {
        let name = config
            .marketing
            .as_ref()
            .map(|m| m.lead_mapping.value.clone())
            .ok_or_else(|| SandboxError::Emulator("the config has no marketing: section".into()))?;
        let lead_mapping = crate::sandbox::bundled::bundled_mapping(&name)?.ok_or_else(|| {
            SandboxError::Emulator(format!(
                "marketing.lead_mapping `{name}` is not a mapping the sandbox bundles"
            ))
        })?;
        let mut owners = HashMap::new();
        if let Some(admin) = sales.default_owner() {
            let (first, last) = admin.name.split_once(' ').unwrap_or((&admin.name, ""));
            let id = marketing
                .emulator()
                .add_owner(&admin.email, first, last, None);
            owners.insert(admin.id, id);
        }
        Ok(TwoCrmSandbox {
            marketing,
            sales,
            owners: Mutex::new(owners),
            lead_mapping,
            created_read: Mutex::new(None),
        })
    }

    /// The HubSpot side.
    pub fn marketing(&self) -> &HubSpotSandbox {
        &self.marketing
    }

    /// The Salesforce side.
    pub fn sales(&self) -> &SalesforceSandbox {
        &self.sales
    }

    /// Whether `owner` is a person: not handoff's integration user (who owns the Leads it
    /// creates until they are routed).
    fn person(&self, owner: Option<String>) -> Option<String> {
        owner.filter(|o| o != self.sales.integration_user())
    }

    /// Every Salesforce Lead, with its email and person owner.
    fn sales_leads(&self) -> Vec<SalesLead> {
        self.sales
            .emulator()
            .objects("Lead")
            .iter()
            .map(|l| SalesLead {
                id: text(l.get("Id")).unwrap_or_default(),
                email: text(l.get("Email")).map(|e| e.trim().to_lowercase()),
                owner_id: self.person(SalesforceSandbox::user_owner(l)),
            })
            .collect()
    }

    /// The ids of the HubSpot contacts with `email` (any case).
    fn contacts_with_email(&self, email: &str) -> Vec<String> {
        self.marketing
            .emulator()
            .objects("contacts")
            .iter()
            .filter(|c| {
                text(c["properties"].get("email"))
                    .is_some_and(|e| e.trim().eq_ignore_ascii_case(email))
            })
            .filter_map(|c| text(c.get("id")))
            .collect()
    }

    /// Whether the Lead feed has read every Lead handoff created and still owns (see the
    /// module docs): the integration user's newest Lead write is behind the daemon's Lead
    /// cursor, or every Lead it owns is. Remembered until either moves (Leads it owns change
    /// only by its own writes).
    fn created_leads_read(&self, status: &StatusReport) -> bool {
        let integration = self.sales.integration_user();
        let cursor = self.sales.cursor(status, "Lead");
        let newest = self
            .sales
            .emulator()
            .newest_changes("Lead")
            .into_iter()
            .find(|m| m.user_id == integration)
            .map(|m| (m.modstamp_ms, m.id));
        let key = (newest.clone(), cursor.clone());
        let mut cache = self.created_read.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, answer)) = cache.as_ref() {
            if *k == key {
                return *answer;
            }
        }
        let read = |ms: i64, id: &str| {
            cursor
                .as_ref()
                .is_some_and(|c| (ms, id) <= (c.0, c.1.as_str()))
        };
        let answer = match &newest {
            None => true,
            Some((ms, id)) if read(*ms, id) => true,
            Some(_) => self
                .sales
                .emulator()
                .objects("Lead")
                .iter()
                .filter(|l| l["OwnerId"].as_str() == Some(integration))
                .all(|l| {
                    let ms = l["SystemModstamp"]
                        .as_str()
                        .and_then(handoff_salesforce::time::parse_ms)
                        .unwrap_or(i64::MAX);
                    read(ms, l["Id"].as_str().unwrap_or_default())
                }),
        };
        *cache = Some((key, answer));
        answer
    }

    /// The arriving contacts (ids `arrivals`), in its order, with their emails.
    fn arrivals<'a>(
        contacts: &'a HashMap<String, Value>,
        arrivals: &'a BTreeSet<String>,
    ) -> impl Iterator<Item = Contact<'a>> {
        arrivals.iter().filter_map(|id| {
            let json = contacts.get(id)?;
            Some(Contact {
                id,
                json,
                email: text(json["properties"].get("email")).map(|e| e.trim().to_lowercase()),
            })
        })
    }

    /// Every HubSpot contact by id.
    fn contacts(&self) -> HashMap<String, Value> {
        self.marketing
            .emulator()
            .objects("contacts")
            .into_iter()
            .filter_map(|c| Some((text(c.get("id"))?, c)))
            .collect()
    }
}

/// Items of `items` grouped by `key` (items without one left out).
fn group_by<T>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> Option<String>,
) -> HashMap<String, Vec<T>> {
    let mut out: HashMap<String, Vec<T>> = HashMap::new();
    for item in items {
        if let Some(k) = key(&item) {
            out.entry(k).or_default().push(item);
        }
    }
    out
}

impl SandboxCrm for TwoCrmSandbox {
    fn system(&self) -> &'static str {
        self.sales.system()
    }

    fn lead_object(&self) -> &'static str {
        self.sales.lead_object()
    }

    fn deal_object(&self) -> &'static str {
        self.sales.deal_object()
    }

    fn case_noun(&self) -> &'static str {
        self.sales.case_noun()
    }

    fn arrival_system(&self) -> &'static str {
        self.marketing.system()
    }

    fn configure(&self, config: &mut Config, secrets: &Path) -> Result<(), SandboxError> {
        self.sales.configure(config, secrets)?;
        match config.marketing.as_mut().map(|m| &mut m.crm) {
            Some(crate::config::CrmSection::HubSpot(section)) => {
                self.marketing.configure_section(section, secrets)
            }
            _ => Err(SandboxError::Emulator(
                "the HubSpot emulator runs for marketing, but the config's marketing.crm.type is not hubspot"
                    .into(),
            )),
        }
    }

    fn follow_clock(&self, clock: &SimClock) {
        self.sales.follow_clock(clock);
    }

    fn add_person(&self, person: &Staff<'_>) -> String {
        let hubspot = self.marketing.add_person(person);
        let salesforce = self.sales.add_person(person);
        self.owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(salesforce.clone(), hubspot);
        salesforce
    }

    fn default_owner(&self) -> Option<DefaultOwner> {
        self.sales.default_owner()
    }

    fn add_account(&self, account: &AccountSeed<'_>) -> Result<String, String> {
        self.sales.add_account(account)
    }

    fn lead_source(&self, i: usize) -> &'static str {
        self.marketing.lead_source(i)
    }

    fn create_lead(&self, fields: Map<String, Value>) -> Result<String, String> {
        self.marketing.create_lead(fields)
    }

    fn open_deal(&self, deal: &DealSeed<'_>) -> Result<String, String> {
        self.sales.open_deal(deal)
    }

    fn close_deal(&self, id: &str, close: &DealClose<'_>) -> Result<(), String> {
        self.sales.close_deal(id, close)
    }

    fn set_status<'a>(&'a self, rep_id: &'a str, lead_id: &'a str) -> BoxFuture<'a, bool> {
        self.sales.set_status(rep_id, lead_id)
    }

    fn log_call<'a>(
        &'a self,
        rep_id: &'a str,
        lead_id: &'a str,
        at_ms: i64,
    ) -> BoxFuture<'a, bool> {
        self.sales.log_call(rep_id, lead_id, at_ms)
    }

    /// A HubSpot workflow gives the contacts of Salesforce Lead `lead_id` (same email) to the
    /// HubSpot owner who is Salesforce User `owner_id`.
    fn meddle(&self, lead_id: &str, owner_id: &str) -> bool {
        let Some(email) = self
            .sales
            .emulator()
            .get("Lead", lead_id)
            .and_then(|l| text(l.get("Email")))
        else {
            return false;
        };
        let Some(to) = self
            .owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(owner_id)
            .cloned()
        else {
            return false;
        };
        let mut any = false;
        for contact in self.contacts_with_email(&email) {
            any |= self.marketing.meddle(&contact, &to);
        }
        any
    }

    fn request_count(&self) -> u64 {
        self.marketing.request_count() + self.sales.request_count()
    }

    fn pending_deliveries(&self) -> usize {
        self.marketing.pending_deliveries() + self.sales.pending_deliveries()
    }

    fn api_usage(&self) -> Option<(u64, u64)> {
        self.sales.api_usage()
    }

    fn delivered(&self, status: &StatusReport, own_writes: bool) -> bool {
        self.marketing.delivered(status, own_writes)
            && self.sales.delivered(status, own_writes)
            && (own_writes || self.created_leads_read(status))
    }

    /// Salesforce's Leads (one handoff's integration user still owns has no owner).
    fn leads(&self) -> Vec<LeadView> {
        self.sales
            .leads()
            .into_iter()
            .map(|l| LeadView {
                owner_id: self.person(l.owner_id),
                ..l
            })
            .collect()
    }

    fn arrived_leads(&self, arrivals: &BTreeSet<String>) -> Vec<LeadView> {
        let emails: HashMap<String, String> = self
            .sales_leads()
            .into_iter()
            .filter_map(|l| Some((l.id, l.email?)))
            .collect();
        let by_email = group_by(self.leads(), |l| emails.get(&l.id).cloned());
        let contacts = self.contacts();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for c in Self::arrivals(&contacts, arrivals) {
            match c.email.as_ref().and_then(|e| by_email.get(e)) {
                Some(leads) => {
                    out.extend(leads.iter().filter(|l| seen.insert(l.id.clone())).cloned())
                }
                None => out.push(LeadView {
                    id: c.id.to_string(),
                    owner_id: None,
                    nurture_reason: text(c.json["properties"].get("handoff_nurture_reason")),
                    matched_account: false,
                }),
            }
        }
        out
    }

    fn outcome_keys(&self, arrivals: &BTreeSet<String>) -> Vec<Vec<String>> {
        let by_email = group_by(self.sales_leads(), |l| l.email.clone());
        let contacts = self.contacts();
        arrivals
            .iter()
            .map(|id| {
                let mut keys = vec![lead_key(&self.marketing, id)];
                let email = contacts
                    .get(id)
                    .and_then(|c| text(c["properties"].get("email")))
                    .map(|e| e.trim().to_lowercase());
                if let Some(leads) = email.and_then(|e| by_email.get(&e)) {
                    keys.extend(leads.iter().map(|l| lead_key(self, &l.id)));
                }
                keys
            })
            .collect()
    }

    fn lead_key_prefixes(&self) -> Vec<String> {
        vec![lead_key(self, ""), lead_key(&self.marketing, "")]
    }

    fn two_crms(&self, arrivals: &BTreeSet<String>) -> Option<TwoCrmState> {
        let leads = self.sales_leads();
        let by_email = group_by(leads.iter(), |l| l.email.clone());
        let user_emails: HashMap<String, String> = self
            .sales
            .emulator()
            .objects("User")
            .iter()
            .filter_map(|u| Some((text(u.get("Id"))?, text(u.get("Email"))?.to_lowercase())))
            .collect();
        let owner_emails: HashMap<String, String> = self
            .marketing
            .emulator()
            .owners()
            .iter()
            .filter_map(|o| Some((text(o.get("id"))?, text(o.get("email"))?.to_lowercase())))
            .collect();
        // The person (email) owning a contact, and a Lead.
        let contact_owner = |c: &Value| {
            text(c["properties"].get("hubspot_owner_id")).and_then(|o| owner_emails.get(&o))
        };
        let lead_owner = |l: &SalesLead| l.owner_id.as_ref().and_then(|o| user_emails.get(o));
        let contacts = self.contacts();
        let mut checks = TwoCrmChecks {
            emails_with_more_than_one_sales_lead: by_email.values().filter(|l| l.len() > 1).count(),
            ..TwoCrmChecks::default()
        };
        let mut counts = MarketingCounts {
            sales_leads: leads.len(),
            sales_leads_owned: leads.iter().filter(|l| l.owner_id.is_some()).count(),
            ..MarketingCounts::default()
        };
        for contact in Self::arrivals(&contacts, arrivals) {
            counts.contacts += 1;
            let prop = |name: &str| text(contact.json["properties"].get(name));
            let found = contact.email.as_ref().and_then(|e| by_email.get(e));
            match found {
                Some(found) => {
                    let stage = prop("lifecyclestage").unwrap_or_default();
                    *counts
                        .contacts_with_a_lead_by_stage
                        .entry(stage)
                        .or_default() += 1;
                    if prop("hs_lead_status").as_deref() == Some("UNQUALIFIED") {
                        counts.contacts_with_a_lead_unqualified += 1;
                    }
                    if found.len() == 1
                        && lead_owner(found[0]).is_some()
                        && lead_owner(found[0]) == contact_owner(contact.json)
                    {
                        counts.contacts_owned_as_in_sales += 1;
                    }
                }
                None => {
                    if let Some(reason) = prop("handoff_nurture_reason") {
                        *counts.nurtured_in_marketing.entry(reason).or_default() += 1;
                    }
                }
            }
            if !self.lead_mapping.apply(contact.json).passed() {
                continue;
            }
            counts.qualified += 1;
            match found {
                Some(found) if found.len() == 1 => {
                    if found[0].owner_id.is_none() {
                        checks.qualified_contacts_whose_lead_has_no_owner += 1;
                    }
                }
                _ => checks.qualified_contacts_without_exactly_one_sales_lead += 1,
            }
        }
        // Each routed Lead against every contact of its email, the replay's or not.
        let contacts_by_email = group_by(contacts.values(), |c| {
            text(c["properties"].get("email")).map(|e| e.trim().to_lowercase())
        });
        for lead in &leads {
            let (Some(_), Some(email)) = (&lead.owner_id, &lead.email) else {
                continue;
            };
            let sales_owner = lead_owner(lead);
            let differs = contacts_by_email.get(email).is_some_and(|cs| {
                cs.iter()
                    .any(|c| sales_owner.is_none() || contact_owner(c) != sales_owner)
            });
            if differs {
                checks.routed_leads_with_another_owner_in_marketing += 1;
            }
        }
        Some(TwoCrmState { checks, counts })
    }

    fn lead_owner(&self, id: &str) -> Option<String> {
        self.person(self.sales.lead_owner(id))
    }

    fn deals(&self) -> Vec<DealView> {
        self.sales.deals()
    }

    fn case_keys(&self) -> Vec<Option<String>> {
        self.sales.case_keys()
    }

    fn write_state(&self, dir: &Path) -> std::io::Result<()> {
        self.marketing.write_state(dir)?;
        self.sales.write_state(dir)
    }

    /// Salesforce's Cases: support's handoffs run on the sales CRM.
    fn support(&self) -> Option<&dyn super::SupportDesk> {
        self.sales.support()
    }
}

#[cfg(test)]
mod tests;
