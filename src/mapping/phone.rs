//! The `e164` transform: a free-text phone number to E.164 (`+4722334455`), with the
//! `phonenumber` crate (libphonenumber metadata). Extensions are dropped; numbers that do not
//! parse or are not valid for their region fail the transform.

use serde_json::Value;

use phonenumber::country::Id as Region;
use phonenumber::Mode;

use super::value;

/// Patterns phonenumber may keep compiled at once.
///
/// phonenumber 0.3 compiles its metadata's regular expressions lazily through one shared LRU
/// cache of 100 entries. Numbers from many regions (real lead lists span ~240) evict each other's
/// patterns, so nearly every number recompiled several: about 1,500 numbers/s. The crate exposes
/// the cache (`Database::cache`), so handoff swaps in a larger one once; upstream's fix (remove
/// the cache, compile everything) is unreleased and costs ~570 MB. Memory grows only with the
/// patterns actually used.
const REGEX_CACHE_CAPACITY: usize = 4096;

fn widen_regex_cache() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let cache = phonenumber::metadata::DATABASE.cache();
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        *cache = regex_cache::RegexCache::new(REGEX_CACHE_CAPACITY);
    });
}

/// A compiled `e164` transform.
#[derive(Debug, Clone)]
pub(crate) struct E164 {
    /// Region for numbers written without `+` when `region_from` gives none.
    pub default_region: Option<Region>,
    /// Slot of the earlier target field holding an ISO 3166-1 alpha-2 code.
    pub region_from: Option<usize>,
}

/// An ISO 3166-1 alpha-2 code as a phonenumber region (case-insensitive).
pub(crate) fn region(code: &str) -> Option<Region> {
    let code = code.trim();
    if code.len() != 2 || !code.is_ascii() {
        return None;
    }
    code.to_ascii_uppercase().parse().ok()
}

impl E164 {
    /// Formats `text` as E.164; `Err` is a human detail.
    pub fn apply(&self, text: &str, slots: &[Option<Value>]) -> Result<String, String> {
        widen_regex_cache();
        let from_field = self
            .region_from
            .and_then(|slot| slots.get(slot)?.as_ref())
            .and_then(|v| value::text(v).and_then(|t| region(&t)));
        let region = from_field.or(self.default_region);
        // The phonenumber parser is third-party code fed with untrusted text: a panic in it
        // must not take the caller down (Mapping::apply never panics).
        let parsed = std::panic::catch_unwind(|| phonenumber::parse(region, text));
        let region_name = region
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_else(|| "none".into());
        let number = match parsed {
            Ok(Ok(number)) => number,
            Ok(Err(err)) => {
                return Err(format!(
                    "{} is not a phone number (region {region_name}): {err}",
                    value::show(Some(&Value::String(text.to_owned())))
                ))
            }
            Err(_) => {
                return Err(format!(
                    "{} could not be parsed as a phone number",
                    value::show(Some(&Value::String(text.to_owned())))
                ))
            }
        };
        if !number.is_valid() {
            return Err(format!(
                "{} is not a valid phone number for region {region_name}",
                value::show(Some(&Value::String(text.to_owned())))
            ));
        }
        Ok(number.format().mode(Mode::E164).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn e164(default: Option<&str>) -> E164 {
        E164 {
            default_region: default.and_then(region),
            region_from: Some(0),
        }
    }

    #[test]
    fn formats_with_default_region_and_drops_extension() {
        let t = e164(Some("US"));
        assert_eq!(
            t.apply("(415) 555-2671 x123", &[None]).unwrap(),
            "+14155552671"
        );
        assert_eq!(
            t.apply("+44 20 7946 0958", &[None]).unwrap(),
            "+442079460958"
        );
    }

    #[test]
    fn region_from_field_wins_over_default() {
        let t = e164(Some("US"));
        assert_eq!(
            t.apply("22 33 44 55", &[Some(json!("NO"))]).unwrap(),
            "+4722334455"
        );
        // An unusable region in the field falls back to the default.
        assert_eq!(
            t.apply("415-555-2671", &[Some(json!("Atlantis"))]).unwrap(),
            "+14155552671"
        );
    }

    #[test]
    fn invalid_numbers_fail() {
        let t = e164(Some("US"));
        assert!(t.apply("-5361", &[None]).is_err());
        assert!(t.apply("123", &[None]).is_err());
        let err = t.apply("not a phone", &[None]).unwrap_err();
        assert!(err.contains("\"not a phone\""), "{err}");
        // Without any region only international numbers parse.
        let none = E164 {
            default_region: None,
            region_from: None,
        };
        assert!(none.apply("415-555-2671", &[]).is_err());
        assert_eq!(none.apply("+14155552671", &[]).unwrap(), "+14155552671");
    }

    #[test]
    fn region_codes() {
        assert!(region("us").is_some());
        assert!(region("NO").is_some());
        assert!(region("XX").is_none());
        assert!(region("USA").is_none());
    }
}
