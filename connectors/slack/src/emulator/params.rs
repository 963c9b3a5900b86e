//! Reading Web API arguments the way Slack does: from the query string, a form body
//! (`application/x-www-form-urlencoded`) or a JSON body (`application/json`), merged into one
//! map. In form bodies and queries structured arguments (`blocks`, `metadata`) arrive as JSON
//! strings; in JSON bodies as JSON values. Both are accepted.

use serde_json::{Map, Value};

/// A failed method call: Slack's `error` code plus an optional detail rendered as
/// `response_metadata.messages` (`"[ERROR] …"`, as Slack does for argument errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiFail {
    pub code: &'static str,
    pub detail: Option<String>,
}

impl ApiFail {
    pub fn code(code: &'static str) -> Self {
        Self { code, detail: None }
    }

    pub fn detail(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: Some(detail.into()),
        }
    }
}

impl From<&'static str> for ApiFail {
    fn from(code: &'static str) -> Self {
        Self::code(code)
    }
}

/// The merged arguments of one call.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(pub Map<String, Value>);

impl Params {
    /// Merges the query string and the body (`content_type` decides how the body is read).
    /// Errors with `invalid_json` / `json_not_object` for a bad JSON body.
    pub fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ApiFail> {
        let mut map = Map::new();
        if let Some(q) = query {
            for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
                map.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
        let is_json = content_type
            .map(|c| {
                c.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            })
            .unwrap_or(false);
        if is_json && !body.is_empty() {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(obj)) => map.extend(obj),
                Ok(_) => return Err(ApiFail::code("json_not_object")),
                Err(_) => return Err(ApiFail::code("invalid_json")),
            }
        } else if !body.is_empty() {
            for (k, v) in url::form_urlencoded::parse(body) {
                map.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
        Ok(Self(map))
    }

    /// A string argument (numbers and booleans are rendered as text); empty counts as absent.
    pub fn str(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A boolean argument: `true`/`1` (any case) or JSON `true`.
    pub fn bool(&self, name: &str) -> bool {
        match self.0.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            Some(Value::String(s)) => s == "1" || s.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }

    /// A structured argument: a JSON value, or a string holding JSON. `bad` is the error code
    /// when the string is not JSON.
    pub fn json(&self, name: &str, bad: &'static str) -> Result<Option<Value>, ApiFail> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|e| ApiFail::detail(bad, format!("[ERROR] {name}: {e}"))),
            Some(v) => Ok(Some(v.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_and_json_bodies_merge_with_the_query() {
        let p = Params::parse(
            Some("channel=D1"),
            Some("application/x-www-form-urlencoded"),
            b"text=hi&blocks=%5B%7B%22type%22%3A%22divider%22%7D%5D&include_all_metadata=1",
        )
        .unwrap();
        assert_eq!(p.str("channel").as_deref(), Some("D1"));
        assert_eq!(p.str("text").as_deref(), Some("hi"));
        assert!(p.bool("include_all_metadata"));
        assert_eq!(
            p.json("blocks", "invalid_blocks").unwrap().unwrap()[0]["type"],
            "divider"
        );
        let j = Params::parse(
            None,
            Some("application/json; charset=utf-8"),
            br#"{"channel":"D2","blocks":[{"type":"divider"}]}"#,
        )
        .unwrap();
        assert_eq!(j.str("channel").as_deref(), Some("D2"));
        assert!(j
            .json("blocks", "invalid_blocks")
            .unwrap()
            .unwrap()
            .is_array());
        assert_eq!(
            Params::parse(None, Some("application/json"), b"[1]")
                .unwrap_err()
                .code,
            "json_not_object"
        );
        assert_eq!(
            Params::parse(None, Some("application/json"), b"{")
                .unwrap_err()
                .code,
            "invalid_json"
        );
    }
}
