//! Property tests: applying never panics, text transforms are idempotent, E.164 output is
//! well-formed, value maps are applied exactly.

use std::collections::BTreeMap;
use std::path::Path;

use handoff::mapping::Mapping;
use proptest::prelude::*;
use serde_json::{json, Value};

fn shipped() -> Vec<Mapping> {
    handoff::mapping::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings")).unwrap()
}

fn single_field(field: Value) -> Mapping {
    let doc = json!({
        "name": "p",
        "source": {"system": "hubspot", "object": "contacts"},
        "target": {"system": "handoff", "object": "lead"},
        "fields": [field],
    });
    // JSON is YAML: serde_json's quoting avoids YAML's implicit typing of keys and values.
    Mapping::parse(&doc.to_string(), "p.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,30}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// HubSpot-shaped contacts and deals whose property values are arbitrary JSON.
fn contact_like() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "email",
        "firstname",
        "lastname",
        "phone",
        "mobilephone",
        "company",
        "website",
        "country",
        "city",
        "lifecyclestage",
        "hs_legal_basis",
        "hubspot_owner_id",
        "dealname",
        "amount",
        "closedate",
        "product",
        "dealstage",
    ]);
    let value = prop_oneof![3 => ".{0,24}".prop_map(Value::String), 1 => any_json()];
    prop::collection::btree_map(keys, value, 0..12)
        .prop_map(|props| json!({"id": "1", "properties": props}))
}

proptest! {
    #[test]
    fn apply_never_panics(input in prop_oneof![any_json(), contact_like()]) {
        for mapping in shipped() {
            let out = mapping.apply(&input);
            // Every failed gate carries a reason code.
            prop_assert!(out.gates.iter().all(|g| g.passed == g.reason.is_none()));
        }
    }

    #[test]
    fn trim_and_lower_are_idempotent(text in ".{0,40}") {
        for t in ["trim", "lower"] {
            let m = single_field(json!({"to": "x", "from": "properties.x", "transform": [t]}));
            let once = m.apply(&json!({"properties": {"x": text}}));
            let Some(first) = once.record.get("x") else { continue };
            let twice = m.apply(&json!({"properties": {"x": first}}));
            prop_assert_eq!(twice.record.get("x"), Some(first));
        }
    }

    #[test]
    fn e164_output_is_plus_and_digits(phone in "[+]?[0-9 ().x-]{0,22}", region in prop::sample::select(vec!["US", "GB", "DE", "NO", "IN", "BR"])) {
        let m = single_field(json!({"to": "phone", "from": "properties.phone", "transform": [{"e164": {"default_region": region}}]}));
        let out = m.apply(&json!({"properties": {"phone": phone}}));
        if let Some(formatted) = out.record.get("phone") {
            let s = formatted.as_str().unwrap();
            prop_assert!(s.starts_with('+'), "{}", s);
            prop_assert!(s.len() > 1 && s[1..].bytes().all(|b| b.is_ascii_digit()), "{}", s);
        } else {
            prop_assert_eq!(out.passed(), phone.trim().is_empty());
        }
    }

    #[test]
    fn value_maps_are_applied_exactly(
        map in prop::collection::btree_map("[A-Za-z0-9][A-Za-z0-9 ]{0,8}[A-Za-z0-9]", "[A-Za-z0-9][A-Za-z0-9 ]{0,8}[A-Za-z0-9]", 1..8),
        probe in "[A-Za-z0-9][A-Za-z0-9 ]{0,8}[A-Za-z0-9]",
        pick in any::<prop::sample::Index>(),
    ) {
        let map: BTreeMap<String, String> = map;
        let m = single_field(json!({"to": "v", "from": "properties.v", "map": map}));
        let key = pick.get(&map.keys().collect::<Vec<_>>()).to_string();
        let out = m.apply(&json!({"properties": {"v": key}}));
        prop_assert_eq!(out.record.get("v").and_then(Value::as_str), Some(map[&key].as_str()));
        let out = m.apply(&json!({"properties": {"v": probe}}));
        let want = map.get(&probe).unwrap_or(&probe);
        prop_assert_eq!(out.record.get("v").and_then(Value::as_str), Some(want.as_str()));
    }
}
