//! Asana webhooks: the `X-Hook-Secret` handshake and `X-Hook-Signature` verification (NOTES
//! §4.1; `asana_oas.yaml` `POST /webhooks`; developers.asana.com webhooks guide).
//!
//! * **Handshake**: while `POST /webhooks` runs, Asana POSTs to the target with an
//!   `X-Hook-Secret` header; the receiver stores the secret and answers `200`/`204` echoing the
//!   same header ([`handshake_secret`], [`handshake_response_headers`]).
//! * **Deliveries**: `X-Hook-Signature` is the lowercase hex HMAC-SHA256 of the **raw** body
//!   keyed with that secret ([`sign`], [`verify_signature`]; compared in constant time). Asana
//!   sends no timestamp, so there is no replay window. Bodies are `{"events": [EventResponse]}`,
//!   empty for the 8-hourly heartbeat ([`AsanaWebhook::parse`]).

use handoff_connector::{
    Change, ChangeKind, ChangeOrigin, ConnectorError, SignatureError, WebhookRequest, WebhookSource,
};
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

/// Header carrying the shared secret during the handshake (request and echoed response).
pub const HOOK_SECRET_HEADER: &str = "x-hook-secret";
/// Header carrying the body's HMAC-SHA256 on every delivery.
pub const HOOK_SIGNATURE_HEADER: &str = "x-hook-signature";

/// The secret of a handshake request, `None` when the request is not a handshake (no
/// `X-Hook-Secret`). Errors with [`SignatureError::MalformedHeader`] on an empty or non-ASCII
/// value.
pub fn handshake_secret(headers: &HeaderMap) -> Result<Option<SecretString>, SignatureError> {
    let Some(value) = headers.get(HOOK_SECRET_HEADER) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(SignatureError::MalformedHeader("X-Hook-Secret"))?;
    Ok(Some(SecretString::from(text)))
}

/// The headers of the handshake answer (send with `200 OK` or `204 No Content`): the same
/// `X-Hook-Secret`, marked sensitive so HTTP tracing layers do not print it.
pub fn handshake_response_headers(secret: &SecretString) -> Result<HeaderMap, SignatureError> {
    let mut value = HeaderValue::from_str(secret.expose_secret())
        .map_err(|_| SignatureError::MalformedHeader("X-Hook-Secret"))?;
    value.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(HOOK_SECRET_HEADER, value);
    Ok(headers)
}

/// `X-Hook-Signature` for `body`: lowercase hex HMAC-SHA256 keyed with `secret`. Used by the
/// emulator and tests; handoff itself only verifies.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks `X-Hook-Signature` against the raw `body` in constant time
/// ([`hmac::Mac::verify_slice`]). Errors: [`SignatureError::MissingHeader`],
/// [`SignatureError::MalformedHeader`] (not hex of 32 bytes), [`SignatureError::Mismatch`].
pub fn verify_signature(
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = headers
        .get(HOOK_SIGNATURE_HEADER)
        .ok_or(SignatureError::MissingHeader("X-Hook-Signature"))?;
    let given = header
        .to_str()
        .ok()
        .and_then(|s| hex::decode(s.trim()).ok())
        .filter(|bytes| bytes.len() == 32)
        .ok_or(SignatureError::MalformedHeader("X-Hook-Signature"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

/// One webhook subscription: the secret its handshake delivered.
pub struct AsanaWebhook {
    secret: SecretString,
}

impl std::fmt::Debug for AsanaWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsanaWebhook")
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl AsanaWebhook {
    /// A receiver for deliveries signed with `secret` (the handshake's `X-Hook-Secret`).
    pub fn new(secret: SecretString) -> Self {
        Self { secret }
    }
}

#[derive(Deserialize)]
struct Delivery {
    #[serde(default)]
    events: Vec<Event>,
}

/// The `EventResponse` fields a change needs.
#[derive(Deserialize)]
struct Event {
    resource: Resource,
    action: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    change: Option<EventChange>,
}

#[derive(Deserialize)]
struct Resource {
    gid: String,
    resource_type: String,
}

#[derive(Deserialize)]
struct EventChange {
    #[serde(default)]
    field: Option<String>,
}

impl WebhookSource for AsanaWebhook {
    /// Verifies `X-Hook-Signature`; `now_ms` is unused (Asana signs no timestamp).
    fn verify(&self, request: &WebhookRequest<'_>, _now_ms: i64) -> Result<(), SignatureError> {
        verify_signature(
            self.secret.expose_secret().as_bytes(),
            request.headers,
            request.body,
        )
    }

    /// One [`Change`] per event: `object_type` is the plural `resource_type` (`tasks`,
    /// `projects`, `stories`), `kind` from `action` (`added`/`undeleted` → created, `deleted` →
    /// deleted, `changed`/`removed` → updated), `modified_at_ms` from `created_at` (UTC), the
    /// changed property from `change.field`. A heartbeat (no events) gives no changes.
    fn parse(&self, body: &[u8], received_at_ms: i64) -> Result<Vec<Change>, ConnectorError> {
        let decode = |reason: String| ConnectorError::Decode {
            vendor: crate::VENDOR,
            reason,
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        let delivery: Delivery =
            serde_json::from_slice(body).map_err(|e| decode(format!("webhook body: {e}")))?;
        delivery
            .events
            .into_iter()
            .map(|event| {
                let kind = match event.action.as_str() {
                    "added" | "undeleted" => ChangeKind::Created,
                    "deleted" => ChangeKind::Deleted,
                    _ => ChangeKind::Updated,
                };
                let modified_at_ms = match &event.created_at {
                    Some(at) => at
                        .parse::<jiff::Timestamp>()
                        .map_err(|e| decode(format!("event created_at {at}: {e}")))?
                        .as_millisecond(),
                    None => received_at_ms,
                };
                Ok(Change {
                    source: crate::VENDOR.to_string(),
                    object_type: plural(&event.resource.resource_type),
                    object_id: event.resource.gid,
                    event_id: None,
                    modified_at_ms,
                    received_at_ms,
                    origin: ChangeOrigin::Webhook,
                    kind,
                    changed_property: event.change.and_then(|c| c.field),
                    snapshot: None,
                })
            })
            .collect()
    }
}

fn plural(resource_type: &str) -> String {
    match resource_type.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{resource_type}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_echoes_the_secret() {
        let mut headers = HeaderMap::new();
        assert!(handshake_secret(&headers).unwrap().is_none());
        headers.insert(HOOK_SECRET_HEADER, HeaderValue::from_static("b537207f"));
        let secret = handshake_secret(&headers).unwrap().unwrap();
        let answer = handshake_response_headers(&secret).unwrap();
        assert_eq!(answer.get("X-Hook-Secret").unwrap(), "b537207f");
        assert!(answer.get("X-Hook-Secret").unwrap().is_sensitive());
    }

    #[test]
    fn events_become_changes() {
        let hook = AsanaWebhook::new(SecretString::from("hook-secret-xyz"));
        let body = br#"{"events":[{"user":{"gid":"1","resource_type":"user"},
            "created_at":"2024-01-02T03:04:05.678Z","action":"changed","parent":null,
            "resource":{"gid":"42","resource_type":"task","name":"Kickoff"},
            "change":{"field":"assignee","action":"changed","new_value":{"gid":"9","resource_type":"user"}}},
            {"created_at":"2024-01-02T03:04:06.000Z","action":"added",
            "resource":{"gid":"43","resource_type":"story"},"parent":{"gid":"42","resource_type":"task"}}]}"#;
        let changes = hook.parse(body, 7).unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].record_key(), "asana:tasks:42");
        assert_eq!(changes[0].kind, ChangeKind::Updated);
        assert_eq!(changes[0].changed_property.as_deref(), Some("assignee"));
        assert_eq!(changes[0].modified_at_ms, 1_704_164_645_678);
        assert_eq!(changes[1].object_type, "stories");
        assert_eq!(changes[1].kind, ChangeKind::Created);
        assert!(hook.parse(b"", 7).unwrap().is_empty());
        assert!(hook.parse(br#"{"events":[]}"#, 7).unwrap().is_empty());
        assert!(hook.parse(b"{not json", 7).is_err());
        assert!(!format!("{hook:?}").contains("hook-secret-xyz"));
    }
}
