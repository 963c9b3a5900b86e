//! Salesforce datetimes and dates.
//!
//! * Returned values look like `2013-05-20T20:49:32.000+0000` (NOTES §2.4 example, NOTES-next
//!   S11); [`parse_ms`] also accepts `…Z` and `…+00:00`.
//! * SOQL datetime literals are unquoted `YYYY-MM-DDThh:mm:ssZ` (S11); [`soql_datetime`]
//!   writes them, whole seconds, rounded down.
//! * Date fields (`CloseDate`, `ActivityDate`, `ConvertedDate`) are `YYYY-MM-DD` (S5, S8).

use jiff::Timestamp;

/// Parses a Salesforce datetime (`2013-05-20T20:49:32.000+0000`, also `…Z` and `…+00:00`)
/// into UTC epoch ms; `None` for dates and anything else.
pub use handoff_connector::time::parse_ms;

/// Formats UTC epoch ms as Salesforce returns datetimes: `2013-05-20T20:49:32.000+0000`.
pub fn format_ms(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
        Err(_) => "1970-01-01T00:00:00.000+0000".into(),
    }
}

/// A SOQL datetime literal for UTC epoch ms, rounded down to the second:
/// `2005-10-08T01:02:03Z` (unquoted, S11).
pub fn soql_datetime(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    match Timestamp::from_second(secs) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => "1970-01-01T00:00:00Z".into(),
    }
}

/// The UTC date of epoch ms, `YYYY-MM-DD`.
pub fn date(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.strftime("%Y-%m-%d").to_string(),
        Err(_) => "1970-01-01".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_forms_parse_and_format() {
        let ms = 1_369_082_972_000; // 2013-05-20T20:49:32Z
        assert_eq!(parse_ms("2013-05-20T20:49:32.000+0000"), Some(ms));
        assert_eq!(parse_ms("2013-05-20T20:49:32Z"), Some(ms));
        assert_eq!(parse_ms("2013-05-20T22:49:32+02:00"), Some(ms));
        assert_eq!(parse_ms("2013-05-20T21:49:32.000+0100"), Some(ms));
        assert_eq!(parse_ms("2013-05-20"), None);
        assert_eq!(parse_ms("soon"), None);
        assert_eq!(format_ms(ms + 5), "2013-05-20T20:49:32.005+0000");
        assert_eq!(soql_datetime(ms + 999), "2013-05-20T20:49:32Z");
        assert_eq!(date(ms), "2013-05-20");
    }
}
