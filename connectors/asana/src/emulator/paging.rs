//! Query parameters, `opt_fields` selection and offset paging as Asana does them (NOTES §4.3;
//! spec parameters `limit`, `offset`, `opt_fields`; schema `NextPage`).
//!
//! * Without `limit` a list answers everything and has no `next_page` key; with `limit` (1–100)
//!   it answers one page and `next_page` is `{offset, path, uri}` or `null` on the last page.
//! * Offsets are opaque tokens (URL-safe base64 of a small JSON object, so they start with
//!   `eyJ` like Asana's); a token the emulator did not issue is refused with 400.
//! * Lists render compact records (`gid`, `resource_type`, `name`, …) unless `opt_fields` names
//!   fields, in which case each record holds `gid` plus those fields (dotted paths select the
//!   top-level field they start with).

use super::guard::ApiError;
use base64::Engine;
use serde_json::{Map, Value};

/// Largest `limit`.
pub(crate) const MAX_LIMIT: usize = 100;

/// A request's query string, decoded, in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `opt_fields` split on commas.
    pub fn opt_fields(&self) -> Option<Vec<String>> {
        self.get("opt_fields").map(|f| {
            f.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
    }

    /// The query without `offset`, re-encoded.
    fn without_offset(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.0.iter().filter(|(k, _)| k != "offset"))
            .finish()
    }
}

/// Renders `full` as `opt_fields` asks: `gid` plus the named top-level fields; without
/// `opt_fields`, the `default` keys.
pub(crate) fn select(full: &Value, opt_fields: Option<&[String]>, default: &[&str]) -> Value {
    let Value::Object(all) = full else {
        return full.clone();
    };
    let mut out = Map::new();
    let mut take = |key: &str| {
        if let Some(v) = all.get(key) {
            out.insert(key.to_string(), v.clone());
        }
    };
    match opt_fields {
        Some(fields) => {
            take("gid");
            for f in fields {
                take(f.split('.').next().unwrap_or(f));
            }
        }
        None => default.iter().for_each(|k| take(k)),
    }
    Value::Object(out)
}

/// A full record minus the opt-in fields (what a single-object GET answers by default).
pub(crate) fn without(full: &Value, opt_in: &[&str]) -> Value {
    let mut v = full.clone();
    if let Value::Object(map) = &mut v {
        for k in opt_in {
            map.remove(*k);
        }
    }
    v
}

/// The `{"data": [...], "next_page": ...}` body for `items` at `route` (e.g. `/projects`),
/// honouring `limit` and `offset`; `host` builds `next_page.uri`.
pub(crate) fn page(
    items: Vec<Value>,
    params: &Params,
    route: &str,
    host: &str,
) -> Result<Value, ApiError> {
    let Some(limit) = params.get("limit") else {
        return Ok(serde_json::json!({ "data": items }));
    };
    let limit: usize = limit
        .parse()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| ApiError::bad_request("limit: Must be between 1 and 100"))?;
    let start = match params.get("offset") {
        Some(token) => {
            decode_offset(token).ok_or_else(|| ApiError::bad_request("offset: Invalid offset"))?
        }
        None => 0,
    };
    let total = items.len();
    let data: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let end = start + data.len();
    let next_page = if end < total {
        let token = encode_offset(end);
        let path = format!("{route}?{}&offset={token}", params.without_offset());
        serde_json::json!({ "offset": token, "uri": format!("http://{host}{path}"), "path": path })
    } else {
        Value::Null
    };
    Ok(serde_json::json!({ "data": data, "next_page": next_page }))
}

fn encode_offset(index: usize) -> String {
    let raw = serde_json::json!({ "typ": "offset", "pos": index }).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_offset(token: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    (v.get("typ")?.as_str()? == "offset")
        .then(|| v.get("pos")?.as_u64())
        .flatten()
        .map(|n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!({ "gid": i.to_string() })).collect()
    }

    #[test]
    fn pages_follow_offsets_to_the_end() {
        let p = Params::parse(Some("team=7&limit=2"));
        let first = page(items(3), &p, "/projects", "h:1").unwrap();
        assert_eq!(first["data"].as_array().unwrap().len(), 2);
        let token = first["next_page"]["offset"].as_str().unwrap();
        assert!(token.starts_with("eyJ"));
        let path = first["next_page"]["path"].as_str().unwrap();
        assert_eq!(path, format!("/projects?team=7&limit=2&offset={token}"));
        assert_eq!(first["next_page"]["uri"], format!("http://h:1{path}"));
        let p2 = Params::parse(Some(&path["/projects?".len()..]));
        let second = page(items(3), &p2, "/projects", "h:1").unwrap();
        assert_eq!(second["data"], json!([{ "gid": "2" }]));
        assert!(second["next_page"].is_null());
    }

    #[test]
    fn no_limit_means_no_next_page_and_bad_input_is_refused() {
        let all = page(items(3), &Params::default(), "/x", "h").unwrap();
        assert!(all.get("next_page").is_none());
        assert!(page(items(3), &Params::parse(Some("limit=101")), "/x", "h").is_err());
        assert!(page(
            items(3),
            &Params::parse(Some("limit=5&offset=zz")),
            "/x",
            "h"
        )
        .is_err());
    }

    #[test]
    fn opt_fields_pick_gid_and_named_fields() {
        let full = json!({ "gid": "1", "resource_type": "task", "name": "n", "notes": "x",
            "memberships": [] });
        let fields = vec!["name".to_string(), "memberships.section.name".to_string()];
        assert_eq!(
            select(&full, Some(&fields), &[]),
            json!({ "gid": "1", "name": "n", "memberships": [] })
        );
        assert_eq!(
            select(&full, None, &["gid", "resource_type", "name"]),
            json!({ "gid": "1", "resource_type": "task", "name": "n" })
        );
    }
}
