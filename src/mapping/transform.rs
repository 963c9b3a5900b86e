//! Field transforms: what each `transform:` entry does to a value.
//!
//! | name | effect | fails when |
//! | --- | --- | --- |
//! | `trim` | removes leading and trailing whitespace | never |
//! | `lower`, `upper` | changes case (Unicode) | never |
//! | `title` | `jane o'neil-smith` → `Jane O'Neil-Smith` | never |
//! | `collapse_spaces` | runs of whitespace → one space, trimmed | never |
//! | `digits` | keeps ASCII digits only | never |
//! | `number` | text → JSON number (`"1500.50"` → `1500.5`) | not a finite decimal number |
//! | `domain` | email or URL → host, lower case, `www.` dropped | no host with a dot |
//! | `country_code` | country name → ISO 3166-1 alpha-2 (see `country.rs`) | unknown country |
//! | `e164` | phone → E.164 (see `phone.rs`) | unparseable or invalid for the region |
//! | `date` | `{from, to}` reformat (jiff strftime syntax); without `from`: ISO 8601 date, RFC 3339 timestamp (UTC date) or Unix epoch milliseconds (a CRM date in webhooks) | does not parse |
//! | `prefix`, `suffix` | adds fixed text | never |
//!
//! Text transforms read numbers and booleans as their JSON text and fail on lists and objects.

use std::borrow::Cow;

use serde_json::{Number, Value};

use super::{country, phone::E164, value};

/// Transform names, for error messages.
pub(crate) const NAMES: &[&str] = &[
    "trim",
    "lower",
    "upper",
    "title",
    "collapse_spaces",
    "digits",
    "number",
    "domain",
    "country_code",
    "e164",
    "date",
    "prefix",
    "suffix",
];

/// A compiled transform.
#[derive(Debug, Clone)]
pub(crate) enum Transform {
    Trim,
    Lower,
    Upper,
    Title,
    CollapseSpaces,
    Digits,
    Number,
    Domain,
    CountryCode,
    E164(E164),
    Date(DateFormat),
    Prefix(String),
    Suffix(String),
}

/// `date {from, to}`: `from` `None` reads ISO 8601 / RFC 3339 / epoch milliseconds.
#[derive(Debug, Clone)]
pub(crate) struct DateFormat {
    pub from: Option<String>,
    pub to: String,
}

impl Transform {
    /// A transform that takes no arguments, by name.
    pub fn simple(name: &str) -> Option<Transform> {
        Some(match name {
            "trim" => Transform::Trim,
            "lower" => Transform::Lower,
            "upper" => Transform::Upper,
            "title" => Transform::Title,
            "collapse_spaces" => Transform::CollapseSpaces,
            "digits" => Transform::Digits,
            "number" => Transform::Number,
            "domain" => Transform::Domain,
            "country_code" => Transform::CountryCode,
            _ => return None,
        })
    }

    /// Whether this transform can fail on a present value (and so produces a `valid:` gate).
    pub fn is_fallible(&self) -> bool {
        matches!(
            self,
            Transform::Number
                | Transform::Domain
                | Transform::CountryCode
                | Transform::E164(_)
                | Transform::Date(_)
        )
    }

    /// Applies the transform; `slots` are the target fields built so far (for `region_from`).
    /// `Err` is a human detail naming the value and why it failed.
    pub fn apply(&self, input: Value, slots: &[Option<Value>]) -> Result<Value, String> {
        if let (Transform::Number, Value::Number(_)) = (self, &input) {
            return Ok(input);
        }
        let text = match value::text(&input) {
            Some(text) => text,
            None => return Err(format!("expected text, found {}", value::kind(&input))),
        };
        let out = match self {
            Transform::Trim => match text {
                Cow::Borrowed(s) if s.trim().len() == s.len() => return Ok(input),
                _ => text.trim().to_owned(),
            },
            Transform::Lower => {
                if !text.chars().any(char::is_uppercase) {
                    return Ok(Value::String(text.into_owned()));
                }
                text.to_lowercase()
            }
            Transform::Upper => text.to_uppercase(),
            Transform::Title => title(&text),
            Transform::CollapseSpaces => text.split_whitespace().collect::<Vec<_>>().join(" "),
            Transform::Digits => text.chars().filter(char::is_ascii_digit).collect(),
            Transform::Number => return number(&text).map(Value::Number),
            Transform::Domain => domain(&text).ok_or_else(|| {
                format!(
                    "{} has no domain (expected an email address or URL)",
                    quoted(&text)
                )
            })?,
            Transform::CountryCode => country::alpha2(&text)
                .ok_or_else(|| format!("{} is not a known country", quoted(&text)))?
                .to_owned(),
            Transform::E164(e164) => e164.apply(&text, slots)?,
            Transform::Date(format) => format.apply(&text)?,
            Transform::Prefix(prefix) => format!("{prefix}{text}"),
            Transform::Suffix(suffix) => format!("{text}{suffix}"),
        };
        Ok(Value::String(out))
    }
}

fn quoted(text: &str) -> String {
    value::show(Some(&Value::String(text.to_owned())))
}

/// Upper-cases the first letter of every word (after whitespace, `-`, `'` or `’`), lower-cases
/// the rest.
fn title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start = true;
    for ch in text.chars() {
        if start {
            out.extend(ch.to_uppercase());
        } else {
            out.extend(ch.to_lowercase());
        }
        start = ch.is_whitespace() || matches!(ch, '-' | '\'' | '\u{2019}');
    }
    out
}

/// A finite decimal number: an integer when it fits `i64`, otherwise a float.
fn number(text: &str) -> Result<Number, String> {
    let trimmed = text.trim();
    if let Ok(int) = trimmed.parse::<i64>() {
        return Ok(Number::from(int));
    }
    let plain = !trimmed.is_empty()
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    trimmed
        .parse::<f64>()
        .ok()
        .filter(|_| plain)
        .and_then(Number::from_f64)
        .ok_or_else(|| format!("{} is not a number", quoted(text)))
}

/// The host of an email address or URL, lower case, without `www.`, a port or a trailing dot.
pub(crate) fn domain(text: &str) -> Option<String> {
    let mut s = text.trim();
    if let Some(idx) = s.find("://") {
        s = &s[idx + 3..];
    }
    if let Some(idx) = s.find(['/', '?', '#']) {
        s = &s[..idx];
    }
    if let Some(idx) = s.rfind('@') {
        s = &s[idx + 1..];
    }
    if let Some(idx) = s.find(':') {
        s = &s[..idx];
    }
    let s = s.trim_end_matches('.');
    let lower = s.to_lowercase();
    let host = lower.strip_prefix("www.").unwrap_or(&lower);
    let valid_label = |label: &str| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let mut labels = 0;
    for label in host.split('.') {
        if !valid_label(label) {
            return None;
        }
        labels += 1;
    }
    (labels >= 2).then(|| host.to_owned())
}

impl DateFormat {
    /// Reformats one date; `Err` is a human detail.
    pub fn apply(&self, text: &str) -> Result<String, String> {
        let text = text.trim();
        let date = match &self.from {
            Some(from) => jiff::fmt::strtime::parse(from, text)
                .and_then(|tm| tm.to_date())
                .map_err(|e| {
                    format!(
                        "{} does not match the date format {from:?}: {e}",
                        quoted(text)
                    )
                })?,
            None => iso_date(text).ok_or_else(|| {
                format!(
                    "{} is not an ISO 8601 date, RFC 3339 timestamp or epoch-milliseconds value",
                    quoted(text)
                )
            })?,
        };
        jiff::fmt::strtime::format(&self.to, date)
            .map_err(|e| format!("cannot format {date} as {:?}: {e}", self.to))
    }
}

/// `2024-03-01`, `2024-03-01T10:00:00Z` (date in UTC), `2024-03-01T10:00:00` or
/// `1709287200000` (Unix epoch milliseconds).
fn iso_date(text: &str) -> Option<jiff::civil::Date> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = text.parse().ok()?;
        let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
        return Some(ts.to_zoned(jiff::tz::TimeZone::UTC).date());
    }
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts.to_zoned(jiff::tz::TimeZone::UTC).date());
    }
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        return Some(dt.date());
    }
    text.parse::<jiff::civil::Date>().ok()
}

/// Checks a `date` transform's formats at load time by formatting and re-parsing a sample
/// moment; `Err` names the broken format.
pub(crate) fn check_date_formats(from: Option<&str>, to: &str) -> Result<(), String> {
    let sample = jiff::civil::date(2024, 3, 9)
        .at(14, 5, 6, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| e.to_string())?;
    // Runtime formats a civil date, so time-of-day or zone directives in `to` cannot work.
    jiff::fmt::strtime::format(to, sample.date()).map_err(|e| {
        format!("bad `to` format {to:?} (it formats a date: no time or zone directives): {e}")
    })?;
    if let Some(from) = from {
        let shown = jiff::fmt::strtime::format(from, &sample)
            .map_err(|e| format!("bad `from` format {from:?}: {e}"))?;
        jiff::fmt::strtime::parse(from, &shown)
            .and_then(|tm| tm.to_date())
            .map_err(|e| format!("`from` format {from:?} does not identify a date (it needs a year, month and day): {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(t: &Transform, v: Value) -> Result<Value, String> {
        t.apply(v, &[])
    }

    #[test]
    fn text_transforms() {
        assert_eq!(
            run(&Transform::Trim, json!("  a b ")).unwrap(),
            json!("a b")
        );
        assert_eq!(
            run(&Transform::Lower, json!("JoHn@X.COM")).unwrap(),
            json!("john@x.com")
        );
        assert_eq!(run(&Transform::Upper, json!("no")).unwrap(), json!("NO"));
        assert_eq!(
            run(&Transform::Title, json!("jANE o'neil-smith")).unwrap(),
            json!("Jane O'Neil-Smith")
        );
        assert_eq!(
            run(&Transform::CollapseSpaces, json!(" a \t b\n c ")).unwrap(),
            json!("a b c")
        );
        assert_eq!(
            run(&Transform::Digits, json!("(209)172-7124x3651")).unwrap(),
            json!("20917271243651")
        );
        assert_eq!(
            run(&Transform::Prefix("ID-".into()), json!(42)).unwrap(),
            json!("ID-42")
        );
        assert_eq!(
            run(&Transform::Suffix("!".into()), json!(true)).unwrap(),
            json!("true!")
        );
        assert_eq!(
            run(&Transform::Trim, json!({"a": 1})).unwrap_err(),
            "expected text, found an object"
        );
    }

    #[test]
    fn number_transform() {
        assert_eq!(run(&Transform::Number, json!("1500")).unwrap(), json!(1500));
        assert_eq!(
            run(&Transform::Number, json!(" 1500.50 ")).unwrap(),
            json!(1500.5)
        );
        assert_eq!(
            run(&Transform::Number, json!("-3e2")).unwrap(),
            json!(-300.0)
        );
        assert_eq!(run(&Transform::Number, json!(12.5)).unwrap(), json!(12.5));
        for bad in ["", "12 000", "1,5", "NaN", "inf", "$10", "1e999"] {
            assert!(run(&Transform::Number, json!(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn domain_transform() {
        for (input, want) in [
            ("urangel@espinoza-francis.net", "espinoza-francis.net"),
            ("http://www.escobar.org/", "escobar.org"),
            ("https://Tyler-Pugh.INFO/path?q=1", "tyler-pugh.info"),
            ("www.example.co.uk", "example.co.uk"),
            ("https://user@shop.example.com:8443/x", "shop.example.com"),
            ("example.com.", "example.com"),
        ] {
            assert_eq!(domain(input).as_deref(), Some(want), "{input}");
        }
        for bad in [
            "",
            "localhost",
            "no domain here",
            "a@",
            "http://-bad-.com",
            "x@y..com",
        ] {
            assert_eq!(domain(bad), None, "{bad}");
        }
    }

    #[test]
    fn country_transform() {
        assert_eq!(
            run(&Transform::CountryCode, json!("norway")).unwrap(),
            json!("NO")
        );
        assert!(run(&Transform::CountryCode, json!("Atlantis"))
            .unwrap_err()
            .contains("\"Atlantis\""));
    }

    #[test]
    fn date_transform() {
        let dmy = Transform::Date(DateFormat {
            from: Some("%d-%m-%Y".into()),
            to: "%Y-%m-%d".into(),
        });
        assert_eq!(run(&dmy, json!("26-08-2020")).unwrap(), json!("2020-08-26"));
        assert!(run(&dmy, json!("2020-08-26")).is_err());
        assert!(run(&dmy, json!("31-02-2020")).is_err());
        let iso = Transform::Date(DateFormat {
            from: None,
            to: "%Y-%m-%d".into(),
        });
        assert_eq!(
            run(&iso, json!("2019-12-07T16:50:06.678Z")).unwrap(),
            json!("2019-12-07")
        );
        assert_eq!(run(&iso, json!("2024-03-01")).unwrap(), json!("2024-03-01"));
        assert_eq!(
            run(&iso, json!("1709287200000")).unwrap(),
            json!("2024-03-01")
        );
        assert!(run(&iso, json!("yesterday")).is_err());
    }

    #[test]
    fn date_formats_checked_at_load() {
        assert!(check_date_formats(Some("%d-%m-%Y"), "%Y-%m-%d").is_ok());
        assert!(check_date_formats(None, "%d %B %Y").is_ok());
        assert!(check_date_formats(Some("%H:%M"), "%Y").is_err());
        assert!(check_date_formats(None, "%Y-%").is_err());
        assert!(check_date_formats(None, "%Y %H:%M").is_err());
    }
}
