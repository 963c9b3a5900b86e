//! The token endpoint requests: the two OAuth 2.0 flows handoff uses with Salesforce.
//!
//! * **JWT bearer flow** (NOTES-next S1): an RS256 JWT `{iss: client_id, sub: username, aud,
//!   exp}` with `exp` [`JWT_LIFETIME_S`] ahead (Salesforce wants it within 3 minutes, S1,
//!   unverified), POSTed form-encoded to `{login_url}/services/oauth2/token` as
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…` (Postman
//!   `auth/jwt_bearer_token_flow.json`). The oauth2 crate has no JWT-bearer grant, so this
//!   request is sent with the same redirect-less reqwest client and its answer read with the
//!   oauth2 crate's response types.
//! * **Refresh-token flow** (NOTES §2.7, Postman `auth/refresh_token.json`): the oauth2 crate's
//!   refresh exchange, client credentials in the body (`client_id`, optional `client_secret`).
//!
//! Errors: an OAuth error body (`{"error":"invalid_grant","error_description":…}`, RFC 6749
//! style, §2.6 / S1) is [`ConnectorError::Auth`] with the error and its description, never the
//! assertion or a token; 5xx and network failures are [`ConnectorError::Transient`]; a body
//! that cannot be read is [`ConnectorError::Decode`] (naming the JSON path, never quoting the
//! body).

use crate::error::{config, decode, VENDOR};
use handoff_connector::{now_ms, ConnectorError};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AsyncHttpClient, AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet,
    ExtraTokenFields, HttpClientError, HttpRequest, RefreshToken, RequestTokenError,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU16, Ordering};

/// Seconds between a JWT assertion's creation and its `exp` (Salesforce: at most 3 minutes).
pub const JWT_LIFETIME_S: u64 = 150;

/// The grant type of the JWT bearer flow (S1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The token endpoint's path under the login URL.
pub const TOKEN_PATH: &str = "services/oauth2/token";

/// The fields Salesforce adds to a token response (§2.7, S1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesforceTokenFields {
    /// The API base URL for this org (`https://xxxx.my.salesforce.com`).
    pub instance_url: String,
    /// The identity URL `https://login.salesforce.com/id/<orgId>/<userId>`.
    pub id: String,
    /// Epoch ms as a string (refresh flow; absent from the S1 JWT list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    /// Base64 HMAC-SHA256 of `id + issued_at` keyed with the consumer secret (not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl ExtraTokenFields for SalesforceTokenFields {}

/// A Salesforce token response, read with the oauth2 crate's types.
pub type SalesforceTokenResponse = StandardTokenResponse<SalesforceTokenFields, BasicTokenType>;

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    SalesforceTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The credentials of one flow. `Debug` prints no secret.
pub enum Grant {
    /// JWT bearer flow (S1).
    Jwt {
        /// Consumer key (`iss`).
        client_id: SecretString,
        /// Integration user's username (`sub`).
        username: String,
        /// The RS256 signing key.
        key: jsonwebtoken::EncodingKey,
        /// `aud`.
        audience: String,
    },
    /// Refresh-token flow (§2.7).
    RefreshToken {
        /// Consumer key.
        client_id: SecretString,
        /// Consumer secret, when the app requires one.
        client_secret: Option<SecretString>,
        /// The integration user's refresh token.
        refresh_token: SecretString,
    },
}

impl Grant {
    /// Asks the token endpoint at `token_url` for a token with this grant.
    ///
    /// Errors: see the module docs.
    pub async fn request(
        &self,
        http: &reqwest::Client,
        token_url: &url::Url,
    ) -> Result<SalesforceTokenResponse, ConnectorError> {
        match self {
            Grant::Jwt {
                client_id,
                username,
                key,
                audience,
            } => {
                Self::jwt_bearer(
                    http,
                    token_url,
                    client_id.expose_secret(),
                    username,
                    key,
                    audience,
                )
                .await
            }
            Grant::RefreshToken {
                client_id,
                client_secret,
                refresh_token,
            } => {
                Self::refresh_flow(
                    http,
                    token_url,
                    client_id.clone(),
                    client_secret.clone(),
                    refresh_token.clone(),
                )
                .await
            }
        }
    }

    async fn jwt_bearer(
        http: &reqwest::Client,
        token_url: &url::Url,
        client_id: &str,
        username: &str,
        key: &jsonwebtoken::EncodingKey,
        audience: &str,
    ) -> Result<SalesforceTokenResponse, ConnectorError> {
        let claims = Claims {
            iss: client_id,
            sub: username,
            aud: audience,
            exp: (now_ms() / 1000).max(0) as u64 + JWT_LIFETIME_S,
        };
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        let assertion = SecretString::from(
            jsonwebtoken::encode(&header, &claims, key)
                .map_err(|e| config(format!("crm.auth.jwt.private_key: cannot sign: {e}")))?,
        );
        let response = http
            .post(token_url.clone())
            .form(&[
                ("grant_type", JWT_BEARER_GRANT),
                ("assertion", assertion.expose_secret()),
            ])
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|e| decode(format!("token response: {e}")));
        }
        Err(oauth_error(status.as_u16(), &body))
    }

    async fn refresh_flow(
        http: &reqwest::Client,
        token_url: &url::Url,
        client_id: SecretString,
        client_secret: Option<SecretString>,
        refresh_token: SecretString,
    ) -> Result<SalesforceTokenResponse, ConnectorError> {
        let token_url = TokenUrl::from_url(token_url.clone());
        let mut client: OAuthClient =
            oauth2::Client::new(ClientId::new(client_id.expose_secret().to_string()))
                .set_token_uri(token_url)
                .set_auth_type(AuthType::RequestBody);
        if let Some(secret) = client_secret {
            client =
                client.set_client_secret(ClientSecret::new(secret.expose_secret().to_string()));
        }
        // The reqwest client, remembering the answer's status (to class unreadable bodies).
        let status = std::sync::Arc::new(AtomicU16::new(0));
        let (client_http, seen) = (http.clone(), status.clone());
        let http = move |request: HttpRequest| {
            let (client_http, seen) = (client_http.clone(), seen.clone());
            async move {
                let response = client_http.call(request).await?;
                seen.store(response.status().as_u16(), Ordering::SeqCst);
                Ok::<_, HttpClientError<reqwest::Error>>(response)
            }
        };
        let refresh = RefreshToken::new(refresh_token.expose_secret().to_string());
        let result = client
            .exchange_refresh_token(&refresh)
            .request_async(&http)
            .await;
        let status = status.load(Ordering::SeqCst);
        result.map_err(|e| match e {
            RequestTokenError::ServerResponse(err) => ConnectorError::Auth {
                vendor: VENDOR,
                status: if status == 0 { 400 } else { status },
                message: describe_oauth(
                    err.error().as_ref(),
                    err.error_description().map(String::as_str),
                ),
            },
            RequestTokenError::Request(e) => ConnectorError::Transient {
                vendor: VENDOR,
                reason: format!("token request: {e}"),
            },
            _ if status >= 500 => ConnectorError::Transient {
                vendor: VENDOR,
                reason: format!("token endpoint answered HTTP {status}"),
            },
            // The body is never quoted: it may hold a token.
            RequestTokenError::Parse(e, _) => decode(format!(
                "token response (HTTP {status}) at {}: {}",
                e.path(),
                e.inner()
            )),
            RequestTokenError::Other(reason) => ConnectorError::Auth {
                vendor: VENDOR,
                status,
                message: format!("token endpoint: {reason}"),
            },
        })
    }

    /// The JWT grant with `private_key_pem` (PKCS#1 or PKCS#8 PEM).
    ///
    /// Errors: [`ConnectorError::Config`] naming `crm.auth.jwt.private_key` when the PEM is not
    /// an RSA private key (the key itself never appears).
    pub fn jwt(
        client_id: SecretString,
        username: impl Into<String>,
        private_key_pem: &SecretString,
        audience: impl Into<String>,
    ) -> Result<Self, ConnectorError> {
        let key =
            jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.expose_secret().as_bytes())
                .map_err(|_| {
                    config(
                "crm.auth.jwt.private_key: not an RSA private key in PEM form (PKCS#1 or PKCS#8)",
            )
                })?;
        Ok(Grant::Jwt {
            client_id,
            username: username.into(),
            key,
            audience: audience.into(),
        })
    }
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Grant::Jwt {
                username, audience, ..
            } => f
                .debug_struct("Jwt")
                .field("username", username)
                .field("audience", audience)
                .finish_non_exhaustive(),
            Grant::RefreshToken { .. } => f.debug_struct("RefreshToken").finish_non_exhaustive(),
        }
    }
}

/// The JWT claims handoff sends (S1).
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
}

fn transport(e: reqwest::Error) -> ConnectorError {
    ConnectorError::Transient {
        vendor: VENDOR,
        reason: format!("token request: {e}"),
    }
}

fn describe_oauth(error: &str, description: Option<&str>) -> String {
    match description {
        Some(d) => format!("token endpoint: {error}: {d}"),
        None => format!("token endpoint: {error}"),
    }
}

/// Classes a non-2xx token answer: an RFC 6749 error body is [`ConnectorError::Auth`]; 5xx is
/// [`ConnectorError::Transient`].
fn oauth_error(status: u16, body: &[u8]) -> ConnectorError {
    if status >= 500 {
        return ConnectorError::Transient {
            vendor: VENDOR,
            reason: format!("token endpoint answered HTTP {status}"),
        };
    }
    let message = match serde_json::from_slice::<BasicErrorResponse>(body) {
        Ok(err) => describe_oauth(
            err.error().as_ref(),
            err.error_description().map(String::as_str),
        ),
        Err(_) => format!("token endpoint answered HTTP {status} without an OAuth error body"),
    };
    ConnectorError::Auth {
        vendor: VENDOR,
        status,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_errors_name_the_error_never_the_body_rest() {
        let e = oauth_error(
            400,
            br#"{"error":"invalid_grant","error_description":"user hasn't approved this consumer"}"#,
        );
        assert!(matches!(e, ConnectorError::Auth { status: 400, .. }));
        let text = e.to_string();
        assert!(
            text.contains("invalid_grant") && text.contains("approved"),
            "{text}"
        );
        let other = oauth_error(400, br#"{"error":"invalid_app_access"}"#);
        assert!(other.to_string().contains("invalid_app_access"));
        assert!(matches!(
            oauth_error(503, b""),
            ConnectorError::Transient { .. }
        ));
    }

    #[test]
    fn a_bad_key_is_a_config_error_naming_the_field() {
        let err = Grant::jwt(
            SecretString::from("id"),
            "u",
            &SecretString::from("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"),
            "https://login.salesforce.com",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("crm.auth.jwt.private_key") && !err.contains("nope"),
            "{err}"
        );
    }
}
