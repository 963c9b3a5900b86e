//! Loading `smtp` and `lead_handoff.after_hours` from a real config file: errors name the
//! file and line.

use super::*;
use serde_json::json;

fn vars(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().cloned().unwrap()
}

/// The sandbox config plus `smtp` and `lead_handoff.after_hours`, written with the body
/// template into a temporary folder; returns (folder, config path).
fn write_config(subject: &str, body: Option<&str>, smtp: bool) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let bundled = without_ack_sections(include_str!("../../sandbox/handoff.yaml"));
    let mappings = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/routing.yaml");
    let bundled = bundled.replace(
        "rules: ../../examples/routing.yaml",
        &format!("rules: {}", rules.display()),
    );
    let mut text = format!("mappings_dir: {}\n", mappings.display());
    text.push_str(&bundled.replacen(
        "  default_team: Central\n",
        &format!(
            "  default_team: Central\n  after_hours:\n    acknowledge: true\n    \
             subject: \"{subject}\"\n    template: templates/ack.txt\n"
        ),
        1,
    ));
    if smtp {
        text.push_str(
            "smtp:\n  host: 127.0.0.1\n  port: 2525\n  tls: none\n  \
             from: \"Maven Sales <sales@maven.test>\"\n",
        );
    }
    if let Some(body) = body {
        std::fs::create_dir(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("templates/ack.txt"), body).unwrap();
    }
    let path = dir.path().join("handoff.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// The bundled config without its own `smtp` and `lead_handoff.after_hours` blocks (each
/// test writes its own).
fn without_ack_sections(text: &str) -> String {
    let mut out = String::new();
    let mut skip_indent: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(i) = skip_indent {
            if line.trim().is_empty() || indent > i || line.trim_start().starts_with('#') {
                continue;
            }
            skip_indent = None;
        }
        if line.starts_with("smtp:") || line.starts_with("  after_hours:") {
            skip_indent = Some(indent);
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn line_with(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .position(|l| l.contains(needle))
        .unwrap()
        + 1
}

#[test]
fn the_shipped_template_loads_with_the_config_and_renders() {
    let shipped = include_str!("../../../templates/after-hours-ack.txt");
    let (_dir, path) = write_config("Thanks {{ first_name }}", Some(shipped), true);
    let loaded = crate::config::load(&path).unwrap();
    let ack = loaded.config.lead_handoff.after_hours.as_ref().unwrap();
    assert_eq!(
        ack.template.value,
        path.parent().unwrap().join("templates/ack.txt")
    );
    let r = ack
        .compiled
        .as_ref()
        .expect("compiled at load")
        .render(&vars(json!({
            "first_name": "Ana", "company": "Northwind", "team": "Central",
            "opens_local": "Monday 08:00 (America/Chicago)"
        })))
        .unwrap();
    assert_eq!(r.subject, "Thanks Ana");
    assert!(
        r.text
            .starts_with("Hi Ana,\n\nThanks for reaching out about Northwind."),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("Monday 08:00 (America/Chicago)"),
        "{}",
        r.text
    );
    assert_eq!(loaded.config.smtp.as_ref().unwrap().port(), 2525);
}

#[test]
fn a_missing_template_file_names_the_config_line() {
    let (_dir, path) = write_config("Hi", None, true);
    let err = crate::config::load(&path).unwrap_err().to_string();
    let line = line_with(&path, "template: templates/ack.txt");
    assert!(
        err.starts_with(&format!("{}:{line}:", path.display())),
        "{err}"
    );
    assert!(
        err.contains("lead_handoff.after_hours.template") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn an_unknown_placeholder_names_the_template_file_and_line() {
    let (dir, path) = write_config(
        "Hi",
        Some("Hello\n\n{{ first_name }} meets {{ rep_name }}\n"),
        true,
    );
    let err = crate::config::load(&path).unwrap_err().to_string();
    let file = dir.path().join("templates/ack.txt");
    assert!(
        err.starts_with(&format!(
            "{}:3:1: lead_handoff.after_hours.template: unknown placeholder `rep_name`",
            file.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("opens_local") && err.contains("company_domain"),
        "{err}"
    );

    // In the subject: the config's line.
    let (_dir, path) = write_config("Hi {{ nickname }}", Some("x"), true);
    let err = crate::config::load(&path).unwrap_err().to_string();
    let line = line_with(&path, "subject: \"Hi {{ nickname }}\"");
    assert!(
        err.starts_with(&format!("{}:{line}:", path.display())),
        "{err}"
    );
    assert!(
        err.contains("lead_handoff.after_hours.subject") && err.contains("`nickname`"),
        "{err}"
    );
}

#[test]
fn acknowledging_needs_smtp_and_a_valid_sender() {
    let (_dir, path) = write_config("Hi", Some("x"), false);
    let err = crate::config::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("lead_handoff.after_hours") && err.contains("smtp"),
        "{err}"
    );

    let (_dir, path) = write_config("Hi", Some("x"), true);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("Maven Sales <sales@maven.test>", "Maven Sales");
    std::fs::write(&path, text).unwrap();
    let err = crate::config::load(&path).unwrap_err().to_string();
    let line = line_with(&path, "from: \"Maven Sales\"");
    assert!(
        err.starts_with(&format!("{}:{line}:", path.display())),
        "{err}"
    );
    assert!(err.contains("smtp.from"), "{err}");
}

#[test]
fn the_port_follows_the_tls_mode_unless_given() {
    let yaml = |extra: &str| -> SmtpConfig {
        serde_saphyr::from_str(&format!("host: h\nfrom: a@b.c\n{extra}")).unwrap()
    };
    assert_eq!(yaml("").port(), 587);
    assert_eq!(yaml("tls: tls").port(), 465);
    assert_eq!(yaml("tls: none").port(), 25);
    assert_eq!(yaml("tls: none\nport: 2525").port(), 2525);
    assert_eq!(yaml("").timeout_s, 30);
}
