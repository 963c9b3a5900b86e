//! Behaviour of the mapping language through the public API: reading, transforms, maps,
//! defaults, conditions, on_error and gates.

use handoff::mapping::{MapOutcome, Mapping};
use serde_json::{json, Value};

fn mapping(fields_and_gates: &str) -> Mapping {
    let text = format!(
        "name: t\nsource: {{ system: hubspot, object: contacts }}\ntarget: {{ system: handoff, object: lead }}\n{fields_and_gates}"
    );
    Mapping::parse(&text, "t.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn contact(props: Value) -> Value {
    json!({"id": "101", "properties": props, "associations": {}})
}

fn gate<'a>(out: &'a MapOutcome, name: &str) -> &'a handoff::mapping::GateResult {
    out.gates
        .iter()
        .find(|g| g.gate == name)
        .unwrap_or_else(|| panic!("no gate {name} in {:?}", out.gates))
}

#[test]
fn reads_paths_in_order_and_joins() {
    let m = mapping(
        "fields:
  - to: domain
    from: [properties.website, properties.email]
    transform: [domain]
  - to: full_name
    from: [properties.firstname, properties.lastname]
    join: ' '
  - to: company_id
    from: associations.companies.results.0.id
",
    );
    let out = m.apply(&json!({"properties": {"website": "", "email": "Jo@Acme.io", "firstname": " Jo ", "lastname": "Ng"},
        "associations": {"companies": {"results": [{"id": "9"}]}}}));
    assert_eq!(out.record["domain"], "acme.io");
    assert_eq!(out.record["full_name"], "Jo Ng");
    assert_eq!(out.record["company_id"], "9");
    let out = m.apply(&contact(json!({"lastname": "Ng"})));
    assert_eq!(out.record["full_name"], "Ng");
    assert!(!out.record.contains_key("domain"));
}

#[test]
fn required_fields_gate_with_missing_reason() {
    let m = mapping("fields:\n  - to: email\n    from: properties.email\n    transform: [trim, lower]\n    required: true\n");
    let out = m.apply(&contact(json!({"email": "   "})));
    assert!(!out.passed());
    let g = out.first_failure().unwrap();
    assert_eq!(g.gate, "required:email");
    assert_eq!(g.reason.as_deref(), Some("missing_email"));
    assert!(out.record.is_empty());
    let out = m.apply(&contact(json!({"email": " A@B.CO"})));
    assert!(out.passed());
    assert_eq!(gate(&out, "required:email").reason, None);
    assert_eq!(out.record["email"], "a@b.co");
}

#[test]
fn transform_failure_reason_and_skip() {
    let m = mapping(
        "fields:
  - to: amount
    from: properties.amount
    transform: [number]
  - to: country_code
    from: properties.country
    transform: [trim, country_code]
    on_error: skip
  - to: phone
    from: properties.phone
    transform: [{ e164: { default_region: US, region_from: country_code } }]
    on_error: invalid_phone
",
    );
    let out = m.apply(&contact(
        json!({"amount": "12k", "country": "Atlantis", "phone": "22 33 44 55"}),
    ));
    let amount = gate(&out, "valid:amount");
    assert_eq!(
        amount.reason.as_deref(),
        Some("invalid_amount"),
        "default reason is invalid_<to>"
    );
    assert!(amount.detail.contains("\"12k\""), "{}", amount.detail);
    assert!(!out.record.contains_key("country_code"));
    assert!(
        out.gates.iter().all(|g| g.gate != "valid:country_code"),
        "skip reports nothing"
    );
    assert_eq!(
        gate(&out, "valid:phone").reason.as_deref(),
        Some("invalid_phone"),
        "not a US number"
    );

    let out = m.apply(&contact(
        json!({"amount": "1500.5", "country": "Norway", "phone": "22 33 44 55"}),
    ));
    assert!(out.passed(), "{:?}", out.gates);
    assert_eq!(out.record["amount"], json!(1500.5));
    assert_eq!(out.record["country_code"], "NO");
    assert_eq!(out.record["phone"], "+4722334455");
    assert!(gate(&out, "valid:phone").passed);
}

#[test]
fn value_maps_defaults_and_constants() {
    let m = mapping(
        "fields:
  - to: product
    from: properties.product
    map: { GTXPro: GTX Pro }
  - to: tier
    from: properties.tier
    map: { gold: A }
    map_default: B
  - to: lifecycle_stage
    from: properties.lifecyclestage
    map: { marketingqualifiedlead: MQL, salesqualifiedlead: SQL, lead: lead }
    default: lead
  - to: source
    value: inbound
",
    );
    let out = m.apply(&contact(
        json!({"product": "GTXPro", "tier": "gold", "lifecyclestage": "salesqualifiedlead"}),
    ));
    assert_eq!(out.record["product"], "GTX Pro");
    assert_eq!(out.record["tier"], "A");
    assert_eq!(out.record["lifecycle_stage"], "SQL");
    assert_eq!(out.record["source"], "inbound");
    let out = m.apply(&contact(json!({"product": "MG Special", "tier": "tin"})));
    assert_eq!(
        out.record["product"], "MG Special",
        "unmapped values pass through"
    );
    assert_eq!(out.record["tier"], "B", "map_default for unmapped values");
    assert_eq!(
        out.record["lifecycle_stage"], "lead",
        "default when missing"
    );
}

#[test]
fn when_reads_earlier_targets_and_the_input() {
    let m = mapping(
        "fields:
  - to: lifecycle_stage
    from: properties.lifecyclestage
    map: { marketingqualifiedlead: MQL }
  - to: segment
    value: inbound
    when: { field: lifecycle_stage, equals: MQL }
  - to: consent
    value: granted
    when: { all: [ { source: properties.hs_legal_basis, exists: true }, { not: { source: properties.email, matches: '@example\\.com$' } } ] }
",
    );
    let out = m.apply(&contact(json!({"lifecyclestage": "marketingqualifiedlead", "hs_legal_basis": "Freely given consent from contact", "email": "a@b.co"})));
    assert_eq!(out.record["segment"], "inbound");
    assert_eq!(out.record["consent"], "granted");
    let out = m.apply(&contact(
        json!({"lifecyclestage": "lead", "hs_legal_basis": "x", "email": "a@example.com"}),
    ));
    assert!(!out.record.contains_key("segment"));
    assert!(!out.record.contains_key("consent"));
}

#[test]
fn declared_gates_report_every_result() {
    let m = mapping(
        "fields:
  - to: email
    from: properties.email
    transform: [trim, lower]
  - to: consent
    value: granted
    when: { source: properties.hs_legal_basis, exists: true }
gates:
  - name: consent
    require: { field: consent, in: [granted] }
    reason: no_consent
  - name: not_test_data
    reject_if: { any: [ { field: email, in: [test@test.com, test@example.com] }, { field: email, matches: '^test[0-9]*@' } ] }
    reason: test_data
",
    );
    let out = m.apply(&contact(json!({"email": "Test42@acme.io"})));
    assert_eq!(out.gates.len(), 2);
    assert_eq!(
        out.failure_reasons().collect::<Vec<_>>(),
        ["no_consent", "test_data"]
    );
    let test_data = gate(&out, "not_test_data");
    assert!(
        test_data.detail.contains("email = \"test42@acme.io\""),
        "{}",
        test_data.detail
    );
    let out = m.apply(&contact(
        json!({"email": "ana@acme.io", "hs_legal_basis": "Performance of a contract"}),
    ));
    assert!(out.passed(), "{:?}", out.gates);
    assert!(out.first_failure().is_none());
}

#[test]
fn outcome_serializes_for_the_api() {
    let m = mapping("fields:\n  - to: email\n    from: properties.email\n    required: true\n");
    let out = m.apply(&contact(json!({})));
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["gates"][0]["gate"], "required:email");
    assert_eq!(json["gates"][0]["passed"], false);
    assert_eq!(json["gates"][0]["reason"], "missing_email");
    assert_eq!(json["record"], json!({}));
    assert_eq!(m.name(), "t");
    assert_eq!(m.source().system, "hubspot");
    assert_eq!(m.target().object, "lead");
}

#[test]
fn odd_inputs_become_gates_not_panics() {
    let m = mapping("fields:\n  - to: email\n    from: properties.email\n    transform: [trim, lower]\n    required: true\n  - to: n\n    from: properties.n\n    transform: [number]\n");
    for input in [
        json!(null),
        json!([1, 2]),
        json!({"properties": 5}),
        json!({"properties": {"email": {"a": 1}, "n": [1]}}),
    ] {
        let out = m.apply(&input);
        assert!(!out.passed(), "{input}");
    }
    let out = m.apply(&json!({"properties": {"email": ["x"], "n": true}}));
    assert_eq!(
        gate(&out, "valid:email").detail,
        "email: expected text, found a list"
    );
    assert_eq!(gate(&out, "valid:n").reason.as_deref(), Some("invalid_n"));
}
