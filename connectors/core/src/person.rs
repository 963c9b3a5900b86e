//! [`Person`]: someone on a list of leads (a trade-show export, a sample dataset), in no
//! vendor's vocabulary. Each CRM connector turns one into its lead record
//! (`handoff_hubspot::lead_record`, `handoff_salesforce::lead_record`), so a list can be
//! backtested against, or seeded into, whichever CRM the mappings read.

use serde::{Deserialize, Serialize};

/// A person on a list of leads. Empty strings are absent values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// The list's id of the row (it becomes the record id of a record built for mapping).
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub email: String,
    pub phone: String,
    pub mobile_phone: String,
    pub website: String,
    pub city: String,
    pub country: String,
    /// How the lead came in, as the target CRM spells its source values (HubSpot "Original
    /// source" `ORGANIC_SEARCH`; a Salesforce `LeadSource` picklist value); `None`: unknown.
    pub source: Option<String>,
    /// The person agreed to be contacted (a GDPR legal basis is on record).
    pub consent: bool,
    /// Marketing hands the person to sales now (HubSpot lifecycle stage MQL; a Salesforce Lead
    /// in its open status).
    pub sales_ready: bool,
}
