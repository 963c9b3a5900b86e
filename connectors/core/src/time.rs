//! CRM timestamps as UTC epoch ms, whatever form a vendor writes them in.

/// Parses a CRM timestamp into UTC epoch ms: RFC 3339 / ISO 8601 with an offset
/// (`2019-10-30T03:30:17.883Z`, HubSpot; `+02:00`), the colon-less offset Salesforce returns
/// (`2013-05-20T20:49:32.000+0000`, NOTES §2.4), or a decimal epoch-ms string (HubSpot's older
/// properties and search filter values). `None` for anything else, dates without a time
/// included.
pub fn parse_ms(value: &str) -> Option<i64> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if let Ok(ms) = v.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", v)
        .ok()?
        .to_timestamp()
        .ok()
        .map(|t| t.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::parse_ms;

    #[test]
    fn every_vendor_form_parses_to_the_same_instant() {
        let ms = 1_700_000_000_000;
        assert_eq!(parse_ms("1700000000000"), Some(ms));
        assert_eq!(parse_ms("2023-11-14T22:13:20.000Z"), Some(ms));
        assert_eq!(parse_ms("2023-11-14T22:13:20Z"), Some(ms));
        assert_eq!(parse_ms("2023-11-14T22:13:20.000+0000"), Some(ms));
        assert_eq!(parse_ms("2023-11-14T23:13:20.000+0100"), Some(ms));
        assert_eq!(parse_ms("2023-11-15T00:13:20+02:00"), Some(ms));
        assert_eq!(parse_ms("2023-11-14"), None);
        assert_eq!(parse_ms("yesterday"), None);
        assert_eq!(parse_ms(" "), None);
    }
}
