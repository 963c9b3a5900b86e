//! A vendor record as JSON, the shape mappings read.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One object read from a vendor: a HubSpot contact, company, deal or ticket, a Salesforce
/// Lead/Account/Opportunity/Case, and so on.
///
/// The shape follows HubSpot's `SimplePublicObject` (CRM v3): `id`, `properties` (property name →
/// value; HubSpot sends every value as a string or `null`), and `associations` (target object
/// type → ids). Other vendors' connectors fill the same shape so one mapping language reads all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The vendor's id of the object (HubSpot `hs_object_id`, Salesforce `Id`).
    pub id: String,
    /// The vendor's object type, plural as in its URLs: `contacts`, `companies`, `deals`.
    pub object_type: String,
    /// Property name → value, exactly as the vendor returns them.
    #[serde(default)]
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// Associated object type → associated ids (HubSpot associations v4, default type).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub associations: BTreeMap<String, Vec<String>>,
}

impl Record {
    /// The property's value as a string, if present and not `null` (numbers and booleans are
    /// rendered with `to_string`).
    pub fn prop(&self, name: &str) -> Option<String> {
        match self.properties.get(name)? {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// The record as the JSON document mappings read: `{"id", "object_type", "properties",
    /// "associations"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
