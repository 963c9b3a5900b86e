//! `crm:` and `pm:` in `handoff.yaml`: which vendor handoff speaks to, its settings, and
//! building its connector. This is the one place in the daemon (besides the sandbox and
//! `handoff emulate`) that names vendors: each section's keys are defined beside its connector
//! (`connectors/<vendor>/`), and flows only ever see the [`handoff_connector::Crm`] and
//! [`handoff_connector::ProjectTool`] the connectors build.
//!
//! ```yaml
//! crm:
//!   type: hubspot        # first key: hubspot | salesforce
//!   ...                  # that connector's keys (HubSpotSection, SalesforceSection)
//! pm:
//!   type: asana          # first key
//!   ...                  # AsanaSection
//! ```
//!
//! `type` must come first so every other key can be read (and refused) with its own line and
//! column.

use handoff_connector::{
    ChangeSource, ConnectorError, CrmConnection, Person, PmConnection, Record,
};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// The `crm:` section.
#[derive(Clone, Debug)]
pub enum CrmSection {
    /// `type: hubspot` (see `handoff_hubspot::section`).
    HubSpot(handoff_hubspot::HubSpotSection),
    /// `type: salesforce` (see `handoff_salesforce::config`).
    Salesforce(handoff_salesforce::SalesforceSection),
}

/// The `pm:` section.
#[derive(Clone, Debug)]
pub enum PmSection {
    /// `type: asana` (see `handoff_asana::pm`).
    Asana(handoff_asana::AsanaSection),
}

/// Object name → the fields to read for it (what the mappings read).
pub type FieldsByObject = BTreeMap<String, Vec<String>>;

impl CrmSection {
    /// The `type` value, also the system name in record keys (`hubspot`).
    pub fn system(&self) -> &'static str {
        match self {
            CrmSection::HubSpot(_) => "hubspot",
            CrmSection::Salesforce(_) => "salesforce",
        }
    }

    /// How changes reach handoff (`changes:`).
    pub fn changes(&self) -> &[ChangeSource] {
        match self {
            CrmSection::HubSpot(s) => &s.changes,
            CrmSection::Salesforce(s) => &s.changes,
        }
    }

    /// Builds the connector, reading `fields` for each object.
    ///
    /// Errors: a secret that cannot be read (naming the field), a zero budget.
    pub fn connect(&self, fields: &FieldsByObject) -> Result<CrmConnection, ConnectorError> {
        match self {
            CrmSection::HubSpot(s) => handoff_hubspot::connect(s, fields),
            CrmSection::Salesforce(s) => handoff_salesforce::connect(s, fields),
        }
    }
}

impl PmSection {
    /// The `type` value (`asana`).
    pub fn system(&self) -> &'static str {
        match self {
            PmSection::Asana(_) => "asana",
        }
    }

    /// Builds the connector. Errors: a secret that cannot be read, a zero budget.
    pub fn connect(&self) -> Result<PmConnection, ConnectorError> {
        match self {
            PmSection::Asana(s) => handoff_asana::connect(s),
        }
    }
}

/// The lead record `person` becomes in the CRM named `system` (as a mapping's `source.system`
/// names it), for mapping and seeding; `None` for a system no connector here knows.
pub fn lead_record(system: &str, person: &Person) -> Option<Record> {
    match system {
        "hubspot" => Some(handoff_hubspot::lead_record(person)),
        "salesforce" => Some(handoff_salesforce::lead_record(person)),
        _ => None,
    }
}

/// Reads `type` (the first key) from `map`, then the rest as the section.
fn first_key_type<'de, A: MapAccess<'de>>(
    map: &mut A,
    section: &str,
    types: &[&str],
) -> Result<String, A::Error> {
    let key: Option<String> = map.next_key()?;
    if key.as_deref() != Some("type") {
        return Err(de::Error::custom(format!(
            "`type` must be the first key of `{section}:` (type: {})",
            types.join(" | ")
        )));
    }
    map.next_value()
}

impl<'de> Deserialize<'de> for CrmSection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CrmSection;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a map starting with `type: {}`", CRM_TYPES.join(" | "))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CrmSection, A::Error> {
                let kind = first_key_type(&mut map, "crm", CRM_TYPES)?;
                let rest = de::value::MapAccessDeserializer::new(map);
                match kind.as_str() {
                    "hubspot" => Deserialize::deserialize(rest).map(CrmSection::HubSpot),
                    "salesforce" => {
                        let section: handoff_salesforce::SalesforceSection =
                            Deserialize::deserialize(rest)?;
                        // Checks serde cannot make (ranges, id forms, org id with webhooks),
                        // here so `handoff validate` makes them with the section's position.
                        section.validate().map_err(|e| match e {
                            ConnectorError::Config { reason, .. } => de::Error::custom(reason),
                            other => de::Error::custom(other),
                        })?;
                        Ok(CrmSection::Salesforce(section))
                    }
                    other => Err(de::Error::unknown_variant(other, CRM_TYPES)),
                }
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for PmSection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PmSection;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a map starting with `type: {}`", PM_TYPES.join(" | "))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PmSection, A::Error> {
                let kind = first_key_type(&mut map, "pm", PM_TYPES)?;
                let rest = de::value::MapAccessDeserializer::new(map);
                match kind.as_str() {
                    "asana" => Deserialize::deserialize(rest).map(PmSection::Asana),
                    other => Err(de::Error::unknown_variant(other, PM_TYPES)),
                }
            }
        }
        d.deserialize_map(V)
    }
}

/// The `crm.type` values.
pub const CRM_TYPES: &[&str] = &["hubspot", "salesforce"];
/// The `pm.type` values.
pub const PM_TYPES: &[&str] = &["asana"];
