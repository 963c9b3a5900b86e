//! The emulated token endpoint `POST /services/oauth2/token` and the sessions it issues.
//!
//! * **JWT bearer** (S1): `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`.
//!   The assertion must be RS256, signed by the configured public key, `iss` = the configured
//!   client id, `aud` one of the configured audiences, `exp` in the future and at most 3
//!   minutes ahead (S1, unverified; checked against the system clock, never the pinned one),
//!   and `sub` (or `prn`, which wins, S1) the username of an active user.
//!   Answer (S1): `{access_token, scope, instance_url, id, token_type: "Bearer"}`.
//! * **Refresh token** (§2.7): `grant_type=refresh_token`, `client_id`, `client_secret` (when
//!   the emulator has one; body or HTTP Basic), `refresh_token`. Answer (§2.7): adds
//!   `issued_at` (epoch ms string) and `signature` (base64 HMAC-SHA256 of `id + issued_at`
//!   keyed with the client secret, §2.7 unverified).
//! * Errors (§2.6, S1): 400 `{"error","error_description"}` — `invalid_grant` (bad assertion,
//!   unknown user: "user hasn't approved this consumer", S1; a wrong refresh token: "expired
//!   access/refresh token", §2.6), `invalid_client` (client id or secret),
//!   `unsupported_grant_type` (RFC 6749).
//!
//! `instance_url` is the emulator's own base URL (from `start`, else the first token request's
//! `Host`); `id` is `<base>/id/<orgId>/<userId>`.
//! Sessions end with [`super::SalesforceEmulator::expire_sessions`] or after
//! `EmulatorConfig::session_ttl_ms`.

use super::errors::OAuthError;
use super::SalesforceEmulator;
use crate::token::JWT_BEARER_GRANT;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use hmac::{KeyInit, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::atomic::Ordering;

/// Slack allowed on `exp` beyond the 3 minutes, seconds (rounding of the caller's clock).
const EXP_SLACK_S: u64 = 5;

/// An issued access token.
#[derive(Clone, Debug)]
pub struct Session {
    /// The user the token was issued to.
    pub user_id: String,
    /// When it stops working (UTC epoch ms, system clock), if ever.
    pub expires_ms: Option<i64>,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    prn: Option<String>,
    exp: u64,
}

fn form(body: &[u8]) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// `(client_id, client_secret)` from HTTP Basic, if sent.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// The token endpoint.
pub async fn token(
    State(emu): State<SalesforceEmulator>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    emu.inner.token_requests.fetch_add(1, Ordering::SeqCst);
    emu.learn_host(&headers);
    let params = form(&body);
    let result = match params.get("grant_type").map(String::as_str) {
        Some(JWT_BEARER_GRANT) => jwt_bearer(&emu, &params),
        Some("refresh_token") => refresh(&emu, &headers, &params),
        _ => Err(OAuthError {
            error: "unsupported_grant_type",
            description: "grant type not supported".into(),
        }),
    };
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

fn jwt_bearer(
    emu: &SalesforceEmulator,
    params: &std::collections::HashMap<String, String>,
) -> Result<Value, OAuthError> {
    let config = &emu.inner.config;
    let assertion = params
        .get("assertion")
        .ok_or_else(|| OAuthError::invalid_grant("missing assertion"))?;
    let key =
        emu.inner.jwt_key.as_ref().ok_or_else(|| {
            OAuthError::invalid_grant("no certificate is configured for this app")
        })?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.leeway = 0;
    validation.set_issuer(&[config.client_id.as_str()]);
    let mut audiences = config.audiences.clone();
    if let Some(base) = emu.base_url() {
        audiences.push(base.as_str().trim_end_matches('/').to_string());
    }
    validation.set_audience(&audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Claims>(assertion, key, &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind::*;
            OAuthError::invalid_grant(match e.kind() {
                InvalidSignature | InvalidAlgorithm | InvalidKeyFormat => {
                    "invalid assertion: bad signature"
                }
                ExpiredSignature => "invalid assertion: expired",
                InvalidIssuer => "invalid assertion: unknown client_id (iss)",
                InvalidAudience => "invalid assertion: audience is invalid",
                _ => "invalid assertion",
            })
        })?
        .claims;
    let now_s = (handoff_connector::now_ms() / 1000).max(0) as u64;
    if claims.exp > now_s + 180 + EXP_SLACK_S {
        return Err(OAuthError::invalid_grant(
            "invalid assertion: exp is more than 3 minutes ahead",
        ));
    }
    let username = claims
        .prn
        .or(claims.sub)
        .ok_or_else(|| OAuthError::invalid_grant("invalid assertion: no sub"))?;
    let user = emu
        .user_by_username(&username)
        .ok_or_else(|| OAuthError::invalid_grant("user hasn't approved this consumer"))?;
    let (token, id) = emu.issue(&user);
    Ok(json!({
        "access_token": token,
        "scope": "api",
        "instance_url": emu.instance_url(),
        "id": id,
        "token_type": "Bearer",
    }))
}

fn refresh(
    emu: &SalesforceEmulator,
    headers: &HeaderMap,
    params: &std::collections::HashMap<String, String>,
) -> Result<Value, OAuthError> {
    let config = &emu.inner.config;
    let (client_id, client_secret) = match basic(headers) {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            params.get("client_id").cloned(),
            params.get("client_secret").cloned(),
        ),
    };
    let bad_client = || OAuthError {
        error: "invalid_client",
        description: "invalid client credentials".into(),
    };
    if client_id.as_deref() != Some(config.client_id.as_str()) {
        return Err(bad_client());
    }
    if let Some(expected) = &config.client_secret {
        if client_secret.as_deref() != Some(expected.as_str()) {
            return Err(bad_client());
        }
    }
    if params.get("refresh_token") != Some(&config.refresh_token) {
        return Err(OAuthError::invalid_grant("expired access/refresh token"));
    }
    let user = emu.integration_user_id();
    let (token, id) = emu.issue(&user);
    let issued_at = handoff_connector::now_ms().to_string();
    let mut body = json!({
        "access_token": token,
        "scope": "refresh_token api id",
        "instance_url": emu.instance_url(),
        "id": id,
        "token_type": "Bearer",
        "issued_at": issued_at,
    });
    if let Some(secret) = &config.client_secret {
        if let Ok(mut mac) = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
            mac.update(format!("{id}{issued_at}").as_bytes());
            let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
            body["signature"] = json!(sig);
        }
    }
    Ok(body)
}

/// A new opaque access token in the documented shape `<orgId>!<random>` (§2.7 example).
pub fn new_token(org_id: &str, n: u64) -> String {
    let mut h = Sha256::new();
    h.update(org_id.as_bytes());
    h.update(n.to_le_bytes());
    h.update(handoff_connector::now_ms().to_le_bytes());
    h.update(format!("{:?}", std::time::Instant::now()).as_bytes());
    let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("{}!AQ{}", &org_id[..15.min(org_id.len())], &digest[..48])
}
