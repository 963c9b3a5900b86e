//! `X-Hook-Signature` verification over the raw body, and the `X-Hook-Secret` handshake.

use handoff_asana::webhook::{handshake_response_headers, handshake_secret, sign};
use handoff_asana::AsanaWebhook;
use handoff_connector::{SignatureError, WebhookRequest, WebhookSource};
use http::{HeaderMap, HeaderValue};
use secrecy::SecretString;

const SECRET: &str = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81";
const BODY: &[u8] = br#"{"events": [{"action": "changed", "created_at": "2024-05-01T10:00:00.000Z",
  "resource": {"gid": "1201", "resource_type": "project", "name": "Onboarding: Acme (deal 123)"},
  "change": {"field": "notes", "action": "changed"}}]}"#;

fn headers_with(signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "X-Hook-Signature",
        HeaderValue::from_str(signature).unwrap(),
    );
    h
}

fn verify(hook: &AsanaWebhook, headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
    let request = WebhookRequest {
        method: "POST",
        uri: "https://handoff.example.com/webhooks/asana",
        headers,
        body,
    };
    hook.verify(&request, 0)
}

#[test]
fn good_signature_verifies_and_parses() {
    let hook = AsanaWebhook::new(SecretString::from(SECRET));
    let signature = sign(SECRET.as_bytes(), BODY);
    assert_eq!(signature.len(), 64);
    assert_eq!(signature, signature.to_lowercase());
    assert_eq!(verify(&hook, &headers_with(&signature), BODY), Ok(()));
    let changes = hook.parse(BODY, 1).unwrap();
    assert_eq!(changes[0].record_key(), "asana:projects:1201");
    assert_eq!(changes[0].changed_property.as_deref(), Some("notes"));
}

#[test]
fn forged_signature_is_refused() {
    let hook = AsanaWebhook::new(SecretString::from(SECRET));
    let forged = sign(b"someone else's secret", BODY);
    assert_eq!(
        verify(&hook, &headers_with(&forged), BODY),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify(&hook, &HeaderMap::new(), BODY),
        Err(SignatureError::MissingHeader("X-Hook-Signature"))
    );
    assert_eq!(
        verify(&hook, &headers_with("not-hex"), BODY),
        Err(SignatureError::MalformedHeader("X-Hook-Signature"))
    );
}

#[test]
fn reserialised_body_does_not_verify() {
    let hook = AsanaWebhook::new(SecretString::from(SECRET));
    let signature = sign(SECRET.as_bytes(), BODY);
    let value: serde_json::Value = serde_json::from_slice(BODY).unwrap();
    let reserialised = serde_json::to_vec(&value).unwrap();
    assert_ne!(reserialised, BODY);
    assert_eq!(
        verify(&hook, &headers_with(&signature), &reserialised),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn handshake_secret_is_echoed_and_then_signs_deliveries() {
    let mut incoming = HeaderMap::new();
    incoming.insert("X-Hook-Secret", HeaderValue::from_static(SECRET));
    let secret = handshake_secret(&incoming).unwrap().expect("a handshake");
    let answer = handshake_response_headers(&secret).unwrap();
    assert_eq!(answer["x-hook-secret"], SECRET);

    let hook = AsanaWebhook::new(secret);
    let signature = sign(SECRET.as_bytes(), b"");
    assert_eq!(verify(&hook, &headers_with(&signature), b""), Ok(()));
    assert!(
        hook.parse(b"", 0).unwrap().is_empty(),
        "heartbeat has no changes"
    );
}
