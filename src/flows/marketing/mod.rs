//! Marketing CRM → sales CRM: one person, one lead in sales, one owner across both CRMs
//! (`marketing:` in `handoff.yaml`; the keys in `config/marketing.rs`).
//!
//! From the marketing CRM ([`from_marketing`], a contact changed):
//! 1. Map the contact with `marketing.lead_mapping`; act only at a handoff stage (e.g. MQL) or
//!    at a stage whose owner of record is the sales CRM.
//! 2. Match the person in the sales CRM by email ([`handoff_connector::Crm::find_by_email`]):
//!    an open Lead first, then a Contact. (A contact at a handoff stage that fails the gates
//!    and is linked to no sales record yet goes back to nurture without the lookup.)
//! 3. Nothing matches, at a handoff stage: gates first (a failure sends the contact back to
//!    nurture in the marketing CRM, as the lead flow does), then saga `promote:<contact>`
//!    creates the Lead from `marketing.sales_lead_mapping`, once: the step's idempotency key is
//!    the Lead's upsert key, so a crash between "created" and "recorded" finds the same Lead.
//!    The sales CRM's change feed then brings the new Lead to the lead flow, which routes it
//!    (routing happens once, there). A contact the sales-lead mapping cannot express (a
//!    required field missing) is a dead letter naming the mapping, field and record.
//! 4. A match, at a stage the sales CRM owns: the contact's owner follows the sales record's
//!    ([`follow`]): a rep's change in the marketing CRM is written back over.
//!
//! From the sales CRM ([`from_sales`], a lead changed): its owner is mirrored to the marketing
//! CRM's contacts of the same email whose stage the sales CRM owns. The owner is matched across
//! the CRMs by email (the same person is an owner in both). Its stage and a disqualification
//! are written back to those contacts ([`write_back`]).
//!
//! Sagas `owner-mirror:<contact>:<version>` write the owner through `marketing.update_mapping`;
//! the version is the triggering change's time, so a later divergence is corrected again. Each
//! is audited `owner_mirrored` on the contact and counted in
//! `handoff_owner_mirrors_total{from}`.

mod owner;
mod write_back;

use super::lead::{gates_audit, nurture};
use super::writes::LeadUpdate;
use super::{field, Env, FlowError, Flows};
use crate::config::marketing::{CrmRole, MarketingConfig};
use crate::outbox::Action;
use crate::state::{AuditEntry, Completion, Saga};
use handoff_connector::{Change, Crm, IdempotencyKey, ObjectKind, PersonRecord, Record, RecordKey};
use owner::follow;
use serde_json::{json, Map, Value};

/// Flow state `person:<record key>` → the record keys of the same person in the other CRM
/// (JSON list), so `handoff audit` shows one trail for both.
pub fn person_key(record_key: &str) -> String {
    format!("person:{record_key}")
}

/// The state entries that link `a` and `b` as one person (none when already linked).
fn link(env: &Env<'_>, a: &RecordKey, b: &RecordKey) -> Result<Vec<(String, Value)>, FlowError> {
    let mut out = Vec::new();
    for (from, to) in [(a, b), (b, a)] {
        let key = person_key(&from.to_string());
        let mut linked: Vec<String> = env.store.get_json(&key)?.unwrap_or_default();
        let to = to.to_string();
        if !linked.contains(&to) {
            linked.push(to);
            out.push((key, json!(linked)));
        }
    }
    Ok(out)
}

/// The saga key that hands the marketing contact `record_key` to the sales CRM.
pub fn promote_key(record_key: &str) -> String {
    format!("promote:{record_key}")
}

/// A marketing CRM contact changed (see the module docs, steps 1–4).
pub(super) async fn from_marketing(
    flows: &Flows,
    env: &Env<'_>,
    change: &Change,
    contact: &Record,
) -> Result<Completion, FlowError> {
    let cfg = config(flows)?;
    let outcome = flows
        .loaded
        .mapping(&cfg.lead_mapping.value)
        .apply(&contact.to_json());
    let lead = &outcome.record;
    let Some(email) = field(lead, "email") else {
        return Ok(Completion::default());
    };
    let stage = field(lead, "lifecycle_stage").unwrap_or("");
    let hands_off = cfg.hands_off_at(stage);
    let sales_owns = cfg.owner_of_record(stage) == Some(CrmRole::Sales);
    if !hands_off && !sales_owns {
        return Ok(Completion::default());
    }
    let record = change.key();
    let record_key = record.to_string();
    // A contact that fails the gates and was never linked to a sales record goes back to
    // nurture without a lookup in the sales CRM (most contacts: it saves two queries each).
    let linked = env
        .store
        .get_json::<Vec<String>>(&person_key(&record_key))?
        .is_some_and(|l| !l.is_empty());
    if hands_off && !linked && outcome.first_failure().is_some() {
        return promote(flows, env, cfg, &record, contact, &outcome);
    }
    let found = env.crm.find_by_email(&[email.to_string()]).await?;
    let Some(person) = found.first() else {
        if !hands_off || env.store.saga(&promote_key(&record_key))?.is_some() {
            return Ok(Completion::default());
        }
        return promote(flows, env, cfg, &record, contact, &outcome);
    };
    let mut done = Completion {
        state: link(env, &record, &person.key)?,
        ..Completion::default()
    };
    if !sales_owns {
        return Ok(done);
    }
    let Some(sales_owner) = sales_owner_of(flows, env, person).await? else {
        return Ok(done);
    };
    if let Some(c) = follow(
        flows,
        env,
        change,
        &record,
        field(lead, "owner_id"),
        &sales_owner,
        &person.key,
        "marketing",
    )? {
        done.merge(c);
    }
    Ok(done)
}

/// A sales CRM lead changed: mirror its owner to the marketing CRM's contacts of the same email
/// (see the module docs).
pub(super) async fn from_sales(
    flows: &Flows,
    env: &Env<'_>,
    change: &Change,
    record: &Record,
) -> Result<Completion, FlowError> {
    let (cfg, Some(marketing)) = (config(flows)?, env.marketing) else {
        return Ok(Completion::default());
    };
    let lead = flows.map_lead(record).record;
    let Some(email) = field(&lead, "email") else {
        return Ok(Completion::default());
    };
    // A lead handoff created is owned by its integration user until it is routed.
    let owner_id = field(&lead, "owner_id").filter(|id| !env.crm.is_integration_user(id));
    let sales_key = change.key();
    let mut done = Completion::default();
    for (contact, mapped) in contacts_of(flows, env, marketing, email).await? {
        done.state.extend(link(env, &contact, &sales_key)?);
        if let Some(c) =
            write_back::write_back(flows, env, cfg, &contact, &mapped, &lead, &sales_key)?
        {
            done.merge(c);
        }
        // The owner only where the sales CRM owns the owner field at the contact's stage.
        let stage = field(&mapped, "lifecycle_stage").unwrap_or("");
        let Some(owner_id) =
            owner_id.filter(|_| cfg.owner_of_record(stage) == Some(CrmRole::Sales))
        else {
            continue;
        };
        if let Some(c) = follow(
            flows,
            env,
            change,
            &contact,
            field(&mapped, "owner_id"),
            owner_id,
            &sales_key,
            "sales",
        )? {
            done.merge(c);
        }
    }
    Ok(done)
}

/// A sales CRM deal changed: once it is won, its contacts' counterparts in the marketing CRM
/// move to `marketing.won_stage` (the loop back to marketing, see [`write_back`]).
pub(super) async fn from_sales_deal(
    flows: &Flows,
    env: &Env<'_>,
    change: &Change,
    deal: &Record,
) -> Result<Completion, FlowError> {
    let (cfg, Some(marketing)) = (config(flows)?, env.marketing) else {
        return Ok(Completion::default());
    };
    let mapped = flows
        .loaded
        .mapping(&flows.loaded.config.closed_won.mapping.value)
        .apply(&deal.to_json())
        .record;
    if !super::flag(&mapped, "won") {
        return Ok(Completion::default());
    }
    let deal_key = change.key();
    let won = serde_json::Map::from_iter([(
        "lifecycle_stage".to_string(),
        Value::String(cfg.won_stage.clone()),
    )]);
    let mut done = Completion::default();
    for person in env.crm.associated(&deal_key, ObjectKind::Contact).await? {
        let Some(email) = env.crm.email_of(&person).await? else {
            continue;
        };
        for (contact, view) in contacts_of(flows, env, marketing, &email).await? {
            done.state.extend(link(env, &contact, &person)?);
            if let Some(c) =
                write_back::write_back(flows, env, cfg, &contact, &view, &won, &deal_key)?
            {
                done.merge(c);
            }
        }
    }
    Ok(done)
}

/// The marketing CRM's contacts with `email`, each read fresh and seen through
/// `marketing.lead_mapping`.
async fn contacts_of(
    flows: &Flows,
    env: &Env<'_>,
    marketing: &dyn Crm,
    email: &str,
) -> Result<Vec<(RecordKey, Map<String, Value>)>, FlowError> {
    let mapping = flows.loaded.mapping(&config(flows)?.lead_mapping.value);
    let mut out = Vec::new();
    for contact in marketing.find_by_email(&[email.to_string()]).await? {
        if let Some(read) = env.read_in(marketing, flows, &contact.key).await? {
            out.push((contact.key, mapping.apply(&read.to_json()).record));
        }
    }
    Ok(out)
}

/// The `marketing:` section (flows only run these with one).
fn config(flows: &Flows) -> Result<&MarketingConfig, FlowError> {
    flows
        .loaded
        .config
        .marketing
        .as_ref()
        .ok_or_else(|| FlowError::Config("no marketing section".into()))
}

/// Saga `promote:<contact>`: the sales CRM's Lead for a contact nothing matched.
fn promote(
    flows: &Flows,
    env: &Env<'_>,
    cfg: &MarketingConfig,
    record: &RecordKey,
    contact: &Record,
    outcome: &crate::mapping::MapOutcome,
) -> Result<Completion, FlowError> {
    let record_key = record.to_string();
    let email = field(&outcome.record, "email").unwrap_or_default();
    let audit = vec![gates_audit(env, &record_key, outcome)];
    if let Some(failed) = outcome.first_failure() {
        let reason = failed.reason.clone().unwrap_or_else(|| failed.gate.clone());
        let write = flows.marketing_write(record, &LeadUpdate::nurture(&reason))?;
        return nurture(env, &record_key, failed, write, audit);
    }
    let mapping = &cfg.sales_lead_mapping.value;
    let sales = flows.loaded.mapping(mapping).apply(&contact.to_json());
    if let Some(failed) = sales.first_failure() {
        return Err(FlowError::BadRecord {
            record: record_key,
            reason: format!(
                "mapping `{mapping}` cannot make a {} lead of it: gate {} failed ({})",
                env.crm.system(),
                failed.gate,
                failed.detail
            ),
        });
    }
    let key = promote_key(&record_key);
    let saga = Saga::new(
        key.clone(),
        "lead_handoff",
        &record_key,
        vec![(
            IdempotencyKey::new(format!("{key}:lead")),
            "create_sales_lead",
            Action::CrmUpsertLead {
                system: env.crm.system().to_string(),
                fields: sales.record,
            }
            .to_json(),
        )],
        env.now_ms,
    )
    // A lead the sales CRM refused (a picklist value): replayed after the mapping is fixed, the
    // Lead is made from the fixed mapping.
    .redecided_on_replay();
    let mut audit = audit;
    audit.push(AuditEntry::new(
        env.now_ms,
        &record_key,
        "promoted",
        format!(
            "to {} as a new lead: no open lead or contact there has {email}",
            env.crm.system()
        ),
        json!({"email": email, "saga": key}),
    ));
    super::count("marketing", "promoted");
    Ok(Completion {
        sagas: vec![saga],
        audit,
        ..Completion::default()
    })
}

/// The owner id of record in the sales CRM for `person`: a Contact's account owner when it has
/// an account, else the record's own owner. `None` when it has none.
async fn sales_owner_of(
    flows: &Flows,
    env: &Env<'_>,
    person: &PersonRecord,
) -> Result<Option<String>, FlowError> {
    if person.kind == ObjectKind::Contact {
        if let Some(account) = &person.account {
            if let Some(read) = env.read(flows, account).await? {
                let mapped = flows
                    .loaded
                    .mapping(&flows.loaded.config.lead_handoff.account_mapping.value)
                    .apply(&read.to_json())
                    .record;
                if let Some(owner) = field(&mapped, "owner_id") {
                    return Ok(Some(owner.to_string()));
                }
            }
        }
    }
    Ok(person.owner_id.clone())
}
