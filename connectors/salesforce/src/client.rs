//! `SalesforceClient`: the REST calls handoff makes under `/services/data/vXX.X/`, over the
//! core paced, retrying [`VendorClient`].
//!
//! * Token and base URL come from OAuth ([`crate::auth`]) through a single-flight token source:
//!   a 401 refreshes once for every concurrent caller, then the call is retried once.
//! * Pacing: `requests_per_second` (governor, shared by every clone). Budget: handoff's share
//!   of the daily allocation ([`crate::limits`]); a call refused for it, or a 403
//!   `REQUEST_LIMIT_EXCEEDED`, is [`ConnectorError::RateLimited`], never permanent.
//! * Errors: Salesforce's error array → classed [`ConnectorError`]s ([`crate::error`]).
//!
//! Calls (NOTES §2.3, §2.4, S9; Postman `rest/` and `composite/`):
//!
//! | call | request |
//! | --- | --- |
//! | [`SalesforceClient::query`] / [`SalesforceClient::query_all`] | `GET query?q=` / `GET queryAll?q=` (deleted and archived rows too), then `GET nextRecordsUrl` while `done` is false; `Sforce-Query-Options: batchSize=N` |
//! | [`SalesforceClient::count`] | `GET query?q=SELECT COUNT() …` → `totalSize` |
//! | [`SalesforceClient::retrieve`] | `GET composite/sobjects/{SObject}?ids=…&fields=…`, ≤ 2,000 ids per call |
//! | [`SalesforceClient::get`] | `GET sobjects/{SObject}/{id}?fields=…` |
//! | [`SalesforceClient::create`] | `POST sobjects/{SObject}` → 201 `{id, success, errors}` |
//! | [`SalesforceClient::update`] | `PATCH sobjects/{SObject}/{id}` → 204 |
//! | [`SalesforceClient::upsert`] | `PATCH sobjects/{SObject}/{field}/{value}` → 201 created / 200 `created:false` (S9, unverified) / 204; several matches → 300 |
//! | [`SalesforceClient::create_many`] / [`SalesforceClient::update_many`] | `POST` / `PATCH composite/sobjects`, ≤ 200 records per call (update path as in NOTES §2.4; the Postman item puts the SObject in the path) |
//! | [`SalesforceClient::limits`] | `GET limits` |
//!
//! Writes to Lead, Case and Account send `Sforce-Auto-Assign: FALSE` (S6): the owner handoff
//! chose stays; without it Salesforce runs the default assignment rule (`TRUE` is the default).

use crate::auth::{Identity, SalesforceAuth};
use crate::config::SalesforceSection;
use crate::error::{decode, VENDOR};
use crate::limits::{ApiUsage, SalesforceHooks};
use crate::soql::{ident, Cond, Literal, Select};
use crate::token::Grant;
use crate::wire::{check_id, saved_id};
pub use crate::wire::{encode_segment, is_id, to_record, QueryPage, SaveError, SaveResult};
use handoff_connector::{
    ClientConfig, ConnectorError, Fields, SingleFlight, TokenSource, VendorClient,
};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// The request header that turns assignment rules off for a write (S6).
pub const AUTO_ASSIGN_HEADER: &str = "sforce-auto-assign";
/// The request header carrying the query batch size (S11).
pub const QUERY_OPTIONS_HEADER: &str = "sforce-query-options";
/// Objects whose writes honour `Sforce-Auto-Assign` (S6).
pub const AUTO_ASSIGN_OBJECTS: [&str; 3] = ["Lead", "Case", "Account"];

/// What the client needs besides credentials; [`ClientSettings::from_section`] reads them from
/// the config section.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// Where tokens come from (`https://login.salesforce.com`).
    pub login_url: url::Url,
    /// `"68.0"`.
    pub api_version: String,
    /// Requests per second across every clone of the client.
    pub requests_per_second: u32,
    /// Share of the daily allocation handoff may use (0 < share ≤ 1).
    pub daily_api_share: f64,
    /// Wait reported once the share is used up.
    pub limit_wait: Duration,
    /// Query batch size (200–2000).
    pub batch_size: u32,
    /// Retries after the first attempt (5xx, timeouts, short rate-limit waits).
    pub max_retries: usize,
    /// When set, a token for another org is refused.
    pub organization_id: Option<String>,
    /// Rate-limit waits up to this long are slept on in the client; longer ones (a used-up
    /// share: `limit_wait`, 300 s by default) go back to the daemon at once. Default 30 s.
    pub max_client_wait: Duration,
}

impl ClientSettings {
    /// Defaults (API 68.0, 20 requests/s, share 0.5, 300 s wait, batches of 2,000, 5 retries,
    /// 30 s longest in-client wait) for `login_url`.
    pub fn new(login_url: url::Url) -> Self {
        Self {
            login_url,
            api_version: "68.0".into(),
            requests_per_second: 20,
            daily_api_share: 0.5,
            limit_wait: Duration::from_secs(300),
            batch_size: 2000,
            max_retries: 5,
            organization_id: None,
            max_client_wait: Duration::from_secs(30),
        }
    }

    /// The settings of a config section.
    pub fn from_section(section: &SalesforceSection) -> Self {
        Self {
            login_url: section.login_url.clone(),
            api_version: section.api_version.clone(),
            requests_per_second: section.requests_per_second,
            daily_api_share: section.daily_api_share,
            limit_wait: Duration::from_secs(section.limit_wait_s),
            batch_size: section.batch_size,
            max_retries: 5,
            organization_id: section.organization_id.clone(),
            max_client_wait: Duration::from_secs(30),
        }
    }
}

/// The Salesforce REST client. Cheap to clone; clones share the token, the pacing and the
/// API budget.
#[derive(Clone)]
pub struct SalesforceClient {
    pub(crate) api: VendorClient,
    tokens: Arc<SingleFlight<SalesforceAuth>>,
    usage: Arc<ApiUsage>,
    version: String,
    batch_size: u32,
    login_url: url::Url,
}

impl std::fmt::Debug for SalesforceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceClient")
            .field("login_url", &self.login_url.as_str())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl SalesforceClient {
    /// A client for `settings` authenticating with `grant`. No request is made until the
    /// first call (which fetches the first token).
    ///
    /// Errors: [`ConnectorError::Config`] for a zero pace or an unusable login URL.
    pub fn new(settings: &ClientSettings, grant: Grant) -> Result<Self, ConnectorError> {
        let auth =
            SalesforceAuth::new(&settings.login_url, grant, settings.organization_id.clone())?;
        let tokens = Arc::new(SingleFlight::new(auth));
        let usage = Arc::new(ApiUsage::new(settings.daily_api_share, settings.limit_wait));
        // The configured token is never sent: the token source supplies it.
        let mut cfg = ClientConfig::new(settings.login_url.clone(), SecretString::from(""));
        cfg.requests_per_window = settings.requests_per_second;
        cfg.window = Duration::from_secs(1);
        cfg.max_retries = settings.max_retries;
        let api = VendorClient::new(VENDOR, cfg)?
            .with_token_source(tokens.clone())
            .with_hooks(Arc::new(SalesforceHooks::new(
                usage.clone(),
                settings.limit_wait,
            )))
            // Longer waits (a used-up allocation) go back to the daemon.
            .with_retry_after_cap(settings.max_client_wait);
        Ok(Self {
            api,
            tokens,
            usage,
            version: settings.api_version.clone(),
            batch_size: settings.batch_size,
            login_url: settings.login_url.clone(),
        })
    }

    /// Who handoff is in the org (integration user, org, instance URL), fetching a token first
    /// if none was fetched yet.
    pub async fn identity(&self) -> Result<Identity, ConnectorError> {
        if let Some(id) = self.tokens.inner().identity() {
            return Ok(id);
        }
        self.tokens.token().await?;
        self.tokens
            .inner()
            .identity()
            .ok_or_else(|| decode("no identity after a token response"))
    }

    /// The identity from the last token response, without a request.
    pub fn known_identity(&self) -> Option<Identity> {
        self.tokens.inner().identity()
    }

    /// Token requests made so far.
    pub fn token_requests(&self) -> u64 {
        self.tokens.fetches()
    }

    /// The last `(used, limit)` of the daily allocation seen in `Sforce-Limit-Info`.
    pub fn api_usage(&self) -> Option<(u64, u64)> {
        self.usage.last()
    }

    /// The login URL tokens come from.
    pub fn login_url(&self) -> &url::Url {
        &self.login_url
    }

    /// The query batch size.
    pub fn batch_size(&self) -> u32 {
        self.batch_size
    }

    pub(crate) fn data(&self, rest: &str) -> String {
        format!("services/data/v{}/{rest}", self.version)
    }

    fn query_headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("batchSize={}", self.batch_size)) {
            h.insert(QUERY_OPTIONS_HEADER, v);
        }
        h
    }

    /// `Sforce-Auto-Assign: FALSE` for Lead, Case and Account writes (S6), none otherwise.
    pub fn write_headers(sobject: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if AUTO_ASSIGN_OBJECTS.contains(&sobject) {
            h.insert(AUTO_ASSIGN_HEADER, HeaderValue::from_static("FALSE"));
        }
        h
    }

    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<T, ConnectorError> {
        self.api
            .json_with_headers::<(), T>(Method::GET, path, None, headers)
            .await
    }

    /// The first batch of `soql` (`GET query?q=`).
    pub async fn query(&self, soql: &str) -> Result<QueryPage, ConnectorError> {
        self.query_page("query", soql).await
    }

    /// The first batch of `soql` over deleted and archived rows too (`GET queryAll?q=`).
    pub async fn query_all(&self, soql: &str) -> Result<QueryPage, ConnectorError> {
        self.query_page("queryAll", soql).await
    }

    async fn query_page(&self, resource: &str, soql: &str) -> Result<QueryPage, ConnectorError> {
        let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
        let path = self.data(&format!("{resource}?q={q}"));
        self.get_json(&path, &self.query_headers()).await
    }

    /// The next batch (`GET nextRecordsUrl`). Only `/services/data/…` paths are followed, so a
    /// bearer never goes to another host.
    pub async fn query_more(&self, next_records_url: &str) -> Result<QueryPage, ConnectorError> {
        if !next_records_url.starts_with("/services/data/") {
            return Err(decode(format!(
                "nextRecordsUrl {next_records_url:?} is not under /services/data/"
            )));
        }
        self.get_json(next_records_url, &self.query_headers()).await
    }

    /// Every record of `soql`, following `nextRecordsUrl` (`all`: `queryAll`).
    pub async fn query_every(
        &self,
        soql: &str,
        all: bool,
    ) -> Result<Vec<Map<String, Value>>, ConnectorError> {
        let mut page = if all {
            self.query_all(soql).await?
        } else {
            self.query(soql).await?
        };
        let mut records = std::mem::take(&mut page.records);
        while let (false, Some(next)) = (page.done, page.next_records_url.take()) {
            page = self.query_more(&next).await?;
            records.append(&mut page.records);
        }
        Ok(records)
    }

    /// The count of a `SELECT COUNT() …` query (its `totalSize`).
    pub async fn count(&self, soql: &str) -> Result<u64, ConnectorError> {
        Ok(self.query(soql).await?.total_size)
    }

    /// One record (`GET sobjects/{SObject}/{id}?fields=…`; all fields when `fields` is empty).
    pub async fn get(
        &self,
        sobject: &str,
        id: &str,
        fields: &[String],
    ) -> Result<Map<String, Value>, ConnectorError> {
        let sobject = ident(sobject)?;
        check_id(id)?;
        for f in fields {
            ident(f)?;
        }
        let mut rest = format!("sobjects/{sobject}/{id}");
        if !fields.is_empty() {
            rest.push_str(&format!("?fields={}", fields.join(",")));
        }
        self.get_json(&self.data(&rest), &HeaderMap::new()).await
    }

    /// Creates a record; returns its id (`POST sobjects/{SObject}` → 201).
    pub async fn create(&self, sobject: &str, fields: &Fields) -> Result<String, ConnectorError> {
        let sobject = ident(sobject)?;
        let path = self.data(&format!("sobjects/{sobject}"));
        let result: SaveResult = self
            .api
            .json_with_headers(
                Method::POST,
                &path,
                Some(fields),
                &Self::write_headers(sobject),
            )
            .await?;
        saved_id(result, sobject)
    }

    /// Sets `fields` on a record (`PATCH sobjects/{SObject}/{id}` → 204).
    pub async fn update(
        &self,
        sobject: &str,
        id: &str,
        fields: &Fields,
    ) -> Result<(), ConnectorError> {
        let sobject = ident(sobject)?;
        check_id(id)?;
        let path = self.data(&format!("sobjects/{sobject}/{id}"));
        let _: Value = self
            .api
            .json_with_headers(
                Method::PATCH,
                &path,
                Some(fields),
                &Self::write_headers(sobject),
            )
            .await?;
        Ok(())
    }

    /// Creates or updates the record whose external-id `field` is `value` (S9); returns its id
    /// and whether it was created (`None` when Salesforce answered 204 without a body, S9: older
    /// versions; the id is then looked up with a query).
    ///
    /// Errors: several matching records → 300 → [`ConnectorError::Rejected`] (nothing changed).
    pub async fn upsert(
        &self,
        sobject: &str,
        field: &str,
        value: &str,
        fields: &Fields,
    ) -> Result<(String, Option<bool>), ConnectorError> {
        let sobject = ident(sobject)?;
        let field = ident(field)?;
        let mut body = fields.clone();
        body.remove(field);
        let path = self.data(&format!(
            "sobjects/{sobject}/{field}/{}",
            encode_segment(value)
        ));
        let answer: Value = self
            .api
            .json_with_headers(
                Method::PATCH,
                &path,
                Some(&body),
                &Self::write_headers(sobject),
            )
            .await?;
        if answer.is_null() {
            let q = Select::new(["Id"], sobject)?
                .filter(Cond::eq(field, Literal::Str(value))?)
                .limit(2)
                .build();
            let page = self.query(&q).await?;
            let id = page
                .records
                .first()
                .and_then(|r| r.get("Id"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    decode(format!(
                        "upsert of {sobject}.{field} answered 204 but no record has the value"
                    ))
                })?;
            return Ok((id.to_string(), None));
        }
        let result: SaveResult =
            serde_json::from_value(answer).map_err(|e| decode(format!("upsert answer: {e}")))?;
        let created = result.created;
        Ok((saved_id(result, sobject)?, created))
    }

    /// The org's limits (`GET limits`; `DailyApiRequests: {Max, Remaining}` among them).
    pub async fn limits(&self) -> Result<Value, ConnectorError> {
        self.get_json(&self.data("limits"), &HeaderMap::new()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_case_and_account_writes_turn_assignment_off() {
        for o in AUTO_ASSIGN_OBJECTS {
            let h = SalesforceClient::write_headers(o);
            assert_eq!(h[AUTO_ASSIGN_HEADER], "FALSE");
        }
        assert!(SalesforceClient::write_headers("Opportunity").is_empty());
    }
}
