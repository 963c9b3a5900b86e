//! `HubSpotWebhooks`: verifies and parses HubSpot webhook deliveries.
//!
//! **Signature (v3)** — `vendor-specs/NOTES.md` §1.1, HubSpot "Validating requests" docs:
//! `X-HubSpot-Signature-v3 = base64(HMAC-SHA256(key = client secret,
//! msg = method + uri + body + timestamp))`, where `X-HubSpot-Request-Timestamp` is epoch
//! **milliseconds** and `uri` is the full URL HubSpot posted to. Deliveries whose timestamp is
//! more than 5 minutes away from now (old or in the future) are refused. The comparison is
//! constant-time ([`hmac::Mac::verify_slice`]); the body is the raw bytes as received, so a
//! re-serialised body fails.
//!
//! v1 (`hex(SHA-256(secret + body))`) and v2 (`hex(SHA-256(secret + method + uri + body))`) are
//! provided as [`sign_v1`]/[`sign_v2`] for completeness and checked against HubSpot's test
//! vectors, but [`WebhookSource::verify`] accepts only v3: v1/v2 carry no timestamp, so they
//! cannot refuse replays.
//!
//! **Payload** — a JSON array of events (`eventId`, `subscriptionId`, `portalId`, `appId`,
//! `occurredAt` ms, `subscriptionType`, `attemptNumber`, `objectId`, `propertyName`,
//! `propertyValue`, `changeSource`, `changeFlag`). `contact.*`/`company.*`/`deal.*`/`ticket.*`
//! become [`Change`]s on `contacts`/`companies`/`deals`/`tickets`; other subscription types are
//! skipped (logged at debug).

use crate::objects::ObjectType;
use base64::Engine;
use handoff_connector::{
    Change, ChangeKind, ChangeOrigin, ConnectorError, SignatureError, WebhookRequest, WebhookSource,
};
use hmac::{KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Header carrying the v3 signature.
pub const SIGNATURE_V3_HEADER: &str = "x-hubspot-signature-v3";
/// Header carrying the request timestamp (epoch ms) signed by v3.
pub const TIMESTAMP_HEADER: &str = "x-hubspot-request-timestamp";
/// Header carrying the v1/v2 signature.
pub const SIGNATURE_HEADER: &str = "x-hubspot-signature";
/// Header naming the v1/v2 signature version.
pub const SIGNATURE_VERSION_HEADER: &str = "x-hubspot-signature-version";
/// How far a delivery's timestamp may be from now: 5 minutes, in ms.
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

type HmacSha256 = hmac::Hmac<Sha256>;

/// The v3 signature of a request: base64 of HMAC-SHA256 keyed with the app's client secret
/// over `method + uri + body + timestamp_ms` (UTF-8 / raw bytes).
pub fn sign_v3(secret: &str, method: &str, uri: &str, body: &[u8], timestamp_ms: i64) -> String {
    let mac = v3_mac(secret, method, uri, body, &timestamp_ms.to_string());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The v1 signature: lowercase hex of SHA-256 over `secret + body`.
pub fn sign_v1(secret: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(secret.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

/// The v2 signature: lowercase hex of SHA-256 over `secret + method + uri + body`.
pub fn sign_v2(secret: &str, method: &str, uri: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(secret.as_bytes());
    h.update(method.as_bytes());
    h.update(uri.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

fn v3_mac(secret: &str, method: &str, uri: &str, body: &[u8], timestamp: &str) -> HmacSha256 {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    mac
}

/// Verifies and parses HubSpot webhook deliveries for one app.
pub struct HubSpotWebhooks {
    client_secret: SecretString,
}

impl std::fmt::Debug for HubSpotWebhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpotWebhooks")
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// One event of a delivery, as HubSpot sends it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    event_id: serde_json::Value,
    subscription_type: String,
    object_id: serde_json::Value,
    occurred_at: i64,
    #[serde(default)]
    property_name: Option<String>,
}

impl HubSpotWebhooks {
    /// Verifier for the app whose client secret is `client_secret`.
    pub fn new(client_secret: SecretString) -> Self {
        Self { client_secret }
    }
}

fn header<'a>(
    request: &'a WebhookRequest<'_>,
    name: &'static str,
) -> Result<&'a str, SignatureError> {
    request
        .headers
        .get(name)
        .ok_or(SignatureError::MissingHeader(name))?
        .to_str()
        .map_err(|_| SignatureError::MalformedHeader(name))
}

fn id_string(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl WebhookSource for HubSpotWebhooks {
    fn verify(&self, request: &WebhookRequest<'_>, now_ms: i64) -> Result<(), SignatureError> {
        let signature = header(request, SIGNATURE_V3_HEADER)?;
        let timestamp = header(request, TIMESTAMP_HEADER)?;
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::MalformedHeader(TIMESTAMP_HEADER))?;
        let age_ms = now_ms.saturating_sub(ts);
        if age_ms.abs() > MAX_SKEW_MS {
            return Err(SignatureError::Stale {
                age_ms,
                window_ms: MAX_SKEW_MS,
            });
        }
        let tag = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|_| SignatureError::MalformedHeader(SIGNATURE_V3_HEADER))?;
        v3_mac(
            self.client_secret.expose_secret(),
            request.method,
            request.uri,
            request.body,
            timestamp,
        )
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
    }

    fn parse(&self, body: &[u8], received_at_ms: i64) -> Result<Vec<Change>, ConnectorError> {
        let decode = |reason: String| ConnectorError::Decode {
            vendor: crate::client::VENDOR,
            reason,
        };
        let events: Vec<Event> =
            serde_json::from_slice(body).map_err(|e| decode(format!("webhook body: {e}")))?;
        let mut changes = Vec::with_capacity(events.len());
        for event in events {
            let Some(kind) = ObjectType::from_subscription_type(&event.subscription_type) else {
                tracing::debug!(subscription_type = %event.subscription_type, "webhook event type not handled; skipped");
                continue;
            };
            let action = event
                .subscription_type
                .split_once('.')
                .map(|(_, a)| a)
                .unwrap_or("");
            let change_kind = match action {
                "creation" => ChangeKind::Created,
                "deletion" => ChangeKind::Deleted,
                _ => ChangeKind::Updated,
            };
            let object_id = id_string(&event.object_id)
                .ok_or_else(|| decode("webhook event objectId is not an id".into()))?;
            changes.push(Change {
                source: crate::client::VENDOR.to_string(),
                object_type: kind.name().to_string(),
                object_id,
                event_id: id_string(&event.event_id),
                modified_at_ms: event.occurred_at,
                received_at_ms,
                origin: ChangeOrigin::Webhook,
                kind: change_kind,
                changed_property: event.property_name,
                snapshot: None,
            });
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    const BODY: &str = r#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;
    const URI: &str = "https://handoff.example.com/webhooks/hubspot";

    #[test]
    fn v1_and_v2_match_hubspots_published_vectors() {
        assert_eq!(
            sign_v1(SECRET, BODY.as_bytes()),
            "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
        );
        assert_eq!(
            sign_v2(SECRET, "GET", "https://www.example.com/webhook_uri", b""),
            "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
        );
        assert_eq!(
            sign_v2(
                SECRET,
                "POST",
                "https://www.example.com/webhook_uri",
                BODY.as_bytes()
            ),
            "276a2548f0a0181a076d456de09c0e7477ae101ccc16a11600488a77714e9b8d"
        );
    }

    fn headers(sig: &str, ts: i64) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(SIGNATURE_V3_HEADER, sig.parse().unwrap());
        h.insert(TIMESTAMP_HEADER, ts.to_string().parse().unwrap());
        h
    }

    #[test]
    fn v3_accepts_the_signed_bytes_and_nothing_else() {
        let hooks = HubSpotWebhooks::new(SecretString::from(SECRET));
        let now = 1_700_000_000_000;
        let sig = sign_v3(SECRET, "POST", URI, BODY.as_bytes(), now - 1_000);
        let h = headers(&sig, now - 1_000);
        let check = |hooks: &HubSpotWebhooks, body: &[u8], uri: &str| {
            hooks.verify(
                &WebhookRequest {
                    method: "POST",
                    uri,
                    headers: &h,
                    body,
                },
                now,
            )
        };
        assert_eq!(check(&hooks, BODY.as_bytes(), URI), Ok(()));

        // The same JSON, re-serialised with other whitespace, no longer matches.
        let value: serde_json::Value = serde_json::from_str(BODY).unwrap();
        let reserialised = serde_json::to_vec_pretty(&value).unwrap();
        assert_eq!(
            value,
            serde_json::from_slice::<serde_json::Value>(&reserialised).unwrap()
        );
        assert_eq!(
            check(&hooks, &reserialised, URI),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(&hooks, BODY.as_bytes(), "https://handoff.example.com/other"),
            Err(SignatureError::Mismatch)
        );
        let wrong = HubSpotWebhooks::new(SecretString::from("another-secret"));
        assert_eq!(
            check(&wrong, BODY.as_bytes(), URI),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn v3_refuses_stale_future_and_malformed_headers() {
        let hooks = HubSpotWebhooks::new(SecretString::from(SECRET));
        let now = 1_700_000_000_000;
        for ts in [now - MAX_SKEW_MS - 1, now + MAX_SKEW_MS + 1] {
            let h = headers(&sign_v3(SECRET, "POST", URI, BODY.as_bytes(), ts), ts);
            let req = WebhookRequest {
                method: "POST",
                uri: URI,
                headers: &h,
                body: BODY.as_bytes(),
            };
            assert!(matches!(
                hooks.verify(&req, now),
                Err(SignatureError::Stale { .. })
            ));
        }
        let empty = http::HeaderMap::new();
        let req = WebhookRequest {
            method: "POST",
            uri: URI,
            headers: &empty,
            body: BODY.as_bytes(),
        };
        assert_eq!(
            hooks.verify(&req, now),
            Err(SignatureError::MissingHeader(SIGNATURE_V3_HEADER))
        );
        let h = headers("not base64!!", now);
        let req = WebhookRequest {
            method: "POST",
            uri: URI,
            headers: &h,
            body: BODY.as_bytes(),
        };
        assert_eq!(
            hooks.verify(&req, now),
            Err(SignatureError::MalformedHeader(SIGNATURE_V3_HEADER))
        );
    }

    #[test]
    fn events_map_to_changes_and_unknown_types_are_skipped() {
        let hooks = HubSpotWebhooks::new(SecretString::from(SECRET));
        let body = serde_json::json!([
            {"eventId": 10, "subscriptionId": 1, "portalId": 62515, "appId": 54321,
             "occurredAt": 1_564_113_600_000i64, "subscriptionType": "deal.propertyChange",
             "attemptNumber": 0, "objectId": 77, "propertyName": "dealstage",
             "propertyValue": "closedwon", "changeSource": "CRM"},
            {"eventId": 11, "subscriptionId": 2, "portalId": 62515, "appId": 54321,
             "occurredAt": 1_564_113_600_001i64, "subscriptionType": "object.creation",
             "attemptNumber": 0, "objectId": 78},
            {"eventId": 12, "subscriptionId": 3, "portalId": 62515, "appId": 54321,
             "occurredAt": 1_564_113_600_002i64, "subscriptionType": "company.creation",
             "attemptNumber": 1, "objectId": 79, "changeFlag": "NEW"}
        ]);
        let changes = hooks
            .parse(body.to_string().as_bytes(), 42)
            .expect("valid body");
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].object_type, "deals");
        assert_eq!(changes[0].object_id, "77");
        assert_eq!(changes[0].event_id.as_deref(), Some("10"));
        assert_eq!(changes[0].changed_property.as_deref(), Some("dealstage"));
        assert_eq!(changes[0].kind, ChangeKind::Updated);
        assert_eq!(changes[0].origin, ChangeOrigin::Webhook);
        assert_eq!(changes[0].received_at_ms, 42);
        assert!(changes[0].snapshot.is_none());
        assert_eq!(changes[1].object_type, "companies");
        assert_eq!(changes[1].kind, ChangeKind::Created);
        assert_eq!(changes[1].modified_at_ms, 1_564_113_600_002);

        assert!(matches!(
            hooks.parse(b"{not json", 0),
            Err(ConnectorError::Decode { .. })
        ));
    }
}
