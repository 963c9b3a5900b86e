//! The YAML language admins write, as parsed (before any checking beyond its shape).
//!
//! A mapping file, in full (every key is optional unless marked *required*):
//!
//! ```yaml
//! name: crm-contact-to-lead            # required, unique across the mappings directory
//! description: free text
//! source: { system: crm, object: contacts }       # required: a connector's system and object
//! target: { system: handoff, object: lead }       # required
//! fields:                              # required; applied in order
//!   - to: email                        # required: target field name, unique
//!     from: properties.email           # dotted path into the input, or a list: first non-empty wins
//!     join: " "                        # with a list: join every non-empty value instead
//!     value: inbound                   # a constant instead of `from`
//!     transform: [trim, lower]         # see `transform.rs` for the list
//!     map: { GTXPro: GTX Pro }         # exact value map, after the transforms
//!     map_default: Other               # for values not in `map` (otherwise they pass through)
//!     default: lead                    # stands in for a missing/empty source, before transforms
//!     required: true                   # missing/empty at the end → gate `required:<to>` fails
//!     on_error: invalid_email          # reason when a transform fails, or `skip`
//!     when: { field: lifecycle_stage, equals: MQL }   # otherwise the field is not set
//! gates:                               # evaluated after the fields, all reported
//!   - name: consent                    # required, unique
//!     require: { field: consent, in: [granted] }      # one of require / reject_if
//!     reject_if: { any: [ ... ] }
//!     reason: no_consent               # reason code when failed (default: the name)
//! ```
//!
//! Conditions: `{field: <target field> | source: <input path>, equals | not_equals | in |
//! not_in | matches | exists}`, or `{all: [...]}`, `{any: [...]}`, `{not: {...}}`.
//!
//! Every struct denies unknown keys, and nodes whose errors are found later (by
//! `compile.rs`) keep their YAML location with [`Spanned`]. Keys wrapped in `Spanned` must
//! be wrapped everywhere they appear (see `error::SPANNED_KEYS`).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A whole mapping file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMapping {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub source: Spanned<RawObjectRef>,
    pub target: Spanned<RawObjectRef>,
    pub fields: Vec<Spanned<RawField>>,
    #[serde(default)]
    pub gates: Vec<Spanned<RawGate>>,
}

/// `{ system, object }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawObjectRef {
    pub system: String,
    pub object: String,
}

/// One entry of `fields:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawField {
    pub to: Spanned<String>,
    #[serde(default)]
    pub from: Option<Spanned<Paths>>,
    #[serde(default)]
    pub join: Option<String>,
    #[serde(default)]
    pub value: Option<Spanned<String>>,
    #[serde(default)]
    pub transform: Vec<Spanned<RawTransform>>,
    #[serde(default)]
    pub map: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    pub map_default: Option<String>,
    #[serde(default)]
    pub default: Option<Spanned<String>>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub on_error: Option<Spanned<String>>,
    #[serde(default)]
    pub when: Option<Spanned<RawCondition>>,
}

/// One entry of `gates:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGate {
    pub name: Spanned<String>,
    #[serde(default)]
    pub require: Option<Spanned<RawCondition>>,
    #[serde(default)]
    pub reject_if: Option<Spanned<RawCondition>>,
    #[serde(default)]
    pub reason: Option<Spanned<String>>,
}

/// A condition node; `compile.rs` checks that exactly one form is used.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCondition {
    #[serde(default)]
    pub field: Option<Spanned<String>>,
    #[serde(default)]
    pub source: Option<Spanned<String>>,
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub not_equals: Option<String>,
    #[serde(default, rename = "in")]
    pub in_list: Option<Vec<String>>,
    #[serde(default)]
    pub not_in: Option<Vec<String>>,
    #[serde(default)]
    pub matches: Option<Spanned<String>>,
    #[serde(default)]
    pub exists: Option<bool>,
    #[serde(default)]
    pub all: Option<Vec<Spanned<RawCondition>>>,
    #[serde(default)]
    pub any: Option<Vec<Spanned<RawCondition>>>,
    #[serde(default)]
    pub not: Option<Box<Spanned<RawCondition>>>,
}

/// `from:` — one dotted path, or a list of them.
#[derive(Debug)]
pub(crate) struct Paths(pub Vec<String>);

impl<'de> Deserialize<'de> for Paths {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PathsVisitor;
        impl<'de> Visitor<'de> for PathsVisitor {
            type Value = Paths;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a dotted path such as properties.email, or a list of paths")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Paths, E> {
                Ok(Paths(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Paths, A::Error> {
                let mut paths = Vec::new();
                while let Some(path) = seq.next_element::<String>()? {
                    paths.push(path);
                }
                Ok(Paths(paths))
            }
        }
        deserializer.deserialize_any(PathsVisitor)
    }
}

/// A `transform:` entry: `trim`, or `{ e164: { default_region: US } }`.
#[derive(Debug)]
pub(crate) enum RawTransform {
    /// A bare name (known or not; `compile.rs` decides).
    Bare(String),
    /// `{ e164: {...} }`.
    E164(E164Args),
    /// `{ date: {...} }`.
    Date(DateArgs),
    /// `{ prefix: "..." }`.
    Prefix(String),
    /// `{ suffix: "..." }`.
    Suffix(String),
    /// `{ <name>: <anything> }` for a name that takes no arguments or does not exist.
    UnexpectedArgs(String),
}

/// Arguments of `e164`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct E164Args {
    #[serde(default)]
    pub default_region: Option<Spanned<String>>,
    #[serde(default)]
    pub region_from: Option<Spanned<String>>,
}

/// Arguments of `date`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DateArgs {
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    #[serde(default)]
    pub to: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for RawTransform {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TransformVisitor;
        impl<'de> Visitor<'de> for TransformVisitor {
            type Value = RawTransform;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a transform name such as trim, or a one-key map such as { e164: { default_region: US } }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawTransform, E> {
                Ok(RawTransform::Bare(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTransform, A::Error> {
                let Some(name) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("empty transform: expected a one-key map such as { e164: { default_region: US } }"));
                };
                let transform = match name.as_str() {
                    "e164" => RawTransform::E164(
                        map.next_value::<Option<E164Args>>()?.unwrap_or_default(),
                    ),
                    "date" => RawTransform::Date(
                        map.next_value::<Option<DateArgs>>()?.unwrap_or_default(),
                    ),
                    "prefix" => RawTransform::Prefix(map.next_value()?),
                    "suffix" => RawTransform::Suffix(map.next_value()?),
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                        RawTransform::UnexpectedArgs(name)
                    }
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "a transform with arguments is a map with exactly one key; found a second key `{extra}` (start a new list item for another transform)"
                    )));
                }
                Ok(transform)
            }
        }
        deserializer.deserialize_any(TransformVisitor)
    }
}
