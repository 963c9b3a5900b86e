//! HubSpot CRM v3 JSON shapes shared by the client and the emulator.
//!
//! Names follow the CRM specs' component schemas (`SimplePublicObject`, `ForwardPaging`,
//! `NextPage`, `BatchResponseSimplePublicObject`, `Error`) as summarised in
//! `vendor-specs/README.md` and `NOTES.md` §1.3–1.4. Only fields handoff reads or the emulator
//! writes are modelled; unknown fields are ignored when decoding.

use handoff_connector::Record;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `SimplePublicObject`: one CRM record as HubSpot returns it.
///
/// `properties` values are strings or `null` (spec: `additionalProperties: string`);
/// `createdAt`/`updatedAt` are ISO-8601 UTC strings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiObject {
    pub id: String,
    #[serde(default)]
    pub properties: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub archived: bool,
    /// v3 reads with `associations=companies`: `{"companies":{"results":[{"id","type"}]}}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub associations: BTreeMap<String, AssociationList>,
    /// Reads with `propertiesWithHistory=a,b`: each named property's writes, newest first
    /// (spec: `propertiesWithHistory: {name: [ValueWithTimestamp]}`).
    #[serde(
        default,
        rename = "propertiesWithHistory",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub properties_with_history: BTreeMap<String, Vec<ValueWithTimestamp>>,
}

/// `ValueWithTimestamp`: one write of a property, as HubSpot's CRM v3 specs define it
/// (`HubSpot/HubSpot-public-api-spec-collection`, `crm-contacts-v3` components.schemas:
/// required `sourceType`, `timestamp` (ISO 8601), `value`; optional `sourceId`, `sourceLabel`,
/// `updatedByUserId` (int32)).
///
/// `sourceType` names the kind of writer: `CRM_UI` (a user in the UI, with `updatedByUserId`
/// and `sourceId: "userId:<id>"`), `INTEGRATION` (an app's API call; `sourceId` = the app id,
/// inferred from recorded responses), `AUTOMATION_PLATFORM` (a workflow), `FORM`, `IMPORT`,
/// `CALCULATED`, … (see `emulator::history` for the provenance of each).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueWithTimestamp {
    pub value: String,
    /// ISO-8601 UTC (`2022-11-07T21:54:03.930Z`).
    pub timestamp: String,
    pub source_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by_user_id: Option<u64>,
}

impl ValueWithTimestamp {
    /// [`ValueWithTimestamp::timestamp`] as UTC epoch ms (`None` if HubSpot sent something
    /// unparseable).
    pub fn timestamp_ms(&self) -> Option<i64> {
        crate::time::parse_ms(&self.timestamp)
    }
}

/// The associations of one target type in a v3 read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AssociationList {
    pub results: Vec<AssociationRef>,
}

/// One associated record in a v3 read: its id and the association type name
/// (`contact_to_company`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssociationRef {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl ApiObject {
    /// The record handoff's mappings read: properties as returned, associations flattened to
    /// `type → ids` (deduplicated, in response order).
    pub fn into_record(self, object_type: &str) -> Record {
        let associations = self
            .associations
            .into_iter()
            .map(|(kind, list)| {
                let mut ids: Vec<String> = Vec::with_capacity(list.results.len());
                for r in list.results {
                    if !ids.contains(&r.id) {
                        ids.push(r.id);
                    }
                }
                (kind, ids)
            })
            .collect();
        Record {
            id: self.id,
            object_type: object_type.to_string(),
            properties: self.properties,
            associations,
        }
    }
}

/// `ForwardPaging`: `{"next":{"after","link"}}`, absent on the last page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Paging {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<NextPage>,
}

/// `NextPage`: the `after` token to send for the next page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NextPage {
    pub after: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// A paged list (`CollectionResponse…ForwardPaging`): `{"results":[…],"paging":{…}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListPage<T> {
    pub results: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
}

impl<T> ListPage<T> {
    /// The `after` token of the next page, if there is one.
    pub fn next_after(&self) -> Option<&str> {
        self.paging
            .as_ref()?
            .next
            .as_ref()
            .map(|n| n.after.as_str())
    }
}

/// `BatchResponseSimplePublicObject(WithErrors)`: `{"status","results",["errors","numErrors"]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub status: String,
    pub results: Vec<ApiObject>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_errors: Option<u32>,
}

/// HubSpot's error body: spec `Error` (`message`, `correlationId`, `category`, optional
/// `subCategory`, `context`, `errors`) plus the `status:"error"` real responses carry, and the
/// rate-limit fields of 429 bodies (`errorType`, `policyName`, `groupName`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub correlation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_associations_flatten_to_ids() {
        let obj: ApiObject = serde_json::from_value(serde_json::json!({
            "id": "51",
            "properties": {"email": "a@example.com", "phone": null},
            "createdAt": "2019-10-30T03:30:17.883Z",
            "updatedAt": "2019-12-07T16:50:06.678Z",
            "archived": false,
            "associations": {"companies": {"results": [
                {"id": "7", "type": "contact_to_company"},
                {"id": "7", "type": "contact_to_company_unlabeled"}
            ]}}
        }))
        .unwrap();
        let rec = obj.into_record("contacts");
        assert_eq!(rec.associations["companies"], vec!["7".to_string()]);
        assert_eq!(rec.prop("email").as_deref(), Some("a@example.com"));
        assert_eq!(rec.prop("phone"), None);
    }
}
