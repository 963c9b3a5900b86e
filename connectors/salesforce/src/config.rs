//! The `crm:` section of `handoff.yaml` when `type: salesforce` (the caller consumes `type`;
//! [`SalesforceSection`] is every other key).
//!
//! ```yaml
//! crm:
//!   type: salesforce
//!   login_url: https://login.salesforce.com        # or https://test.salesforce.com, or My Domain
//!   api_version: "68.0"
//!   auth:
//!     jwt:
//!       client_id: { env: SALESFORCE_CLIENT_ID }   # the connected app's consumer key
//!       username: handoff-integration@acme.example # the integration user (JWT `sub`)
//!       private_key: { file: /run/credentials/handoff.service/salesforce-key.pem }
//!   organization_id: 00D5g000004XyZaEAK            # checked on tokens and Outbound Messages
//!   daily_api_share: 0.5
//!   requests_per_second: 20
//!   lightning_url: https://acme.lightning.force.com
//!   changes:
//!     - poll: { schedule: "0 * * * * *", objects: [Lead, Opportunity, Account, Task] }
//! ```
//!
//! or, with a refresh token (NOTES §2.7):
//!
//! ```yaml
//!   auth:
//!     refresh_token:
//!       client_id: { env: SALESFORCE_CLIENT_ID }
//!       client_secret: { env: SALESFORCE_CLIENT_SECRET }   # optional
//!       refresh_token: { file: /run/credentials/handoff.service/salesforce-refresh-token }
//! ```

use crate::error::config;
use crate::soql::ident;
use handoff_connector::{ChangeSource, ConnectorError, PollSource, SecretRef};
use serde::Deserialize;

/// `crm:` with `type: salesforce`. Unknown keys are refused.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceSection {
    /// Where tokens come from: `https://login.salesforce.com` (default), `https://test.salesforce.com`
    /// for sandboxes, or the org's My Domain (NOTES §2.7, S1). Token requests go to
    /// `{login_url}/services/oauth2/token`.
    #[serde(default = "default_login_url")]
    pub login_url: url::Url,
    /// REST API version, `"68.0"` (Winter '27, the newest at this writing, NOTES-next S12) by
    /// default; calls go to `/services/data/v{api_version}/…`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// How handoff authenticates: exactly one of `jwt` or `refresh_token`.
    pub auth: AuthSection,
    /// The org's id (`00D…`, 15 or 18 characters). When set, a token for another org is refused
    /// and Outbound Messages must carry it (`OrganizationId`, S2); required when `changes` lists
    /// `webhook`.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// The share of the org's daily API allocation (`Sforce-Limit-Info: api-usage=N/M`, §2.2)
    /// handoff may use, 0 < share ≤ 1 (default 0.5). Past `share × M` calls wait
    /// `limit_wait_s` without calling Salesforce.
    #[serde(default = "default_share")]
    pub daily_api_share: f64,
    /// How long calls pause once handoff's share is used up, or after a 403
    /// `REQUEST_LIMIT_EXCEEDED`, seconds (default 300); the daemon parks the work meanwhile.
    #[serde(default = "default_limit_wait_s")]
    pub limit_wait_s: u64,
    /// Pacing: requests per second across every call of this connector (default 20).
    #[serde(default = "default_requests_per_second")]
    pub requests_per_second: u32,
    /// Base of "Open in Salesforce" links (`https://{MyDomain}.lightning.force.com`); default:
    /// the instance URL from the token. Links are `{base}/lightning/r/{Object}/{id}/view`
    /// (S10, unverified).
    #[serde(default)]
    pub lightning_url: Option<url::Url>,
    /// The field `upsert_case` (Case) and `upsert_lead` (Lead) upsert on: a custom **external
    /// id** text field, unique, that the admin creates on Case (default
    /// `Handoff_Idempotency_Key__c`; S9), and with the same name on Lead as well when a
    /// marketing CRM hands leads to Salesforce (leads are created once, keyed by it).
    #[serde(default = "default_idempotency_field")]
    pub idempotency_field: String,
    /// How changes reach handoff: `poll` (SOQL `queryAll` on `SystemModstamp`) and/or `webhook`
    /// (Outbound Messages at `webhooks/salesforce`). Default: poll Lead, Opportunity, Account
    /// and Task every minute with a 60 s overlap.
    #[serde(
        default = "default_changes",
        deserialize_with = "ChangeSource::deserialize_list"
    )]
    pub changes: Vec<ChangeSource>,
    /// Records per query batch, 200–2000 (default 2000, the most Salesforce returns per batch,
    /// §2.3), sent as `Sforce-Query-Options: batchSize=N` (S11; the range is unverified); also
    /// the new changes one poll returns before answering `more: true`.
    #[serde(default = "default_batch_size")]
    pub batch_size: u32,
}

/// `auth:`: exactly one flow.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthSection {
    /// OAuth 2.0 JWT bearer flow (server-to-server, S1): an RS256 assertion signed with the
    /// connected app's certificate key. Needs the app pre-authorised for the user.
    Jwt(JwtSection),
    /// OAuth 2.0 refresh-token flow (NOTES §2.7).
    RefreshToken(RefreshTokenSection),
}

/// `auth.jwt`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSection {
    /// The connected app's consumer key (JWT `iss`).
    pub client_id: SecretRef,
    /// The integration user's Salesforce username (JWT `sub`). Writes handoff makes are
    /// recorded as this user's, which is how field history tells them apart (S4).
    pub username: String,
    /// The PEM RSA private key (PKCS#1 or PKCS#8) whose certificate the connected app holds.
    pub private_key: SecretRef,
    /// JWT `aud` (default: `login_url`, without a trailing slash; S1 lists
    /// `https://login.salesforce.com`, `https://test.salesforce.com` or an Experience Cloud
    /// site).
    #[serde(default)]
    pub audience: Option<String>,
}

/// `auth.refresh_token`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshTokenSection {
    /// The connected app's consumer key.
    pub client_id: SecretRef,
    /// The consumer secret, when the app requires it (§2.7: optional).
    #[serde(default)]
    pub client_secret: Option<SecretRef>,
    /// The refresh token issued to the integration user.
    pub refresh_token: SecretRef,
}

fn default_login_url() -> url::Url {
    "https://login.salesforce.com".parse().expect("literal URL")
}
fn default_api_version() -> String {
    "68.0".into()
}
fn default_share() -> f64 {
    0.5
}
fn default_limit_wait_s() -> u64 {
    300
}
fn default_requests_per_second() -> u32 {
    20
}
fn default_idempotency_field() -> String {
    "Handoff_Idempotency_Key__c".into()
}
fn default_batch_size() -> u32 {
    2000
}
fn default_changes() -> Vec<ChangeSource> {
    vec![ChangeSource::Poll(PollSource::every_minute(&[
        "Lead",
        "Opportunity",
        "Account",
        "Task",
    ]))]
}

impl SalesforceSection {
    /// Checks values serde cannot: the version's form, the share and budgets, the batch size,
    /// API names, the org id, and `organization_id` present when Outbound Messages are on.
    ///
    /// Errors: [`ConnectorError::Config`] naming the field (`crm.daily_api_share: …`).
    pub fn validate(&self) -> Result<(), ConnectorError> {
        let version_ok = self.api_version.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.chars().all(|c| c.is_ascii_digit())
                && b.chars().all(|c| c.is_ascii_digit())
        });
        if !version_ok {
            return Err(config(format!(
                "crm.api_version: `{}` is not a version like \"68.0\"",
                self.api_version
            )));
        }
        if !(self.daily_api_share > 0.0 && self.daily_api_share <= 1.0) {
            return Err(config("crm.daily_api_share: must be above 0 and at most 1"));
        }
        if self.requests_per_second == 0 {
            return Err(config("crm.requests_per_second: must be at least 1"));
        }
        if !(200..=2000).contains(&self.batch_size) {
            return Err(config("crm.batch_size: must be between 200 and 2000"));
        }
        ident(&self.idempotency_field)
            .map_err(|e| config(format!("crm.idempotency_field: {e}")))?;
        if let Some(org) = &self.organization_id {
            if !matches!(org.len(), 15 | 18) || !org.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(config(
                    "crm.organization_id: expected a 15- or 18-character org id (00D…)",
                ));
            }
        }
        if let Some(poll) = ChangeSource::poll(&self.changes) {
            for object in &poll.objects {
                ident(object).map_err(|e| config(format!("crm.changes.poll.objects: {e}")))?;
            }
        }
        if ChangeSource::webhook(&self.changes) && self.organization_id.is_none() {
            return Err(config(
                "crm.organization_id: required with `webhook` (Outbound Messages are checked against it)",
            ));
        }
        Ok(())
    }

    /// The JWT audience: `auth.jwt.audience`, else `login_url` without its trailing slash.
    pub fn audience(&self) -> Option<String> {
        match &self.auth {
            AuthSection::Jwt(j) => Some(
                j.audience
                    .clone()
                    .unwrap_or_else(|| self.login_url.as_str().trim_end_matches('/').to_string()),
            ),
            AuthSection::RefreshToken(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<SalesforceSection, String> {
        serde_saphyr::from_str::<SalesforceSection>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_apply_and_unknown_keys_are_refused() {
        let s = parse(
            "auth:\n  jwt:\n    client_id: { env: SF_ID }\n    username: int@acme.example\n    private_key: { file: /k.pem }\n",
        )
        .unwrap();
        s.validate().unwrap();
        assert_eq!(s.login_url.as_str(), "https://login.salesforce.com/");
        assert_eq!(s.api_version, "68.0");
        assert_eq!(s.daily_api_share, 0.5);
        assert_eq!(s.batch_size, 2000);
        assert_eq!(s.idempotency_field, "Handoff_Idempotency_Key__c");
        assert_eq!(
            s.audience().as_deref(),
            Some("https://login.salesforce.com")
        );
        let poll = ChangeSource::poll(&s.changes).unwrap();
        assert_eq!(poll.objects, ["Lead", "Opportunity", "Account", "Task"]);

        let err = parse("auth:\n  refresh_token:\n    client_id: { env: A }\n    refresh_token: { env: B }\npassword: x\n")
            .unwrap_err();
        assert!(err.contains("password"), "{err}");
        let both = parse("auth:\n  jwt: { client_id: { env: A }, username: u, private_key: { env: K } }\n  refresh_token: { client_id: { env: A }, refresh_token: { env: B } }\n");
        assert!(both.is_err(), "exactly one auth flow");
    }

    #[test]
    fn validation_names_the_field() {
        let base =
            "auth:\n  refresh_token:\n    client_id: { env: A }\n    refresh_token: { env: B }\n";
        for (extra, field) in [
            ("daily_api_share: 1.5\n", "crm.daily_api_share"),
            ("batch_size: 50\n", "crm.batch_size"),
            ("api_version: v68\n", "crm.api_version"),
            (
                "idempotency_field: \"Key; DROP\"\n",
                "crm.idempotency_field",
            ),
            ("changes: [webhook]\n", "crm.organization_id"),
            ("organization_id: 00Dshort\n", "crm.organization_id"),
        ] {
            let s = parse(&format!("{base}{extra}")).unwrap();
            let err = s.validate().unwrap_err().to_string();
            assert!(err.contains(field), "{extra}: {err}");
        }
    }
}
