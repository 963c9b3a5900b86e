//! The sandbox on Salesforce: the Salesforce emulator as an org handoff polls (SOQL on
//! `SystemModstamp`, the only change source), authenticated with the JWT bearer flow and the
//! emulator's test key.
//!
//! The org as the sandbox seeds it:
//!
//! * every person is an active User (username = email); the org has no availability field, so
//!   nobody is away (the config reads no out-of-office field);
//! * an "Inbound Leads" queue owns arriving leads, as web-to-lead leads are (a lead a queue
//!   owns waits for routing; one a User owns is that User's);
//! * "Marketing Sync" (`marketing-sync@example.com`), a second integration's user: the
//!   meddling marketing tool, listed as the `marketing` system in `ownership.systems`;
//! * the custom fields the shipped Salesforce mappings name ([`CUSTOM_FIELDS`]), declared
//!   as an admin would in Setup;
//! * Accounts with `Website` (the account's domain), `OwnerId`, `Industry`,
//!   `NumberOfEmployees`, `AnnualRevenue`, `BillingCountry` and `YearStarted`;
//!   Opportunities with `StageName` from the Maven stage (`Prospecting`; `Qualification` for
//!   engaged deals; `Closed Won` / `Closed Lost` when closed, so `IsWon` follows), `AccountId`,
//!   `Amount`, `CloseDate`, `Product__c` and `OwnerId`;
//! * arriving Leads (`handoff::config::lead_record`) with `LeadSource` cycling through the
//!   standard picklist values ([`LEAD_SOURCES`]): a fifth are `Web` demo requests, a fifth
//!   `Partner Referral`s.
//!
//! A rep works a lead as themselves: `Status` to `Working - Contacted`, or a call logged as a
//! Task (`TaskSubtype = Call`, `WhoId` = the lead). Record times follow the simulated clock
//! ([`SandboxCrm::follow_clock`]), so a Task's `CreatedDate` is comparable with the daemon's
//! assignment time. Onboarding cases are Cases keyed by `Handoff_Idempotency_Key__c`; a lead
//! matches an account when its website or email domain is an Account's `Website` domain (a
//! Lead has no Account lookup).
//!
//! Support cases (`cases:` on two CRMs) are Cases with an `Origin`, their comments and chat
//! transcripts ([`cases`], the [`super::SupportDesk`] of this org); a "Support" queue owns new
//! ones.
//!
//! Without `--strict-limits` the org's daily API allocation is raised from Salesforce's
//! 100,000 (Enterprise base) to [`RELAXED_DAILY_LIMIT`] and handoff's pace to 100,000 requests
//! per second: a full run polls four objects every second and makes tens of thousands of
//! calls, more than the half of 100,000 handoff allows itself by default.

pub mod cases;

use super::{
    AccountSeed, DealClose, DealSeed, DealState, DealView, DefaultOwner, LeadView, SandboxCrm,
    Staff, SupportDesk,
};
use crate::clock::{Clock, SimClock};
use crate::config::{Config, CrmSection};
use crate::mapping::transform::domain;
use crate::sandbox::local::{secret_file, LocalOptions};
use crate::sandbox::{IoContext, SandboxError};
use crate::state::StatusReport;
use futures::future::BoxFuture;
use handoff_salesforce::emulator::{EmulatorConfig, SalesforceEmulator, TEST_PRIVATE_KEY_PEM};
use handoff_salesforce::{AuthSection, JwtSection};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The custom fields of this org: those the shipped Salesforce mappings name (besides Case
/// `Handoff_Idempotency_Key__c`, which the emulator's org has from the start).
pub const CUSTOM_FIELDS: [(&str, &str); 14] = [
    ("Lead", "Handoff_Nurture_Reason__c"),
    ("Lead", "Handoff_Rejection_Reason__c"),
    ("Opportunity", "Product__c"),
    ("Opportunity", "Technical_Requirements__c"),
    ("Opportunity", "Success_Criteria__c"),
    ("Case", "Onboarding_Tier__c"),
    ("Case", "Onboarding_Amount__c"),
    ("Case", "Onboarding_Products__c"),
    ("Case", "Onboarding_Close_Date__c"),
    ("Case", "Onboarding_Technical_Requirements__c"),
    ("Case", "Onboarding_Success_Criteria__c"),
    ("Case", "Product__c"),
    ("Case", "Language__c"),
    ("Case", "Reopen_Count__c"),
];

/// The standard `LeadSource` picklist values, in the order arriving leads get them.
pub const LEAD_SOURCES: [&str; 5] = [
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
];

/// The queue arriving leads belong to.
pub const INBOUND_QUEUE: (&str, &str) = ("Inbound Leads", "inbound-leads@example.com");

/// The marketing tool's integration user (email, first name, last name).
pub const MARKETING_USER: (&str, &str, &str) = ("marketing-sync@example.com", "Marketing", "Sync");

/// The daily API allocation without `--strict-limits` (Salesforce's Enterprise base is 100,000).
pub const RELAXED_DAILY_LIMIT: u64 = 100_000_000;

/// The secret files `configure` writes: the connected app's consumer key and the JWT key.
pub const CLIENT_ID_FILE: &str = "salesforce-client-id";
/// See [`CLIENT_ID_FILE`].
pub const PRIVATE_KEY_FILE: &str = "salesforce-key.pem";

/// A running Salesforce emulator for the sandbox. Cheap to clone.
#[derive(Clone)]
pub struct SalesforceSandbox {
    emulator: SalesforceEmulator,
    base_url: url::Url,
    strict_limits: bool,
    /// The objects the daemon polls (`crm.changes.poll.objects`).
    polled: Vec<String>,
    integration_user: String,
    admin_user: String,
    queue_id: String,
    /// The queue new support cases wait in ([`cases::SUPPORT_QUEUE`]).
    support_queue_id: String,
    marketing_user: String,
}

impl SalesforceSandbox {
    /// Starts an org on `addr` (port 0: any free one) and creates its inbound-leads queue, the
    /// marketing integration's user and the custom fields. `polled`: the objects the daemon
    /// polls.
    ///
    /// Errors: it cannot listen on `addr`.
    pub async fn start(
        addr: std::net::SocketAddr,
        polled: Vec<String>,
        options: LocalOptions,
        shutdown: CancellationToken,
    ) -> Result<SalesforceSandbox, SandboxError> {
        let mut custom_fields: BTreeMap<String, Vec<String>> = EmulatorConfig::default()
            .custom_fields
            .into_iter()
            .collect();
        for (object, field) in CUSTOM_FIELDS {
            custom_fields
                .entry(object.to_string())
                .or_default()
                .push(field.to_string());
        }
        let emulator = SalesforceEmulator::new(EmulatorConfig {
            daily_limit: if options.strict_limits {
                EmulatorConfig::default().daily_limit
            } else {
                RELAXED_DAILY_LIMIT
            },
            custom_fields,
            ..Default::default()
        });
        let running = emulator
            .start(addr, shutdown)
            .await
            .doing(|| format!("cannot start the Salesforce emulator on {addr}"))?;
        let (queue, queue_email) = INBOUND_QUEUE;
        let (support_queue, support_email) = cases::SUPPORT_QUEUE;
        let (email, first, last) = MARKETING_USER;
        Ok(SalesforceSandbox {
            queue_id: emulator.add_queue(queue, queue_email),
            support_queue_id: emulator.add_queue(support_queue, support_email),
            marketing_user: emulator.add_user(email, first, last),
            integration_user: emulator.integration_user_id(),
            admin_user: emulator.ui_user_id(),
            base_url: running.base_url(),
            strict_limits: options.strict_limits,
            polled,
            emulator,
        })
    }

    /// The emulator.
    pub fn emulator(&self) -> &SalesforceEmulator {
        &self.emulator
    }

    /// The login URL (the emulator's base URL; tokens name it as the instance URL too).
    pub fn base_url(&self) -> &url::Url {
        &self.base_url
    }

    /// The id of the "Inbound Leads" queue.
    pub fn queue_id(&self) -> &str {
        &self.queue_id
    }

    /// The id of the "Support" queue new support cases wait in.
    pub fn support_queue_id(&self) -> &str {
        &self.support_queue_id
    }

    /// The marketing integration's user id.
    pub fn marketing_user(&self) -> &str {
        &self.marketing_user
    }

    /// The id of handoff's integration user (the JWT subject): the writer of handoff's own
    /// changes, and the owner of a Lead handoff creates until it is routed.
    pub fn integration_user(&self) -> &str {
        &self.integration_user
    }

    /// The position `(SystemModstamp ms, Id)` of the daemon's change feed on `object`, from
    /// its status (`None` before its first poll).
    pub fn cursor(&self, status: &StatusReport, object: &str) -> Option<(i64, String)> {
        status
            .cursors
            .get(&format!("{}:{object}", self.system()))
            .and_then(|c| handoff_salesforce::feed::cursor_position(c))
    }

    /// Writes the connected app's consumer key and the emulator's test JWT key as secret files
    /// into `dir` (mode 0600); returns their paths (client id, key).
    ///
    /// Errors: a file cannot be written.
    pub fn write_credentials(
        &self,
        dir: &Path,
    ) -> Result<(handoff_connector::SecretRef, handoff_connector::SecretRef), SandboxError> {
        Ok((
            secret_file(dir, CLIENT_ID_FILE, &self.emulator.config().client_id)?,
            secret_file(dir, PRIVATE_KEY_FILE, TEST_PRIVATE_KEY_PEM)?,
        ))
    }

    fn create(&self, object: &str, fields: Map<String, Value>) -> Result<String, String> {
        self.emulator
            .create_as(&self.admin_user, object, fields)
            .map_err(|e| e.to_string())
    }

    /// Account web domain → the account's owner (a User), for accounts that have both.
    fn account_owners(&self) -> HashMap<String, String> {
        self.emulator
            .objects("Account")
            .iter()
            .filter_map(|a| {
                let domain = super::text(a.get("Website")).and_then(|w| domain(&w))?;
                Some((domain, Self::user_owner(a)?))
            })
            .collect()
    }

    /// A person's owner id, when `owner` is a User (`005…`), not a queue.
    pub(crate) fn user_owner(record: &Value) -> Option<String> {
        super::text(record.get("OwnerId")).filter(|id| id.starts_with("005"))
    }
}

fn fields(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs
        .into_iter()
        .filter(|(_, v)| !v.is_null() && v.as_str() != Some(""))
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

impl SandboxCrm for SalesforceSandbox {
    fn system(&self) -> &'static str {
        handoff_salesforce::SYSTEM
    }

    fn lead_object(&self) -> &'static str {
        "Lead"
    }

    fn deal_object(&self) -> &'static str {
        "Opportunity"
    }

    fn case_noun(&self) -> &'static str {
        "cases"
    }

    fn configure(&self, config: &mut Config, secrets: &Path) -> Result<(), SandboxError> {
        let CrmSection::Salesforce(crm) = &mut config.crm else {
            return Err(SandboxError::Emulator(
                "the Salesforce emulator runs, but the config's crm.type is not salesforce".into(),
            ));
        };
        let (client_id, private_key) = self.write_credentials(secrets)?;
        crm.login_url = self.base_url.clone();
        crm.auth = AuthSection::Jwt(JwtSection {
            client_id,
            username: self.emulator.config().username.clone(),
            private_key,
            audience: None,
        });
        if !self.strict_limits {
            crm.requests_per_second = 100_000;
        }
        // The marketing integration's user id is known only now.
        if let Some(ownership) = config.ownership.as_mut() {
            let here = serde_saphyr::Location::UNKNOWN;
            ownership.systems.insert(
                "marketing".into(),
                vec![serde_saphyr::Spanned::new(
                    self.marketing_user.clone(),
                    here,
                    here,
                )],
            );
        }
        Ok(())
    }

    fn follow_clock(&self, clock: &SimClock) {
        let clock = clock.clone();
        self.emulator
            .follow_clock(Some(Arc::new(move || clock.now_ms())));
    }

    fn default_owner(&self) -> Option<DefaultOwner> {
        let admin = self.emulator.get("User", &self.admin_user)?;
        Some(DefaultOwner {
            id: self.admin_user.clone(),
            email: super::text(admin.get("Email"))?,
            name: super::text(admin.get("Name")).unwrap_or_default(),
        })
    }

    fn add_person(&self, p: &Staff<'_>) -> String {
        self.emulator.add_user(p.email, p.first, p.last)
    }

    fn add_account(&self, a: &AccountSeed<'_>) -> Result<String, String> {
        self.create(
            "Account",
            fields(vec![
                ("Name", json!(a.name)),
                ("Website", json!(a.domain)),
                ("Industry", json!(a.industry)),
                ("BillingCountry", json!(a.country)),
                ("NumberOfEmployees", json!(a.employees)),
                ("AnnualRevenue", json!(a.revenue_usd.map(f64::round))),
                (
                    "YearStarted",
                    json!(a.year_established.map(|y| y.to_string())),
                ),
                ("OwnerId", json!(a.owner_id)),
            ]),
        )
    }

    fn lead_source(&self, i: usize) -> &'static str {
        LEAD_SOURCES[i % LEAD_SOURCES.len()]
    }

    fn create_lead(&self, mut fields: Map<String, Value>) -> Result<String, String> {
        fields.insert("OwnerId".into(), json!(self.queue_id));
        self.create("Lead", fields)
    }

    fn open_deal(&self, d: &DealSeed<'_>) -> Result<String, String> {
        let stage = match d.maven_stage {
            "Won" | "Lost" | "Engaging" => "Qualification",
            _ => "Prospecting",
        };
        self.create(
            "Opportunity",
            fields(vec![
                ("Name", json!(d.name)),
                ("StageName", json!(stage)),
                ("CloseDate", json!(d.expected_close)),
                ("Amount", json!(d.amount)),
                ("Product__c", json!(d.product)),
                ("OwnerId", json!(d.owner_id)),
                ("AccountId", json!(d.account_id)),
            ]),
        )
    }

    fn close_deal(&self, id: &str, c: &DealClose<'_>) -> Result<(), String> {
        let stage = if c.won { "Closed Won" } else { "Closed Lost" };
        self.emulator
            .update(
                "Opportunity",
                id,
                fields(vec![
                    ("StageName", json!(stage)),
                    ("Amount", json!(c.amount)),
                    ("CloseDate", json!(c.close_date)),
                ]),
            )
            .map_err(|e| e.to_string())
    }

    fn set_status<'a>(&'a self, rep_id: &'a str, lead_id: &'a str) -> BoxFuture<'a, bool> {
        let status = fields(vec![("Status", json!("Working - Contacted"))]);
        let ok = self
            .emulator
            .update_as(rep_id, "Lead", lead_id, status)
            .is_ok();
        Box::pin(async move { ok })
    }

    fn log_call<'a>(
        &'a self,
        rep_id: &'a str,
        lead_id: &'a str,
        at_ms: i64,
    ) -> BoxFuture<'a, bool> {
        let day = jiff::Timestamp::from_millisecond(at_ms)
            .map(|t| t.strftime("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let task = fields(vec![
            ("WhoId", json!(lead_id)),
            ("Subject", json!("Intro call")),
            ("TaskSubtype", json!("Call")),
            ("CallType", json!("Outbound")),
            ("Status", json!("Completed")),
            ("ActivityDate", json!(day)),
            ("Description", json!("Discussed needs; follow-up booked.")),
            ("OwnerId", json!(rep_id)),
        ]);
        let ok = self.emulator.create_as(rep_id, "Task", task).is_ok();
        Box::pin(async move { ok })
    }

    fn meddle(&self, lead_id: &str, owner_id: &str) -> bool {
        let owner = fields(vec![("OwnerId", json!(owner_id))]);
        self.emulator
            .update_as(&self.marketing_user, "Lead", lead_id, owner)
            .is_ok()
    }

    fn request_count(&self) -> u64 {
        self.emulator.request_count()
    }

    fn api_usage(&self) -> Option<(u64, u64)> {
        Some(self.emulator.api_usage())
    }

    fn pending_deliveries(&self) -> usize {
        0
    }

    fn delivered(&self, status: &StatusReport, own_writes: bool) -> bool {
        self.polled.iter().all(|object| {
            let cursor = self.cursor(status, object);
            self.emulator
                .newest_changes(object)
                .into_iter()
                .filter(|m| own_writes || m.user_id != self.integration_user)
                .all(|m| {
                    cursor
                        .as_ref()
                        .is_some_and(|c| (m.modstamp_ms, m.id.as_str()) <= (c.0, c.1.as_str()))
                })
        })
    }

    fn leads(&self) -> Vec<LeadView> {
        let accounts = self.account_owners();
        self.emulator
            .objects("Lead")
            .iter()
            .map(|l| {
                let owner_id = Self::user_owner(l);
                // A Lead has no link to an Account in Salesforce: it went to an account when
                // its owner is the owner of the account its web or email domain names.
                let matched_account = [l.get("Website"), l.get("Email")]
                    .into_iter()
                    .filter_map(super::text)
                    .filter_map(|t| domain(&t))
                    .any(|d| owner_id.is_some() && accounts.get(&d) == owner_id.as_ref());
                LeadView {
                    id: super::text(l.get("Id")).unwrap_or_default(),
                    owner_id,
                    nurture_reason: super::text(l.get("Handoff_Nurture_Reason__c")),
                    matched_account,
                }
            })
            .collect()
    }

    fn lead_owner(&self, id: &str) -> Option<String> {
        Self::user_owner(&self.emulator.get("Lead", id)?)
    }

    fn deals(&self) -> Vec<DealView> {
        self.emulator
            .objects("Opportunity")
            .iter()
            .map(|o| DealView {
                id: super::text(o.get("Id")).unwrap_or_default(),
                state: match (o["IsClosed"].as_bool(), o["IsWon"].as_bool()) {
                    (_, Some(true)) => DealState::Won,
                    (Some(true), _) => DealState::Lost,
                    _ => DealState::Open,
                },
            })
            .collect()
    }

    fn case_keys(&self) -> Vec<Option<String>> {
        self.emulator
            .objects("Case")
            .iter()
            .filter(|c| !cases::is_support_case(c))
            .map(|c| super::text(c.get("Handoff_Idempotency_Key__c")))
            .collect()
    }

    fn write_state(&self, dir: &Path) -> std::io::Result<()> {
        self.emulator.write_state(dir)
    }

    fn support(&self) -> Option<&dyn SupportDesk> {
        Some(self)
    }
}

#[cfg(test)]
mod tests;
