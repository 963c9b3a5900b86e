//! Lead conversion (NOTES-next S8). There is no REST convert resource (SOAP `convertLead`,
//! Apex `Database.convertLead`), so the emulator offers it through its Rust control API only,
//! as an admin converting a lead in the UI.

use super::errors::ApiError;
use super::org::{Org, Row};
use super::schema::object;
use super::write::Writer;
use crate::time::date;
use serde_json::{json, Value};

/// What converting a lead created (S8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversion {
    /// The Account created from `Company`.
    pub account_id: String,
    /// The Contact created from the lead's name and email.
    pub contact_id: String,
    /// The Opportunity, when one was asked for.
    pub opportunity_id: Option<String>,
}

impl Org {
    /// Converts a lead (S8): creates its Account (`Name` = `Company`), Contact and, when
    /// `opportunity`, an Opportunity at the first open stage; sets `IsConverted`,
    /// `ConvertedDate` (a date), `Converted*Id` and a converted `Status`. A queue-owned lead's
    /// records go to `w.user` (S8: queue-owned leads need an owner at conversion, unverified).
    pub fn convert_lead(
        &mut self,
        id: &str,
        w: &Writer,
        opportunity: bool,
        now_ms: i64,
    ) -> Result<Conversion, ApiError> {
        let lead = self
            .live("Lead", id)
            .cloned()
            .ok_or_else(|| ApiError::not_found("The requested resource does not exist"))?;
        if lead.get("IsConverted") == Some(&json!(true)) {
            return Err(ApiError::bad(
                "CANNOT_UPDATE_CONVERTED_LEAD",
                "cannot reference converted lead",
            ));
        }
        let status = self
            .lead_statuses
            .iter()
            .find(|s| s.converted)
            .map(|s| s.name.clone())
            .ok_or_else(|| ApiError::bad("INVALID_STATUS", "no converted lead status"))?;
        let owner = lead
            .get("OwnerId")
            .and_then(Value::as_str)
            .filter(|o| self.is_owner(o, false))
            .unwrap_or(&w.user)
            .to_string();
        let get = |f: &str| lead.get(f).cloned().unwrap_or(Value::Null);
        let seed = Writer {
            user: w.user.clone(),
            auto_assign: false,
            api: false,
        };
        let defs = |n| object(n).ok_or_else(|| ApiError::not_found(n));
        let mut account = Row::new();
        account.insert("Name".into(), get("Company"));
        account.insert("OwnerId".into(), json!(owner));
        let account_id = self.create(defs("Account")?, &account, &seed, now_ms)?;
        let mut contact = Row::new();
        for f in ["FirstName", "LastName", "Email"] {
            contact.insert(f.into(), get(f));
        }
        contact.insert("AccountId".into(), json!(account_id));
        contact.insert("OwnerId".into(), json!(owner));
        let contact_id = self.create(defs("Contact")?, &contact, &seed, now_ms)?;
        let opportunity_id = if opportunity {
            let stage = self
                .stages
                .iter()
                .find(|s| !s.closed)
                .map(|s| s.name.clone());
            let mut opp = Row::new();
            opp.insert("Name".into(), get("Company"));
            opp.insert("StageName".into(), json!(stage));
            opp.insert("CloseDate".into(), json!(date(now_ms + 30 * 86_400_000)));
            opp.insert("AccountId".into(), json!(account_id));
            opp.insert("ContactId".into(), json!(contact_id));
            opp.insert("OwnerId".into(), json!(owner));
            Some(self.create(defs("Opportunity")?, &opp, &seed, now_ms)?)
        } else {
            None
        };
        let key = lead
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or(id)
            .to_string();
        if let Some(row) = self.row_mut("Lead", &key) {
            row.insert("IsConverted".into(), json!(true));
            row.insert("ConvertedDate".into(), json!(date(now_ms)));
            row.insert("ConvertedAccountId".into(), json!(account_id));
            row.insert("ConvertedContactId".into(), json!(contact_id));
            row.insert("ConvertedOpportunityId".into(), json!(opportunity_id));
            row.insert("Status".into(), json!(status));
            Self::stamp(row, &w.user, now_ms);
        }
        self.mark("Lead", &key, &w.user, now_ms);
        Ok(Conversion {
            account_id,
            contact_id,
            opportunity_id,
        })
    }
}
