//! The after-hours acknowledgement's subject and body as compiled minijinja templates: the
//! placeholder check done at config load (unknown names, with their line) and rendering.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A rendered acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedAck {
    /// One line (line breaks folded to spaces), trimmed.
    pub subject: String,
    pub text: String,
}

/// The acknowledgement's subject and body, compiled.
#[derive(Clone)]
pub struct AckTemplate {
    env: minijinja::Environment<'static>,
    /// The body template's file.
    pub origin: PathBuf,
}

impl std::fmt::Debug for AckTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckTemplate")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Why a template was refused (at load) or could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// Jinja syntax error; `line` is 1-based in the template's text.
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    /// A placeholder that is neither a mapped lead field nor a built-in one.
    #[error("line {line}: unknown placeholder `{name}` (known: {known})")]
    UnknownPlaceholder {
        line: usize,
        name: String,
        known: String,
    },
    #[error("cannot render: {0}")]
    Render(String),
}

impl TemplateError {
    pub(super) fn line(&self) -> usize {
        match self {
            TemplateError::Syntax { line, .. } | TemplateError::UnknownPlaceholder { line, .. } => {
                *line
            }
            TemplateError::Render(_) => 1,
        }
    }
}

const SUBJECT: &str = "subject";
const BODY: &str = "body";

impl AckTemplate {
    /// Compiles `subject` and `body` and checks that they use only `known` placeholders.
    /// Errors say which of the two (`Err((is_subject, error))`).
    pub fn compile(
        subject: &str,
        body: &str,
        origin: &Path,
        known: &BTreeSet<String>,
    ) -> Result<AckTemplate, (bool, TemplateError)> {
        let mut env = minijinja::Environment::new();
        // Plain text: never HTML-escape a name like "O'Brien & Sons".
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        for (name, text, is_subject) in [(SUBJECT, subject, true), (BODY, body, false)] {
            env.add_template_owned(name, text.to_string())
                .map_err(|e| (is_subject, syntax(&e)))?;
            let tmpl = env
                .get_template(name)
                .map_err(|e| (is_subject, syntax(&e)))?;
            let mut unknown: Vec<String> = tmpl
                .undeclared_variables(false)
                .into_iter()
                .filter(|v| !known.contains(v))
                .collect();
            unknown.sort_by_key(|v| (line_of(text, v), v.clone()));
            if let Some(name) = unknown.into_iter().next() {
                return Err((
                    is_subject,
                    TemplateError::UnknownPlaceholder {
                        line: line_of(text, &name),
                        name,
                        known: known.iter().cloned().collect::<Vec<_>>().join(", "),
                    },
                ));
            }
        }
        Ok(AckTemplate {
            env,
            origin: origin.to_path_buf(),
        })
    }

    /// Renders subject and body with `vars` (the lead's fields, `team`, `opens_local`).
    pub fn render(
        &self,
        vars: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<RenderedAck, TemplateError> {
        let ctx = minijinja::Value::from(minijinja::value::Serde(vars));
        let render = |name: &str| {
            self.env
                .get_template(name)
                .and_then(|t| t.render(ctx.clone()))
                .map_err(|e| TemplateError::Render(e.to_string()))
        };
        let subject = render(SUBJECT)?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Ok(RenderedAck {
            subject,
            text: render(BODY)?,
        })
    }
}

fn syntax(e: &minijinja::Error) -> TemplateError {
    TemplateError::Syntax {
        line: e.line().unwrap_or(1),
        message: e
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| e.kind().to_string()),
    }
}

/// The 1-based line of the first place `name` appears as a whole word inside `{{ }}` or
/// `{% %}` (1 when not found).
fn line_of(text: &str, name: &str) -> usize {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut in_tag = false;
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while !rest.is_empty() {
            if !in_tag {
                match rest.find("{{").into_iter().chain(rest.find("{%")).min() {
                    Some(at) => {
                        in_tag = true;
                        rest = &rest[at + 2..];
                    }
                    None => break,
                }
            } else {
                let end = [rest.find("}}"), rest.find("%}")]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(rest.len());
                let inside = &rest[..end];
                let mut from = 0;
                while let Some(pos) = inside[from..].find(name) {
                    let start = from + pos;
                    let stop = start + name.len();
                    let before = inside[..start].chars().next_back();
                    let after = inside[stop..].chars().next();
                    if !before.is_some_and(|c| is_word(c) || c == '.')
                        && !after.is_some_and(is_word)
                    {
                        return i + 1;
                    }
                    from = stop;
                }
                if end < rest.len() {
                    in_tag = false;
                    rest = &rest[end + 2..];
                } else {
                    break;
                }
            }
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn known() -> BTreeSet<String> {
        ["first_name", "company", "email", "team", "opens_local"]
            .into_iter()
            .map(String::from)
            .collect()
    }

    fn vars(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn renders_plain_text_with_lead_fields_team_and_opening() {
        let t = AckTemplate::compile(
            "Thanks {{ first_name }}\n from {{ team }}",
            "Hi {{ first_name | default(\"there\") }} at {{ company }},\nwe open {{ opens_local }}.\n",
            Path::new("ack.txt"),
            &known(),
        )
        .unwrap();
        let r = t
            .render(&vars(json!({
                "first_name": "Ana",
                "company": "O'Brien & Sons <Ltd>",
                "team": "Central",
                "opens_local": "Monday 08:00 (America/Chicago)",
            })))
            .unwrap();
        assert_eq!(r.subject, "Thanks Ana from Central");
        assert_eq!(
            r.text,
            "Hi Ana at O'Brien & Sons <Ltd>,\nwe open Monday 08:00 (America/Chicago)."
        );
        // A missing field renders empty, or its default.
        let r = t.render(&vars(json!({"company": "X"}))).unwrap();
        assert!(r.text.starts_with("Hi there at X,"), "{}", r.text);
        assert_eq!(r.subject, "Thanks from");
    }

    #[test]
    fn an_unknown_placeholder_names_its_line_and_the_known_ones() {
        let body = "Hello,\n\n{{ company }} is great.\nYour rep {{ rep_name }} calls soon.\n";
        let (subject, err) =
            AckTemplate::compile("Hi", body, Path::new("ack.txt"), &known()).unwrap_err();
        assert!(!subject);
        match err {
            TemplateError::UnknownPlaceholder { line, name, known } => {
                assert_eq!((line, name.as_str()), (4, "rep_name"));
                assert!(known.contains("opens_local") && known.contains("first_name"));
            }
            other => panic!("{other:?}"),
        }
        // In the subject too; names inside tags and filters count, attribute names do not.
        let (subject, err) =
            AckTemplate::compile("{% if vip %}VIP{% endif %}", "x", Path::new("a"), &known())
                .unwrap_err();
        assert!(subject);
        assert!(err.to_string().contains("`vip`"), "{err}");
        assert!(AckTemplate::compile("{{ team.upper() }}", "x", Path::new("a"), &known()).is_ok());
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let (_, err) = AckTemplate::compile(
            "Hi",
            "line one\nline two {{ company \n",
            Path::new("ack.txt"),
            &known(),
        )
        .unwrap_err();
        assert!(
            matches!(err, TemplateError::Syntax { line: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn line_of_skips_text_outside_tags_and_longer_words() {
        let text = "company here\n{{ company_domain }}\n{% if x %}{{ company }}{% endif %}";
        assert_eq!(line_of(text, "company"), 3);
        assert_eq!(line_of("{{\n  a\n}}", "a"), 2);
        assert_eq!(line_of("nothing", "a"), 1);
    }
}
