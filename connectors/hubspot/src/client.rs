//! `HubSpotClient`: the CRM v3 (+ associations v4) calls handoff makes, over the shared paced,
//! retrying [`VendorClient`].
//!
//! Two budgets, as HubSpot has two: ordinary calls share the ten-second bucket
//! (`requests_per_window` per `rate_window_ms`), CRM search calls go through their own client
//! paced at `search_requests_per_second` (search is exempt from the ten-second bucket and has a
//! per-second limit instead; `vendor-specs/NOTES.md` §1.2). Errors come back classed by the core
//! client from HubSpot's status codes (its error body is
//! `{"status":"error","message","correlationId","category",…}`, kept as the error message).

use crate::config::HubSpotConfig;
use crate::objects::ObjectType;
use crate::search::{SearchPage, SearchRequest};
use crate::wire::{ApiObject, BatchResponse, ListPage, ValueWithTimestamp};
use handoff_connector::pacing::{QuotaHeaders, WindowPacer};
use handoff_connector::{
    ClientConfig, ConnectorError, IdempotencyKey, Record, VendorClient, VendorHooks,
};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// The vendor name in errors and metrics.
pub const VENDOR: &str = "hubspot";

/// The custom ticket (or any object) property handoff upserts on: a unique-value property
/// whose value is the write's [`IdempotencyKey`].
pub const IDEMPOTENCY_PROPERTY: &str = "handoff_idempotency_key";

/// The most inputs one batch call takes; longer lists are sent in chunks.
pub const BATCH_LIMIT: usize = 100;

/// Page size for list calls (`GET /crm/v3/objects/{type}`, `GET /crm/v3/owners`).
const LIST_PAGE: u32 = 100;

/// A HubSpot user who can own records (`GET /crm/v3/owners`, `PublicOwner`).
#[derive(Clone, Debug, PartialEq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub user_id: Option<u64>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub teams: Vec<OwnerTeam>,
}

/// A team an owner belongs to.
#[derive(Clone, Debug, PartialEq, Deserialize, serde::Serialize)]
pub struct OwnerTeam {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub primary: bool,
}

/// The ten-second quota's headers on every non-search answer (NOTES §1.4:
/// `X-HubSpot-RateLimit-Max`, `-Remaining`, `-Interval-Milliseconds`). Search answers carry
/// none; its own limit (per second) is paced locally.
pub const TEN_SECOND_QUOTA: QuotaHeaders = QuotaHeaders {
    max: "x-hubspot-ratelimit-max",
    remaining: "x-hubspot-ratelimit-remaining",
    interval_ms: "x-hubspot-ratelimit-interval-milliseconds",
};

/// Paces ordinary calls to the ten-second quota HubSpot reports, so a busy client uses the
/// whole window and draws no 429 ([`handoff_connector::pacing`]).
struct QuotaPacing(WindowPacer);

impl VendorHooks for QuotaPacing {
    fn pacer(&self) -> Option<&WindowPacer> {
        Some(&self.0)
    }
}

/// The HubSpot CRM client. Cheap to clone; clones share both rate limiters.
#[derive(Clone)]
pub struct HubSpotClient {
    /// Ordinary calls (the ten-second bucket); the crate's case notes ([`crate::crm::notes`])
    /// call through it too.
    pub(crate) api: VendorClient,
    search: VendorClient,
}

impl std::fmt::Debug for HubSpotClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpotClient")
            .field("base_url", &self.api.base_url().as_str())
            .finish_non_exhaustive()
    }
}

impl HubSpotClient {
    /// Builds the client from the connector config. Errors with [`ConnectorError::Config`] when
    /// a budget is zero.
    pub fn new(config: &HubSpotConfig) -> Result<Self, ConnectorError> {
        let mut api = ClientConfig::new(config.base_url.clone(), config.token.clone());
        api.requests_per_window = config.requests_per_window;
        api.window = Duration::from_millis(config.rate_window_ms);
        api.max_retries = config.max_retries;
        api.timeout = Duration::from_millis(config.timeout_ms);
        let mut search = api.clone();
        search.requests_per_window = config.search_requests_per_second;
        search.window = Duration::from_secs(1);
        Ok(Self {
            api: VendorClient::new(VENDOR, api)?
                .with_hooks(Arc::new(QuotaPacing(WindowPacer::new(TEN_SECOND_QUOTA)))),
            search: VendorClient::new(VENDOR, search)?,
        })
    }

    /// The API root this client talks to.
    pub fn base_url(&self) -> &url::Url {
        self.api.base_url()
    }

    /// `GET /crm/v3/objects/{type}/{id}?properties=…`: one record with the given properties
    /// (HubSpot's defaults when empty). [`ConnectorError::NotFound`] when the record does not
    /// exist or is archived.
    pub async fn get_object<P: AsRef<str>>(
        &self,
        object_type: &str,
        id: &str,
        properties: &[P],
    ) -> Result<Record, ConnectorError> {
        self.get_object_with_associations(object_type, id, properties, &[])
            .await
    }

    /// Like [`HubSpotClient::get_object`], also reading the record's associations to the
    /// `associations` types (`…&associations=companies,deals`), into [`Record::associations`].
    pub async fn get_object_with_associations<P: AsRef<str>>(
        &self,
        object_type: &str,
        id: &str,
        properties: &[P],
        associations: &[&str],
    ) -> Result<Record, ConnectorError> {
        let kind = object_kind(object_type)?;
        let mut path = format!("crm/v3/objects/{}/{}", kind.name(), segment(id));
        // The serializer is not `Send`: keep it out of the future's state.
        let query = {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            if !properties.is_empty() {
                query.append_pair("properties", &join(properties));
            }
            if !associations.is_empty() {
                query.append_pair("associations", &associations.join(","));
            }
            query.finish()
        };
        if !query.is_empty() {
            path = format!("{path}?{query}");
        }
        let obj: ApiObject = self.api.json(Method::GET, &path, None::<&()>).await?;
        Ok(obj.into_record(kind.name()))
    }

    /// One property's history on one record, newest first: `GET
    /// /crm/v3/objects/{type}/{id}?properties=<p>&propertiesWithHistory=<p>` →
    /// `propertiesWithHistory.<p>` (HubSpot CRM v3 specs: `SimplePublicObjectWithAssociations`,
    /// `ValueWithTimestamp`). Empty when the property was never written.
    /// [`ConnectorError::NotFound`] when the record does not exist.
    ///
    /// handoff reads `hubspot_owner_id`'s history to learn which system changed an owner
    /// (`sourceType`: `CRM_UI`, `INTEGRATION`, `AUTOMATION_PLATFORM`, …).
    pub async fn property_history(
        &self,
        object_type: &str,
        id: &str,
        property: &str,
    ) -> Result<Vec<ValueWithTimestamp>, ConnectorError> {
        let kind = object_kind(object_type)?;
        let path = format!(
            "crm/v3/objects/{}/{}?properties={p}&propertiesWithHistory={p}",
            kind.name(),
            segment(id),
            p = encode(property)
        );
        let mut obj: ApiObject = self.api.json(Method::GET, &path, None::<&()>).await?;
        Ok(obj
            .properties_with_history
            .remove(property)
            .unwrap_or_default())
    }

    /// `POST /crm/v3/objects/{type}/batch/read`, ≤ 100 ids per call (longer lists are
    /// chunked). Ids HubSpot does not find are left out of the result (HubSpot answers 207
    /// with an `errors` entry for them).
    pub async fn batch_read<P: AsRef<str>>(
        &self,
        object_type: &str,
        ids: &[String],
        properties: &[P],
    ) -> Result<Vec<Record>, ConnectorError> {
        let kind = object_kind(object_type)?;
        let path = format!("crm/v3/objects/{}/batch/read", kind.name());
        let props: Vec<&str> = properties.iter().map(AsRef::as_ref).collect();
        let mut records = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH_LIMIT) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            let body =
                json!({ "inputs": inputs, "properties": props, "propertiesWithHistory": [] });
            let resp: BatchResponse = self.api.json(Method::POST, &path, Some(&body)).await?;
            records.extend(resp.results.into_iter().map(|o| o.into_record(kind.name())));
        }
        Ok(records)
    }

    /// `PATCH /crm/v3/objects/{type}/{id}` with `{"properties": …}`. Idempotent: sending the
    /// same properties twice leaves the record as after the first. Returns the updated record.
    pub async fn update_object(
        &self,
        object_type: &str,
        id: &str,
        properties: &Map<String, Value>,
    ) -> Result<Record, ConnectorError> {
        let kind = object_kind(object_type)?;
        let path = format!("crm/v3/objects/{}/{}", kind.name(), segment(id));
        let body = json!({ "properties": properties });
        let obj: ApiObject = self.api.json(Method::PATCH, &path, Some(&body)).await?;
        Ok(obj.into_record(kind.name()))
    }

    /// Creates the record whose unique `id_property` equals `key`, or updates it if it already
    /// exists: `POST /crm/v3/objects/{type}/batch/upsert` with
    /// `{"inputs":[{"id": key, "idProperty": id_property, "properties": …}]}`. HubSpot's
    /// idempotent create; handoff uses [`IDEMPOTENCY_PROPERTY`] on tickets. Sending the same key
    /// twice yields the same record, never a duplicate.
    pub async fn upsert_by_key(
        &self,
        object_type: &str,
        id_property: &str,
        key: &IdempotencyKey,
        properties: &Map<String, Value>,
    ) -> Result<Record, ConnectorError> {
        let kind = object_kind(object_type)?;
        let path = format!("crm/v3/objects/{}/batch/upsert", kind.name());
        let body = json!({ "inputs": [{
            "id": key.as_str(),
            "idProperty": id_property,
            "properties": properties,
        }]});
        let resp: BatchResponse = self.api.json(Method::POST, &path, Some(&body)).await?;
        resp.results
            .into_iter()
            .next()
            .map(|o| o.into_record(kind.name()))
            .ok_or_else(|| ConnectorError::Decode {
                vendor: VENDOR,
                reason: format!("batch/upsert for key {key} returned no result"),
            })
    }

    /// `PUT /crm/v4/objects/{from}/{fromId}/associations/default/{to}/{toId}`: the default
    /// (unlabelled) association between two records. Idempotent.
    pub async fn associate_default(
        &self,
        from_type: &str,
        from_id: &str,
        to_type: &str,
        to_id: &str,
    ) -> Result<(), ConnectorError> {
        let from = object_kind(from_type)?;
        let to = object_kind(to_type)?;
        let path = format!(
            "crm/v4/objects/{}/{}/associations/default/{}/{}",
            from.name(),
            segment(from_id),
            to.name(),
            segment(to_id)
        );
        let _: Value = self.api.json(Method::PUT, &path, None::<&()>).await?;
        Ok(())
    }

    /// `POST /crm/v3/objects/{type}/search`, paced by the search budget. HubSpot refuses an
    /// `after` of 10,000 or more with a 400 ([`ConnectorError::Rejected`]).
    pub async fn search(
        &self,
        object_type: &str,
        request: &SearchRequest,
    ) -> Result<SearchPage, ConnectorError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            total: u64,
            results: Vec<ApiObject>,
            #[serde(default)]
            paging: Option<crate::wire::Paging>,
        }
        let kind = object_kind(object_type)?;
        let path = format!("crm/v3/objects/{}/search", kind.name());
        let page: Page = self.search.json(Method::POST, &path, Some(request)).await?;
        Ok(SearchPage {
            total: page.total,
            results: page
                .results
                .into_iter()
                .map(|o| o.into_record(kind.name()))
                .collect(),
            next_after: page.paging.and_then(|p| p.next).map(|n| n.after),
        })
    }

    /// Every active owner: `GET /crm/v3/owners`, following `paging.next.after`.
    pub async fn list_owners(&self) -> Result<Vec<Owner>, ConnectorError> {
        let mut owners = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = format!("crm/v3/owners?limit={LIST_PAGE}");
            if let Some(a) = &after {
                path.push_str(&format!("&after={}", encode(a)));
            }
            let page: ListPage<Owner> = self.api.json(Method::GET, &path, None::<&()>).await?;
            after = page.next_after().map(str::to_string);
            owners.extend(page.results);
            if after.is_none() {
                return Ok(owners);
            }
        }
    }

    /// Every company with `properties` (HubSpot's defaults when empty):
    /// `GET /crm/v3/objects/companies`, following `paging.next.after`. The daemon builds its
    /// account index (domain → company) from this.
    pub async fn list_companies<P: AsRef<str>>(
        &self,
        properties: &[P],
    ) -> Result<Vec<Record>, ConnectorError> {
        let mut records = Vec::new();
        let mut after: Option<String> = None;
        let props = join(properties);
        loop {
            let mut path = format!("crm/v3/objects/companies?limit={LIST_PAGE}&archived=false");
            if !props.is_empty() {
                path.push_str(&format!("&properties={}", encode(&props)));
            }
            if let Some(a) = &after {
                path.push_str(&format!("&after={}", encode(a)));
            }
            let page: ListPage<ApiObject> = self.api.json(Method::GET, &path, None::<&()>).await?;
            after = page.next_after().map(str::to_string);
            records.extend(page.results.into_iter().map(|o| o.into_record("companies")));
            if after.is_none() {
                return Ok(records);
            }
        }
    }
}

fn object_kind(object_type: &str) -> Result<ObjectType, ConnectorError> {
    object_type
        .parse::<ObjectType>()
        .map_err(|e| ConnectorError::Config {
            vendor: VENDOR,
            reason: e.to_string(),
        })
}

fn join<P: AsRef<str>>(items: &[P]) -> String {
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(",")
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A record id as a path segment (ids are numeric, but never trust input into a path).
fn segment(id: &str) -> String {
    encode(id)
}
