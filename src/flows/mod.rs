//! What happens to a change: the business decisions of handoff.
//!
//! A flow reads one change (with the record as the vendor returns it), decides, and returns a
//! [`Completion`]: the sagas of side effects to run, the audit entries explaining why, and any
//! flow state to update (rotation positions, the account index). Flows never write to a vendor
//! themselves; the outbox does, after the decision is committed. They may *read* the CRM.
//!
//! | change                                  | flow                       |
//! |-----------------------------------------|----------------------------|
//! | HubSpot contact without a lead of record | [`lead`]: gates, account match, routing, owner DM (via [`contact_change`]) |
//! | HubSpot contact with a lead of record   | [`first_touch`] check (via [`contact_change`])     |
//! | HubSpot deal reaching closed-won        | [`closed_won`]: ticket, Asana project, CSM DM      |
//! | HubSpot company                         | [`accounts`] index update                          |
//! | Slack `block_actions` "Claim lead"      | [`claim`]: CRM status, message edit, first touch   |
//! | Slack `block_actions` "Reject" menu     | [`reject`]: CRM disposition, message edit, recycle |
//! | fired timer `sla_*`                     | [`sla`]: reminder, escalation, reassignment, recycle |
//! | fired timer `lead_deferred`             | [`deferred`]: the lead flow again, contact read fresh |

pub mod accounts;
pub mod after_hours;
pub mod claim;
pub mod closed_won;
pub mod contact_change;
pub mod deferred;
pub mod first_touch;
pub mod lead;
pub mod lead_state;
pub mod owners;
pub mod ownership;
pub mod reject;
pub mod routing;
pub mod sla;

use crate::config::Loaded;
use crate::state::{Completion, StateError, Store};
use futures::future::BoxFuture;
use handoff_connector::{Change, ConnectorError, Record};
use owners::OwnerDirectory;
use std::sync::{Arc, RwLock};

/// Why a change could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Vendor(#[from] ConnectorError),
    #[error(transparent)]
    State(#[from] StateError),
    /// The configuration refers to something the vendor does not have (fix the config).
    #[error("configuration problem: {0}")]
    Config(String),
    /// The record cannot be processed as it is (fix the record in the CRM, then replay).
    #[error("{record}: {reason}")]
    BadRecord { record: String, reason: String },
}

impl FlowError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            FlowError::Vendor(e) => e.is_retryable(),
            FlowError::State(_) => true,
            FlowError::Config(_) | FlowError::BadRecord { .. } => false,
        }
    }
}

/// What flows (and the worker) may read from the CRM while deciding.
pub trait CrmRead: Send + Sync {
    /// Reads records by id with the given properties (missing ids are left out).
    fn batch_read<'a>(
        &'a self,
        object_type: &'a str,
        ids: &'a [String],
        properties: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Record>, ConnectorError>>;

    /// Every CRM owner (HubSpot `GET /crm/v3/owners`), for the owner directory.
    fn owners(&self) -> BoxFuture<'_, Result<Vec<owners::Owner>, ConnectorError>>;

    /// Ids of `to_type` records associated with a record (HubSpot associations v4).
    fn associated_ids<'a>(
        &'a self,
        object_type: &'a str,
        id: &'a str,
        to_type: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, ConnectorError>>;

    /// One property's history on a record, newest first (HubSpot `propertiesWithHistory`:
    /// who wrote each value, when). The default knows no history (an empty list).
    fn property_history<'a>(
        &'a self,
        _object_type: &'a str,
        _id: &'a str,
        _property: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ownership::PropertyChange>, ConnectorError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Links into the CRM's UI.
#[derive(Clone, Debug)]
pub struct Links {
    /// Template with `{portal_id}`, `{object_type_id}`, `{id}`.
    pub record_url: String,
    pub portal_id: u64,
}

impl Links {
    /// The UI link of a record (`object_type` plural: contacts, companies, deals, tickets).
    pub fn record(&self, object_type: &str, id: &str) -> String {
        let type_id = match object_type {
            "contacts" => "0-1",
            "companies" => "0-2",
            "deals" => "0-3",
            "tickets" => "0-5",
            other => other,
        };
        self.record_url
            .replace("{portal_id}", &self.portal_id.to_string())
            .replace("{object_type_id}", type_id)
            .replace("{id}", id)
    }
}

/// Everything flows decide with.
pub struct Flows {
    pub loaded: Arc<Loaded>,
    pub owners: Arc<RwLock<OwnerDirectory>>,
    pub links: Links,
}

/// Per-call inputs: the store (to read flow state and saga existence), the CRM reader, now.
pub struct Env<'a> {
    pub store: &'a Store,
    pub crm: &'a dyn CrmRead,
    /// UTC ms.
    pub now_ms: i64,
}

impl Flows {
    /// Decides what `change` means. `record` is the changed record as read from its vendor
    /// (`None` for a deleted record).
    pub async fn process(
        &self,
        env: &Env<'_>,
        change: &Change,
        record: Option<&Record>,
    ) -> Result<Completion, FlowError> {
        let Some(record) = record else {
            return Ok(Completion::default());
        };
        match (change.source.as_str(), change.object_type.as_str()) {
            ("hubspot", "contacts") => contact_change::decide(self, env, change, record).await,
            ("hubspot", "deals") => closed_won::decide(self, env, change, record).await,
            ("hubspot", "companies") => Ok(accounts::index_update(record)),
            ("slack", claim::OBJECT_TYPE)
                if record.prop("action_id").as_deref() == Some(reject::ACTION_ID) =>
            {
                reject::decide(self, env, record)
            }
            ("slack", claim::OBJECT_TYPE) => claim::decide(self, env, record),
            (crate::state::TIMER_SOURCE, crate::state::TIMER_OBJECT_TYPE) => {
                match crate::state::Timer::from_change(change) {
                    Some(timer) if sla::is_sla_kind(&timer.kind) => {
                        sla::on_timer(self, env, timer).await
                    }
                    _ => deferred::on_timer(self, env, change).await,
                }
            }
            _ => Ok(Completion::default()),
        }
    }

    /// The properties the worker should read for an object type (those the mappings use, plus
    /// what flows read directly).
    pub fn properties_for(object_type: &str) -> Vec<String> {
        let names: &[&str] = match object_type {
            "contacts" => &[
                "email",
                "firstname",
                "lastname",
                "phone",
                "mobilephone",
                "company",
                "website",
                "country",
                "city",
                "state",
                "zip",
                "industry",
                "numemployees",
                "annualrevenue",
                "hs_analytics_source",
                "lifecyclestage",
                "hs_lead_status",
                "hubspot_owner_id",
                "hs_legal_basis",
                "notes_last_contacted",
                "createdate",
                "lastmodifieddate",
            ],
            "deals" => &[
                "dealname",
                "amount",
                "dealstage",
                "pipeline",
                "closedate",
                "hubspot_owner_id",
                "product",
                "createdate",
                "hs_lastmodifieddate",
            ],
            "companies" => &[
                "name",
                "domain",
                "country",
                "industry",
                "hubspot_owner_id",
                "hs_lastmodifieddate",
            ],
            _ => &[],
        };
        names.iter().map(|s| s.to_string()).collect()
    }
}

/// A string field of a mapped record.
pub(crate) fn field<'a>(
    record: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<&'a str> {
    record
        .get(name)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

/// A saga step that sends `email` one Slack DM (`text` as the notification text, `blocks` as
/// Block Kit), named `step`, with the idempotency key `<saga_key>:dm`: a saga sends at most
/// one DM, and the executor finds it again by that key (Slack message metadata) after a crash.
pub(crate) fn dm_step<'a>(
    saga_key: &str,
    step: &'a str,
    email: &str,
    text: String,
    blocks: serde_json::Value,
) -> (
    handoff_connector::IdempotencyKey,
    &'a str,
    serde_json::Value,
) {
    (
        handoff_connector::IdempotencyKey::new(format!("{saga_key}:dm")),
        step,
        crate::outbox::Action::SlackDm {
            email: email.to_string(),
            text,
            blocks,
        }
        .to_json(),
    )
}

/// Metric helper: count a flow outcome with bounded labels.
pub(crate) fn count(flow: &'static str, outcome: &'static str) {
    metrics::counter!("handoff_flow_outcomes_total", "flow" => flow, "outcome" => outcome)
        .increment(1);
}
