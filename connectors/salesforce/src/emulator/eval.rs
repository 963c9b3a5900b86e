//! Checking a parsed query against the org's fields, and evaluating it on records.
//!
//! * Field and object names resolve case-insensitively to their API names; an unknown field
//!   is `INVALID_FIELD`, an unknown object `INVALID_TYPE` (unverified code).
//! * A value of the wrong kind for its field (a quoted string for a dateTime, a date for a
//!   dateTime, S11: "a date format filters only date fields") is `MALFORMED_QUERY`.
//! * Comparisons: dateTimes by instant, dates and text by bytes, numbers numerically; text
//!   `=`, `!=` and `IN` ignore case, as Salesforce's do (ids do not); `= null` / `!= null` test presence, other comparisons with null are false,
//!   and `!= value` is true for null fields. `LIKE` is case-insensitive with `%` and `_`.
//! * `ORDER BY` puts nulls first ascending and last descending unless `NULLS` says otherwise.

use super::errors::ApiError;
use super::schema::FieldType;
use super::soql::{Expr, Lit, Op, Query};
use crate::time::parse_ms;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::HashMap;

/// Field name (as written in the query) → (API name, type).
pub type Resolved = HashMap<String, (String, FieldType)>;

/// Resolves every field `query` names with `lookup`, and checks each value's kind.
pub fn check(
    query: &Query,
    object: &str,
    lookup: impl Fn(&str) -> Option<(String, FieldType)>,
) -> Result<Resolved, ApiError> {
    let mut resolved = Resolved::new();
    for name in query.referenced_fields() {
        let found = lookup(name).ok_or_else(|| ApiError::invalid_field(object, name))?;
        resolved.insert(name.to_string(), found);
    }
    if let Some(filter) = &query.filter {
        check_expr(filter, &resolved)?;
    }
    Ok(resolved)
}

fn check_expr(e: &Expr, types: &Resolved) -> Result<(), ApiError> {
    let ty = |f: &str| types.get(f).map(|(_, t)| *t).unwrap_or(FieldType::Text);
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().try_for_each(|e| check_expr(e, types)),
        Expr::Not(e) => check_expr(e, types),
        Expr::Cmp(f, _, lit) => check_lit(f, ty(f), lit),
        Expr::In(f, lits, _) => lits.iter().try_for_each(|l| check_lit(f, ty(f), l)),
        Expr::Like(f, _) => match ty(f) {
            FieldType::Text | FieldType::Id => Ok(()),
            _ => Err(ApiError::malformed(format!(
                "LIKE cannot filter field '{f}'"
            ))),
        },
    }
}

fn check_lit(field: &str, ty: FieldType, lit: &Lit) -> Result<(), ApiError> {
    let ok = matches!(
        (ty, lit),
        (_, Lit::Null)
            | (FieldType::DateTime, Lit::DateTime(_))
            | (FieldType::Date, Lit::Date(_))
            | (FieldType::Bool, Lit::Bool(_))
            | (FieldType::Number, Lit::Num(_))
            | (FieldType::Text | FieldType::Id, Lit::Str(_))
    );
    if ok {
        Ok(())
    } else {
        let want = match ty {
            FieldType::DateTime => "dateTime and should not be enclosed in quotes",
            FieldType::Date => "date and should not be enclosed in quotes",
            FieldType::Bool => "boolean",
            FieldType::Number => "number",
            FieldType::Text | FieldType::Id => "string and should be enclosed in quotes",
        };
        Err(ApiError::malformed(format!(
            "value of filter criterion for field '{field}' must be of type {want}"
        )))
    }
}

fn value<'a>(record: &'a Map<String, Value>, types: &Resolved, field: &str) -> &'a Value {
    let name = types.get(field).map(|(n, _)| n.as_str()).unwrap_or(field);
    record.get(name).unwrap_or(&Value::Null)
}

/// `v` compared with `lit` for a field of type `ty`; `None` when either is null or they
/// cannot be compared.
fn compare(v: &Value, lit: &Lit, ty: FieldType) -> Option<Ordering> {
    match (ty, v, lit) {
        (_, Value::Null, _) | (_, _, Lit::Null) => None,
        (FieldType::DateTime, Value::String(s), Lit::DateTime(ms)) => Some(parse_ms(s)?.cmp(ms)),
        (FieldType::Number, Value::Number(n), Lit::Num(x)) => n.as_f64()?.partial_cmp(x),
        (_, Value::Bool(b), Lit::Bool(x)) => Some(b.cmp(x)),
        (_, Value::String(s), Lit::Str(x) | Lit::Date(x)) => Some(s.as_str().cmp(x.as_str())),
        _ => None,
    }
}

fn equals(v: &Value, lit: &Lit, ty: FieldType) -> bool {
    match (v, lit) {
        (Value::Null, Lit::Null) => true,
        (_, Lit::Null) | (Value::Null, _) => false,
        // 15- and 18-character forms of one id are equal.
        (Value::String(s), Lit::Str(x)) if ty == FieldType::Id && s.len() != x.len() => {
            crate::auth::same_id(s, x)
        }
        (Value::String(s), Lit::Str(x)) if ty == FieldType::Text => {
            s.to_lowercase() == x.to_lowercase()
        }
        _ => compare(v, lit, ty) == Some(Ordering::Equal),
    }
}

fn like(text: &str, pattern: &str) -> bool {
    fn go(t: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(&t[i..], rest)),
            Some(('_', rest)) => !t.is_empty() && go(&t[1..], rest),
            Some((c, rest)) => t.first().is_some_and(|x| x == c) && go(&t[1..], rest),
        }
    }
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    go(&t, &p)
}

/// Whether `record` satisfies `expr`.
pub fn matches(expr: &Expr, record: &Map<String, Value>, types: &Resolved) -> bool {
    let ty = |f: &str| types.get(f).map(|(_, t)| *t).unwrap_or(FieldType::Text);
    match expr {
        Expr::And(v) => v.iter().all(|e| matches(e, record, types)),
        Expr::Or(v) => v.iter().any(|e| matches(e, record, types)),
        Expr::Not(e) => !matches(e, record, types),
        Expr::Cmp(f, op, lit) => {
            let v = value(record, types, f);
            match op {
                Op::Eq => equals(v, lit, ty(f)),
                Op::Ne => !equals(v, lit, ty(f)),
                _ => compare(v, lit, ty(f)).is_some_and(|o| match op {
                    Op::Lt => o == Ordering::Less,
                    Op::Le => o != Ordering::Greater,
                    Op::Gt => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                }),
            }
        }
        Expr::In(f, lits, negated) => {
            let v = value(record, types, f);
            lits.iter().any(|l| equals(v, l, ty(f))) != *negated
        }
        Expr::Like(f, pattern) => value(record, types, f)
            .as_str()
            .is_some_and(|s| like(s, pattern)),
    }
}

/// Orders two records by the query's `ORDER BY`.
pub fn order(
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    keys: &[(String, bool, bool)],
    types: &Resolved,
) -> Ordering {
    for (field, desc, nulls_first) in keys {
        let ty = types.get(field).map(|(_, t)| *t).unwrap_or(FieldType::Text);
        let (x, y) = (value(a, types, field), value(b, types, field));
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                return if *nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                return if *nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, false) => {
                let o = match (ty, x, y) {
                    (FieldType::DateTime, Value::String(s), Value::String(t)) => {
                        parse_ms(s).cmp(&parse_ms(t))
                    }
                    (_, Value::Number(m), Value::Number(n)) => m
                        .as_f64()
                        .partial_cmp(&n.as_f64())
                        .unwrap_or(Ordering::Equal),
                    (_, Value::Bool(p), Value::Bool(q)) => p.cmp(q),
                    (_, Value::String(s), Value::String(t)) => s.cmp(t),
                    _ => Ordering::Equal,
                };
                if *desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::soql::parse;

    fn lookup(f: &str) -> Option<(String, FieldType)> {
        let ty = match f.to_ascii_lowercase().as_str() {
            "id" | "ownerid" => FieldType::Id,
            "systemmodstamp" => FieldType::DateTime,
            "isconverted" => FieldType::Bool,
            "amount" => FieldType::Number,
            "status" | "email" => FieldType::Text,
            _ => return None,
        };
        Some((f.to_string(), ty))
    }

    fn rec(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn conditions_evaluate_with_types_and_nulls() {
        let q = parse(
            "SELECT Id FROM Lead WHERE SystemModstamp >= 2013-05-20T20:49:32Z AND Status IN ('A', 'B') \
             AND IsConverted = false AND Email != null AND (Amount > 5 OR Email LIKE '%@EXAMPLE.com')",
        )
        .unwrap();
        let types = check(&q, "Lead", lookup).unwrap();
        let r = rec(serde_json::json!({
            "Id": "00Q1", "SystemModstamp": "2013-05-20T20:49:32.000+0000", "Status": "A",
            "IsConverted": false, "Email": "x@example.com", "Amount": 1
        }));
        assert!(matches(q.filter.as_ref().unwrap(), &r, &types));
        let mut older = r.clone();
        older.insert(
            "SystemModstamp".into(),
            "2013-05-20T20:49:31.000+0000".into(),
        );
        assert!(!matches(q.filter.as_ref().unwrap(), &older, &types));
        let mut no_email = r.clone();
        no_email.insert("Email".into(), Value::Null);
        assert!(!matches(q.filter.as_ref().unwrap(), &no_email, &types));
        let mut lower = r.clone();
        lower.insert("Status".into(), "b".into());
        assert!(
            matches(q.filter.as_ref().unwrap(), &lower, &types),
            "text IN ignores case"
        );
        lower.insert("Status".into(), "c".into());
        assert!(!matches(q.filter.as_ref().unwrap(), &lower, &types));
    }

    #[test]
    fn unknown_fields_and_mistyped_values_are_refused() {
        let unknown = parse("SELECT Id, Nope FROM Lead").unwrap();
        let err = check(&unknown, "Lead", lookup).unwrap_err();
        assert_eq!(err.items[0].error_code, "INVALID_FIELD");
        assert_eq!(err.items[0].fields, ["Nope"]);
        let quoted =
            parse("SELECT Id FROM Lead WHERE SystemModstamp > '2013-05-20T20:49:32Z'").unwrap();
        assert_eq!(
            check(&quoted, "Lead", lookup).unwrap_err().items[0].error_code,
            "MALFORMED_QUERY"
        );
    }

    #[test]
    fn order_is_by_stamp_then_id_with_nulls_first() {
        let q = parse("SELECT Id FROM Lead ORDER BY SystemModstamp, Id DESC").unwrap();
        let types = check(&q, "Lead", lookup).unwrap();
        let a =
            rec(serde_json::json!({"Id": "A", "SystemModstamp": "2013-05-20T20:49:32.000+0000"}));
        let b =
            rec(serde_json::json!({"Id": "B", "SystemModstamp": "2013-05-20T20:49:32.000+0000"}));
        let n = rec(serde_json::json!({"Id": "C", "SystemModstamp": null}));
        assert_eq!(
            order(&a, &b, &q.order, &types),
            Ordering::Greater,
            "Id DESC"
        );
        assert_eq!(
            order(&n, &a, &q.order, &types),
            Ordering::Less,
            "nulls first"
        );
    }
}
