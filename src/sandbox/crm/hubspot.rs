//! The sandbox on HubSpot: the HubSpot emulator as a portal that delivers signed webhooks for
//! every write to the daemon (polling is the backstop).
//!
//! * People are owners (with their team) and, for the sales organisation, users of the users
//!   object with `hs_availability_status` (`away` for the agents the seed marks away).
//! * Accounts are companies (`domain`, `industry`, `country`, `numberofemployees`,
//!   `annualrevenue`, `founded_year`, `hubspot_owner_id`); deals are deals in the default
//!   pipeline associated with their company; arriving leads are contacts at lifecycle stage MQL,
//!   their "Original source" (`hs_analytics_source`) cycling through nine values, three of
//!   which (direct traffic, organic and paid search) are demo requests.
//! * A rep sets `hs_lead_status` to `ATTEMPTED_TO_CONTACT`, or logs a call through the API
//!   (`POST /crm/v3/objects/calls` associated with the contact, HubSpot default association
//!   type 194 call → contact; HubSpot then moves the contact's `notes_last_contacted`); a
//!   marketing workflow ("Assign MQLs to owner") re-assigns a lead behind handoff's back.
//! * Onboarding cases are tickets; a lead matches an account when it is associated with a
//!   company.

use super::{AccountSeed, DealClose, DealSeed, DealState, DealView, LeadView, SandboxCrm, Staff};
use crate::config::{Config, CrmSection};
use crate::sandbox::local::{join, secret_file, LocalOptions};
use crate::sandbox::{IoContext, SandboxError};
use crate::state::StatusReport;
use futures::future::BoxFuture;
use handoff_hubspot::emulator::Availability;
use handoff_hubspot::HubSpotEmulator;
use serde_json::{json, Map, Value};
use std::path::Path;
use tokio_util::sync::CancellationToken;

/// The id of the sandbox's misbehaving marketing workflow ("Assign MQLs to owner").
const WORKFLOW_ID: u64 = 4_242;

/// The portal's ten-second quota without `--strict-limits` (HubSpot's is 190), the budget the
/// relaxed config is given too.
pub const RELAXED_TEN_SECOND_LIMIT: u32 = 100_000;

/// HubSpot "Original source" values (`hs_analytics_source`) arriving leads get in turn: a third
/// are demo requests (direct, organic and paid search) under the example's 5-minute SLA.
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

/// A running HubSpot emulator for the sandbox. Cheap to clone.
#[derive(Clone)]
pub struct HubSpotSandbox {
    emulator: HubSpotEmulator,
    base_url: url::Url,
    strict_limits: bool,
    http: reqwest::Client,
}

impl HubSpotSandbox {
    /// Starts the portal (the config's `portal_id`) on 127.0.0.1 (any free port); it delivers
    /// webhooks to the daemon at `daemon_url` unless `options.hubspot_webhooks` is off.
    ///
    /// Errors: it cannot listen.
    pub async fn start(
        section: &handoff_hubspot::HubSpotSection,
        daemon_url: &url::Url,
        options: LocalOptions,
        shutdown: CancellationToken,
    ) -> Result<HubSpotSandbox, SandboxError> {
        let defaults = handoff_hubspot::EmulatorConfig::default();
        let emulator = HubSpotEmulator::new(handoff_hubspot::EmulatorConfig {
            rate_limits: options.strict_limits,
            // The quota headers say what the portal allows, and handoff's client paces itself
            // to them whether or not the emulator enforces them: relaxed, they say a quota as
            // relaxed as the one the config is given (`rate.requests`, see `configure`).
            ten_second_limit: if options.strict_limits {
                defaults.ten_second_limit
            } else {
                RELAXED_TEN_SECOND_LIMIT
            },
            portal_id: section.portal_id,
            webhook_target: options
                .hubspot_webhooks
                .then(|| join(daemon_url, "webhooks/hubspot")),
            ..Default::default()
        });
        let local = ([127, 0, 0, 1], 0).into();
        Self::serve(emulator, local, options.strict_limits, shutdown).await
    }

    /// Serves `emulator` on `addr` until `shutdown` (`strict_limits`: keep the budgets
    /// [`SandboxCrm::configure`] writes as the config has them).
    ///
    /// Errors: it cannot listen on `addr`.
    pub async fn serve(
        emulator: HubSpotEmulator,
        addr: std::net::SocketAddr,
        strict_limits: bool,
        shutdown: CancellationToken,
    ) -> Result<HubSpotSandbox, SandboxError> {
        let running = emulator
            .start(addr, shutdown)
            .await
            .doing(|| format!("cannot start the HubSpot emulator on {addr}"))?;
        Ok(HubSpotSandbox {
            emulator,
            base_url: running.base_url(),
            strict_limits,
            http: reqwest::Client::new(),
        })
    }

    /// The emulator (for seeding beyond the trait, as the intake load generator does).
    pub fn emulator(&self) -> &HubSpotEmulator {
        &self.emulator
    }

    /// The API root.
    pub fn base_url(&self) -> &url::Url {
        &self.base_url
    }

    /// The HubSpot app's client secret (it signs the webhooks).
    pub fn client_secret(&self) -> String {
        self.emulator.config().client_secret.clone()
    }

    /// Points a HubSpot config section (`crm:`, or `marketing.crm:` with HubSpot in front of
    /// another CRM) at this portal: base URL, the token and client secret written as secret
    /// files into `secrets` (mode 0600), and, unless strict limits were asked for, budgets
    /// relaxed.
    ///
    /// Errors: a secret file cannot be written.
    pub fn configure_section(
        &self,
        crm: &mut handoff_hubspot::HubSpotSection,
        secrets: &Path,
    ) -> Result<(), SandboxError> {
        let hs = self.emulator.config();
        crm.base_url = self.base_url.clone();
        crm.token = secret_file(secrets, "hubspot-token", &hs.token)?;
        crm.client_secret = secret_file(secrets, "hubspot-client-secret", &hs.client_secret)?;
        if !self.strict_limits {
            crm.rate.requests = RELAXED_TEN_SECOND_LIMIT;
            crm.search_per_second = 1_000;
        }
        Ok(())
    }

    fn prop(o: &Value, name: &str) -> Option<String> {
        super::text(o["properties"].get(name))
    }

    fn has_associations(o: &Value, to: &str) -> bool {
        o["associations"][to]["results"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    }
}

impl SandboxCrm for HubSpotSandbox {
    fn system(&self) -> &'static str {
        "hubspot"
    }

    fn lead_object(&self) -> &'static str {
        "contacts"
    }

    fn deal_object(&self) -> &'static str {
        "deals"
    }

    fn case_noun(&self) -> &'static str {
        "tickets"
    }

    fn configure(&self, config: &mut Config, secrets: &Path) -> Result<(), SandboxError> {
        let CrmSection::HubSpot(crm) = &mut config.crm else {
            return Err(SandboxError::Emulator(
                "the HubSpot emulator runs, but the config's crm.type is not hubspot".into(),
            ));
        };
        self.configure_section(crm, secrets)
    }

    fn add_person(&self, p: &Staff<'_>) -> String {
        let id = self.emulator.add_owner(p.email, p.first, p.last, p.team);
        if let Some(away) = p.away {
            let availability = if away {
                Availability::Away
            } else {
                Availability::Available
            };
            self.emulator
                .add_user(p.email, p.first, p.last, availability);
        }
        id
    }

    fn add_account(&self, a: &AccountSeed<'_>) -> Result<String, String> {
        let pairs = [
            ("name", a.name.to_string()),
            ("domain", a.domain.to_string()),
            ("industry", a.industry.to_string()),
            ("country", a.country.to_string()),
            (
                "numberofemployees",
                a.employees.map(|e| e.to_string()).unwrap_or_default(),
            ),
            (
                "annualrevenue",
                a.revenue_usd.map(|r| format!("{r:.0}")).unwrap_or_default(),
            ),
            (
                "founded_year",
                a.year_established
                    .map(|y| y.to_string())
                    .unwrap_or_default(),
            ),
            (
                "hubspot_owner_id",
                a.owner_id.unwrap_or_default().to_string(),
            ),
        ];
        let props: Map<String, Value> = pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        Ok(self.emulator.create_object("companies", props))
    }

    fn lead_source(&self, i: usize) -> &'static str {
        SOURCES[i % SOURCES.len()]
    }

    fn create_lead(&self, fields: Map<String, Value>) -> Result<String, String> {
        Ok(self.emulator.create_object("contacts", fields))
    }

    fn open_deal(&self, d: &DealSeed<'_>) -> Result<String, String> {
        let stage = match d.maven_stage {
            "Won" | "Lost" | "Engaging" => "qualifiedtobuy",
            _ => "appointmentscheduled",
        };
        let mut p = Map::new();
        p.insert("dealname".into(), json!(d.name));
        p.insert("pipeline".into(), json!("default"));
        p.insert("dealstage".into(), json!(stage));
        p.insert("product".into(), json!(d.product));
        if let Some(a) = d.amount {
            p.insert("amount".into(), json!(format!("{a}")));
        }
        if let Some(owner) = d.owner_id {
            p.insert("hubspot_owner_id".into(), json!(owner));
        }
        let id = self.emulator.create_object("deals", p);
        if let Some(company) = d.account_id {
            if let Err(e) = self.emulator.associate("deals", &id, "companies", company) {
                tracing::warn!(deal = %id, error = %e, "sandbox could not associate a deal");
            }
        }
        Ok(id)
    }

    fn close_deal(&self, id: &str, c: &DealClose<'_>) -> Result<(), String> {
        let mut p = Map::new();
        p.insert(
            "dealstage".into(),
            json!(if c.won { "closedwon" } else { "closedlost" }),
        );
        if let Some(v) = c.amount {
            p.insert("amount".into(), json!(format!("{v}")));
        }
        if let Some(d) = c.close_date {
            p.insert("closedate".into(), json!(format!("{d}T00:00:00.000Z")));
        }
        self.emulator
            .update_object("deals", id, p)
            .map_err(|e| e.to_string())
    }

    fn set_status<'a>(&'a self, _rep_id: &'a str, lead_id: &'a str) -> BoxFuture<'a, bool> {
        let mut p = Map::new();
        p.insert("hs_lead_status".into(), json!("ATTEMPTED_TO_CONTACT"));
        let ok = self.emulator.update_object("contacts", lead_id, p).is_ok();
        Box::pin(async move { ok })
    }

    fn log_call<'a>(
        &'a self,
        _rep_id: &'a str,
        lead_id: &'a str,
        at_ms: i64,
    ) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let at = jiff::Timestamp::from_millisecond(at_ms)
                .map(|t| t.to_string())
                .unwrap_or_default();
            let body = json!({
                "properties": {
                    "hs_timestamp": at,
                    "hs_call_title": "Intro call",
                    "hs_call_body": "Discussed needs; follow-up booked.",
                    "hs_call_direction": "OUTBOUND",
                    "hs_call_status": "COMPLETED",
                },
                "associations": [{
                    "to": {"id": lead_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]
                }]
            });
            let Ok(url) = self.base_url.join("crm/v3/objects/calls") else {
                return false;
            };
            match self
                .http
                .post(url)
                .bearer_auth(&self.emulator.config().token)
                .json(&body)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => true,
                Ok(r) => {
                    tracing::debug!(status = %r.status(), "sandbox rep could not log a call");
                    false
                }
                Err(e) => {
                    tracing::debug!(error = %e, "sandbox rep could not log a call");
                    false
                }
            }
        })
    }

    fn meddle(&self, lead_id: &str, owner_id: &str) -> bool {
        let mut p = Map::new();
        p.insert("hubspot_owner_id".into(), json!(owner_id));
        self.emulator
            .update_as_workflow("contacts", lead_id, p, WORKFLOW_ID)
            .is_ok()
    }

    fn request_count(&self) -> u64 {
        self.emulator.request_count()
    }

    fn pending_deliveries(&self) -> usize {
        self.emulator.pending_webhooks()
    }

    fn delivered(&self, _status: &StatusReport, _own_writes: bool) -> bool {
        // Every write, handoff's own included, becomes a webhook the portal delivers at once.
        self.emulator.pending_webhooks() == 0
    }

    fn leads(&self) -> Vec<LeadView> {
        self.emulator
            .objects("contacts")
            .iter()
            .map(|c| LeadView {
                id: c["id"].as_str().unwrap_or_default().to_string(),
                owner_id: Self::prop(c, "hubspot_owner_id"),
                nurture_reason: Self::prop(c, "handoff_nurture_reason"),
                matched_account: Self::has_associations(c, "companies"),
            })
            .collect()
    }

    fn lead_owner(&self, id: &str) -> Option<String> {
        let c = self.emulator.get("contacts", id)?;
        Self::prop(&c, "hubspot_owner_id")
    }

    fn deals(&self) -> Vec<DealView> {
        self.emulator
            .objects("deals")
            .iter()
            .map(|d| DealView {
                id: d["id"].as_str().unwrap_or_default().to_string(),
                state: match Self::prop(d, "dealstage").as_deref() {
                    Some("closedwon") => DealState::Won,
                    Some("closedlost") => DealState::Lost,
                    _ => DealState::Open,
                },
            })
            .collect()
    }

    fn case_keys(&self) -> Vec<Option<String>> {
        self.emulator
            .objects("tickets")
            .iter()
            .map(|t| Self::prop(t, "handoff_idempotency_key"))
            .collect()
    }

    fn write_state(&self, dir: &Path) -> std::io::Result<()> {
        self.emulator.write_state(dir)
    }
}
