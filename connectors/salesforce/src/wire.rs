//! The JSON shapes of Salesforce's REST answers handoff reads (NOTES §2.3, §2.4, S9), and
//! the checks on what goes into a request path (ids, external-id values).

use crate::error::{config, ApiErrorItem, VENDOR};
use handoff_connector::{ConnectorError, Record};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One batch of a query (§2.3): `{totalSize, done, nextRecordsUrl?, records}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPage {
    /// Every matching record (for `COUNT()`: the count).
    pub total_size: u64,
    /// Whether this is the last batch.
    pub done: bool,
    /// `/services/data/vXX.X/query/<locator>-<offset>` while `done` is false.
    #[serde(default)]
    pub next_records_url: Option<String>,
    /// Records with `attributes: {type, url}` and the selected fields.
    #[serde(default)]
    pub records: Vec<Map<String, Value>>,
}

/// One write's outcome (`SaveResult`, §2.4; upsert adds `created`, S9).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct SaveResult {
    /// The record id (absent when the write failed).
    #[serde(default)]
    pub id: Option<String>,
    /// Whether the write took effect.
    #[serde(default)]
    pub success: bool,
    /// Error items. Their shape inside SaveResults is not in the notes: read like §2.6's
    /// (`errorCode`), also accepting `statusCode`.
    #[serde(default)]
    pub errors: Vec<SaveError>,
    /// Upsert (v46+): whether the record was created (S9, unverified).
    #[serde(default)]
    pub created: Option<bool>,
}

/// An item of a SaveResult's `errors`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SaveError {
    /// The code (`errorCode`, or `statusCode`).
    #[serde(default, alias = "statusCode")]
    pub error_code: String,
    /// The readable message.
    #[serde(default)]
    pub message: String,
    /// The fields it is about.
    #[serde(default)]
    pub fields: Vec<String>,
}

impl From<SaveError> for ApiErrorItem {
    fn from(e: SaveError) -> Self {
        ApiErrorItem {
            message: e.message,
            error_code: e.error_code,
            fields: e.fields,
        }
    }
}

/// A record as read (`attributes` + fields) → [`Record`]: `id` from `Id`, `object_type` from
/// `attributes.type` (else `fallback`), every other field as a property.
pub fn to_record(mut map: Map<String, Value>, fallback: &str) -> Record {
    let object_type = map
        .remove("attributes")
        .and_then(|a| a.get("type").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| fallback.to_string());
    let id = map
        .get("Id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Record {
        id,
        object_type,
        properties: map,
        associations: Default::default(),
    }
}

/// Whether `id` looks like a Salesforce id (15 or 18 letters and digits).
pub fn is_id(id: &str) -> bool {
    matches!(id.len(), 15 | 18) && id.chars().all(|c| c.is_ascii_alphanumeric())
}

pub(crate) fn check_id(id: &str) -> Result<(), ConnectorError> {
    if is_id(id) {
        Ok(())
    } else {
        Err(config(format!(
            "`{}` is not a Salesforce id (15 or 18 letters and digits)",
            id.chars().take(40).collect::<String>()
        )))
    }
}

pub(crate) fn saved_id(result: SaveResult, sobject: &str) -> Result<String, ConnectorError> {
    match result.id {
        Some(id) if result.success || result.errors.is_empty() => Ok(id),
        _ => {
            let items: Vec<ApiErrorItem> = result.errors.into_iter().map(Into::into).collect();
            let body = serde_json::to_vec(&items).unwrap_or_default();
            Err(ConnectorError::Rejected {
                vendor: VENDOR,
                status: 200,
                message: format!("{sobject} not saved: {}", crate::error::describe(&body)),
            })
        }
    }
}

/// `value` percent-encoded as one URL path segment.
pub fn encode_segment(value: &str) -> String {
    let mut url = url::Url::parse("http://x/").expect("literal URL");
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.push(value);
    }
    url.path().trim_start_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_lose_attributes_and_keep_fields() {
        let map = serde_json::json!({
            "attributes": {"type": "Lead", "url": "/services/data/v68.0/sobjects/Lead/00Q000000000001AAA"},
            "Id": "00Q000000000001AAA", "Email": "a@b.c", "OwnerId": null
        });
        let Value::Object(map) = map else {
            unreachable!()
        };
        let r = to_record(map, "Other");
        assert_eq!(
            (r.id.as_str(), r.object_type.as_str()),
            ("00Q000000000001AAA", "Lead")
        );
        assert_eq!(r.properties.len(), 3);
        assert!(!r.properties.contains_key("attributes"));
    }

    #[test]
    fn ids_and_segments_are_checked_and_encoded() {
        assert!(is_id("00Q000000000001AAA") && is_id("00Q000000000001"));
        assert!(!is_id("00Q/../../x") && !is_id(""));
        assert!(check_id("x'y").is_err());
        assert_eq!(
            encode_segment("onboarding:deals:42/x y"),
            "onboarding:deals:42%2Fx%20y"
        );
    }

    #[test]
    fn failed_save_results_name_their_errors() {
        let r: SaveResult = serde_json::from_value(serde_json::json!({
            "id": null, "success": false,
            "errors": [{"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Name]", "fields": ["Name"]}]
        })).unwrap();
        let err = saved_id(r, "Account").unwrap_err().to_string();
        assert!(
            err.contains("REQUIRED_FIELD_MISSING") && err.contains("Name"),
            "{err}"
        );
    }
}
