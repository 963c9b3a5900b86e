//! The routing-input refresher: reads from the CRM what the routing engine needs besides the
//! lead, every `lead_handoff.routing_inputs.refresh_s` on the daemon's clock, and keeps it in
//! flow state for the lead flow.
//!
//! - `routing:load` ([`LOAD_KEY`]): a [`LoadSnapshot`] `{"as_of": "<RFC 3339 UTC>",
//!   "open_leads": {"rep@x": N}}` for every rep of a least-loaded pool
//!   ([`LoadSnapshot::reps_needed`]): one CRM count per rep
//!   ([`handoff_connector::Crm::count_open_leads`]: leads the rep owns whose lead status is one
//!   of the open statuses). `as_of` is when the last read finished; the engine reports the
//!   snapshot's age in `explain`.
//! - `routing:out_of_office` ([`OUT_OF_OFFICE_KEY`]): `{"reps": [...], "taken_ms": N}`, the
//!   reps of the rule set whose configured CRM field says "away" (see
//!   `config/routing_inputs.rs` for the field), when one is configured.
//!
//! Reads go through the daemon's one CRM connector (`Vendors::crm`), so they share its rate
//! budgets with the change-feed poller and the flows. A failed read (429 after the client's
//! retries, 5xx, timeout) writes nothing: the previous value stays, its age shows the
//! staleness, and a warning is logged. Counted in
//! `handoff_routing_input_refreshes_total{input="load"|"out_of_office", outcome="ok"|"failed"}`.

use crate::clock::Clock;
use crate::config::routing_inputs::{OutOfOfficeField, RoutingInputsConfig};
use crate::config::Loaded;
use crate::flows::owners::OwnerDirectory;
use crate::routing::{LoadSnapshot, RuleSet};
use crate::state::{StateError, Store};
use handoff_connector::{ConnectorError, Crm, EmailQuery};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use tokio_util::sync::CancellationToken;

/// Flow-state key of the load snapshot ([`LoadSnapshot`] JSON).
pub const LOAD_KEY: &str = "routing:load";
/// Flow-state key of the reps away now ([`OutOfOfficeSnapshot`] JSON).
pub const OUT_OF_OFFICE_KEY: &str = "routing:out_of_office";

/// Reps marked away by the CRM field, as stored under [`OUT_OF_OFFICE_KEY`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfOfficeSnapshot {
    /// Lowercase rep emails, sorted.
    pub reps: Vec<String>,
    /// When the field was read, UTC epoch ms (daemon clock).
    pub taken_ms: i64,
}

/// Why one refresh wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Vendor(#[from] ConnectorError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// The background task that keeps `routing:load` and `routing:out_of_office` fresh.
pub struct Refresher {
    pub store: Store,
    pub crm: Arc<dyn Crm>,
    /// The rule set whose reps are read.
    pub rules: Arc<RuleSet>,
    pub owners: Arc<RwLock<OwnerDirectory>>,
    pub config: RoutingInputsConfig,
    pub clock: Arc<dyn Clock>,
}

impl Refresher {
    /// Whether the config asks for any input: routing rules with a least-loaded pool, or an
    /// out-of-office field.
    /// An invalid `routing_inputs` section (zero refresh, empty lists) is logged and reads
    /// nothing.
    pub fn wanted(loaded: &Loaded) -> bool {
        if let Err(e) =
            crate::config::routing_inputs::check(&loaded.config.lead_handoff.routing_inputs)
        {
            tracing::error!(error = %e, "lead_handoff.routing_inputs is invalid; load and out-of-office are not read");
            return false;
        }
        loaded.rules().is_some_and(|r| {
            !LoadSnapshot::reps_needed(r).is_empty()
                || loaded
                    .config
                    .lead_handoff
                    .routing_inputs
                    .out_of_office
                    .is_some()
        })
    }

    /// Refreshes every input now, then every `refresh_s` on the clock, until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let every_ms = (self.config.refresh_s.max(1) * 1000) as i64;
        loop {
            tokio::select! {
                _ = self.refresh_all() => {}
                _ = shutdown.cancelled() => return,
            }
            let next = self.clock.now_ms().saturating_add(every_ms);
            tokio::select! {
                _ = self.clock.sleep_until_ms(next) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// One round: the load snapshot, then out of office; each failure is logged and counted.
    pub async fn refresh_all(&self) {
        for (input, result) in [
            ("load", self.refresh_load().await.map(|_| ())),
            (
                "out_of_office",
                self.refresh_out_of_office().await.map(|_| ()),
            ),
        ] {
            let outcome = match &result {
                Ok(()) => "ok",
                Err(e) => {
                    tracing::warn!(input, error = %e, "routing input refresh failed; keeping the previous value");
                    "failed"
                }
            };
            metrics::counter!("handoff_routing_input_refreshes_total", "input" => input, "outcome" => outcome)
                .increment(1);
        }
    }

    /// Counts open leads per least-loaded rep and stores the snapshot; `None` (nothing
    /// written) when no pool distributes by load. A rep without a CRM owner counts 0 (they cannot own leads).
    pub async fn refresh_load(&self) -> Result<Option<LoadSnapshot>, RefreshError> {
        let reps = LoadSnapshot::reps_needed(&self.rules);
        if reps.is_empty() {
            return Ok(None);
        }
        let ids: Vec<(String, Option<String>)> = {
            let dir = self.owners.read().unwrap_or_else(|p| p.into_inner());
            reps.iter()
                .map(|r| (r.clone(), dir.by_email(r).map(|o| o.id.clone())))
                .collect()
        };
        let statuses = &self.config.open_statuses;
        let mut open_leads = BTreeMap::new();
        for (rep, id) in ids {
            let Some(id) = id else {
                tracing::debug!(rep = %rep, "least-loaded rep is no CRM owner; counting 0");
                open_leads.insert(rep, 0);
                continue;
            };
            let total = self.crm.count_open_leads(&id, statuses).await?;
            open_leads.insert(rep, u32::try_from(total).unwrap_or(u32::MAX));
        }
        let as_of = jiff::Timestamp::from_millisecond(self.clock.now_ms())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let snapshot = LoadSnapshot { as_of, open_leads };
        self.store.put_json(LOAD_KEY, &snapshot)?;
        Ok(Some(snapshot))
    }

    /// Reads who is away from the configured CRM field and stores them; `None` when no field
    /// is configured. Only reps of the rule set are kept.
    pub async fn refresh_out_of_office(&self) -> Result<Option<OutOfOfficeSnapshot>, RefreshError> {
        let Some(field) = &self.config.out_of_office else {
            return Ok(None);
        };
        let reps: BTreeSet<String> = self
            .rules
            .teams()
            .iter()
            .flat_map(|t| t.members.iter().map(|m| m.email.to_lowercase()))
            .collect();
        let away = self.away_emails(field).await?;
        let snapshot = OutOfOfficeSnapshot {
            reps: away.intersection(&reps).cloned().collect(),
            taken_ms: self.clock.now_ms(),
        };
        self.store.put_json(OUT_OF_OFFICE_KEY, &snapshot)?;
        Ok(Some(snapshot))
    }

    /// Emails (lowercase) on records of `field.object` whose `field.property` is an away value.
    async fn away_emails(
        &self,
        field: &OutOfOfficeField,
    ) -> Result<BTreeSet<String>, ConnectorError> {
        let query = EmailQuery {
            object: field.object.clone(),
            field: field.property.clone(),
            values: field.away_values.clone(),
            email_field: field.email_property.clone(),
        };
        Ok(self.crm.emails_where(&query).await?.into_iter().collect())
    }
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
