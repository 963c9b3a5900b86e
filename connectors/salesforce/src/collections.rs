//! sObject Collections (NOTES §2.4; Postman `composite/`): create and update up to
//! [`COLLECTION_LIMIT`] records per call, retrieve up to [`RETRIEVE_LIMIT`] ids per call.
//!
//! * `POST composite/sobjects` `{allOrNone, records: [{attributes: {type}, …}]}` → one
//!   SaveResult per record, in order (mixed types allowed, no `Id`);
//! * `PATCH composite/sobjects` with `Id` in each record (NOTES §2.4; the Postman item puts
//!   the SObject in the path instead);
//! * `GET composite/sobjects/{SObject}?ids=…&fields=…`; an id Salesforce does not find comes
//!   back `null` (not in the notes: unverified) and is left out.

use crate::client::{SalesforceClient, AUTO_ASSIGN_OBJECTS};
use crate::soql::ident;
use crate::wire::{check_id, SaveResult};
use handoff_connector::{ConnectorError, Fields};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{Map, Value};

/// Most records one sObject Collections create/update call takes (§2.4).
pub const COLLECTION_LIMIT: usize = 200;
/// Most ids one sObject Collections retrieve call takes (§2.4).
pub const RETRIEVE_LIMIT: usize = 2000;

impl SalesforceClient {
    /// Records of `sobject` by id with `fields` (`GET composite/sobjects`, ≤ 2,000 ids per
    /// call); ids Salesforce does not return (answered `null`) are left out.
    pub async fn retrieve(
        &self,
        sobject: &str,
        ids: &[String],
        fields: &[String],
    ) -> Result<Vec<Map<String, Value>>, ConnectorError> {
        let sobject = ident(sobject)?;
        for f in fields {
            ident(f)?;
        }
        let mut out = Vec::new();
        for chunk in ids.chunks(RETRIEVE_LIMIT) {
            for id in chunk {
                check_id(id)?;
            }
            let path = self.data(&format!(
                "composite/sobjects/{sobject}?ids={}&fields={}",
                chunk.join(","),
                fields.join(",")
            ));
            let found: Vec<Value> = self.get_json(&path, &HeaderMap::new()).await?;
            out.extend(found.into_iter().filter_map(|v| match v {
                Value::Object(map) => Some(map),
                _ => None,
            }));
        }
        Ok(out)
    }

    /// Creates records (`POST composite/sobjects`, ≤ 200 per call, mixed types); one
    /// SaveResult per record, in order. `all_or_none`: a failure rolls back its call's records.
    pub async fn create_many(
        &self,
        records: &[(String, Fields)],
        all_or_none: bool,
    ) -> Result<Vec<SaveResult>, ConnectorError> {
        self.collection(
            Method::POST,
            records.iter().map(|(t, f)| (t, None, f)),
            all_or_none,
        )
        .await
    }

    /// Updates records (`PATCH composite/sobjects`, ≤ 200 per call); `(SObject, id, fields)`.
    pub async fn update_many(
        &self,
        records: &[(String, String, Fields)],
        all_or_none: bool,
    ) -> Result<Vec<SaveResult>, ConnectorError> {
        self.collection(
            Method::PATCH,
            records.iter().map(|(t, id, f)| (t, Some(id), f)),
            all_or_none,
        )
        .await
    }

    async fn collection<'a>(
        &self,
        method: Method,
        records: impl Iterator<Item = (&'a String, Option<&'a String>, &'a Fields)>,
        all_or_none: bool,
    ) -> Result<Vec<SaveResult>, ConnectorError> {
        let mut bodies = Vec::new();
        let mut assign_off = false;
        for (sobject, id, fields) in records {
            let sobject = ident(sobject)?;
            assign_off |= AUTO_ASSIGN_OBJECTS.contains(&sobject);
            let mut record = fields.clone();
            record.insert("attributes".into(), serde_json::json!({ "type": sobject }));
            if let Some(id) = id {
                check_id(id)?;
                record.insert("Id".into(), Value::String(id.clone()));
            }
            bodies.push(Value::Object(record));
        }
        let headers = if assign_off {
            Self::write_headers("Lead")
        } else {
            HeaderMap::new()
        };
        let path = self.data("composite/sobjects");
        let mut results = Vec::with_capacity(bodies.len());
        for chunk in bodies.chunks(COLLECTION_LIMIT) {
            let body = serde_json::json!({ "allOrNone": all_or_none, "records": chunk });
            let mut answer: Vec<SaveResult> = self
                .api
                .json_with_headers(method.clone(), &path, Some(&body), &headers)
                .await?;
            results.append(&mut answer);
        }
        Ok(results)
    }
}
