//! Dotted paths into the input record (`properties.email`, `associations.companies.results.0.id`),
//! split once at load time.
//!
//! The input is the vendor record as JSON, in the shape every CRM connector gives
//! (`handoff_connector::Record`): `{id, object_type, properties: {...}, associations: {...}}`.

use serde_json::Value;

/// A pre-split dotted path. A segment that is a number also indexes into a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    key: String,
    index: Option<usize>,
}

impl JsonPath {
    /// Splits `text` on `.`; `Err` names the problem when a segment is empty.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        if text.trim().is_empty() {
            return Err("empty path (expected a dotted path such as properties.email)".into());
        }
        let mut segments = Vec::new();
        for key in text.split('.') {
            if key.is_empty() || key.trim() != key {
                return Err(format!(
                    "bad path \"{text}\": every dot-separated part must be a non-empty name without surrounding spaces"
                ));
            }
            segments.push(Segment {
                key: key.to_owned(),
                index: key.parse().ok(),
            });
        }
        Ok(JsonPath {
            text: text.to_owned(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value at this path, if every step exists.
    pub fn lookup<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut at = root;
        for segment in &self.segments {
            at = match at {
                Value::Object(map) => map.get(&segment.key)?,
                Value::Array(items) => items.get(segment.index?)?,
                _ => return None,
            };
        }
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_objects_and_lists() {
        let record = json!({"id": "1", "properties": {"email": "a@b.co"}, "associations": {"companies": {"results": [{"id": "77"}]}}});
        let email = JsonPath::parse("properties.email").unwrap();
        assert_eq!(email.lookup(&record), Some(&json!("a@b.co")));
        let company = JsonPath::parse("associations.companies.results.0.id").unwrap();
        assert_eq!(company.lookup(&record), Some(&json!("77")));
        assert_eq!(
            JsonPath::parse("properties.phone").unwrap().lookup(&record),
            None
        );
        assert_eq!(JsonPath::parse("id.x").unwrap().lookup(&record), None);
    }

    #[test]
    fn rejects_empty_segments() {
        assert!(JsonPath::parse("").is_err());
        assert!(JsonPath::parse("properties..email").is_err());
        assert!(JsonPath::parse(".email").is_err());
        assert!(JsonPath::parse("properties. email").is_err());
    }
}
