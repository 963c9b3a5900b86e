//! The CRM search request (`PublicObjectSearchRequest`) and page, typed.
//!
//! `POST /crm/v3/objects/{objectType}/search` takes
//! `{filterGroups:[{filters:[{propertyName, operator, value | values | highValue}]}], sorts,
//! properties, query, limit (≤ 200), after}` and answers `{total, results, paging}`
//! (`vendor-specs/NOTES.md` §1.3). Filter groups are OR'ed, filters inside a group AND'ed;
//! at most 5 groups, 10 filters per group and 25 filters in all; a query can page through at
//! most 10,000 results. Datetime filter values are epoch-ms strings.

use handoff_connector::Record;
use serde::{Deserialize, Deserializer, Serialize};

/// The most filter groups one search accepts.
pub const MAX_FILTER_GROUPS: usize = 5;
/// The most filters one group accepts.
pub const MAX_FILTERS_PER_GROUP: usize = 10;
/// The most filters one search accepts across all groups.
pub const MAX_FILTERS_TOTAL: usize = 25;
/// The largest `limit` (page size) a search accepts.
pub const MAX_LIMIT: u32 = 200;
/// How far one query can page: an `after` of 10,000 or more is refused with a 400.
pub const MAX_RESULTS_PER_QUERY: u64 = 10_000;

/// A search request body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// OR'ed groups of AND'ed filters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_groups: Vec<FilterGroup>,
    /// Sort rules (HubSpot applies one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sorts: Vec<Sort>,
    /// Properties to return; empty means the object type's defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
    /// Free-text query over the default searchable properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Page size, 1..=200 (HubSpot's default is 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `paging.next.after` of the previous page.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "stringish_opt"
    )]
    pub after: Option<String>,
}

/// Filters that must all match.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterGroup {
    #[serde(default)]
    pub filters: Vec<Filter>,
}

/// One filter: `propertyName operator value` (or `values` for `IN`/`NOT_IN`, `value` and
/// `highValue` for `BETWEEN`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    pub property_name: String,
    pub operator: Operator,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "stringish_opt"
    )]
    pub value: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "stringish_opt"
    )]
    pub high_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<serde_json::Value>>,
}

impl Filter {
    /// `property operator value`.
    pub fn new(property: &str, operator: Operator, value: impl Into<String>) -> Self {
        Self {
            property_name: property.to_string(),
            operator,
            value: Some(value.into()),
            high_value: None,
            values: None,
        }
    }
}

/// Search filter operators (spec enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    In,
    NotIn,
    HasProperty,
    NotHasProperty,
    ContainsToken,
    NotContainsToken,
}

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Direction {
    Ascending,
    Descending,
}

/// A sort rule: `{"propertyName","direction"}` (a bare property name string is also accepted
/// on input and means ascending).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sort {
    pub property_name: String,
    pub direction: Direction,
}

impl Sort {
    /// Ascending on `property`.
    pub fn ascending(property: &str) -> Self {
        Self {
            property_name: property.to_string(),
            direction: Direction::Ascending,
        }
    }
}

impl<'de> Deserialize<'de> for Sort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Full {
            property_name: String,
            #[serde(default = "asc")]
            direction: Direction,
        }
        fn asc() -> Direction {
            Direction::Ascending
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Name(String),
            Full(Full),
        }
        Ok(match Either::deserialize(d)? {
            Either::Name(name) => Sort::ascending(&name),
            Either::Full(f) => Sort {
                property_name: f.property_name,
                direction: f.direction,
            },
        })
    }
}

/// One search page, as records.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchPage {
    /// Records matching the query in all (not capped at 10,000).
    pub total: u64,
    /// This page's records (no associations: search never returns them).
    pub results: Vec<Record>,
    /// `paging.next.after`, the offset of the next page, when there is one.
    pub next_after: Option<String>,
}

/// Accepts a JSON string, number or boolean as a string (clients send `"value": 10`).
fn stringish_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.and_then(|v| stringish(&v)))
}

/// A filter value as a string: strings as is, numbers and booleans rendered, others `None`.
pub fn stringish(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_serialises_in_hubspot_terms() {
        let req = SearchRequest {
            filter_groups: vec![FilterGroup {
                filters: vec![Filter::new("hs_lastmodifieddate", Operator::Gte, "1000")],
            }],
            sorts: vec![Sort::ascending("hs_lastmodifieddate")],
            limit: Some(200),
            ..Default::default()
        };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "1000"}]}],
                "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                "limit": 200
            })
        );
    }

    #[test]
    fn loose_inputs_are_accepted() {
        let req: SearchRequest = serde_json::from_value(serde_json::json!({
            "filterGroups": [{"filters": [{"propertyName": "amount", "operator": "GT", "value": 10}]}],
            "sorts": ["createdate"],
            "after": 200
        }))
        .unwrap();
        assert_eq!(req.filter_groups[0].filters[0].value.as_deref(), Some("10"));
        assert_eq!(req.sorts[0], Sort::ascending("createdate"));
        assert_eq!(req.after.as_deref(), Some("200"));
        assert!(serde_json::from_value::<SearchRequest>(serde_json::json!({
            "filterGroups": [{"filters": [{"propertyName": "a", "operator": "LIKE"}]}]
        }))
        .is_err());
    }
}
