//! The Salesforce Lead a [`Person`] on a list of leads becomes: what `handoff backtest` maps
//! and what the sandbox seeds.

use handoff_connector::{Person, Record};
use serde_json::{json, Map};

/// The Lead status of a sales-ready lead (the default Lead Status picklist's open value).
pub const OPEN_STATUS: &str = "Open - Not Contacted";
/// The status of a lead that is not sales-ready (marketing keeps it).
pub const NOT_READY_STATUS: &str = "Closed - Not Converted";

/// The Lead `person` becomes (`{id, object_type: Lead, properties}`), with standard Lead fields
/// (Salesforce Field Reference, "Lead"): `FirstName`, `LastName` (required: `(unknown)` when
/// empty), `Company` (required: `(none)` when empty), `Email`, `Phone`, `MobilePhone`,
/// `Website`, `City`, `Country`, `LeadSource` (the person's source as given), `Status`
/// ([`OPEN_STATUS`] when sales-ready, else [`NOT_READY_STATUS`]) and `HasOptedOutOfEmail` (true
/// unless the person consented). Other empty values are left out.
pub fn lead_record(person: &Person) -> Record {
    let mut p = Map::new();
    for (k, v) in [
        ("FirstName", person.first_name.as_str()),
        ("Email", &person.email),
        ("Phone", &person.phone),
        ("MobilePhone", &person.mobile_phone),
        ("Website", &person.website),
        ("City", &person.city),
        ("Country", &person.country),
        ("LeadSource", person.source.as_deref().unwrap_or("")),
    ] {
        if !v.is_empty() {
            p.insert(k.into(), json!(v));
        }
    }
    let or = |v: &str, missing: &str| {
        if v.trim().is_empty() {
            missing.to_string()
        } else {
            v.to_string()
        }
    };
    p.insert("LastName".into(), json!(or(&person.last_name, "(unknown)")));
    p.insert("Company".into(), json!(or(&person.company, "(none)")));
    let status = if person.sales_ready {
        OPEN_STATUS
    } else {
        NOT_READY_STATUS
    };
    p.insert("Status".into(), json!(status));
    p.insert("HasOptedOutOfEmail".into(), json!(!person.consent));
    Record {
        id: person.id.clone(),
        object_type: "Lead".into(),
        properties: p,
        associations: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sales_ready_consenting_person_is_an_open_lead_with_the_required_fields() {
        let person = Person {
            id: "7".into(),
            first_name: "Ana".into(),
            email: "ana@northwind.test".into(),
            consent: true,
            sales_ready: true,
            ..Person::default()
        };
        let lead = lead_record(&person);
        assert_eq!(lead.object_type, "Lead");
        let p = &lead.properties;
        assert_eq!(p["Status"], OPEN_STATUS);
        assert_eq!(p["HasOptedOutOfEmail"], false);
        assert_eq!(p["LastName"], "(unknown)");
        assert_eq!(p["Company"], "(none)");
        assert!(!p.contains_key("Phone"));
        let later = lead_record(&Person {
            consent: false,
            sales_ready: false,
            ..person
        });
        assert_eq!(later.properties["Status"], NOT_READY_STATUS);
        assert_eq!(later.properties["HasOptedOutOfEmail"], true);
    }
}
