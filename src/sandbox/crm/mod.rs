//! The CRM the sandbox runs against, behind one trait: [`SandboxCrm`] holds everything the
//! sandbox does that depends on the vendor, so seeding, the replay, the simulated reps, the
//! simulated clock's driver and the summary are written once.
//!
//! * Setup: start the emulator ([`start`], by the config's `crm.type` and, with a marketing
//!   CRM in front, `marketing.crm.type`) and point the config's `crm:` (and `marketing.crm:`)
//!   section at it ([`SandboxCrm::configure`]).
//! * Seeding: people as owners, accounts ([`SandboxCrm::add_person`],
//!   [`SandboxCrm::add_account`]).
//! * The replay: deals opened and closed, arriving leads ([`SandboxCrm::open_deal`],
//!   [`SandboxCrm::close_deal`], [`SandboxCrm::create_lead`], [`SandboxCrm::lead_source`]).
//! * The reps and the meddling integration: a status change as the rep, a logged call, an owner
//!   change by another system.
//! * Idleness: whether every change in the CRM has reached the daemon
//!   ([`SandboxCrm::delivered`]: webhooks still queued, or changes a poll has not read yet).
//! * The summary's reads of the emulator's state ([`LeadView`], [`DealView`], case keys) and
//!   `--state-dir` ([`SandboxCrm::write_state`]).
//! * Support cases, where the CRM has them ([`SandboxCrm::support`], a [`SupportDesk`]: open a
//!   case, add a chat transcript, comment and change the status as an agent, and read cases,
//!   comments and users back for the checks).
//! * With a marketing CRM in front of the sales CRM, where arriving leads are created and how
//!   they become the sales CRM's leads ([`SandboxCrm::arrival_system`],
//!   [`SandboxCrm::arrived_leads`], [`SandboxCrm::outcome_keys`]), and the checks across the two
//!   CRMs ([`SandboxCrm::two_crms`]). A single CRM keeps the defaults: arrivals are its
//!   own leads.
//!
//! Implementations: [`hubspot::HubSpotSandbox`], [`salesforce::SalesforceSandbox`], and
//! [`two::TwoCrmSandbox`], the two composed (HubSpot for marketing in front of Salesforce).

pub mod hubspot;
pub mod salesforce;
pub mod two;

use super::local::LocalOptions;
use super::report::TwoCrmState;
use super::SandboxError;
use crate::clock::SimClock;
use crate::config::{Config, CrmSection};
use crate::state::StatusReport;
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The CRM a sandbox run uses (`handoff sandbox --crm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CrmChoice {
    /// HubSpot: webhooks for every write, with polling as the backstop.
    #[default]
    Hubspot,
    /// Salesforce: polling only (SOQL on `SystemModstamp`).
    Salesforce,
    /// HubSpot for marketing in front of Salesforce for sales (`marketing:`): leads arrive as
    /// HubSpot contacts, qualified ones become Salesforce Leads, everything else is Salesforce.
    #[value(name = "hubspot+salesforce")]
    HubspotSalesforce,
}

/// A person to make a CRM owner.
#[derive(Debug, Clone, Copy)]
pub struct Staff<'a> {
    pub email: &'a str,
    pub first: &'a str,
    pub last: &'a str,
    /// The person's team (a HubSpot owner's team), if any.
    pub team: Option<&'a str>,
    /// `Some(away)` for the sales organisation's staff, whose availability the CRM may hold
    /// (HubSpot's users object); `None` for people only the routing rules name.
    pub away: Option<bool>,
}

/// An account (a Maven account) to create.
#[derive(Debug, Clone, Copy)]
pub struct AccountSeed<'a> {
    pub name: &'a str,
    /// Its web domain (`acmecorporation.com`).
    pub domain: &'a str,
    pub industry: &'a str,
    pub country: &'a str,
    pub employees: Option<u64>,
    /// Annual revenue, USD (not millions).
    pub revenue_usd: Option<f64>,
    pub year_established: Option<u32>,
    /// The CRM owner id of the account's owner, if known.
    pub owner_id: Option<&'a str>,
}

/// A deal the replay opens.
#[derive(Debug, Clone)]
pub struct DealSeed<'a> {
    pub name: String,
    /// The Maven stage (`Prospecting`, `Engaging`, `Won`, `Lost`).
    pub maven_stage: &'a str,
    pub product: &'a str,
    pub amount: Option<f64>,
    /// The CRM owner id of the deal's sales agent.
    pub owner_id: Option<&'a str>,
    /// The CRM id of the deal's account.
    pub account_id: Option<&'a str>,
    /// The expected close date, `YYYY-MM-DD` (CRMs that require one on open deals use it).
    pub expected_close: String,
}

/// How the replay closes a deal.
#[derive(Debug, Clone, Copy)]
pub struct DealClose<'a> {
    pub won: bool,
    pub amount: Option<f64>,
    /// `YYYY-MM-DD`.
    pub close_date: Option<&'a str>,
}

/// A CRM user who owns what is created without an owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultOwner {
    /// Their owner id.
    pub id: String,
    pub email: String,
    /// Full name.
    pub name: String,
}

/// A lead as the summary reads it from the CRM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadView {
    pub id: String,
    /// The owner, when it is a person (a HubSpot owner; a Salesforce User, not a queue).
    pub owner_id: Option<String>,
    /// The reason handoff wrote when it sent the lead back to nurture.
    pub nurture_reason: Option<String>,
    /// Whether the lead belongs to an existing account (see each implementation).
    pub matched_account: bool,
}

/// Where a deal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealState {
    Open,
    Won,
    Lost,
}

/// A deal as the summary reads it from the CRM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealView {
    pub id: String,
    pub state: DealState,
}

/// A support case to open: a ticket of the support dataset as the customer's channel brings
/// it in (see [`crate::sandbox::support`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseSeed<'a> {
    pub subject: &'a str,
    pub description: &'a str,
    /// `Low`, `Medium`, `High`, `Critical`.
    pub priority: &'a str,
    /// The channel: `Chat`, `Email`, `Phone`, `Social media`.
    pub origin: &'a str,
    /// The ticket type (`Refund request`, …).
    pub case_type: &'a str,
    pub product: &'a str,
    /// The customer's email as they gave it.
    pub email: &'a str,
    /// The CRM account whose web domain is the email's, if any.
    pub account_id: Option<&'a str>,
    /// The owner id the CRM's own assignment gives the case; `None`: the support queue.
    pub owner_id: Option<&'a str>,
}

/// A support case as the checks read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseView {
    pub id: String,
    /// The owner: a user's id, or a queue's.
    pub owner_id: Option<String>,
    pub status: Option<String>,
}

/// A comment on a case as the checks read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommentView {
    pub case_id: String,
    pub body: String,
    /// Who wrote it (a user id).
    pub author_id: Option<String>,
    /// Visible to the customer.
    pub public: bool,
}

/// Support cases in the CRM (Salesforce Cases with their `CaseComment`s and
/// `LiveChatTranscript`s): what the sandbox's support replay and simulated agents do there,
/// and what the case checks read back. Writes that may be refused return `Err` with the CRM's
/// reason.
pub trait SupportDesk: Send + Sync {
    /// The record key of case `id` (`salesforce:Case:500…`).
    fn case_key(&self, id: &str) -> String;

    /// Opens a case (status `New`) as the customer's channel would; returns its id.
    fn open_case(&self, case: &CaseSeed<'_>) -> Result<String, String>;

    /// Adds the chatbot conversation `body` (turns separated by `<br>`, as chat transcripts
    /// store them) to case `id`, ended at `ended_ms` (UTC ms).
    fn add_transcript(&self, id: &str, body: &str, ended_ms: i64) -> Result<(), String>;

    /// `user_id` comments `body` on case `id`: internal, or visible to the customer.
    fn comment(&self, user_id: &str, id: &str, body: &str, public: bool) -> Result<(), String>;

    /// `user_id` sets case `id`'s status.
    fn set_case_status(&self, user_id: &str, id: &str, status: &str) -> Result<(), String>;

    /// Case `id`'s owner (a user's or a queue's id), if the case is there.
    fn case_owner(&self, id: &str) -> Option<String>;

    /// Who acts for a case a queue owns (the org's admin).
    fn admin_id(&self) -> String;

    /// Account id by its web domain (`acmecorporation.com`), for every account with one.
    fn accounts_by_domain(&self) -> std::collections::HashMap<String, String>;

    /// Every case.
    fn cases(&self) -> Vec<CaseView>;

    /// Every comment on any case, oldest first.
    fn comments(&self) -> Vec<CommentView>;

    /// Every user's email (lower case) by user id.
    fn user_emails(&self) -> std::collections::HashMap<String, String>;
}

/// Everything vendor-specific the sandbox does in the CRM. Writes that may be refused (bad
/// seed data, a record gone) return `Err` with the CRM's reason; the caller logs it.
pub trait SandboxCrm: Send + Sync {
    /// The system name in record keys (`hubspot`, `salesforce`).
    fn system(&self) -> &'static str;

    /// The object leads are (`contacts`, `Lead`).
    fn lead_object(&self) -> &'static str;

    /// The object deals are (`deals`, `Opportunity`).
    fn deal_object(&self) -> &'static str;

    /// What the CRM calls onboarding cases, plural, for the progress line (`tickets`, `cases`).
    fn case_noun(&self) -> &'static str;

    /// The system arriving leads are created in: the shape of the records
    /// [`SandboxCrm::create_lead`] takes (`handoff::config::lead_record`). The CRM's own
    /// ([`SandboxCrm::system`]) unless a marketing CRM sits in front of it.
    fn arrival_system(&self) -> &'static str {
        self.system()
    }

    /// Points `config`'s `crm:` section (and what depends on the seeded CRM, such as
    /// `ownership.systems`) at this emulator: base URL, credentials written as secret files
    /// into `secrets` (mode 0600), and, unless strict limits were asked for, budgets relaxed.
    ///
    /// Errors: a secret file cannot be written, or the config names another CRM.
    fn configure(&self, config: &mut Config, secrets: &Path) -> Result<(), SandboxError>;

    /// Makes the CRM stamp its records with the simulated time where the daemon compares
    /// them with its own clock (a Salesforce Task's `CreatedDate`). Default: nothing.
    fn follow_clock(&self, _clock: &SimClock) {}

    /// Makes `person` an owner (and whatever else the CRM needs of a rep); returns the owner
    /// id handoff will see.
    fn add_person(&self, person: &Staff<'_>) -> String;

    /// Who owns records created without an owner, when the CRM gives every record one
    /// (Salesforce: the user who creates it, here the org's admin); `None` when records may have
    /// no owner (HubSpot). The seed makes them a Slack member, so a lead routed to an account
    /// they own reaches a person.
    fn default_owner(&self) -> Option<DefaultOwner> {
        None
    }

    /// Creates an account (owned by [`SandboxCrm::default_owner`] when `owner_id` is `None`);
    /// returns its id.
    fn add_account(&self, account: &AccountSeed<'_>) -> Result<String, String>;

    /// The source of the `i`-th arriving lead, as the CRM spells lead sources (the sandbox
    /// cycles through the CRM's values; see each implementation for the share of demo
    /// requests).
    fn lead_source(&self, i: usize) -> &'static str;

    /// Creates an arriving lead with `fields` (`handoff::config::lead_record`'s properties);
    /// returns its id.
    fn create_lead(&self, fields: Map<String, Value>) -> Result<String, String>;

    /// Opens a deal; returns its id.
    fn open_deal(&self, deal: &DealSeed<'_>) -> Result<String, String>;

    /// Closes deal `id` as won or lost.
    fn close_deal(&self, id: &str, close: &DealClose<'_>) -> Result<(), String>;

    /// The rep (`rep_id`, their owner id) sets a "working" lead status on lead `lead_id` in the
    /// CRM. True when the CRM took it.
    fn set_status<'a>(&'a self, rep_id: &'a str, lead_id: &'a str) -> BoxFuture<'a, bool>;

    /// The rep logs a call on lead `lead_id` at `at_ms` (simulated UTC ms). True when the CRM
    /// took it.
    fn log_call<'a>(&'a self, rep_id: &'a str, lead_id: &'a str, at_ms: i64)
        -> BoxFuture<'a, bool>;

    /// Another system (a marketing workflow or integration, not handoff and not a rep) gives
    /// lead `lead_id` to `owner_id`. True when the CRM took it.
    fn meddle(&self, lead_id: &str, owner_id: &str) -> bool;

    /// API requests the emulator has served (a cheap sign of work in progress).
    fn request_count(&self) -> u64;

    /// Deliveries the CRM has queued for the daemon and not handed over yet (HubSpot's
    /// webhooks; 0 for a polled CRM): a cheap sign of work in progress.
    fn pending_deliveries(&self) -> usize;

    /// `(used, allocation)` of the CRM's daily API allocation, where it has one (Salesforce's
    /// `Sforce-Limit-Info`); `None` otherwise.
    fn api_usage(&self) -> Option<(u64, u64)> {
        None
    }

    /// Whether every change in the CRM has reached the daemon's inbox: no webhook still queued,
    /// and, for a polled CRM, every polled object's newest change at or behind the daemon's
    /// cursor for it (`status.cursors`). With `own_writes` false, the echoes of handoff's own
    /// writes (which decide nothing) do not count.
    fn delivered(&self, status: &StatusReport, own_writes: bool) -> bool;

    /// Every lead in the CRM (the summary keeps those the replay created).
    fn leads(&self) -> Vec<LeadView>;

    /// The leads the summary counts for the arrivals `arrivals` (ids
    /// [`SandboxCrm::create_lead`] returned), each once: by default the arrivals themselves.
    /// With a marketing CRM in front, an arrival the sales CRM has a lead for is that lead;
    /// one it has none for is the arrival as the marketing CRM holds it (sent back to nurture
    /// there, or lost).
    fn arrived_leads(&self, arrivals: &BTreeSet<String>) -> Vec<LeadView> {
        self.leads()
            .into_iter()
            .filter(|l| arrivals.contains(&l.id))
            .collect()
    }

    /// For each arrival (in `arrivals`' order), the record keys whose audit entries tell what
    /// became of it (routed, nurtured): by default its own lead key. With a marketing CRM in
    /// front, the contact's key and the keys of the sales CRM's leads with its email.
    fn outcome_keys(&self, arrivals: &BTreeSet<String>) -> Vec<Vec<String>> {
        arrivals.iter().map(|id| vec![lead_key(self, id)]).collect()
    }

    /// Record-key prefixes of the leads handoff decides on, whose audit entries the summary
    /// reads (`salesforce:Lead:`; with a marketing CRM in front, its contacts' too).
    fn lead_key_prefixes(&self) -> Vec<String> {
        vec![lead_key(self, "")]
    }

    /// The checks and counts across two CRMs, computed from both emulators' state for the
    /// arrivals `arrivals`; `None` for a single CRM (the default).
    fn two_crms(&self, _arrivals: &BTreeSet<String>) -> Option<TwoCrmState> {
        None
    }

    /// The person owning lead `id` (see [`LeadView::owner_id`]), if any.
    fn lead_owner(&self, id: &str) -> Option<String>;

    /// Every deal in the CRM.
    fn deals(&self) -> Vec<DealView>;

    /// The idempotency key of every onboarding case in the CRM (HubSpot ticket
    /// `handoff_idempotency_key`, Salesforce Case `Handoff_Idempotency_Key__c`); `None` for a
    /// case without one. Support cases ([`SandboxCrm::support`]) are not onboarding cases.
    fn case_keys(&self) -> Vec<Option<String>>;

    /// Writes the emulator's objects as JSON arrays under `dir/<system>/`.
    fn write_state(&self, dir: &Path) -> std::io::Result<()>;

    /// The CRM's support cases, where the sandbox runs support's handoffs on it (the sales CRM
    /// with `cases:`); `None` (the default) where it has none.
    fn support(&self) -> Option<&dyn SupportDesk> {
        None
    }
}

/// Starts the emulator of the CRM `config`'s `crm:` section names, on 127.0.0.1 (any free
/// port), and with a `marketing:` section the marketing CRM's too (HubSpot in front of
/// Salesforce: [`two::TwoCrmSandbox`]). A HubSpot portal delivers webhooks to the daemon at
/// `daemon_url` (when `options.hubspot_webhooks`); a Salesforce org is polled for the objects
/// of `crm.changes.poll`.
///
/// Errors: an emulator cannot listen, or the pair of CRMs is not one the sandbox runs.
pub async fn start(
    config: &Config,
    daemon_url: &url::Url,
    options: LocalOptions,
    shutdown: CancellationToken,
) -> Result<Arc<dyn SandboxCrm>, SandboxError> {
    let marketing = config.marketing.as_ref().map(|m| &m.crm);
    Ok(match (&config.crm, marketing) {
        (CrmSection::HubSpot(section), None) => {
            Arc::new(hubspot::HubSpotSandbox::start(section, daemon_url, options, shutdown).await?)
        }
        (CrmSection::Salesforce(section), None) => {
            Arc::new(start_salesforce(section, options, shutdown).await?)
        }
        (CrmSection::Salesforce(sales), Some(CrmSection::HubSpot(marketing))) => {
            let marketing =
                hubspot::HubSpotSandbox::start(marketing, daemon_url, options, shutdown.clone())
                    .await?;
            let sales = start_salesforce(sales, options, shutdown).await?;
            Arc::new(two::TwoCrmSandbox::new(marketing, sales, config)?)
        }
        (sales, Some(marketing)) => {
            return Err(SandboxError::Emulator(format!(
                "the sandbox runs HubSpot for marketing in front of Salesforce for sales, not {} in front of {}",
                marketing.system(),
                sales.system()
            )))
        }
    })
}

/// Starts a Salesforce org polled for the objects of `section.changes`.
async fn start_salesforce(
    section: &handoff_salesforce::SalesforceSection,
    options: LocalOptions,
    shutdown: CancellationToken,
) -> Result<salesforce::SalesforceSandbox, SandboxError> {
    let polled = handoff_connector::ChangeSource::poll(&section.changes)
        .map(|p| p.objects.clone())
        .unwrap_or_default();
    let local = ([127, 0, 0, 1], 0).into();
    salesforce::SalesforceSandbox::start(local, polled, options, shutdown).await
}

/// The record key of lead `id` in `crm` (`salesforce:Lead:00Q…`).
pub fn lead_key(crm: &(impl SandboxCrm + ?Sized), id: &str) -> String {
    handoff_connector::RecordKey::new(crm.system(), crm.lead_object(), id).to_string()
}

/// The record key of deal `id` in `crm` (`hubspot:deals:42`).
pub fn deal_key(crm: &dyn SandboxCrm, id: &str) -> String {
    handoff_connector::RecordKey::new(crm.system(), crm.deal_object(), id).to_string()
}

/// The text of a JSON value: strings as they are, numbers as JSON; `None` for null and empty.
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}
