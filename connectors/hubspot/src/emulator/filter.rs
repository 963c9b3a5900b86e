//! CRM search semantics for the emulator: request limits, filter evaluation, sorting.
//!
//! Filter groups are OR'ed and the filters inside a group AND'ed. Comparisons are numeric when
//! both sides are numbers, by instant when both sides are datetimes (stored ISO-8601 strings
//! against epoch-ms filter values), and case-insensitive text otherwise. Ties in sorting are
//! broken by ascending record id.

use super::store::StoredObject;
use crate::search::{
    stringish, Direction, Filter, Operator, SearchRequest, Sort, MAX_FILTERS_PER_GROUP,
    MAX_FILTERS_TOTAL, MAX_FILTER_GROUPS,
};
use crate::time::parse_ms;
use std::cmp::Ordering;

/// Checks HubSpot's search request limits; the message is what the 400 says.
pub(crate) fn validate(req: &SearchRequest) -> Result<(), String> {
    if req.filter_groups.len() > MAX_FILTER_GROUPS {
        return Err(format!(
            "Too many filter groups ({}); the maximum is {MAX_FILTER_GROUPS}.",
            req.filter_groups.len()
        ));
    }
    let mut total = 0;
    for group in &req.filter_groups {
        if group.filters.len() > MAX_FILTERS_PER_GROUP {
            return Err(format!(
                "Too many filters in a filter group ({}); the maximum is {MAX_FILTERS_PER_GROUP}.",
                group.filters.len()
            ));
        }
        total += group.filters.len();
    }
    if total > MAX_FILTERS_TOTAL {
        return Err(format!(
            "Too many filters ({total}); the maximum across all filter groups is {MAX_FILTERS_TOTAL}."
        ));
    }
    for filter in req.filter_groups.iter().flat_map(|g| &g.filters) {
        let needs_value = !matches!(
            filter.operator,
            Operator::HasProperty | Operator::NotHasProperty | Operator::In | Operator::NotIn
        );
        if needs_value && filter.value.is_none() {
            return Err(format!(
                "Filter on {} with operator {:?} needs a value.",
                filter.property_name, filter.operator
            ));
        }
        if filter.operator == Operator::Between && filter.high_value.is_none() {
            return Err(format!(
                "BETWEEN filter on {} needs a highValue.",
                filter.property_name
            ));
        }
        if matches!(filter.operator, Operator::In | Operator::NotIn) && filter.values.is_none() {
            return Err(format!(
                "{:?} filter on {} needs values.",
                filter.operator, filter.property_name
            ));
        }
    }
    Ok(())
}

/// A property value prepared for comparison.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
enum Key {
    Number(f64),
    Instant(i64),
    Text(String),
}

fn key(value: &str) -> Key {
    if let Ok(n) = value.trim().parse::<f64>() {
        if n.is_finite() {
            return Key::Number(n);
        }
    }
    if let Some(ms) = parse_ms(value) {
        return Key::Instant(ms);
    }
    Key::Text(value.to_lowercase())
}

/// The comparison key of a stored property. The portal's own dates come from the record's
/// timestamps (the same instants the ISO strings hold) instead of being parsed again.
fn stored_key(obj: &StoredObject, name: &str, value: &str) -> Key {
    match name {
        "hs_lastmodifieddate" | "lastmodifieddate" => Key::Instant(obj.updated_ms),
        "createdate" => Key::Instant(obj.created_ms),
        _ => key(value),
    }
}

/// Compares a stored value (and its key) with a filter value (see module docs).
fn compare(stored_key: &Key, stored: &str, wanted: &str) -> Ordering {
    match (stored_key, key(wanted)) {
        (Key::Number(a), Key::Number(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        (Key::Instant(a), Key::Number(b)) => (*a as f64).partial_cmp(&b).unwrap_or(Ordering::Equal),
        (Key::Instant(a), Key::Instant(b)) => a.cmp(&b),
        _ => stored.to_lowercase().cmp(&wanted.to_lowercase()),
    }
}

fn contains_token(stored: &str, wanted: &str) -> bool {
    let stored = stored.to_lowercase();
    let wanted = wanted.to_lowercase();
    if wanted.contains('*') {
        return glob(&stored, &wanted);
    }
    stored
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '@' | '.' | '-' | '_'))
        .any(|t| t == wanted)
        || stored == wanted
}

/// `*` matches any run of characters.
fn glob(text: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    rest.is_empty()
}

fn filter_matches(obj: &StoredObject, f: &Filter) -> bool {
    let stored = obj.props.get(&f.property_name).map(String::as_str);
    let stored_key = stored.map(|s| stored_key(obj, &f.property_name, s));
    let compare = |s: &str, wanted: &str| match &stored_key {
        Some(k) => compare(k, s, wanted),
        None => Ordering::Less,
    };
    let value = f.value.as_deref().unwrap_or("");
    let values = || -> Vec<String> { f.values.iter().flatten().filter_map(stringish).collect() };
    match (f.operator, stored) {
        (Operator::HasProperty, s) => s.is_some(),
        (Operator::NotHasProperty, s) => s.is_none(),
        (Operator::Neq, None) | (Operator::NotIn, None) | (Operator::NotContainsToken, None) => {
            true
        }
        (_, None) => false,
        (Operator::Eq, Some(s)) => compare(s, value) == Ordering::Equal,
        (Operator::Neq, Some(s)) => compare(s, value) != Ordering::Equal,
        (Operator::Lt, Some(s)) => compare(s, value) == Ordering::Less,
        (Operator::Lte, Some(s)) => compare(s, value) != Ordering::Greater,
        (Operator::Gt, Some(s)) => compare(s, value) == Ordering::Greater,
        (Operator::Gte, Some(s)) => compare(s, value) != Ordering::Less,
        (Operator::Between, Some(s)) => {
            let high = f.high_value.as_deref().unwrap_or("");
            compare(s, value) != Ordering::Less && compare(s, high) != Ordering::Greater
        }
        (Operator::In, Some(s)) => values().iter().any(|v| compare(s, v) == Ordering::Equal),
        (Operator::NotIn, Some(s)) => values().iter().all(|v| compare(s, v) != Ordering::Equal),
        (Operator::ContainsToken, Some(s)) => contains_token(s, value),
        (Operator::NotContainsToken, Some(s)) => !contains_token(s, value),
    }
}

/// Whether a record matches the request's filter groups (and free-text `query`).
pub(crate) fn matches(obj: &StoredObject, req: &SearchRequest, searchable: &[&str]) -> bool {
    let groups_ok = req.filter_groups.is_empty()
        || req
            .filter_groups
            .iter()
            .any(|g| g.filters.iter().all(|f| filter_matches(obj, f)));
    let query_ok = match req.query.as_deref().map(str::trim) {
        None | Some("") => true,
        Some(q) => {
            let q = q.to_lowercase();
            searchable.iter().any(|p| {
                obj.props
                    .get(*p)
                    .is_some_and(|v| v.to_lowercase().contains(&q))
            })
        }
    };
    groups_ok && query_ok
}

/// Sorts matching records by the first sort rule (ties and no rule: ascending id).
pub(crate) fn sort(objs: &mut [&StoredObject], sorts: &[Sort]) {
    let Some(rule) = sorts.first() else {
        objs.sort_by_key(|o| o.id);
        return;
    };
    // Keys are computed once per record, not once per comparison.
    let mut keyed: Vec<(Option<Key>, &StoredObject)> = objs
        .iter()
        .map(|o| {
            let k = o
                .props
                .get(&rule.property_name)
                .map(|v| stored_key(o, &rule.property_name, v));
            (k, *o)
        })
        .collect();
    keyed.sort_by(|(ka, a), (kb, b)| {
        let ord = match (ka, kb) {
            (Some(x), Some(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (None, None) => Ordering::Equal,
        };
        let ord = match rule.direction {
            Direction::Ascending => ord,
            Direction::Descending => ord.reverse(),
        };
        ord.then(a.id.cmp(&b.id))
    });
    for (slot, (_, o)) in objs.iter_mut().zip(keyed) {
        *slot = o;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::FilterGroup;
    use std::collections::BTreeMap;

    fn obj(id: u64, props: &[(&str, &str)]) -> StoredObject {
        let date = |name: &str| {
            props
                .iter()
                .find(|(k, _)| *k == name)
                .and_then(|(_, v)| parse_ms(v))
                .unwrap_or(0)
        };
        StoredObject {
            id,
            props: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            created_ms: date("createdate"),
            updated_ms: date("hs_lastmodifieddate"),
            history: BTreeMap::new(),
        }
    }

    fn one(f: Filter) -> SearchRequest {
        SearchRequest {
            filter_groups: vec![FilterGroup { filters: vec![f] }],
            ..Default::default()
        }
    }

    #[test]
    fn operators_compare_numbers_dates_and_text() {
        let o = obj(
            1,
            &[
                ("amount", "1500.50"),
                ("hs_lastmodifieddate", "2019-10-30T03:30:17.883Z"),
                ("email", "ada@hubspot.com"),
                ("lifecyclestage", "lead"),
            ],
        );
        let m = |f: Filter| matches(&o, &one(f), &[]);
        assert!(
            m(Filter::new("amount", Operator::Gt, "200")),
            "numeric, not lexicographic"
        );
        assert!(!m(Filter::new("amount", Operator::Lt, "200")));
        assert!(m(Filter::new(
            "hs_lastmodifieddate",
            Operator::Gte,
            "1572406217883"
        )));
        assert!(!m(Filter::new(
            "hs_lastmodifieddate",
            Operator::Gt,
            "1572406217883"
        )));
        assert!(m(Filter::new("lifecyclestage", Operator::Eq, "LEAD")));
        assert!(m(Filter::new(
            "email",
            Operator::ContainsToken,
            "*@hubspot.com"
        )));
        assert!(!m(Filter::new(
            "email",
            Operator::ContainsToken,
            "*@example.com"
        )));
        assert!(m(Filter::new("phone", Operator::Neq, "1")));
        let mut between = Filter::new("amount", Operator::Between, "1000");
        between.high_value = Some("2000".into());
        assert!(m(between));
        let mut is_in = Filter::new("lifecyclestage", Operator::In, "");
        is_in.value = None;
        is_in.values = Some(vec!["customer".into(), "lead".into()]);
        assert!(m(is_in.clone()));
        is_in.operator = Operator::NotIn;
        assert!(!m(is_in));
        let mut has = Filter::new("phone", Operator::HasProperty, "");
        has.value = None;
        assert!(!m(has.clone()));
        has.operator = Operator::NotHasProperty;
        assert!(m(has));
    }

    #[test]
    fn limits_on_groups_and_filters_are_enforced() {
        let f = || Filter::new("a", Operator::Eq, "1");
        let groups = |n: usize, per: usize| SearchRequest {
            filter_groups: (0..n)
                .map(|_| FilterGroup {
                    filters: (0..per).map(|_| f()).collect(),
                })
                .collect(),
            ..Default::default()
        };
        assert!(validate(&groups(5, 5)).is_ok());
        assert!(validate(&groups(6, 1)).is_err());
        assert!(validate(&groups(1, 11)).is_err());
        assert!(validate(&groups(3, 9)).is_err(), "27 filters in all");
    }

    #[test]
    fn sort_orders_by_value_then_id() {
        let a = obj(1, &[("amount", "30")]);
        let b = obj(2, &[("amount", "4")]);
        let c = obj(3, &[("amount", "4")]);
        let d = obj(4, &[]);
        let mut v = vec![&d, &a, &c, &b];
        sort(&mut v, &[Sort::ascending("amount")]);
        assert_eq!(v.iter().map(|o| o.id).collect::<Vec<_>>(), vec![2, 3, 1, 4]);
    }
}
