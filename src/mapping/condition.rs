//! Conditions (`when:` on fields, `require:` / `reject_if:` on gates), compiled and evaluated.
//!
//! A leaf reads one value: `field: <target field>` (the record built so far, by slot) or
//! `source: <dotted path>` (the input record), and tests it:
//!
//! | test | true when |
//! | --- | --- |
//! | `equals: x` / `not_equals: x` | the value's text is / is not exactly `x` (missing: not equal) |
//! | `in: [..]` / `not_in: [..]` | the value's text is / is not one of the list (missing: not in) |
//! | `matches: regex` | the value's text matches (Rust `regex` syntax, unanchored; missing: false) |
//! | `exists: true` / `exists: false` | the value is present and non-empty / missing or empty |
//!
//! Combinators: `all: [..]` (every one), `any: [..]` (at least one), `not: {..}`.
//! Compiling checks that each node uses exactly one form and that `field:` names a target
//! field defined earlier (for `when`) or anywhere in the mapping (for gates).

use serde_json::Value;

use serde_saphyr::Spanned;

use super::compile::{earlier_field, Defined};
use super::error::{MappingError, Origin};
use super::path::JsonPath;
use super::spec::RawCondition;
use super::value;

/// Where a leaf condition reads its value.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    /// A target field, by slot, with its name for details.
    Field { slot: usize, name: String },
    /// A path into the input record.
    Source(JsonPath),
}

/// The test a leaf applies.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Matches(regex::Regex),
    Exists(bool),
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum Condition {
    Leaf { operand: Operand, test: Test },
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

/// What a condition reads: the input record and the target slots built so far.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub input: &'a Value,
    pub slots: &'a [Option<Value>],
}

impl Operand {
    fn read<'a>(&self, scope: Scope<'a>) -> Option<&'a Value> {
        match self {
            Operand::Field { slot, .. } => scope.slots.get(*slot)?.as_ref(),
            Operand::Source(path) => path.lookup(scope.input),
        }
    }

    fn name(&self) -> &str {
        match self {
            Operand::Field { name, .. } => name,
            Operand::Source(path) => path.as_str(),
        }
    }
}

impl Condition {
    /// Adds every input path the condition reads (its `source:` operands) to `out`.
    pub(crate) fn input_paths<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Condition::Leaf {
                operand: Operand::Source(path),
                ..
            } => out.push(path.as_str()),
            Condition::Leaf { .. } => {}
            Condition::All(cs) | Condition::Any(cs) => {
                cs.iter().for_each(|c| c.input_paths(out));
            }
            Condition::Not(c) => c.input_paths(out),
        }
    }

    /// Evaluates the condition.
    pub fn eval(&self, scope: Scope<'_>) -> bool {
        match self {
            Condition::Leaf { operand, test } => {
                let value = operand.read(scope).filter(|v| !value::is_empty(v));
                let text = || value.and_then(value::text);
                let is_in = |list: &[String]| text().is_some_and(|t| list.iter().any(|x| *x == *t));
                match test {
                    Test::Exists(want) => value.is_some() == *want,
                    Test::Equals(x) => text().as_deref() == Some(x.as_str()),
                    Test::NotEquals(x) => text().as_deref() != Some(x.as_str()),
                    Test::In(list) => is_in(list),
                    Test::NotIn(list) => !is_in(list),
                    Test::Matches(re) => text().is_some_and(|t| re.is_match(&t)),
                }
            }
            Condition::All(items) => items.iter().all(|c| c.eval(scope)),
            Condition::Any(items) => items.iter().any(|c| c.eval(scope)),
            Condition::Not(inner) => !inner.eval(scope),
        }
    }

    /// The condition in words, e.g. `email in [test@test.com]`.
    pub fn describe(&self) -> String {
        match self {
            Condition::Leaf { operand, test } => {
                let name = operand.name();
                match test {
                    Test::Equals(x) => format!("{name} equals {x:?}"),
                    Test::NotEquals(x) => format!("{name} does not equal {x:?}"),
                    Test::In(list) => format!("{name} in [{}]", list.join(", ")),
                    Test::NotIn(list) => format!("{name} not in [{}]", list.join(", ")),
                    Test::Matches(re) => format!("{name} matches /{}/", re.as_str()),
                    Test::Exists(true) => format!("{name} exists"),
                    Test::Exists(false) => format!("{name} is missing"),
                }
            }
            Condition::All(items) => format!(
                "all of ({})",
                items
                    .iter()
                    .map(Condition::describe)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Condition::Any(items) => format!(
                "any of ({})",
                items
                    .iter()
                    .map(Condition::describe)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Condition::Not(inner) => format!("not ({})", inner.describe()),
        }
    }

    /// The values this condition reads, as `name = "value"` pairs, for gate details.
    pub fn observed(&self, scope: Scope<'_>) -> String {
        let mut seen: Vec<&Operand> = Vec::new();
        self.operands(&mut seen);
        let mut names: Vec<&str> = Vec::new();
        let mut parts = Vec::new();
        for operand in seen {
            if names.contains(&operand.name()) {
                continue;
            }
            names.push(operand.name());
            parts.push(format!(
                "{} = {}",
                operand.name(),
                value::show(operand.read(scope))
            ));
        }
        parts.join(", ")
    }

    fn operands<'a>(&'a self, out: &mut Vec<&'a Operand>) {
        match self {
            Condition::Leaf { operand, .. } => out.push(operand),
            Condition::All(items) | Condition::Any(items) => {
                items.iter().for_each(|c| c.operands(out))
            }
            Condition::Not(inner) => inner.operands(out),
        }
    }
}

/// Compiles a condition node; field references must name fields defined earlier.
pub(crate) fn compile_condition(
    spanned: &Spanned<RawCondition>,
    at: &str,
    defined: &Defined,
    origin: Origin<'_>,
) -> Result<Condition, MappingError> {
    let raw = &spanned.value;
    let shape_error = || {
        origin.at(
            spanned,
            at,
            "a condition is either `field:` or `source:` with exactly one test (equals, not_equals, in, not_in, matches, exists), or exactly one of `all`, `any`, `not`",
        )
    };
    let combinators = [raw.all.is_some(), raw.any.is_some(), raw.not.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    let tests = [
        raw.equals.is_some(),
        raw.not_equals.is_some(),
        raw.in_list.is_some(),
        raw.not_in.is_some(),
        raw.matches.is_some(),
        raw.exists.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let operands = usize::from(raw.field.is_some()) + usize::from(raw.source.is_some());
    if combinators > 0 {
        if combinators > 1 || tests > 0 || operands > 0 {
            return Err(shape_error());
        }
        let list = |items: &[Spanned<RawCondition>],
                    key: &str|
         -> Result<Vec<Condition>, MappingError> {
            if items.is_empty() {
                return Err(origin.at(
                    spanned,
                    format!("{at}.{key}"),
                    format!("`{key}` needs at least one condition"),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, c)| compile_condition(c, &format!("{at}.{key}[{i}]"), defined, origin))
                .collect()
        };
        return Ok(match (&raw.all, &raw.any, &raw.not) {
            (Some(items), _, _) => Condition::All(list(items, "all")?),
            (_, Some(items), _) => Condition::Any(list(items, "any")?),
            (_, _, Some(inner)) => Condition::Not(Box::new(compile_condition(
                inner,
                &format!("{at}.not"),
                defined,
                origin,
            )?)),
            _ => return Err(shape_error()),
        });
    }
    if tests != 1 || operands != 1 {
        return Err(shape_error());
    }
    let operand = match (&raw.field, &raw.source) {
        (Some(field), None) => Operand::Field {
            slot: earlier_field(field, &format!("{at}.field"), defined, origin)?,
            name: field.value.trim().to_owned(),
        },
        (None, Some(source)) => Operand::Source(
            JsonPath::parse(source.value.trim())
                .map_err(|m| origin.at(source, format!("{at}.source"), m))?,
        ),
        _ => return Err(shape_error()),
    };
    let test = if let Some(x) = &raw.equals {
        Test::Equals(x.clone())
    } else if let Some(x) = &raw.not_equals {
        Test::NotEquals(x.clone())
    } else if let Some(list) = &raw.in_list {
        Test::In(list.clone())
    } else if let Some(list) = &raw.not_in {
        Test::NotIn(list.clone())
    } else if let Some(exists) = raw.exists {
        Test::Exists(exists)
    } else if let Some(pattern) = &raw.matches {
        let re = regex::Regex::new(&pattern.value).map_err(|e| {
            let first_line = e
                .to_string()
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_owned();
            origin.at(
                pattern,
                format!("{at}.matches"),
                format!(
                    "invalid regular expression {:?}: {first_line}",
                    pattern.value
                ),
            )
        })?;
        Test::Matches(re)
    } else {
        return Err(shape_error());
    };
    Ok(Condition::Leaf { operand, test })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(slot: usize, test: Test) -> Condition {
        Condition::Leaf {
            operand: Operand::Field {
                slot,
                name: format!("f{slot}"),
            },
            test,
        }
    }

    #[test]
    fn leaf_tests() {
        let input = json!({"properties": {"hs_legal_basis": "Legitimate interest – prospect/lead", "n": 5}});
        let slots = vec![Some(json!("MQL")), None, Some(json!("  ")), Some(json!(3))];
        let scope = Scope {
            input: &input,
            slots: &slots,
        };
        assert!(field(0, Test::Equals("MQL".into())).eval(scope));
        assert!(!field(0, Test::Equals("mql".into())).eval(scope));
        assert!(field(1, Test::NotEquals("MQL".into())).eval(scope));
        assert!(field(0, Test::In(vec!["SQL".into(), "MQL".into()])).eval(scope));
        assert!(!field(1, Test::In(vec!["MQL".into()])).eval(scope));
        assert!(field(1, Test::NotIn(vec!["MQL".into()])).eval(scope));
        assert!(field(3, Test::Equals("3".into())).eval(scope));
        assert!(field(0, Test::Exists(true)).eval(scope));
        assert!(
            field(2, Test::Exists(false)).eval(scope),
            "whitespace counts as missing"
        );
        assert!(
            field(9, Test::Exists(false)).eval(scope),
            "out-of-range slot is missing"
        );
        let re = regex::Regex::new("^M").unwrap();
        assert!(field(0, Test::Matches(re.clone())).eval(scope));
        assert!(!field(1, Test::Matches(re)).eval(scope));
        let source = |p: &str, test| Condition::Leaf {
            operand: Operand::Source(JsonPath::parse(p).unwrap()),
            test,
        };
        assert!(source("properties.hs_legal_basis", Test::Exists(true)).eval(scope));
        assert!(source("properties.n", Test::Equals("5".into())).eval(scope));
        assert!(!source("properties.missing", Test::Exists(true)).eval(scope));
    }

    #[test]
    fn combinators_and_words() {
        let input = json!({});
        let slots = vec![Some(json!("test@test.com"))];
        let scope = Scope {
            input: &input,
            slots: &slots,
        };
        let yes = field(0, Test::Exists(true));
        let no = field(0, Test::Exists(false));
        assert!(Condition::All(vec![yes.clone(), yes.clone()]).eval(scope));
        assert!(!Condition::All(vec![yes.clone(), no.clone()]).eval(scope));
        assert!(Condition::Any(vec![no.clone(), yes.clone()]).eval(scope));
        assert!(!Condition::Any(vec![]).eval(scope));
        assert!(Condition::Not(Box::new(no.clone())).eval(scope));
        let any = Condition::Any(vec![field(0, Test::In(vec!["test@test.com".into()])), yes]);
        assert_eq!(any.describe(), "any of (f0 in [test@test.com]; f0 exists)");
        assert_eq!(any.observed(scope), "f0 = \"test@test.com\"");
    }
}
