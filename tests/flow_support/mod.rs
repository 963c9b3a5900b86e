//! Shared pieces of the flow-level tests (`Flows` and a `Store` driven directly, no daemon, no
//! emulators): an in-memory CRM, the bundled config with a given rule set, and contact
//! changes.
#![allow(dead_code)]

use handoff::config::Loaded;
use handoff::flows::owners::{Owner, OwnerDirectory};
use handoff::flows::Flows;
use handoff_connector::memory_crm::MemoryCrm;
use handoff_connector::{Change, ChangeKind, ChangeOrigin, ObjectKind, Record};
use std::sync::{Arc, RwLock};

/// A CRM shaped as the bundled config's (HubSpot's object names) serving `contacts` and
/// `owners`.
pub fn fake_crm(contacts: impl IntoIterator<Item = Record>, owners: Vec<Owner>) -> MemoryCrm {
    let crm = MemoryCrm::new(
        "hubspot",
        &[
            (ObjectKind::Lead, "contacts"),
            (ObjectKind::Account, "companies"),
            (ObjectKind::Deal, "deals"),
            (ObjectKind::Case, "tickets"),
        ],
    );
    for c in contacts {
        crm.put(c);
    }
    crm.set_owners(owners);
    crm
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
        loaded: Arc::new(loaded),
        owners: Arc::new(RwLock::new(OwnerDirectory::new(owners))),
        marketing_owners: Default::default(),
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
