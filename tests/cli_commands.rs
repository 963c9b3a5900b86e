//! The `handoff` command line, run as a child process: `validate` and `run` refuse bad configs
//! with exit code 64 and `file:line:column`, `map` shows a mapped record with its gates, and
//! `status`, `audit` and `dead-letters list` read a running daemon through its admin API.

mod common;

use common::*;
use serde_json::json;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn handoff(args: &[&str], dir: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_handoff"))
        .args(args)
        .current_dir(dir)
        .env_remove("HANDOFF_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("run handoff")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A valid config in `dir` (emulator-free: nothing is contacted by `validate`).
fn good_config(dir: &Path, mappings: &Path) -> String {
    format!(
        r#"listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
public_url: http://127.0.0.1:1/
state_dir: state
mappings_dir: {}
crm:
  type: hubspot
  token: {{ env: T_HS_TOKEN }}
  client_secret: {{ env: T_HS_SECRET }}
  portal_id: 62515
pm:
  type: asana
  token: {{ env: T_AS_TOKEN }}
  workspace_gid: "1"
  team_gid: "2"
slack:
  bot_token: {{ env: T_SL_TOKEN }}
  signing_secret: {{ env: T_SL_SECRET }}
lead_handoff:
  mapping: hubspot-contact-to-lead
  update_mapping: lead-to-hubspot-contact
  account_mapping: hubspot-company-to-account
  default_team: West
  teams:
    - name: West
      members: [a@example.com]
      countries: [US]
closed_won:
  mapping: hubspot-deal-to-onboarding
  case_mapping: onboarding-to-hubspot-ticket
  tiers:
    - {{ name: Starter, min_amount: 0, project_template: "T" }}
  csm_pool: [c@example.com]
"#,
        mappings.display()
    )
    .replace(
        "state_dir: state",
        &format!("state_dir: {}", dir.join("state").display()),
    )
}

/// The 1-based line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle")
        + 1
}

/// Writes `text` as `name` in `dir`; returns the file name.
fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

#[test]
fn validate_and_run_refuse_bad_config_semantics_with_file_line_column() {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    let good = good_config(d, &mappings_dir());
    let ok = handoff(&["validate", "--config", &write(d, "good.yaml", &good)], d);
    assert!(ok.status.success(), "{}", stderr(&ok));

    // (c) default_team naming no team: its line, column 17.
    let line = line_of(&good, "default_team: West");
    let team = write(
        d,
        "team.yaml",
        &good.replace("default_team: West", "default_team: Nowhere"),
    );
    let out = handoff(&["validate", "--config", &team], d);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("team.yaml:{line}:17: lead_handoff.default_team")),
        "{err}"
    );

    // (d) a mapping with an unknown transform: the mapping file's line and column.
    let maps = d.join("badmaps");
    std::fs::create_dir_all(&maps).unwrap();
    for entry in std::fs::read_dir(mappings_dir()).unwrap() {
        let p = entry.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(
            maps.join(p.file_name().unwrap()),
            text.replace("transform: [trim, lower]", "transform: [trim, shout]"),
        )
        .unwrap();
    }
    let bad_map = write(d, "map.yaml", &good_config(d, &maps));
    let out = handoff(&["validate", "--config", &bad_map], d);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    assert!(
        err.contains("hubspot-contact-to-lead.yaml:12:23: fields[0].transform[1]")
            && err.contains("shout"),
        "{err}"
    );

    // `run` with a bad config exits 64 before binding anything.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let run_bad = write(
        d,
        "run.yaml",
        &good
            .replace("default_team: West", "default_team: Nowhere")
            .replace("listen: 127.0.0.1:0\n", &format!("listen: {addr}\n")),
    );
    let out = handoff(&["run", "--config", &run_bad], d);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("run.yaml:{line}:17")),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("cannot bind"));
}

#[test]
fn validate_reports_yaml_syntax_and_unknown_keys_as_file_line_column() {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    let good = good_config(d, &mappings_dir());
    // (a) syntax error on portal_id's line, column 14.
    let line = line_of(&good, "portal_id: 62515");
    let syntax = write(
        d,
        "syntax.yaml",
        &good.replace("portal_id: 62515", "portal_id: [62515"),
    );
    let out = handoff(&["validate", "--config", &syntax], d);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains(&format!("syntax.yaml:{line}:14")),
        "{}",
        stderr(&out)
    );
    // (b) unknown key `portl` under crm, the next line, column 3.
    let unknown = write(
        d,
        "unknown.yaml",
        &good.replace("portal_id: 62515", "portal_id: 62515\n  portl: 3"),
    );
    let out = handoff(&["validate", "--config", &unknown], d);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("unknown.yaml:{}:3", line + 1)) && err.contains("crm.portl"),
        "{err}"
    );
}

#[test]
fn map_prints_the_mapped_record_and_every_gate() {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    let record = json!({"id": "1", "properties": {
        "email": "Ana.Lima@Northwind-Traders.io", "firstname": "Ana", "lastname": "Lima",
        "company": "Northwind", "country": "United States", "phone": "+1 212 736 5000",
        "lifecyclestage": "marketingqualifiedlead"}});
    let input = write(d, "record.json", &record.to_string());
    let mapping = mappings_dir().join("hubspot-contact-to-lead.yaml");
    let out = handoff(
        &[
            "map",
            "--mapping",
            mapping.to_str().unwrap(),
            "--input",
            &input,
        ],
        d,
    );
    // No legal basis: the consent gate fails (exit 2), the rest is still printed.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["record"]["email"], "ana.lima@northwind-traders.io");
    assert_eq!(v["record"]["country_code"], "US");
    assert_eq!(v["record"]["phone"], "+12127365000");
    let gates = v["gates"].as_array().unwrap();
    assert_eq!(gates.len(), 6);
    let consent = gates.iter().find(|g| g["gate"] == "consent").unwrap();
    assert_eq!(
        (consent["passed"].as_bool(), consent["reason"].as_str()),
        (Some(false), Some("no_consent"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_audit_and_dead_letters_read_a_running_daemon() {
    let mut env = TestEnv::new(Options::default()).await;
    env.start_child().await;
    let id = env.create_lead("cli.lead@tyrell-corp.io", json!({}));
    let poison = env.hubspot.create_object(
        "deals",
        props(json!({"dealname": "No amount", "dealstage": "closedwon"})),
    );
    let key = format!("lead:hubspot:contacts:{id}:dm");
    assert!(
        wait_until(Duration::from_secs(30), || env
            .messages_with_key(&key)
            .len()
            == 1)
        .await
    );
    env.wait_idle(Duration::from_secs(30), Duration::from_millis(300))
        .await;
    let cfg = env.config_path.to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        let out = env.command().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let status: serde_json::Value =
        serde_json::from_str(&run(&["status", "--config", &cfg, "--json"])).unwrap();
    assert_eq!(status["inbox_depth"], 0);
    assert_eq!(status["dead_letters"], 1);
    assert!(run(&["status", "--config", &cfg]).contains("dead letters: 1"));
    let audit = run(&["audit", &format!("hubspot:contacts:{id}"), "--config", &cfg]);
    assert!(
        audit.contains("gates") && audit.contains("routed"),
        "{audit}"
    );
    let letters = run(&["dead-letters", "list", "--config", &cfg]);
    assert!(
        letters.contains(&format!("hubspot:deals:{poison}")) && letters.contains("amount"),
        "{letters}"
    );
    env.kill_child();
}

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn explain_shows_every_rule_and_the_choice_for_a_raw_contact() {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    let lead = json!({"id": "901", "properties": {
        "email": "ana.lima@northwind.io", "firstname": "Ana", "lastname": "Lima",
        "company": "Northwind", "country": "Brazil", "phone": "+55 11 3456-7890",
        "lifecyclestage": "marketingqualifiedlead",
        "hs_legal_basis": "Legitimate interest – prospect/lead"}});
    let input = write(d, "lead.json", &lead.to_string());
    let out = handoff(
        &[
            "explain",
            "--rules",
            &repo("examples/routing.yaml"),
            "--mapping",
            &repo("mappings/hubspot-contact-to-lead.yaml"),
            "--input",
            &input,
            "--at",
            "2026-11-24T17:00:00Z",
            "--json",
        ],
        d,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = e["rules"].as_array().expect("every rule evaluated");
    assert!(rules.len() >= 5, "{e}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("territory-west"), "{text}");
    assert!(text.contains("@example.com"), "an owner was chosen: {text}");

    // A broken rule file is a configuration error: exit 64 with its location.
    let bad = write(d, "bad.yaml", "name: x\nteams: [\n");
    let out = handoff(&["explain", "--rules", &bad, "--input", &input], d);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("bad.yaml:"), "{}", stderr(&out));
}

#[test]
fn backtest_compares_two_rule_sets_without_writing_anywhere() {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    let base = std::fs::read_to_string(repo("examples/routing.yaml")).unwrap();
    let variant = write(
        d,
        "variant.yaml",
        &base.replace("{ daily: 15 }", "{ daily: 1 }").replacen(
            "name: maven-routing",
            "name: maven-routing-variant",
            1,
        ),
    );
    let out = handoff(
        &[
            "backtest",
            "--input",
            &repo("tests/data/datablist-customers/customers-10000.csv"),
            "--rules",
            &repo("examples/routing.yaml"),
            "--rules",
            &variant,
            "--mapping",
            &repo("mappings/hubspot-contact-to-lead.yaml"),
            "--at",
            "2026-11-24T17:00:00Z",
        ],
        d,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1500 rows"), "{text}");
    assert!(
        text.contains("maven-routing -> maven-routing-variant"),
        "{text}"
    );
    assert!(text.contains("changed owner"), "{text}");
    assert_eq!(
        std::fs::read_dir(d).unwrap().count(),
        1,
        "backtest wrote nothing next to its inputs"
    );
}

#[test]
fn emulate_writes_its_state_on_request_and_at_shutdown() {
    let dir = tempfile::TempDir::new().unwrap();
    let state = dir.path().join("state");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_handoff"))
        .args([
            "emulate",
            "hubspot",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
        ])
        .arg(&state)
        .arg("--data")
        .arg(repo("tests/data"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let signal = |name: &str| {
        let ok = std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {name}");
    };
    // Wait for the listening line, so the signal handlers are installed.
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();

    let companies = state.join("hubspot/companies.json");
    signal("-USR1");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !companies.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&companies).unwrap()).unwrap();
    assert_eq!(
        written.as_array().unwrap().len(),
        85,
        "the 85 seeded accounts"
    );

    std::fs::remove_dir_all(&state).unwrap();
    signal("-TERM");
    assert!(child.wait().unwrap().success());
    assert!(companies.exists(), "state written again at shutdown");
}
