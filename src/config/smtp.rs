//! Outgoing email: the `smtp` section of `handoff.yaml` and the after-hours acknowledgement of
//! `lead_handoff.after_hours` (its subject and body templates).
//!
//! ```yaml
//! smtp:
//!   host: smtp.example.com
//!   port: 587                  # default by `tls`: none 25, starttls 587, tls 465
//!   tls: starttls              # none | starttls | tls
//!   username: handoff@example.com
//!   password: { env: HANDOFF_SMTP_PASSWORD }   # a secret reference, never the secret
//!   from: "Maven Sales <sales@example.com>"
//!   timeout_s: 30
//! lead_handoff:
//!   after_hours:
//!     acknowledge: true
//!     subject: "Thanks {{ first_name }}, we will call you {{ opens_local }}"
//!     template: templates/after-hours-ack.txt  # relative to handoff.yaml, like mappings
//! ```
//!
//! Templates are [minijinja](https://docs.rs/minijinja) (Jinja2 syntax), rendered as plain text
//! (no escaping) with the mapped lead's fields (the lead mapping's target fields, e.g.
//! `{{ first_name }}`, `{{ company }}`) plus `{{ team }}` and `{{ opens_local }}` (the team's
//! next opening in its zone, e.g. `Monday 08:00 (America/Chicago)`). A field the lead lacks
//! renders empty (`{{ first_name | default("there") }}` gives a fallback). [`load_after_hours`]
//! reads and compiles them when the config loads: a missing file, a syntax error or a
//! placeholder that is neither a mapped field nor `team`/`opens_local` is a config error naming
//! the file and line.

use super::{ConfigError, SecretRef};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod template;
pub use template::{AckTemplate, RenderedAck, TemplateError};

/// Placeholders every acknowledgement template may use besides the mapped lead's fields.
pub const ACK_EXTRA_PLACEHOLDERS: [&str; 2] = ["team", "opens_local"];

/// `smtp`: the relay acknowledgement emails go through.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Relay host name (also the name its TLS certificate is checked against).
    pub host: String,
    /// TCP port; by default 25 (`tls: none`), 587 (`starttls`) or 465 (`tls`).
    #[serde(default)]
    pub port: Option<u16>,
    /// Transport security.
    #[serde(default)]
    pub tls: SmtpTls,
    /// SMTP AUTH user name; give it with `password` or not at all.
    #[serde(default)]
    pub username: Option<String>,
    /// SMTP AUTH password, as a secret reference (`{ env: VAR }` or `{ file: PATH }`).
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// The `From:` mailbox, e.g. `Maven Sales <sales@example.com>` (RFC 5322 `name-addr`).
    pub from: Spanned<String>,
    /// Timeout of each SMTP command, seconds.
    #[serde(default = "default_smtp_timeout")]
    pub timeout_s: u64,
}

fn default_smtp_timeout() -> u64 {
    30
}

impl SmtpConfig {
    /// The port to connect to: the configured one, else the usual one for [`SmtpConfig::tls`].
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text (a relay on loopback, or the test sink).
    None,
    /// Plain connection upgraded with STARTTLS, which is required (RFC 3207).
    #[default]
    Starttls,
    /// TLS from the first byte ("implicit TLS", submissions port, RFC 8314).
    Tls,
}

/// `lead_handoff.after_hours`: the email a prospect gets when their lead arrives while its team
/// is closed.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AfterHoursConfig {
    /// Send the acknowledgement (default true once the section is present).
    #[serde(default = "default_true")]
    pub acknowledge: bool,
    /// Subject line, a template with the same placeholders as the body.
    pub subject: Spanned<String>,
    /// Body template file (plain text), relative to `handoff.yaml`'s folder.
    pub template: Spanned<PathBuf>,
    /// The compiled subject and body, set by [`load_after_hours`] (`None` before).
    #[serde(skip)]
    pub compiled: Option<Arc<AckTemplate>>,
}

fn default_true() -> bool {
    true
}

/// A config error at `file:line:column` on `field`.
fn invalid(line: u64, column: u64, file: &Path, field: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        path: file.to_path_buf(),
        line,
        column,
        field: field.to_string(),
        message,
    }
}

/// Checks `smtp` and `lead_handoff.after_hours` of `config` (loaded from `path`) and compiles
/// the acknowledgement template, resolving its path against `path`'s folder. `lead_fields` are
/// the lead mapping's target fields (the placeholders besides [`ACK_EXTRA_PLACEHOLDERS`]).
pub fn load_after_hours<'a>(
    config: &mut super::Config,
    path: &Path,
    lead_fields: impl IntoIterator<Item = &'a str>,
) -> Result<(), ConfigError> {
    if let Some(smtp) = &config.smtp {
        let from = &smtp.from;
        if let Err(e) = from.value.parse::<lettre::message::Mailbox>() {
            return Err(invalid(
                from.referenced.line(),
                from.referenced.column(),
                path,
                "smtp.from",
                format!(
                    "`{}` is not a mailbox (e.g. `Maven Sales <sales@example.com>`): {e}",
                    from.value
                ),
            ));
        }
        if smtp.username.is_some() != smtp.password.is_some() {
            return Err(invalid(
                from.referenced.line(),
                from.referenced.column(),
                path,
                "smtp.username",
                "give `username` and `password` together, or neither".into(),
            ));
        }
    }
    let has_smtp = config.smtp.is_some();
    let Some(ack) = config.lead_handoff.after_hours.as_mut() else {
        return Ok(());
    };
    let at = &ack.template.referenced;
    if ack.acknowledge && !has_smtp {
        return Err(invalid(
            at.line(),
            at.column(),
            path,
            "lead_handoff.after_hours",
            "acknowledge: true needs an `smtp` section to send through".into(),
        ));
    }
    if ack.template.value.is_relative() {
        let base = path.parent().unwrap_or(Path::new("."));
        ack.template.value = base.join(&ack.template.value);
    }
    let file = ack.template.value.clone();
    let body = std::fs::read_to_string(&file).map_err(|e| {
        invalid(
            at.line(),
            at.column(),
            path,
            "lead_handoff.after_hours.template",
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    compile_after_hours(ack, path, &body, lead_fields)
}

/// Compiles `ack`'s subject and `body` (the text of `ack.template`, e.g. embedded with
/// `include_str!` by the sandbox) into `ack.compiled`. Errors name the config (`path`) line of
/// the subject, or the template file's line.
pub fn compile_after_hours<'a>(
    ack: &mut AfterHoursConfig,
    path: &Path,
    body: &str,
    lead_fields: impl IntoIterator<Item = &'a str>,
) -> Result<(), ConfigError> {
    let file = ack.template.value.clone();
    let known: BTreeSet<String> = lead_fields
        .into_iter()
        .chain(ACK_EXTRA_PLACEHOLDERS)
        .map(str::to_string)
        .collect();
    let compiled =
        AckTemplate::compile(&ack.subject.value, body, &file, &known).map_err(|(subj, e)| {
            if subj {
                let s = &ack.subject.referenced;
                invalid(
                    s.line(),
                    s.column(),
                    path,
                    "lead_handoff.after_hours.subject",
                    e.to_string(),
                )
            } else {
                let message = match &e {
                    TemplateError::Syntax { message, .. } => message.clone(),
                    TemplateError::UnknownPlaceholder { name, known, .. } => {
                        format!("unknown placeholder `{name}` (known: {known})")
                    }
                    TemplateError::Render(m) => m.clone(),
                };
                invalid(
                    e.line() as u64,
                    1,
                    &file,
                    "lead_handoff.after_hours.template",
                    message,
                )
            }
        })?;
    ack.compiled = Some(Arc::new(compiled));
    Ok(())
}

#[cfg(test)]
mod tests;
