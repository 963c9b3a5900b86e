//! What happens to a change: the business decisions of handoff.
//!
//! A flow reads one change (with the record as the vendor returns it), decides, and returns a
//! [`Completion`]: the sagas of side effects to run, the audit entries explaining why, and any
//! flow state to update (rotation positions, the account index). Flows never write to a vendor
//! themselves; the outbox does, after the decision is committed. They may *read* the CRM, only
//! through [`handoff_connector::Crm`], and they know its records only as the admin's mappings
//! present them: which vendor it is, and what its fields are called, is the connector's and
//! the mappings' business ([`writes`] turns handoff's updates into the CRM's fields).
//!
//! | change                                  | flow                       |
//! |-----------------------------------------|----------------------------|
//! | CRM lead without a lead of record       | [`lead`]: gates, account match, routing, owner DM (via [`contact_change`]) |
//! | CRM lead with a lead of record          | owner check, conversion, [`first_touch`] (via [`contact_change`]) |
//! | CRM activity (call, email) on a lead    | [`first_touch`] |
//! | CRM deal reaching closed-won            | [`closed_won`]: case, project, CSM DM      |
//! | CRM account                             | [`accounts`] index update                          |
//! | CRM case (with `cases:`)                | [`cases`]: bot → agent offer, L1 → L2 escalation with a handoff note, first response |
//! | Slack `block_actions` "Accept" (case)   | [`cases::accept`]: owner write, first response, message edit |
//! | Slack `block_actions` "Claim lead"      | [`claim`]: CRM status, message edit, first touch   |
//! | Slack `block_actions` "Reject" menu     | [`reject`]: CRM disposition, message edit, recycle |
//! | fired timer `sla_*`                     | [`sla`]: reminder, escalation, reassignment, recycle |
//! | fired timer `case_*`                    | [`cases::sla`]: first-response reminder, breach, reassignment; L1 age escalation |
//! | fired timer `lead_deferred`             | [`deferred`]: the lead flow again, lead read fresh |

pub mod accounts;
pub mod after_hours;
pub mod cases;
pub mod claim;
pub mod closed_won;
pub mod contact_change;
pub mod deferred;
pub mod first_touch;
pub mod lead;
pub mod lead_state;
pub mod marketing;
pub mod owners;
pub mod ownership;
pub mod reject;
pub mod routing;
pub mod sla;
pub mod writes;

use crate::config::Loaded;
use crate::state::{Completion, StateError, Store};
use handoff_connector::{Change, ConnectorError, Crm, ObjectKind, Record, RecordKey};
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

/// Everything flows decide with.
pub struct Flows {
    pub loaded: Arc<Loaded>,
    /// The (sales) CRM's owners.
    pub owners: Arc<RwLock<OwnerDirectory>>,
    /// The marketing CRM's owners (empty without a `marketing` section).
    pub marketing_owners: Arc<RwLock<OwnerDirectory>>,
}

/// Per-call inputs: the store (to read flow state and saga existence), the CRM, now.
pub struct Env<'a> {
    pub store: &'a Store,
    /// The CRM (the sales CRM when there is a marketing CRM too).
    pub crm: &'a dyn Crm,
    /// The marketing CRM in front of it (`marketing:`), if any.
    pub marketing: Option<&'a dyn Crm>,
    /// UTC ms.
    pub now_ms: i64,
}

impl Env<'_> {
    /// The kind of `key`'s record, if it is a record of the configured CRM.
    pub fn kind_of(&self, key: &RecordKey) -> Option<ObjectKind> {
        (key.system == self.crm.system())
            .then(|| self.crm.kind_of(&key.object))
            .flatten()
    }

    /// Reads one CRM record fresh, with the fields the mappings read (`None`: it is gone).
    pub async fn read(
        &self,
        flows: &Flows,
        key: &RecordKey,
    ) -> Result<Option<Record>, ConnectorError> {
        self.read_in(self.crm, flows, key).await
    }

    /// [`Env::read`] from `crm` (the marketing CRM's records).
    pub async fn read_in(
        &self,
        crm: &dyn Crm,
        flows: &Flows,
        key: &RecordKey,
    ) -> Result<Option<Record>, ConnectorError> {
        let fields = flows.loaded.fields_for(&key.object);
        Ok(crm
            .read(&key.object, std::slice::from_ref(&key.id), fields)
            .await?
            .into_iter()
            .next())
    }
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
        if env.marketing.is_some_and(|m| change.source == m.system()) {
            return marketing::from_marketing(self, env, change, record).await;
        }
        if change.source == env.crm.system() {
            return match env.crm.kind_of(&change.object_type) {
                Some(ObjectKind::Lead) => {
                    let mut done = contact_change::decide(self, env, change, record).await?;
                    if env.marketing.is_some() {
                        done.merge(marketing::from_sales(self, env, change, record).await?);
                    }
                    Ok(done)
                }
                Some(ObjectKind::Deal) => {
                    let mut done = closed_won::decide(self, env, change, record).await?;
                    if env.marketing.is_some() {
                        done.merge(marketing::from_sales_deal(self, env, change, record).await?);
                    }
                    Ok(done)
                }
                Some(ObjectKind::Account) => Ok(accounts::index_update(self, record)),
                Some(ObjectKind::Activity) => first_touch::from_activity(self, env, record),
                Some(ObjectKind::Case) => cases::decide(self, env, change, record).await,
                _ => Ok(Completion::default()),
            };
        }
        match (change.source.as_str(), change.object_type.as_str()) {
            ("slack", claim::OBJECT_TYPE)
                if record.prop("action_id").as_deref() == Some(cases::message::ACCEPT_ACTION) =>
            {
                cases::accept::decide(self, env, record)
            }
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
                    Some(timer) if cases::sla::is_case_kind(&timer.kind) => {
                        cases::sla::on_timer(self, env, timer).await
                    }
                    _ => deferred::on_timer(self, env, change).await,
                }
            }
            _ => Ok(Completion::default()),
        }
    }

    /// The lead mapping applied to a CRM lead record.
    pub(crate) fn map_lead(&self, record: &Record) -> crate::mapping::MapOutcome {
        self.loaded
            .mapping(&self.loaded.config.lead_handoff.mapping.value)
            .apply(&record.to_json())
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

/// Whether a mapped field is a true flag: JSON `true`, or text `true`, `1` or `yes` (any
/// case). Mappings pass a CRM's booleans through as JSON booleans and map picklists to text.
pub(crate) fn flag(record: &serde_json::Map<String, serde_json::Value>, name: &str) -> bool {
    match record.get(name) {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => {
            matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes")
        }
        Some(serde_json::Value::Number(n)) => n.as_f64() == Some(1.0),
        _ => false,
    }
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
