//! The daily API allocation and handoff's share of it, `REQUEST_LIMIT_EXCEEDED`, and
//! injected faults.
#![cfg(feature = "emulator")]

mod common;

use common::{fields, Harness};
use handoff_connector::emulator::Fault;
use handoff_connector::{Crm, ErrorClass};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_used_up_share_pauses_calls_without_calling_salesforce() {
    let h = Harness::default().await;
    h.emu.set_daily_limit(10);
    let mut settings = h.settings();
    settings.daily_api_share = 0.5;
    settings.limit_wait = Duration::from_millis(300);
    settings.max_client_wait = Duration::from_millis(50);
    let client = h.client_with(&settings);
    for _ in 0..5 {
        client.limits().await.expect("inside the share");
    }
    assert_eq!(client.api_usage(), Some((5, 10)));
    let served = h.emu.request_count();
    let err = client.limits().await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::RateLimited, "{err}");
    let wait = err.retry_after().expect("a wait");
    assert!(wait <= Duration::from_millis(300));
    assert_eq!(h.emu.request_count(), served, "nothing was sent");

    // A new day: after the wait, calls go out again.
    h.emu.reset_api_usage();
    tokio::time::sleep(Duration::from_millis(320)).await;
    client.limits().await.expect("the probe after the wait");
    client.limits().await.expect("inside the share again");
}

#[tokio::test]
async fn an_exhausted_allocation_is_a_rate_limit_until_it_is_raised() {
    let h = Harness::default().await;
    let mut settings = h.settings();
    settings.daily_api_share = 1.0;
    settings.limit_wait = Duration::from_millis(200);
    settings.max_retries = 1;
    let crm = handoff_salesforce::SalesforceCrm::new(
        h.client_with(&settings),
        Default::default(),
        None,
        "Handoff_Idempotency_Key__c",
    );
    let id = h.emu.create("Account", fields(json!({ "Name": "Acme" })));
    let ids = vec![id];
    crm.read("Account", &ids, &[]).await.unwrap();
    let (used, _) = h.emu.api_usage();
    h.emu.set_daily_limit(used);
    let started = Instant::now();
    for _ in 0..3 {
        let err = crm.read("Account", &ids, &[]).await.unwrap_err();
        assert_eq!(
            err.class(),
            ErrorClass::RateLimited,
            "never permanent: {err}"
        );
        assert!(err.retry_after().is_some());
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(h.emu.api_usage().0, used, "refused calls do not count");

    h.emu.set_daily_limit(used + 100);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let again = crm
        .read("Account", &ids, &[])
        .await
        .expect("the same call succeeds");
    assert_eq!(again.len(), 1);
}

#[tokio::test]
async fn the_403_is_classed_from_its_error_code_and_usage() {
    let h = Harness::default().await;
    let token = h.raw_token().await;
    h.emu.set_daily_limit(h.emu.api_usage().0);
    let response = reqwest::Client::new()
        .get(h.url("services/data/v68.0/limits"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let info = response.headers()["sforce-limit-info"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(info.starts_with("api-usage="), "{info}");
    assert!(
        response.headers().get("retry-after").is_none(),
        "Salesforce sends none"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
}

#[tokio::test]
async fn injected_server_errors_are_retried_and_injected_limits_are_rate_limits() {
    let h = Harness::default().await;
    let client = h.client();
    client.limits().await.unwrap();
    h.emu.faults().inject(Fault::ServerError, 2);
    client.limits().await.expect("retried past two 500s");
    assert_eq!(h.emu.faults().served(), 2);

    let mut settings = h.settings();
    settings.max_retries = 0;
    let once = h.client_with(&settings);
    h.emu.faults().inject(
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let err = once.limits().await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::RateLimited, "{err}");
    assert_eq!(
        err.retry_after(),
        Some(handoff_salesforce::error::CONCURRENCY_WAIT),
        "usage below the allocation: the concurrent-request limit"
    );
}
