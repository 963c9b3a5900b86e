//! OAuth 2.0 for Salesforce: where handoff's access token comes from.
//!
//! [`SalesforceAuth`] is a raw [`TokenSource`] (each call is one token request); the client
//! wraps it in the core [`handoff_connector::SingleFlight`], so a 401 `INVALID_SESSION_ID` seen
//! by many concurrent calls causes **one** token request that all of them wait for.
//!
//! The requests themselves (JWT bearer flow, refresh-token flow) are in [`crate::token`].
//!
//! The success body (§2.7, S1) carries `access_token`, `instance_url` (the API base URL for
//! every later call; never hard-coded), `id` (`https://login.salesforce.com/id/<orgId>/<userId>`,
//! whose last segment is the integration user's id: field history tells handoff's own writes
//! by it, S4) and, for refreshes, `issued_at` (epoch ms as a string) and `signature`. The
//! `signature` is not checked. There is no `expires_in` (§2.7, unverified): a token is used
//! until Salesforce answers 401.
//!
//! Errors: an OAuth error body (`{"error":"invalid_grant","error_description":…}`, RFC 6749
//! style, §2.6 / S1) is [`ConnectorError::Auth`] with the error and its description, never the
//! assertion or a token; 5xx and network failures are [`ConnectorError::Transient`]. Redirects
//! are not followed.

use crate::error::{config, decode};
use crate::token::{Grant, SalesforceTokenResponse, TOKEN_PATH};
use futures::future::BoxFuture;
use handoff_connector::{now_ms, AccessToken, ConnectorError, TokenSource};
use oauth2::TokenResponse;
use secrecy::SecretString;
use std::sync::Mutex;
use std::time::Duration;

/// Who handoff is in the org, from the last token response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The org id (`00D…`).
    pub org_id: String,
    /// The integration user's id (`005…`): `CreatedById` of every write handoff makes.
    pub user_id: String,
    /// The API base URL (`instance_url`), with a trailing `/`.
    pub instance_url: url::Url,
}

/// A raw token source for one org: each `token()`/`refresh()` is one token request.
#[derive(Debug)]
pub struct SalesforceAuth {
    token_url: url::Url,
    grant: Grant,
    http: reqwest::Client,
    expected_org: Option<String>,
    identity: Mutex<Option<Identity>>,
}

impl SalesforceAuth {
    /// A source asking `{login_url}/services/oauth2/token` with `grant`; when `expected_org` is
    /// set, a token for another org is refused ([`ConnectorError::Config`]).
    pub fn new(
        login_url: &url::Url,
        grant: Grant,
        expected_org: Option<String>,
    ) -> Result<Self, ConnectorError> {
        let token_url = with_slash(login_url.clone())
            .join(TOKEN_PATH)
            .map_err(|e| config(format!("crm.login_url: {e}")))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("handoff/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| config(format!("token client: {e}")))?;
        Ok(Self {
            token_url,
            grant,
            http,
            expected_org,
            identity: Mutex::new(None),
        })
    }

    /// Who handoff is, from the last successful token response (`None` before the first).
    pub fn identity(&self) -> Option<Identity> {
        self.identity
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn fetch(&self) -> Result<AccessToken, ConnectorError> {
        let response = self.grant.request(&self.http, &self.token_url).await?;
        self.accept(&response)
    }

    /// Reads a successful response: base URL, identity, org check.
    fn accept(&self, response: &SalesforceTokenResponse) -> Result<AccessToken, ConnectorError> {
        let extra = response.extra_fields();
        let instance_url = extra
            .instance_url
            .parse::<url::Url>()
            .map(with_slash)
            .map_err(|e| decode(format!("token response: instance_url: {e}")))?;
        let (org_id, user_id) = parse_identity_url(&extra.id)
            .ok_or_else(|| decode("token response: `id` is not …/id/<orgId>/<userId>"))?;
        if let Some(expected) = &self.expected_org {
            if !same_id(expected, &org_id) {
                return Err(config(format!(
                    "crm.organization_id: the token is for org {org_id}, the config names {expected}"
                )));
            }
        }
        let issued_at_ms = extra
            .issued_at
            .as_deref()
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or_else(now_ms);
        *self.identity.lock().unwrap_or_else(|p| p.into_inner()) = Some(Identity {
            org_id,
            user_id,
            instance_url: instance_url.clone(),
        });
        Ok(AccessToken {
            secret: SecretString::from(response.access_token().secret().to_string()),
            base_url: Some(instance_url),
            issued_at_ms,
        })
    }
}

impl TokenSource for SalesforceAuth {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, ConnectorError>> {
        Box::pin(self.fetch())
    }

    fn refresh<'a>(
        &'a self,
        _stale: &'a AccessToken,
    ) -> BoxFuture<'a, Result<AccessToken, ConnectorError>> {
        Box::pin(self.fetch())
    }
}

/// `(orgId, userId)`: the last two segments of the identity URL.
pub fn parse_identity_url(id: &str) -> Option<(String, String)> {
    let url: url::Url = id.parse().ok()?;
    let mut segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    let user = segments.pop()?;
    let org = segments.pop()?;
    (segments.last() == Some(&"id")).then(|| (org.to_string(), user.to_string()))
}

/// Whether two Salesforce ids name the same record (18-character ids add a case-safe suffix to
/// the 15-character id).
pub fn same_id(a: &str, b: &str) -> bool {
    let (a, b) = (a.get(..15).unwrap_or(a), b.get(..15).unwrap_or(b));
    a == b
}

fn with_slash(mut url: url::Url) -> url::Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_urls_give_org_and_user() {
        assert_eq!(
            parse_identity_url("https://login.salesforce.com/id/00Dxx0000001gPL/005xx000001Sv6e"),
            Some(("00Dxx0000001gPL".into(), "005xx000001Sv6e".into()))
        );
        assert_eq!(
            parse_identity_url("https://login.salesforce.com/005xx"),
            None
        );
        assert!(same_id("00D5g000004XyZa", "00D5g000004XyZaEAK"));
        assert!(!same_id("00D5g000004XyZb", "00D5g000004XyZaEAK"));
    }
}
