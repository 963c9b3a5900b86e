//! OAuth against the emulator: JWT bearer, refresh token, refused credentials, a session that
//! expires under 50 concurrent calls, and `connect` from a YAML section with file secrets.
#![cfg(feature = "emulator")]

mod common;

use common::{fields, Harness};
use handoff_connector::{ConnectorError, Crm, ErrorClass};
use handoff_salesforce::emulator::{EmulatorConfig, TEST_PRIVATE_KEY_PEM};
use handoff_salesforce::{connect, Grant, SalesforceClient, SalesforceSection};
use secrecy::SecretString;
use serde_json::json;
use std::collections::BTreeMap;

const WRONG_KEY: &str = include_str!("data/jwt_wrong_private.pem");

#[tokio::test]
async fn jwt_bearer_gives_a_token_for_the_instance_and_the_integration_user() {
    let h = Harness::default().await;
    let client = h.client();
    let me = client.identity().await.unwrap();
    assert_eq!(me.user_id, h.emu.integration_user_id());
    assert_eq!(me.org_id, h.emu.org_id());
    assert_eq!(me.instance_url, h.base_url, "instance_url is the API base");
    assert_eq!(h.emu.token_requests(), 1);
    // The token works against the instance.
    let limits = client.limits().await.unwrap();
    assert_eq!(limits["DailyApiRequests"]["Max"], 100_000);
    assert_eq!(h.emu.token_requests(), 1, "the token is reused");
}

async fn refused(h: &Harness, grant: Grant) -> ConnectorError {
    let client = SalesforceClient::new(&h.settings(), grant).unwrap();
    let err = client.identity().await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::AuthExpired, "{err}");
    assert!(
        matches!(err, ConnectorError::Auth { status: 400, .. }),
        "{err}"
    );
    err
}

#[tokio::test]
async fn a_wrong_key_sub_or_client_is_refused_with_the_oauth_error() {
    let h = Harness::default().await;
    let username = h.emu.config().username.clone();

    let err = refused(&h, h.jwt(WRONG_KEY, &username)).await.to_string();
    assert!(
        err.contains("invalid_grant") && err.contains("signature"),
        "{err}"
    );
    assert!(!err.contains("eyJ"), "the assertion never appears: {err}");

    let err = refused(&h, h.jwt(TEST_PRIVATE_KEY_PEM, "nobody@elsewhere.example")).await;
    assert!(
        err.to_string()
            .contains("user hasn't approved this consumer"),
        "{err}"
    );

    let other_client = Grant::jwt(
        SecretString::from("3MVG9someone.else"),
        username,
        &SecretString::from(TEST_PRIVATE_KEY_PEM),
        h.audience(),
    )
    .unwrap();
    let err = refused(&h, other_client).await;
    assert!(err.to_string().contains("iss"), "{err}");
    assert_eq!(h.emu.token_requests(), 3);
}

#[tokio::test]
async fn the_refresh_token_flow_works_and_refuses_bad_credentials() {
    let h = Harness::default().await;
    let cfg = h.emu.config().clone();
    let grant = |secret: &str, token: &str| Grant::RefreshToken {
        client_id: SecretString::from(cfg.client_id.clone()),
        client_secret: Some(SecretString::from(secret.to_string())),
        refresh_token: SecretString::from(token.to_string()),
    };
    let secret = cfg.client_secret.clone().unwrap();
    let client = SalesforceClient::new(&h.settings(), grant(&secret, &cfg.refresh_token)).unwrap();
    let me = client.identity().await.unwrap();
    assert_eq!(me.user_id, h.emu.integration_user_id());
    let page = client.query("SELECT Id, Name FROM User").await.unwrap();
    assert!(page.total_size >= 2);

    let err = refused(&h, grant(&secret, "5Aep-revoked"))
        .await
        .to_string();
    assert!(
        err.contains("invalid_grant") && err.contains("expired access/refresh token"),
        "{err}"
    );
    assert!(
        !err.contains("5Aep-revoked"),
        "the token never appears: {err}"
    );
    let err = refused(&h, grant("wrong-secret", &cfg.refresh_token)).await;
    assert!(err.to_string().contains("invalid_client"), "{err}");
}

#[tokio::test]
async fn an_expired_session_is_refreshed_once_for_fifty_concurrent_reads() {
    let h = Harness::default().await;
    let ids: Vec<String> = (0..5)
        .map(|i| {
            h.emu
                .create("Account", fields(json!({ "Name": format!("Acme {i}") })))
        })
        .collect();
    let crm = std::sync::Arc::new(h.crm());
    assert_eq!(crm.read("Account", &ids, &[]).await.unwrap().len(), 5);
    let before = h.emu.token_requests();
    assert_eq!(before, 1);

    h.emu.expire_sessions();
    let calls = (0..50).map(|_| {
        let (crm, ids) = (crm.clone(), ids.clone());
        tokio::spawn(async move { crm.read("Account", &ids, &["Name".into()]).await })
    });
    for r in futures::future::join_all(calls).await {
        let records = r.unwrap().expect("every read succeeds after the refresh");
        assert_eq!(records.len(), 5);
        assert!(records[0].prop("Name").unwrap().starts_with("Acme"));
    }
    assert_eq!(
        h.emu.token_requests(),
        before + 1,
        "one refresh for all fifty"
    );
}

#[tokio::test]
async fn a_session_that_stays_refused_is_an_auth_error_after_one_refresh() {
    let h = Harness::start(EmulatorConfig {
        session_ttl_ms: Some(0),
        ..EmulatorConfig::default()
    })
    .await;
    let err = h.client().limits().await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth { status: 401, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("INVALID_SESSION_ID"), "{err}");
    assert_eq!(
        h.emu.token_requests(),
        2,
        "first token, then exactly one refresh"
    );
}

#[tokio::test]
async fn connect_reads_file_secrets_and_names_the_field_on_failure() {
    let h = Harness::default().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let id = dir.path().join("client_id");
    std::fs::write(&key, TEST_PRIVATE_KEY_PEM).unwrap();
    std::fs::write(&id, format!("{}\n", h.emu.config().client_id)).unwrap();
    let yaml = format!(
        "login_url: {}\nauth:\n  jwt:\n    client_id: {{ file: {} }}\n    username: {}\n    private_key: {{ file: {} }}\n    audience: {}\norganization_id: {}\nchanges:\n  - webhook\n  - poll: {{ objects: [Lead] }}\n",
        h.base_url,
        id.display(),
        h.emu.config().username,
        key.display(),
        h.audience(),
        h.emu.org_id(),
    );
    let section: SalesforceSection = serde_saphyr::from_str(&yaml).unwrap();
    let mut wanted = BTreeMap::new();
    wanted.insert("Lead".to_string(), vec!["Email".to_string()]);
    let conn = connect(&section, &wanted).unwrap();
    assert_eq!(conn.crm.system(), "salesforce");
    let owners = conn.crm.owners().await.unwrap();
    assert!(owners.iter().any(|o| o.email == h.emu.config().username));
    let (feed, poll) = conn.poll.expect("poll configured");
    assert_eq!(poll.objects, ["Lead"]);
    assert!(feed.poll("Lead", None).await.unwrap().changes.is_empty());
    assert_eq!(
        conn.webhook.expect("webhook configured").0,
        "webhooks/salesforce"
    );

    std::fs::remove_file(&key).unwrap();
    let Err(err) = connect(&section, &wanted) else {
        panic!("a missing key file must fail")
    };
    let err = err.to_string();
    assert!(
        err.contains("crm.auth.jwt.private_key") && err.contains("cannot read"),
        "{err}"
    );

    // A token for another org is refused.
    let mut other = section.clone();
    other.organization_id = Some("00D000000000009AAA".into());
    std::fs::write(&key, TEST_PRIVATE_KEY_PEM).unwrap();
    let conn = connect(&other, &wanted).unwrap();
    let err = conn.crm.owners().await.unwrap_err();
    assert!(err.to_string().contains("crm.organization_id"), "{err}");
}
