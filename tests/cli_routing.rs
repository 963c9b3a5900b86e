//! `handoff explain --input` and `handoff backtest` without `--rules` use the rule set the
//! config names (`lead_handoff.rules`), and give the same answer as naming that file.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled sandbox config, with its relative paths made absolute, in a temporary folder.
fn config() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("src/sandbox/handoff.yaml"))
        .unwrap()
        .replace(
            "rules: ../../examples/routing.yaml",
            &format!("rules: {}", root().join("examples/routing.yaml").display()),
        )
        .replace(
            "template: ../../templates/after-hours-ack.txt",
            &format!(
                "template: {}",
                root().join("templates/after-hours-ack.txt").display()
            ),
        );
    let text = format!(
        "mappings_dir: {}\n{text}",
        root().join("mappings").display()
    );
    let path = dir.path().join("handoff.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn run(args: &[&str], config: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_handoff"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn backtest_and_explain_default_to_the_configured_rule_set() {
    let (dir, cfg) = config();
    let csv = root().join("tests/data/datablist-customers/customers-10000.csv");
    let csv = csv.to_str().unwrap();
    let rules = root().join("examples/routing.yaml");
    let rules = rules.to_str().unwrap();
    let mapping = root().join("mappings/hubspot-contact-to-lead.yaml");
    let mapping = mapping.to_str().unwrap();
    let at = "2026-11-24T17:00:00Z";

    let configured = run(
        &[
            "backtest",
            "--input",
            csv,
            "--mapping",
            mapping,
            "--at",
            at,
            "--json",
        ],
        &cfg,
    );
    let named = run(
        &[
            "backtest",
            "--input",
            csv,
            "--mapping",
            mapping,
            "--at",
            at,
            "--json",
            "--rules",
            rules,
        ],
        &cfg,
    );
    let (c, n): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&configured).unwrap(),
        serde_json::from_str(&named).unwrap(),
    );
    let by_team = |v: &serde_json::Value| v["results"][0]["per_team"].clone();
    assert!(by_team(&c).is_object(), "{configured}");
    assert_eq!(by_team(&c), by_team(&n));
    assert_eq!(c["results"][0]["name"], "maven-routing");

    let lead = dir.path().join("lead.json");
    std::fs::write(
        &lead,
        r#"{"email": "ada@example.de", "country_code": "DE", "lifecycle_stage": "MQL"}"#,
    )
    .unwrap();
    let lead = lead.to_str().unwrap();
    let configured = run(&["explain", "--input", lead, "--at", at, "--json"], &cfg);
    let named = run(
        &[
            "explain", "--input", lead, "--at", at, "--json", "--rules", rules,
        ],
        &cfg,
    );
    assert_eq!(configured, named);
    assert!(configured.contains("territory-east"), "{configured}");
}
