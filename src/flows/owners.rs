//! The CRM's owners (sales reps, CSMs) by id and by email.
//!
//! Config names people by email; the CRM needs owner ids and Slack needs the same email. The
//! directory is loaded from the CRM ([`handoff_connector::Crm::owners`]) at start and
//! refreshed by the daemon.

pub use handoff_connector::Owner;
use std::collections::HashMap;

/// Owners by id and by email.
#[derive(Clone, Debug, Default)]
pub struct OwnerDirectory {
    by_id: HashMap<String, Owner>,
    by_email: HashMap<String, String>,
}

impl OwnerDirectory {
    pub fn new(owners: impl IntoIterator<Item = Owner>) -> Self {
        let mut dir = Self::default();
        for mut o in owners {
            o.email = o.email.trim().to_lowercase();
            dir.by_email.insert(o.email.clone(), o.id.clone());
            dir.by_id.insert(o.id.clone(), o);
        }
        dir
    }

    pub fn by_id(&self, id: &str) -> Option<&Owner> {
        self.by_id.get(id)
    }

    pub fn by_email(&self, email: &str) -> Option<&Owner> {
        self.by_email
            .get(&email.trim().to_lowercase())
            .and_then(|id| self.by_id.get(id))
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
