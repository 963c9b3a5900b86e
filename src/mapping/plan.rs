//! A compiled mapping (the plan) and how it runs against one input record.
//!
//! Per field, in order:
//! 1. `when` false → the field is skipped (not set, no gates).
//! 2. Read: `from` paths (first non-empty wins, or all non-empty joined with `join`), or the
//!    `value` constant. Missing or empty → `default`, if any.
//! 3. Transforms in order; the first failure ends the field: with `on_error: skip` the field
//!    stays unset silently, otherwise gate `valid:<to>` fails with the `on_error` reason.
//! 4. `map` (exact match on the value's text), `map_default` for unmapped values.
//! 5. An empty result leaves the field unset; `required` fields then fail `required:<to>`
//!    with reason `missing_<to>`.
//!
//! Fields with a transform that can fail report a `valid:<to>` gate whenever a value reached
//! the transforms (unless `on_error: skip`); required fields report `required:<to>` unless
//! their transforms failed. Then the declared gates run against the finished record.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::condition::{Condition, Scope};
use super::outcome::{GateResult, MapOutcome};
use super::path::JsonPath;
use super::transform::Transform;
use super::value;

/// The compiled plan of one mapping.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub fields: Vec<FieldPlan>,
    pub gates: Vec<GatePlan>,
}

/// Where a field's value comes from.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    /// First non-empty path wins.
    First(Vec<JsonPath>),
    /// All non-empty paths' text joined with the separator.
    Join(Vec<JsonPath>, String),
    /// A constant.
    Const(Value),
}

/// What a transform failure does.
#[derive(Debug, Clone)]
pub(crate) enum OnError {
    Skip,
    Reason(String),
}

/// One compiled field. Its slot is its index in `Plan::fields`.
#[derive(Debug, Clone)]
pub(crate) struct FieldPlan {
    pub to: String,
    pub input: Input,
    pub default: Option<Value>,
    pub transforms: Vec<Transform>,
    pub map: Option<HashMap<String, String>>,
    pub map_default: Option<String>,
    pub required: bool,
    pub on_error: OnError,
    pub when: Option<Condition>,
    /// `required:<to>`, `missing_<to>`, `valid:<to>`, precomputed.
    pub required_gate: String,
    pub missing_reason: String,
    pub valid_gate: String,
    /// Whether any transform can fail.
    pub fallible: bool,
}

/// One declared gate.
#[derive(Debug, Clone)]
pub(crate) struct GatePlan {
    pub name: String,
    pub reason: String,
    pub condition: Condition,
    /// `true` for `require`, `false` for `reject_if`.
    pub require: bool,
}

impl Plan {
    /// Runs the plan. Never panics on any input.
    pub fn apply(&self, input: &Value) -> MapOutcome {
        let mut slots: Vec<Option<Value>> = vec![None; self.fields.len()];
        let mut gates = Vec::new();
        for (slot, field) in self.fields.iter().enumerate() {
            if let Some(when) = &field.when {
                if !when.eval(Scope {
                    input,
                    slots: &slots,
                }) {
                    continue;
                }
            }
            slots[slot] = field.run(input, &slots, &mut gates);
        }
        for gate in &self.gates {
            let scope = Scope {
                input,
                slots: &slots,
            };
            let matched = gate.condition.eval(scope);
            let passed = matched == gate.require;
            let detail = if passed {
                String::new()
            } else {
                let verb = if gate.require {
                    "expected"
                } else {
                    "rejected because"
                };
                format!(
                    "{verb} {}; {}",
                    gate.condition.describe(),
                    gate.condition.observed(scope)
                )
            };
            gates.push(GateResult {
                gate: gate.name.clone(),
                passed,
                reason: (!passed).then(|| gate.reason.clone()),
                detail,
            });
        }
        let mut record = Map::new();
        for (field, value) in self.fields.iter().zip(slots) {
            if let Some(value) = value {
                record.insert(field.to.clone(), value);
            }
        }
        MapOutcome { record, gates }
    }
}

impl FieldPlan {
    /// Reads, transforms and maps one field; pushes its field gates.
    fn run(
        &self,
        input: &Value,
        slots: &[Option<Value>],
        gates: &mut Vec<GateResult>,
    ) -> Option<Value> {
        let mut current = self.read(input).or_else(|| self.default.clone());
        if let Some(mut value) = current.take() {
            let mut failure = None;
            for transform in &self.transforms {
                match transform.apply(value, slots) {
                    Ok(next) => value = next,
                    Err(detail) => {
                        failure = Some(detail);
                        value = Value::Null;
                        break;
                    }
                }
            }
            match (failure, &self.on_error) {
                (Some(_), OnError::Skip) => {}
                (Some(detail), OnError::Reason(reason)) => {
                    gates.push(GateResult {
                        gate: self.valid_gate.clone(),
                        passed: false,
                        reason: Some(reason.clone()),
                        detail: format!("{}: {detail}", self.to),
                    });
                    return None;
                }
                (None, on_error) => {
                    if self.fallible && matches!(on_error, OnError::Reason(_)) {
                        gates.push(GateResult {
                            gate: self.valid_gate.clone(),
                            passed: true,
                            reason: None,
                            detail: String::new(),
                        });
                    }
                    current = Some(self.apply_map(value));
                }
            }
        }
        let current = current.filter(|v| !value::is_empty(v));
        if self.required {
            let passed = current.is_some();
            gates.push(GateResult {
                gate: self.required_gate.clone(),
                passed,
                reason: (!passed).then(|| self.missing_reason.clone()),
                detail: if passed {
                    String::new()
                } else {
                    format!("{} is missing or empty", self.to)
                },
            });
        }
        current
    }

    /// The raw value, or `None` when missing/empty.
    fn read(&self, input: &Value) -> Option<Value> {
        match &self.input {
            Input::First(paths) => paths
                .iter()
                .filter_map(|p| p.lookup(input))
                .find(|v| !value::is_empty(v))
                .cloned(),
            Input::Join(paths, sep) => {
                let mut joined = String::new();
                for text in paths
                    .iter()
                    .filter_map(|p| p.lookup(input))
                    .filter(|v| !value::is_empty(v))
                    .filter_map(value::text)
                {
                    if !joined.is_empty() {
                        joined.push_str(sep);
                    }
                    joined.push_str(text.trim());
                }
                (!joined.is_empty()).then_some(Value::String(joined))
            }
            Input::Const(value) => Some(value.clone()),
        }
    }

    fn apply_map(&self, value: Value) -> Value {
        let Some(map) = &self.map else { return value };
        let mapped = value::text(&value).and_then(|t| map.get(t.as_ref()));
        match (mapped, &self.map_default) {
            (Some(to), _) => Value::String(to.clone()),
            (None, Some(default)) if !value::is_empty(&value) => Value::String(default.clone()),
            (None, _) => value,
        }
    }
}
