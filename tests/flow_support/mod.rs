//! Shared pieces of the flow-level tests (`Flows` and a `Store` driven directly, no daemon, no
//! emulators): a fake CRM, the bundled config with a given rule set, and contact changes.
#![allow(dead_code)]

use futures::future::BoxFuture;
use handoff::config::Loaded;
use handoff::flows::owners::{Owner, OwnerDirectory};
use handoff::flows::{CrmRead, Flows, Links};
use handoff_connector::{Change, ChangeKind, ChangeOrigin, ConnectorError, Record};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A CRM that serves fixed contacts and owners, and counts batch reads.
pub struct FakeCrm {
    pub contacts: Mutex<HashMap<String, Record>>,
    pub owners: Vec<Owner>,
    pub reads: AtomicUsize,
}

impl FakeCrm {
    /// Serves `contacts` (by id) and `owners`.
    pub fn new(contacts: impl IntoIterator<Item = Record>, owners: Vec<Owner>) -> FakeCrm {
        FakeCrm {
            contacts: Mutex::new(contacts.into_iter().map(|r| (r.id.clone(), r)).collect()),
            owners,
            reads: AtomicUsize::new(0),
        }
    }
}

impl CrmRead for FakeCrm {
    fn batch_read<'a>(
        &'a self,
        _object_type: &'a str,
        ids: &'a [String],
        _properties: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Record>, ConnectorError>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let map = self.contacts.lock().unwrap();
        let found = ids.iter().filter_map(|id| map.get(id).cloned()).collect();
        Box::pin(async move { Ok(found) })
    }

    fn owners(&self) -> BoxFuture<'_, Result<Vec<Owner>, ConnectorError>> {
        let owners = self.owners.clone();
        Box::pin(async move { Ok(owners) })
    }

    fn associated_ids<'a>(
        &'a self,
        _object_type: &'a str,
        _id: &'a str,
        _to_type: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, ConnectorError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// An owner `id` with `email`, named after the email's local part.
pub fn owner(id: &str, email: &str) -> Owner {
    Owner {
        id: id.into(),
        email: email.into(),
        name: email.split('@').next().unwrap().into(),
    }
}

/// The bundled sandbox config routing with the rule set `rules_yaml`, and `owners` in the
/// owner directory.
pub fn flows_with_rules(rules_yaml: &str, owners: Vec<Owner>) -> Flows {
    let mut loaded: Loaded = handoff::sandbox::bundled_config().unwrap();
    loaded.rules = Some(Arc::new(
        handoff::routing::RuleSet::parse(rules_yaml, "rules.yaml").unwrap(),
    ));
    Flows {
        links: Links {
            record_url: loaded.config.hubspot.record_url.clone(),
            portal_id: loaded.config.hubspot.portal_id,
        },
        loaded: Arc::new(loaded),
        owners: Arc::new(RwLock::new(OwnerDirectory::new(owners))),
    }
}

/// A polled contact change carrying `record` as its snapshot, at `at_ms` (UTC ms).
pub fn contact_change(record: &Record, at_ms: i64) -> Change {
    Change {
        source: "hubspot".into(),
        object_type: "contacts".into(),
        object_id: record.id.clone(),
        event_id: None,
        modified_at_ms: at_ms,
        received_at_ms: at_ms,
        origin: ChangeOrigin::Poll,
        kind: ChangeKind::Updated,
        changed_property: None,
        snapshot: Some(record.clone()),
    }
}

/// UTC ms of an RFC 3339 instant.
pub fn ms(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}
