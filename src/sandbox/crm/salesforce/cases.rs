//! Support cases in the sandbox's Salesforce org: [`SupportDesk`] for [`SalesforceSandbox`].
//!
//! A support case is a `Case` with `Origin` (the customer's channel) and the ticket's fields
//! ([`case_fields`]), created by the org's admin as Email-to-Case or a chatbot would, owned by
//! the "Support" queue ([`SUPPORT_QUEUE`]) until an agent has it, or by the agent an assignment
//! gives it. A chatbot conversation is a `LiveChatTranscript` on the case (`IsChatbotSession`
//! true); agents comment as themselves (`CaseComment`, internal or public) and set `Status` as
//! themselves, so the field history names them. Onboarding Cases (closed-won) have no
//! `Origin`: that is how the two kinds are told apart ([`SandboxCrm::case_keys`]).

use super::{fields, SalesforceSandbox};
use crate::mapping::transform::domain;
use crate::sandbox::crm::{text, CaseSeed, CaseView, CommentView, SupportDesk};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The queue new support cases wait in (name, email).
pub const SUPPORT_QUEUE: (&str, &str) = ("Support", "support-queue@example.com");

/// The Case fields of a support case: `Subject`, `Description`, `Priority`, `Origin`, `Type`,
/// `Product__c`, `SuppliedEmail`, `Status` `New`, `AccountId` when the case has an account, and
/// `OwnerId` (the seed's owner, else `queue_id`). Empty values are left out.
pub fn case_fields(case: &CaseSeed<'_>, queue_id: &str) -> Map<String, Value> {
    fields(vec![
        ("Subject", json!(case.subject)),
        ("Description", json!(case.description)),
        ("Priority", json!(case.priority)),
        ("Origin", json!(case.origin)),
        ("Type", json!(case.case_type)),
        ("Product__c", json!(case.product)),
        ("SuppliedEmail", json!(case.email)),
        ("Status", json!("New")),
        ("AccountId", json!(case.account_id)),
        ("OwnerId", json!(case.owner_id.unwrap_or(queue_id))),
    ])
}

/// Whether a Case (as the API returns it) is a support case: it has an `Origin`.
pub fn is_support_case(case: &Value) -> bool {
    text(case.get("Origin")).is_some()
}

impl SupportDesk for SalesforceSandbox {
    fn case_key(&self, id: &str) -> String {
        handoff_connector::RecordKey::new(handoff_salesforce::SYSTEM, "Case", id).to_string()
    }

    fn open_case(&self, case: &CaseSeed<'_>) -> Result<String, String> {
        self.create("Case", case_fields(case, &self.support_queue_id))
    }

    fn add_transcript(&self, id: &str, body: &str, ended_ms: i64) -> Result<(), String> {
        self.emulator
            .add_transcript(id, body, true, Some(ended_ms))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn comment(&self, user_id: &str, id: &str, body: &str, public: bool) -> Result<(), String> {
        self.emulator
            .add_case_comment(user_id, id, body, public)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn set_case_status(&self, user_id: &str, id: &str, status: &str) -> Result<(), String> {
        self.emulator
            .update_as(user_id, "Case", id, fields(vec![("Status", json!(status))]))
            .map_err(|e| e.to_string())
    }

    fn case_owner(&self, id: &str) -> Option<String> {
        text(self.emulator.get("Case", id)?.get("OwnerId"))
    }

    fn admin_id(&self) -> String {
        self.admin_user.clone()
    }

    fn accounts_by_domain(&self) -> HashMap<String, String> {
        self.emulator
            .objects("Account")
            .iter()
            .filter_map(|a| {
                let d = text(a.get("Website")).and_then(|w| domain(&w))?;
                Some((d, text(a.get("Id"))?))
            })
            .collect()
    }

    fn cases(&self) -> Vec<CaseView> {
        self.emulator
            .objects("Case")
            .iter()
            .filter(|c| is_support_case(c))
            .map(|c| CaseView {
                id: text(c.get("Id")).unwrap_or_default(),
                owner_id: text(c.get("OwnerId")),
                status: text(c.get("Status")),
            })
            .collect()
    }

    fn comments(&self) -> Vec<CommentView> {
        self.emulator
            .objects("CaseComment")
            .iter()
            .map(|c| CommentView {
                case_id: text(c.get("ParentId")).unwrap_or_default(),
                body: text(c.get("CommentBody")).unwrap_or_default(),
                author_id: text(c.get("CreatedById")),
                public: c.get("IsPublished") == Some(&Value::Bool(true)),
            })
            .collect()
    }

    fn user_emails(&self) -> HashMap<String, String> {
        self.emulator
            .objects("User")
            .iter()
            .filter_map(|u| Some((text(u.get("Id"))?, text(u.get("Email"))?.to_lowercase())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_seed_becomes_a_new_case_owned_by_the_queue_unless_assigned() {
        let seed = CaseSeed {
            subject: "Product setup",
            description: "I'm having an issue with the product purchased.",
            priority: "Critical",
            origin: "Social media",
            case_type: "Technical issue",
            product: "GoPro Hero",
            email: "carrollallison@example.com",
            account_id: None,
            owner_id: None,
        };
        let f = case_fields(&seed, "00G000000000001");
        let get = |k: &str| f.get(k).and_then(Value::as_str);
        assert_eq!(get("Subject"), Some("Product setup"));
        assert_eq!(
            get("Description"),
            Some("I'm having an issue with the product purchased.")
        );
        assert_eq!(get("Priority"), Some("Critical"));
        assert_eq!(get("Origin"), Some("Social media"));
        assert_eq!(get("Type"), Some("Technical issue"));
        assert_eq!(get("Product__c"), Some("GoPro Hero"));
        assert_eq!(get("SuppliedEmail"), Some("carrollallison@example.com"));
        assert_eq!(get("Status"), Some("New"));
        assert_eq!(get("OwnerId"), Some("00G000000000001"));
        assert!(!f.contains_key("AccountId"));
        assert!(is_support_case(&Value::Object(f)));

        let assigned = CaseSeed {
            account_id: Some("001000000000007"),
            owner_id: Some("005000000000042"),
            ..seed
        };
        let f = case_fields(&assigned, "00G000000000001");
        assert_eq!(f["AccountId"], "001000000000007");
        assert_eq!(f["OwnerId"], "005000000000042");
        assert!(!is_support_case(
            &json!({"Subject": "Onboarding", "Origin": null})
        ));
    }
}
