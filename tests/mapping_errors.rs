//! Bad mappings fail at load with `file:line:column: field.path: message`.

use std::io::Write;

use handoff::mapping::{load_dir, Mapping, MappingError};

const HEAD: &str = "name: lead\nsource: { system: hubspot, object: contacts }\ntarget: { system: handoff, object: lead }\n";

/// 1-based line and column of the first occurrence of `needle` at or after `after`.
fn locate(text: &str, after: &str, needle: &str) -> (usize, usize) {
    let start = text
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} not in text"));
    let offset = start
        + text[start..]
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in text"));
    let line = text[..offset].matches('\n').count() + 1;
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Parses `body` (after the common header) and checks the error's position and words.
fn expect_error(body: &str, after: &str, needle: &str, path: &str, words: &str) -> MappingError {
    let text = format!("{HEAD}{body}");
    let err = Mapping::parse(&text, "mappings/lead.yaml").expect_err("mapping should be rejected");
    let (line, column) = locate(&text, after, needle);
    let prefix = format!("mappings/lead.yaml:{line}:{column}: {path}: ");
    let shown = err.to_string();
    assert!(
        shown.starts_with(&prefix),
        "expected prefix {prefix:?}, got {shown:?}"
    );
    assert!(shown.contains(words), "expected {words:?} in {shown:?}");
    let pos = err.position().expect("position");
    assert_eq!(
        (pos.line as usize, pos.column as usize, pos.path.as_str()),
        (line, column, path)
    );
    err
}

#[test]
fn yaml_syntax_error() {
    let err = expect_error(
        "fields:\n  - to: email\n   from: : x\n",
        "   from",
        "from",
        "fields",
        "expected",
    );
    assert!(matches!(err, MappingError::Syntax { .. }));
}

#[test]
fn unknown_key() {
    let err = expect_error(
        "fields:\n  - to: email\n    from: properties.email\n  - to: phone\n    tranform: [trim]\n",
        "tranform",
        "tranform",
        "fields[1].tranform",
        "unknown field `tranform`",
    );
    assert!(matches!(err, MappingError::Syntax { .. }));
}

#[test]
fn wrong_type_and_missing_key() {
    expect_error(
        "fields:\n  - to: email\n    from: properties.email\n    required: maybe\n",
        "maybe",
        "maybe",
        "fields[0].required",
        "",
    );
    let text = format!("{HEAD}gates: []\n");
    let err = Mapping::parse(&text, "m.yaml").unwrap_err().to_string();
    assert!(
        err.starts_with("m.yaml:") && err.contains("missing field `fields`"),
        "{err}"
    );
}

#[test]
fn unknown_transform() {
    let err = expect_error(
        "fields:\n  - to: email\n    from: properties.email\n  - to: x\n    from: properties.x\n  - to: name\n    from: properties.firstname\n    transform: [trim, titel]\n",
        "[trim, titel]",
        "titel",
        "fields[2].transform[1]",
        "unknown transform \"titel\" (expected one of: trim, lower, upper, title",
    );
    assert!(matches!(err, MappingError::Invalid { .. }));
}

#[test]
fn transform_arguments() {
    expect_error(
        "fields:\n  - to: a\n    from: p.a\n    transform: [{ trim: yes }]\n",
        "{ trim",
        "{",
        "fields[0].transform[0]",
        "takes no arguments",
    );
    expect_error(
        "fields:\n  - to: a\n    from: p.a\n    transform: [prefix]\n",
        "[prefix",
        "prefix",
        "fields[0].transform[0]",
        "needs its text",
    );
    expect_error(
        "fields:\n  - to: a\n    from: p.a\n    transform: [{ date: { from: '%d-%m-%Y', to: '%Y %H' } }]\n",
        "to: '%Y",
        "'%Y %H'",
        "fields[0].transform[0].date.to",
        "bad `to` format",
    );
    expect_error(
        "fields:\n  - to: a\n    from: p.a\n    transform: [{ e164: { default_region: US, region: x } }]\n",
        "region: x",
        "region: x",
        "fields[0].transform[0].e164.region",
        "unknown field `region`",
    );
}

#[test]
fn bad_region_code() {
    expect_error(
        "fields:\n  - to: phone\n    from: properties.phone\n    transform: [{ e164: { default_region: UK } }]\n",
        "default_region",
        "UK",
        "fields[0].transform[0].e164.default_region",
        "unknown region code \"UK\"",
    );
}

#[test]
fn region_from_must_be_defined_earlier() {
    expect_error(
        "fields:\n  - to: phone\n    from: properties.phone\n    transform: [{ e164: { default_region: US, region_from: country_code } }]\n  - to: country_code\n    from: properties.country\n    transform: [country_code]\n",
        "region_from",
        "country_code",
        "fields[0].transform[0].e164.region_from",
        "field \"country_code\" is not defined before this point",
    );
}

#[test]
fn when_must_refer_to_earlier_field() {
    expect_error(
        "fields:\n  - to: email\n    from: properties.email\n  - to: segment\n    value: inbound\n    when: { field: lifecycle_stage, equals: MQL }\n  - to: lifecycle_stage\n    from: properties.lifecyclestage\n",
        "when:",
        "lifecycle_stage",
        "fields[1].when.field",
        "(fields defined so far: email)",
    );
}

#[test]
fn invalid_regex() {
    expect_error(
        "fields:\n  - to: email\n    from: properties.email\ngates:\n  - name: not_test_data\n    reject_if: { any: [ { field: email, in: [a] }, { field: email, matches: '^test[0-9*@' } ] }\n    reason: test_data\n",
        "matches",
        "'^test",
        "gates[0].reject_if.any[1].matches",
        "invalid regular expression",
    );
}

#[test]
fn duplicate_target_field() {
    expect_error(
        "fields:\n  - to: email\n    from: properties.email\n  - to: email\n    from: properties.work_email\n",
        "\n  - to: email\n    from: properties.work_email",
        "email",
        "fields[1].to",
        "duplicate target field \"email\" (first defined at line 5)",
    );
}

#[test]
fn condition_shape_and_reason_codes() {
    expect_error(
        "fields:\n  - to: email\n    from: properties.email\ngates:\n  - name: g\n    require: { field: email, equals: a, in: [b] }\n",
        "require:",
        "{ field",
        "gates[0].require",
        "exactly one test",
    );
    expect_error(
        "fields:\n  - to: email\n    from: properties.email\n    on_error: Invalid Email\n",
        "on_error",
        "Invalid Email",
        "fields[0].on_error",
        "must be snake_case",
    );
    expect_error(
        "fields:\n  - to: email\n    from: properties.email\n    value: x\n",
        "value:",
        "x",
        "fields[0].value",
        "not both",
    );
}

#[test]
fn load_reads_files_and_load_dir_rejects_duplicate_names() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!("{HEAD}fields:\n  - to: email\n    from: properties.email\n");
    for name in ["a.yaml", "b.yml"] {
        std::fs::File::create(dir.path().join(name))
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not a mapping").unwrap();
    let one = Mapping::load(&dir.path().join("a.yaml")).unwrap();
    assert_eq!(one.name(), "lead");
    let err = load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(err, MappingError::DuplicateName { ref name, .. } if name == "lead"),
        "{err}"
    );
    assert!(err.to_string().contains("b.yml"), "{err}");
    std::fs::remove_file(dir.path().join("b.yml")).unwrap();
    assert_eq!(load_dir(dir.path()).unwrap().len(), 1);
    let err = Mapping::load(&dir.path().join("missing.yaml")).unwrap_err();
    assert!(matches!(err, MappingError::Io { .. }));
    // Errors from load name the file path.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        format!("{HEAD}fields:\n  - to: a\n    from: p.a\n    transform: [titel]\n"),
    )
    .unwrap();
    let err = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "{}:7:17: fields[0].transform[0]: unknown transform",
            bad.display()
        )),
        "{err}"
    );
}
