//! Checks a parsed mapping and compiles it into a [`Plan`]: paths pre-split, regions and
//! field references resolved to slots, regexes compiled, value maps hashed.
//!
//! Every error names the offending YAML node (see `error.rs`).

use std::collections::HashMap;

use serde_json::Value;
use serde_saphyr::Spanned;

use super::condition::compile_condition;
use super::error::{MappingError, Origin};
use super::outcome::ObjectRef;
use super::path::JsonPath;
use super::phone::{self, E164};
use super::plan::{FieldPlan, GatePlan, Input, OnError, Plan};
use super::spec::{RawField, RawGate, RawMapping, RawObjectRef, RawTransform};
use super::transform::{self, DateFormat, Transform};

/// The checked parts of a mapping file.
pub(crate) struct Compiled {
    pub name: String,
    pub description: Option<String>,
    pub source: ObjectRef,
    pub target: ObjectRef,
    pub plan: Plan,
}

/// Target field names defined so far, with their slot and where they were defined.
pub(crate) struct Defined {
    pub(crate) slots: HashMap<String, (usize, u64)>,
}

/// Compiles a parsed mapping.
pub(crate) fn compile(raw: RawMapping, origin: Origin<'_>) -> Result<Compiled, MappingError> {
    let name = raw.name.value.trim().to_owned();
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(origin.at(
            &raw.name,
            "name",
            "a mapping name must be non-empty and contain no spaces (e.g. crm-contact-to-lead)",
        ));
    }
    let source = object_ref(&raw.source, "source", origin)?;
    let target = object_ref(&raw.target, "target", origin)?;
    if raw.fields.is_empty() {
        return Err(origin.invalid(
            raw.name.referenced,
            "fields",
            "a mapping needs at least one entry under `fields`",
        ));
    }
    let mut defined = Defined {
        slots: HashMap::new(),
    };
    let mut fields = Vec::with_capacity(raw.fields.len());
    for (i, field) in raw.fields.iter().enumerate() {
        let plan = compile_field(field, &format!("fields[{i}]"), &defined, origin)?;
        if let Some((_, line)) = defined.slots.get(&plan.to) {
            return Err(origin.at(
                &field.value.to,
                format!("fields[{i}].to"),
                format!(
                    "duplicate target field \"{}\" (first defined at line {line})",
                    plan.to
                ),
            ));
        }
        defined
            .slots
            .insert(plan.to.clone(), (i, field.value.to.referenced.line()));
        fields.push(plan);
    }
    let mut gates: Vec<GatePlan> = Vec::with_capacity(raw.gates.len());
    for (i, gate) in raw.gates.iter().enumerate() {
        let plan = compile_gate(gate, &format!("gates[{i}]"), &defined, origin)?;
        if gates.iter().any(|g| g.name == plan.name) {
            return Err(origin.at(
                &gate.value.name,
                format!("gates[{i}].name"),
                format!("duplicate gate name \"{}\"", plan.name),
            ));
        }
        gates.push(plan);
    }
    Ok(Compiled {
        name,
        description: raw.description,
        source,
        target,
        plan: Plan { fields, gates },
    })
}

fn object_ref(
    raw: &Spanned<RawObjectRef>,
    path: &str,
    origin: Origin<'_>,
) -> Result<ObjectRef, MappingError> {
    let system = raw.value.system.trim();
    let object = raw.value.object.trim();
    if system.is_empty() || object.is_empty() {
        return Err(origin.at(raw, path, "`system` and `object` must both be non-empty"));
    }
    Ok(ObjectRef {
        system: system.to_owned(),
        object: object.to_owned(),
    })
}

/// A reason code: lower-case letters, digits and `_`, starting with a letter (they become
/// metric labels and API values).
fn check_reason(
    raw: &Spanned<String>,
    path: String,
    origin: Origin<'_>,
) -> Result<String, MappingError> {
    let code = raw.value.trim();
    let ok = code.starts_with(|c: char| c.is_ascii_lowercase())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(origin.at(raw, path, format!("reason code \"{code}\" must be snake_case: lower-case letters, digits and _ (e.g. invalid_phone)")));
    }
    Ok(code.to_owned())
}

fn compile_field(
    spanned: &Spanned<RawField>,
    at: &str,
    defined: &Defined,
    origin: Origin<'_>,
) -> Result<FieldPlan, MappingError> {
    let raw = &spanned.value;
    let to = raw.to.value.trim().to_owned();
    let to_ok = to.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && to.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !to_ok {
        return Err(origin.at(
            &raw.to,
            format!("{at}.to"),
            format!(
                "target field name \"{to}\" must be letters, digits and _ (e.g. company_domain)"
            ),
        ));
    }
    let input = match (&raw.from, &raw.value) {
        (Some(_), Some(value)) => {
            return Err(origin.at(
                value,
                format!("{at}.value"),
                "a field takes `from` or `value`, not both",
            ))
        }
        (None, None) => {
            return Err(origin.at(
                spanned,
                at,
                format!(
                    "field \"{to}\" needs `from` (a path into the input) or `value` (a constant)"
                ),
            ))
        }
        (None, Some(value)) => {
            if raw.join.is_some() {
                return Err(origin.at(
                    value,
                    format!("{at}.join"),
                    "`join` needs a list of paths in `from`",
                ));
            }
            Input::Const(Value::String(value.value.clone()))
        }
        (Some(from), None) => {
            if from.value.0.is_empty() {
                return Err(origin.at(
                    from,
                    format!("{at}.from"),
                    "`from` needs at least one path",
                ));
            }
            let mut paths = Vec::with_capacity(from.value.0.len());
            for (j, text) in from.value.0.iter().enumerate() {
                let where_ = if from.value.0.len() == 1 {
                    format!("{at}.from")
                } else {
                    format!("{at}.from[{j}]")
                };
                paths.push(JsonPath::parse(text).map_err(|m| origin.at(from, where_, m))?);
            }
            match &raw.join {
                Some(sep) => Input::Join(paths, sep.clone()),
                None => Input::First(paths),
            }
        }
    };
    let mut transforms = Vec::with_capacity(raw.transform.len());
    for (j, t) in raw.transform.iter().enumerate() {
        transforms.push(compile_transform(
            t,
            &format!("{at}.transform[{j}]"),
            defined,
            origin,
        )?);
    }
    let map = raw.map.as_ref().map(|m| {
        m.value
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<HashMap<_, _>>()
    });
    if raw.map_default.is_some() && map.is_none() {
        return Err(origin.at(
            spanned,
            format!("{at}.map_default"),
            "`map_default` needs a `map`",
        ));
    }
    let on_error = match &raw.on_error {
        Some(s) if s.value.trim() == "skip" => OnError::Skip,
        Some(s) => OnError::Reason(check_reason(s, format!("{at}.on_error"), origin)?),
        None => OnError::Reason(format!("invalid_{to}")),
    };
    let when = match &raw.when {
        Some(cond) => Some(compile_condition(
            cond,
            &format!("{at}.when"),
            defined,
            origin,
        )?),
        None => None,
    };
    Ok(FieldPlan {
        required_gate: format!("required:{to}"),
        missing_reason: format!("missing_{to}"),
        valid_gate: format!("valid:{to}"),
        fallible: transforms.iter().any(Transform::is_fallible),
        to,
        input,
        default: raw.default.as_ref().map(|d| Value::String(d.value.clone())),
        transforms,
        map,
        map_default: raw.map_default.clone(),
        required: raw.required,
        on_error,
        when,
    })
}

fn compile_transform(
    raw: &Spanned<RawTransform>,
    at: &str,
    defined: &Defined,
    origin: Origin<'_>,
) -> Result<Transform, MappingError> {
    let unknown = |name: &str| {
        origin.at(
            raw,
            at,
            format!(
                "unknown transform \"{name}\" (expected one of: {})",
                transform::NAMES.join(", ")
            ),
        )
    };
    Ok(match &raw.value {
        RawTransform::Bare(name) => match name.as_str() {
            "e164" => Transform::E164(E164 {
                default_region: None,
                region_from: None,
            }),
            "date" => Transform::Date(DateFormat {
                from: None,
                to: "%Y-%m-%d".into(),
            }),
            "prefix" | "suffix" => {
                return Err(origin.at(
                    raw,
                    at,
                    format!("`{name}` needs its text, e.g. {{ {name}: \"ID-\" }}"),
                ))
            }
            other => Transform::simple(other).ok_or_else(|| unknown(other))?,
        },
        RawTransform::UnexpectedArgs(name) => {
            if Transform::simple(name).is_some() {
                return Err(origin.at(raw, at, format!("transform \"{name}\" takes no arguments; write it as a plain list item: {name}")));
            }
            return Err(unknown(name));
        }
        RawTransform::Prefix(text) => Transform::Prefix(text.clone()),
        RawTransform::Suffix(text) => Transform::Suffix(text.clone()),
        RawTransform::Date(args) => {
            let to = args
                .to
                .as_ref()
                .map(|t| t.value.clone())
                .unwrap_or_else(|| "%Y-%m-%d".into());
            let from = args.from.as_ref().map(|f| f.value.clone());
            if let Err(message) = transform::check_date_formats(from.as_deref(), &to) {
                let node = if message.contains("`to`") {
                    args.to.as_ref()
                } else {
                    args.from.as_ref()
                };
                let (loc, path) = match node {
                    Some(n) if message.contains("`to`") => (n.referenced, format!("{at}.date.to")),
                    Some(n) => (n.referenced, format!("{at}.date.from")),
                    None => (raw.referenced, at.to_owned()),
                };
                return Err(origin.invalid(loc, path, message));
            }
            Transform::Date(DateFormat { from, to })
        }
        RawTransform::E164(args) => {
            let default_region = match &args.default_region {
                Some(code) => Some(phone::region(&code.value).ok_or_else(|| {
                    origin.at(code, format!("{at}.e164.default_region"), format!("unknown region code \"{}\" (expected an ISO 3166-1 alpha-2 code such as US, GB, DE)", code.value))
                })?),
                None => None,
            };
            let region_from = match &args.region_from {
                Some(field) => Some(earlier_field(
                    field,
                    &format!("{at}.e164.region_from"),
                    defined,
                    origin,
                )?),
                None => None,
            };
            Transform::E164(E164 {
                default_region,
                region_from,
            })
        }
    })
}

/// The slot of a target field defined before this point.
pub(crate) fn earlier_field(
    name: &Spanned<String>,
    at: &str,
    defined: &Defined,
    origin: Origin<'_>,
) -> Result<usize, MappingError> {
    let key = name.value.trim();
    defined.slots.get(key).map(|(slot, _)| *slot).ok_or_else(|| {
        let mut known: Vec<&str> = defined.slots.keys().map(String::as_str).collect();
        known.sort_unstable();
        let known = if known.is_empty() { "none yet".to_owned() } else { known.join(", ") };
        origin.at(name, at, format!("field \"{key}\" is not defined before this point (fields defined so far: {known})"))
    })
}

fn compile_gate(
    spanned: &Spanned<RawGate>,
    at: &str,
    defined: &Defined,
    origin: Origin<'_>,
) -> Result<GatePlan, MappingError> {
    let raw = &spanned.value;
    let name = raw.name.value.trim().to_owned();
    if name.is_empty() {
        return Err(origin.at(
            &raw.name,
            format!("{at}.name"),
            "a gate name must be non-empty",
        ));
    }
    let (condition, require) = match (&raw.require, &raw.reject_if) {
        (Some(c), None) => (
            compile_condition(c, &format!("{at}.require"), defined, origin)?,
            true,
        ),
        (None, Some(c)) => (
            compile_condition(c, &format!("{at}.reject_if"), defined, origin)?,
            false,
        ),
        (Some(_), Some(c)) => {
            return Err(origin.at(
                c,
                format!("{at}.reject_if"),
                "a gate takes `require` or `reject_if`, not both",
            ))
        }
        (None, None) => {
            return Err(origin.at(
                spanned,
                at,
                format!("gate \"{name}\" needs `require` or `reject_if`"),
            ))
        }
    };
    let reason = match &raw.reason {
        Some(r) => check_reason(r, format!("{at}.reason"), origin)?,
        None => check_reason(&raw.name, format!("{at}.name"), origin)?,
    };
    Ok(GatePlan {
        name,
        reason,
        condition,
        require,
    })
}
