//! Running SOQL against the org, and paging results with query locators (NOTES §2.3, S11).
//!
//! * `query` leaves out deleted records; `queryAll` returns them too (Postman
//!   `rest/queryall.json`).
//! * Results come in batches of 2,000 (or `Sforce-Query-Options: batchSize=N`, clamped to
//!   200–2,000, S11 unverified range); when more remain, `done: false` and
//!   `nextRecordsUrl: /services/data/vXX.X/query/<locator>-<offset>` (the REST form, S11).
//! * Locators: 18 characters with prefix `01g` (as in the §2.3 example). A user keeps at most
//!   10 open; opening an 11th releases the oldest, and one unused for 15 minutes expires
//!   (SOAP guide figures, S11); the last batch releases its locator. Anything else →
//!   400 `INVALID_QUERY_LOCATOR`.
//! * `SELECT COUNT()` answers `{totalSize: n, done: true, records: []}`.

use super::errors::ApiError;
use super::eval::{check, matches, order};
use super::org::Org;
use super::schema::make_id;
use super::soql::parse;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The largest batch (§2.3).
pub const MAX_BATCH: usize = 2000;
/// The smallest batch a `batchSize` asks for (S11, unverified).
pub const MIN_BATCH: usize = 200;
/// Open locators per user (S11, SOAP guide).
pub const LOCATORS_PER_USER: usize = 10;
/// A locator unused this long expires (S11, SOAP guide).
pub const LOCATOR_IDLE: Duration = Duration::from_secs(15 * 60);

/// Runs `soql` (`all`: include deleted rows) for `user`; returns the first batch.
pub fn run(
    org: &Org,
    locators: &mut Locators,
    user: &str,
    soql: &str,
    all: bool,
    batch: usize,
    version: &str,
) -> Result<Value, ApiError> {
    let query = parse(soql).map_err(ApiError::malformed)?;
    let def = org.resolve(&query.from).ok_or_else(|| {
        ApiError::bad(
            "INVALID_TYPE",
            format!("sObject type '{}' is not supported.", query.from),
        )
    })?;
    let types = check(&query, def.name, |f| org.field(def, f))?;
    let mut rows: Vec<_> = org
        .rows(def.name)
        .filter(|r| all || r.get("IsDeleted") != Some(&Value::Bool(true)))
        .filter(|r| query.filter.as_ref().is_none_or(|f| matches(f, r, &types)))
        .collect();
    if !query.order.is_empty() {
        rows.sort_by(|a, b| order(a, b, &query.order, &types));
    }
    if let Some(n) = query.limit {
        rows.truncate(n);
    }
    let Some(fields) = &query.fields else {
        return Ok(json!({ "totalSize": rows.len(), "done": true, "records": [] }));
    };
    let names: Vec<String> = fields
        .iter()
        .map(|f| {
            types
                .get(f)
                .map(|(n, _)| n.clone())
                .unwrap_or_else(|| f.clone())
        })
        .collect();
    let records: Vec<Value> = rows
        .into_iter()
        .map(|r| org.render(def, r, Some(&names), version))
        .collect();
    Ok(locators.first_batch(records, user, batch.clamp(MIN_BATCH, MAX_BATCH), version))
}

/// Open query locators.
#[derive(Debug, Default)]
pub struct Locators {
    next: u64,
    open: HashMap<String, Open>,
    by_user: HashMap<String, VecDeque<String>>,
}

#[derive(Debug)]
struct Open {
    records: Vec<Value>,
    user: String,
    batch: usize,
    touched: Instant,
}

impl Locators {
    fn page(records: &[Value], offset: usize, batch: usize) -> Vec<Value> {
        records.iter().skip(offset).take(batch).cloned().collect()
    }

    fn first_batch(
        &mut self,
        records: Vec<Value>,
        user: &str,
        batch: usize,
        version: &str,
    ) -> Value {
        let total = records.len();
        let first = Self::page(&records, 0, batch);
        if total <= batch {
            return json!({ "totalSize": total, "done": true, "records": first });
        }
        self.next += 1;
        let locator = make_id("01g", self.next);
        let queue = self.by_user.entry(user.to_string()).or_default();
        queue.push_back(locator.clone());
        while queue.len() > LOCATORS_PER_USER {
            if let Some(old) = queue.pop_front() {
                self.open.remove(&old);
            }
        }
        self.open.insert(
            locator.clone(),
            Open {
                records,
                user: user.to_string(),
                batch,
                touched: Instant::now(),
            },
        );
        json!({
            "totalSize": total,
            "done": false,
            "nextRecordsUrl": format!("/services/data/v{version}/query/{locator}-{batch}"),
            "records": first,
        })
    }

    /// The batch at `<locator>-<offset>` for `user`.
    pub fn more(&mut self, token: &str, user: &str, version: &str) -> Result<Value, ApiError> {
        let invalid = || ApiError::bad("INVALID_QUERY_LOCATOR", "invalid query locator");
        let (locator, offset) = token.rsplit_once('-').ok_or_else(invalid)?;
        let offset: usize = offset.parse().map_err(|_| invalid())?;
        let open = self.open.get_mut(locator).ok_or_else(invalid)?;
        if open.user != user
            || open.touched.elapsed() > LOCATOR_IDLE
            || offset >= open.records.len()
        {
            self.release(locator);
            return Err(invalid());
        }
        open.touched = Instant::now();
        let total = open.records.len();
        let batch = open.batch;
        let records = Self::page(&open.records, offset, batch);
        let next = offset + batch;
        if next >= total {
            self.release(locator);
            return Ok(json!({ "totalSize": total, "done": true, "records": records }));
        }
        Ok(json!({
            "totalSize": total,
            "done": false,
            "nextRecordsUrl": format!("/services/data/v{version}/query/{locator}-{next}"),
            "records": records,
        }))
    }

    fn release(&mut self, locator: &str) {
        if let Some(open) = self.open.remove(locator) {
            if let Some(q) = self.by_user.get_mut(&open.user) {
                q.retain(|l| l != locator);
            }
        }
    }

    /// Locators open now.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }
}
