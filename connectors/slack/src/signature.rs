//! Slack request signing (`X-Slack-Signature`, `X-Slack-Request-Timestamp`).
//!
//! Follows <https://api.slack.com/docs/verifying-requests-from-slack> (vendor-specs NOTES.md
//! §3.1): base string `v0:<timestamp>:<raw body>`, signature `"v0=" + hex(HMAC-SHA256(signing
//! secret, base string))`, timestamp in epoch **seconds**, refused when more than 5 minutes from
//! now, compared in constant time. The body is the raw bytes as received: a re-serialised or
//! re-encoded body does not verify.
//!
//! The emulator signs its interactivity deliveries with [`sign`]; handoff's interactivity
//! endpoint checks them with [`verify`].

use handoff_connector::SignatureError;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// Header carrying `v0=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Slack-Signature";
/// Header carrying the request's epoch seconds (UTC).
pub const TIMESTAMP_HEADER: &str = "X-Slack-Request-Timestamp";
/// Slack's replay window: 5 minutes, in seconds.
pub const DEFAULT_WINDOW_S: i64 = 5 * 60;

const VERSION: &str = "v0";

fn mac(secret: &SecretString, timestamp_s: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(VERSION.as_bytes());
    mac.update(b":");
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

/// The `X-Slack-Signature` value for `body` sent at `timestamp_s` (epoch seconds):
/// `"v0=" + lowercase hex HMAC-SHA256 over "v0:{timestamp_s}:{body}"`.
pub fn sign(secret: &SecretString, timestamp_s: i64, body: &[u8]) -> String {
    format!(
        "{VERSION}={}",
        hex::encode(mac(secret, timestamp_s, body).finalize().into_bytes())
    )
}

/// Verifies a request from Slack with the default 5-minute window. See [`verify_with_window`].
pub fn verify(
    secret: &SecretString,
    headers: &http::HeaderMap,
    body: &[u8],
    now_s: i64,
) -> Result<(), SignatureError> {
    verify_with_window(secret, headers, body, now_s, DEFAULT_WINDOW_S)
}

/// Verifies `X-Slack-Signature` over the raw `body` and that `X-Slack-Request-Timestamp` is
/// within `window_s` seconds of `now_s` (both epoch seconds, UTC).
///
/// Errors: [`SignatureError::MissingHeader`] / [`SignatureError::MalformedHeader`] for an
/// absent or unreadable header (the signature must be `v0=` + 64 hex digits),
/// [`SignatureError::Stale`] outside the window (checked first, so replays are refused without
/// computing a MAC), [`SignatureError::Mismatch`] when the MAC differs (constant-time compare).
pub fn verify_with_window(
    secret: &SecretString,
    headers: &http::HeaderMap,
    body: &[u8],
    now_s: i64,
    window_s: i64,
) -> Result<(), SignatureError> {
    let timestamp = header(headers, TIMESTAMP_HEADER)?;
    let signature = header(headers, SIGNATURE_HEADER)?;
    let timestamp_s: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::MalformedHeader(TIMESTAMP_HEADER))?;
    let age_s = now_s.saturating_sub(timestamp_s);
    if age_s.saturating_abs() > window_s {
        return Err(SignatureError::Stale {
            age_ms: age_s.saturating_mul(1000),
            window_ms: window_s.saturating_mul(1000),
        });
    }
    let tag = signature
        .trim()
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .filter(|t| t.len() == 32)
        .ok_or(SignatureError::MalformedHeader(SIGNATURE_HEADER))?;
    mac(secret, timestamp_s, body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

fn header<'h>(headers: &'h http::HeaderMap, name: &'static str) -> Result<&'h str, SignatureError> {
    headers
        .get(name)
        .ok_or(SignatureError::MissingHeader(name))?
        .to_str()
        .map_err(|_| SignatureError::MalformedHeader(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Official vector from https://api.slack.com/docs/verifying-requests-from-slack
    // (vendor-specs NOTES.md §3.1).
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: i64 = 1531420618;
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const EXPECTED: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn secret() -> SecretString {
        SecretString::from(SECRET)
    }

    fn headers(sig: &str, ts: i64) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        h.insert(TIMESTAMP_HEADER, ts.to_string().parse().unwrap());
        h
    }

    #[test]
    fn official_vector_signs_and_verifies() {
        assert_eq!(sign(&secret(), TS, BODY.as_bytes()), EXPECTED);
        assert_eq!(
            verify(&secret(), &headers(EXPECTED, TS), BODY.as_bytes(), TS + 10),
            Ok(())
        );
    }

    #[test]
    fn forged_signature_is_a_mismatch() {
        let forged = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b504";
        assert_eq!(
            verify(&secret(), &headers(forged, TS), BODY.as_bytes(), TS),
            Err(SignatureError::Mismatch)
        );
        let other_secret = SecretString::from("not-the-signing-secret");
        assert_eq!(
            verify(&other_secret, &headers(EXPECTED, TS), BODY.as_bytes(), TS),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let err = verify(&secret(), &headers(EXPECTED, TS), BODY.as_bytes(), TS + 301);
        assert_eq!(
            err,
            Err(SignatureError::Stale {
                age_ms: 301_000,
                window_ms: 300_000
            })
        );
        assert!(matches!(
            verify(&secret(), &headers(EXPECTED, TS), BODY.as_bytes(), TS - 301),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(
            verify(&secret(), &headers(EXPECTED, TS), BODY.as_bytes(), TS + 300),
            Ok(())
        );
    }

    #[test]
    fn reserialised_body_does_not_verify() {
        // Same fields, decoded and re-encoded differently (`/` left unescaped).
        let reencoded = BODY.replace("%2F", "/");
        assert_eq!(
            verify(&secret(), &headers(EXPECTED, TS), reencoded.as_bytes(), TS),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_named() {
        let mut h = headers(EXPECTED, TS);
        h.remove(SIGNATURE_HEADER);
        assert_eq!(
            verify(&secret(), &h, BODY.as_bytes(), TS),
            Err(SignatureError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(&secret(), &headers("v1=abc", TS), BODY.as_bytes(), TS),
            Err(SignatureError::MalformedHeader(SIGNATURE_HEADER))
        );
        let mut h = headers(EXPECTED, TS);
        h.insert(TIMESTAMP_HEADER, "yesterday".parse().unwrap());
        assert_eq!(
            verify(&secret(), &h, BODY.as_bytes(), TS),
            Err(SignatureError::MalformedHeader(TIMESTAMP_HEADER))
        );
    }
}
