//! HubSpot datetimes: ISO-8601 UTC strings with milliseconds (`2019-10-30T03:30:17.883Z`) in
//! object properties and `createdAt`/`updatedAt`, epoch-millisecond strings in search filter
//! values (HubSpot CRM search guide: "datetime properties ... in milliseconds").

use jiff::Timestamp;

/// Formats UTC epoch ms as HubSpot does: `YYYY-MM-DDTHH:MM:SS.mmmZ` (always 3 fraction digits).
pub fn format_ms(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => ms.to_string(),
    }
}

/// Parses a HubSpot datetime value into UTC epoch ms: an RFC 3339 / ISO-8601 string with an
/// offset (`2019-10-30T03:30:17.883Z`), or a decimal epoch-ms string (older properties and
/// filter values). `None` for anything else.
pub use handoff_connector::time::parse_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_strings_round_trip_with_milliseconds() {
        assert_eq!(
            parse_ms("2019-10-30T03:30:17.883Z"),
            Some(1_572_406_217_883)
        );
        assert_eq!(format_ms(1_572_406_217_883), "2019-10-30T03:30:17.883Z");
        assert_eq!(format_ms(1_572_406_217_000), "2019-10-30T03:30:17.000Z");
        assert_eq!(parse_ms("1572406217883"), Some(1_572_406_217_883));
        assert_eq!(parse_ms("2019-10-30"), None);
        assert_eq!(parse_ms("soon"), None);
    }
}
