//! How JSON values read as text, and when they count as missing.
//!
//! Some CRMs send every property as a string (or `null` when unset; CRM API v3,
//! "Properties"), but inputs are arbitrary JSON, so numbers and booleans are read as their
//! JSON text, and lists and objects have no text.

use std::borrow::Cow;

use serde_json::Value;

/// Missing or empty: `null`, a string of only whitespace, an empty list or object.
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The text of a scalar; `None` for `null`, lists and objects.
pub(crate) fn text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A short quoted rendering of a value for gate details (at most 80 characters of text).
pub(crate) fn show(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "missing".to_owned(),
        Some(Value::String(s)) => {
            let mut short: String = s.chars().take(80).collect();
            if short.len() < s.len() {
                short.push('…');
            }
            format!("{short:?}")
        }
        Some(Value::Array(_)) => "a list".to_owned(),
        Some(Value::Object(_)) => "an object".to_owned(),
        Some(other) => other.to_string(),
    }
}

/// The kind of a value, for error details.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
