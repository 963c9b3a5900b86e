//! The emulator's wire behaviour, checked with raw HTTP: versions, error shapes, limit header,
//! query paging and locators, upsert answers, collections, and the state files.
#![cfg(feature = "emulator")]

mod common;

use common::{fields, lead, Harness};
use serde_json::{json, Value};

async fn get(h: &Harness, token: &str, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = reqwest::Client::new()
        .get(h.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

async fn send(
    h: &Harness,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let r = reqwest::Client::new()
        .request(method, h.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn versions_sessions_and_the_limit_header() {
    let h = Harness::default().await;
    let (status, headers, versions) = get(&h, "none", "services/data/").await;
    assert_eq!(status, 200);
    assert!(headers.get("sforce-limit-info").is_none());
    assert_eq!(
        versions[0],
        json!({ "label": "Winter '27", "url": "/services/data/v68.0", "version": "68.0" })
    );
    assert_eq!(h.emu.api_usage().0, 0, "the versions list does not count");

    let (status, headers, body) = get(&h, "00Dbogus!AQ", "services/data/v68.0/limits").await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!([{ "message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID" }])
    );
    assert!(headers.contains_key("sforce-limit-info"));

    let token = h.raw_token().await;
    assert!(token.starts_with(&h.emu.org_id()[..15]) && token.contains('!'));
    let (status, headers, body) = get(&h, &token, "services/data/v68.0/limits").await;
    assert_eq!(status, 200);
    assert_eq!(headers["sforce-limit-info"], "api-usage=1/100000");
    assert_eq!(
        body["DailyApiRequests"],
        json!({ "Max": 100000, "Remaining": 99999 })
    );
    let (status, _, _) = get(&h, &token, "services/data/v12.0/limits").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn queries_page_with_locators_and_refuse_unknown_ones() {
    let h = Harness::default().await;
    let owner = h.emu.integration_user_id();
    for i in 0..450 {
        h.emu.create(
            "Lead",
            lead(&format!("P{i:03}"), &owner, "Open - Not Contacted"),
        );
    }
    let token = h.raw_token().await;
    let r = reqwest::Client::new()
        .get(h.url("services/data/v68.0/query"))
        .query(&[("q", "SELECT Id, LastName FROM Lead ORDER BY LastName DESC")])
        .header("Sforce-Query-Options", "batchSize=200")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    assert_eq!(
        (page["totalSize"].clone(), page["done"].clone()),
        (json!(450), json!(false))
    );
    assert_eq!(page["records"].as_array().unwrap().len(), 200);
    assert_eq!(page["records"][0]["LastName"], "P449");
    assert_eq!(page["records"][0]["attributes"]["type"], "Lead");
    let next = page["nextRecordsUrl"].as_str().unwrap().to_string();
    assert!(
        next.starts_with("/services/data/v68.0/query/01g") && next.ends_with("-200"),
        "{next}"
    );
    let (_, _, second) = get(&h, &token, &next).await;
    let third_url = second["nextRecordsUrl"].as_str().unwrap().to_string();
    let (_, _, third) = get(&h, &token, &third_url).await;
    assert_eq!(third["done"], true);
    assert_eq!(third["records"].as_array().unwrap().len(), 50);
    assert_eq!(third["records"][49]["LastName"], "P000");
    assert_eq!(
        h.emu.open_locators(),
        0,
        "the last batch releases the locator"
    );
    let (status, _, body) = get(&h, &token, &next).await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (400, json!("INVALID_QUERY_LOCATOR"))
    );

    let (_, _, count) = get(
        &h,
        &token,
        "services/data/v68.0/query?q=SELECT+COUNT()+FROM+Lead+WHERE+LastName+LIKE+'P1%25'",
    )
    .await;
    assert_eq!(
        count,
        json!({ "totalSize": 100, "done": true, "records": [] })
    );
    let (status, _, body) = get(
        &h,
        &token,
        "services/data/v68.0/query?q=SELECT+Id+FROM+Nope",
    )
    .await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (400, json!("INVALID_TYPE"))
    );
}

#[tokio::test]
async fn upsert_answers_created_updated_and_several() {
    let h = Harness::default().await;
    let token = h.raw_token().await;
    let path = "services/data/v68.0/sobjects/Case/Handoff_Idempotency_Key__c/k%3A1";
    let (status, body) = send(
        &h,
        &token,
        reqwest::Method::PATCH,
        path,
        json!({ "Subject": "One" }),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        (body["success"].clone(), body["created"].clone()),
        (json!(true), json!(true))
    );
    let id = body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("500") && id.len() == 18);
    let (status, body) = send(
        &h,
        &token,
        reqwest::Method::PATCH,
        path,
        json!({ "Subject": "Two" }),
    )
    .await;
    assert_eq!(
        (status, body["id"].clone(), body["created"].clone()),
        (200, json!(id), json!(false))
    );
    assert_eq!(
        h.emu.get("Case", &id).unwrap()["Handoff_Idempotency_Key__c"],
        "k:1"
    );

    h.emu.create(
        "Case",
        fields(json!({ "Subject": "dup", "Handoff_Idempotency_Key__c": "k:1" })),
    );
    let (status, body) = send(
        &h,
        &token,
        reqwest::Method::PATCH,
        path,
        json!({ "Subject": "Three" }),
    )
    .await;
    assert_eq!(status, 300);
    assert_eq!(body.as_array().unwrap().len(), 2);
    assert_eq!(
        h.emu.get("Case", &id).unwrap()["Subject"],
        "Two",
        "nothing changed"
    );
    let (status, body) = send(
        &h,
        &token,
        reqwest::Method::PATCH,
        "services/data/v68.0/sobjects/Case/Nope__c/x",
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (404, json!("NOT_FOUND"))
    );
}

#[tokio::test]
async fn collections_create_update_and_retrieve_in_order() {
    let h = Harness::default().await;
    let client = h.client();
    let records: Vec<(String, handoff_connector::Fields)> = (0..250)
        .map(|i| {
            (
                "Account".to_string(),
                fields(json!({ "Name": format!("Co {i}") })),
            )
        })
        .collect();
    let saved = client.create_many(&records, true).await.unwrap();
    assert_eq!(saved.len(), 250, "two calls of at most 200");
    assert!(saved.iter().all(|s| s.success));
    let ids: Vec<String> = saved.iter().map(|s| s.id.clone().unwrap()).collect();

    let updates = vec![
        (
            "Account".to_string(),
            ids[0].clone(),
            fields(json!({ "Industry": "Retail" })),
        ),
        (
            "Account".to_string(),
            ids[1].clone(),
            fields(json!({ "IsDeleted": true })),
        ),
    ];
    let results = client.update_many(&updates, false).await.unwrap();
    assert!(results[0].success && !results[1].success);
    assert_eq!(
        results[1].errors[0].error_code,
        "INVALID_FIELD_FOR_INSERT_UPDATE"
    );
    let rolled = client.update_many(&updates, true).await.unwrap();
    assert_eq!(
        rolled[0].errors[0].error_code,
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );

    let got = client
        .retrieve("Account", &ids[..3], &["Name".into(), "Industry".into()])
        .await
        .unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0]["Industry"], "Retail");
    assert_eq!(got[2]["Name"], "Co 2");
}

#[tokio::test]
async fn state_files_hold_every_object_as_the_api_returns_it() {
    let h = Harness::default().await;
    let owner = h.emu.integration_user_id();
    let l = h
        .emu
        .create("Lead", lead("State", &owner, "Open - Not Contacted"));
    h.emu.create("Account", fields(json!({ "Name": "Acme" })));
    let dir = tempfile::tempdir().unwrap();
    h.emu.write_state(dir.path()).unwrap();
    for object in [
        "Lead",
        "Contact",
        "Account",
        "Opportunity",
        "Case",
        "Task",
        "User",
    ] {
        let path = dir.path().join("salesforce").join(format!("{object}.json"));
        let items: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        match object {
            "Lead" => {
                assert_eq!(items.len(), 1);
                assert_eq!(items[0]["Id"], l.as_str());
                assert_eq!(items[0]["attributes"]["type"], "Lead");
                assert!(items[0]["SystemModstamp"]
                    .as_str()
                    .unwrap()
                    .ends_with(".000+0000"));
            }
            "Account" => assert_eq!(items.len(), 1),
            "User" => assert_eq!(items.len(), 2, "integration and admin users"),
            _ => assert!(items.is_empty(), "{object}"),
        }
    }
}
