//! [`connect`]: the `crm:` section ([`SalesforceSection`]) → the CRM, change feed and webhook
//! endpoint the daemon wires ([`CrmConnection`]).

use crate::client::{ClientSettings, SalesforceClient};
use crate::config::{AuthSection, SalesforceSection};
use crate::crm::SalesforceCrm;
use crate::error::config;
use crate::feed::SalesforceFeed;
use crate::outbound::{OutboundMessages, WEBHOOK_PATH};
use crate::token::Grant;
use handoff_connector::{
    ChangeFeed, ChangeSource, ConnectorError, CrmConnection, SecretRef, WebhookSource,
};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Builds the Salesforce connector from its section.
///
/// * Secrets are resolved here (the private key is parsed, no request is made: the first
///   call fetches the first token).
/// * `fields`: SObject → field names the daemon's mappings read; polls and `Crm::read` read
///   them plus the connector's own (`Id`, `SystemModstamp`, `CreatedDate`, `IsDeleted`,
///   `OwnerId`).
/// * `poll` among `changes` → a [`SalesforceFeed`] (overlap `poll.overlap_ms`, `batch_size`
///   new changes per poll); `webhook` → Outbound Messages at `webhooks/salesforce`, checked
///   against `organization_id`.
///
/// Errors: [`ConnectorError::Config`] naming the config field
/// (`crm.auth.jwt.private_key: cannot read /run/…: …`), never a secret's value.
pub fn connect(
    section: &SalesforceSection,
    fields: &BTreeMap<String, Vec<String>>,
) -> Result<CrmConnection, ConnectorError> {
    section.validate()?;
    let grant = grant(section)?;
    let client = SalesforceClient::new(&ClientSettings::from_section(section), grant)?;
    let crm = SalesforceCrm::new(
        client.clone(),
        fields.clone(),
        section.lightning_url.clone(),
        section.idempotency_field.clone(),
    );
    let poll = ChangeSource::poll(&section.changes).cloned().map(|p| {
        let feed: Arc<dyn ChangeFeed> = Arc::new(SalesforceFeed::new(
            client.clone(),
            fields.clone(),
            p.overlap_ms,
            section.batch_size as usize,
        ));
        (feed, p)
    });
    let webhook = match (
        ChangeSource::webhook(&section.changes),
        &section.organization_id,
    ) {
        (true, Some(org)) => {
            let source: Arc<dyn WebhookSource> = Arc::new(OutboundMessages::new(org.clone()));
            Some((WEBHOOK_PATH, source))
        }
        _ => None,
    };
    Ok(CrmConnection {
        crm: Arc::new(crm),
        poll,
        webhook,
    })
}

/// The grant of `section.auth`, secrets resolved.
pub fn grant(section: &SalesforceSection) -> Result<Grant, ConnectorError> {
    let secret = |r: &SecretRef, field: &str| -> Result<SecretString, ConnectorError> {
        r.resolve()
            .map_err(|e| config(format!("crm.auth.{field}: {e}")))
    };
    match &section.auth {
        AuthSection::Jwt(jwt) => {
            let audience = section.audience().unwrap_or_default();
            Grant::jwt(
                secret(&jwt.client_id, "jwt.client_id")?,
                jwt.username.clone(),
                &secret(&jwt.private_key, "jwt.private_key")?,
                audience,
            )
        }
        AuthSection::RefreshToken(rt) => Ok(Grant::RefreshToken {
            client_id: secret(&rt.client_id, "refresh_token.client_id")?,
            client_secret: rt
                .client_secret
                .as_ref()
                .map(|s| secret(s, "refresh_token.client_secret"))
                .transpose()?,
            refresh_token: secret(&rt.refresh_token, "refresh_token.refresh_token")?,
        }),
    }
}
