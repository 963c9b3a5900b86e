//! CRM search against the emulator: filters, sorts, paging, limits and the 10,000 cap.

mod common;

use common::{props, Harness};
use handoff_connector::ConnectorError;
use handoff_hubspot::{Direction, Filter, FilterGroup, Operator, SearchRequest, Sort};
use serde_json::{json, Value};

fn group(filters: Vec<Filter>) -> FilterGroup {
    FilterGroup { filters }
}

async fn seed_deals(h: &Harness) -> Vec<String> {
    let deals = [
        ("Alpha", "100", "appointmentscheduled"),
        ("Bravo", "2500", "contractsent"),
        ("Charlie", "900", "closedwon"),
        ("Delta", "50000", "closedwon"),
        ("Echo", "75", "closedlost"),
    ];
    deals
        .iter()
        .map(|(name, amount, stage)| {
            h.emu.create_object(
                "deals",
                props(json!({"dealname": name, "amount": amount, "dealstage": stage})),
            )
        })
        .collect()
}

fn names(page: &handoff_hubspot::SearchPage) -> Vec<String> {
    page.results
        .iter()
        .map(|r| r.prop("dealname").unwrap())
        .collect()
}

#[tokio::test]
async fn filters_and_within_groups_or_across_groups() {
    let h = Harness::unlimited().await;
    seed_deals(&h).await;
    let client = h.client();
    let req = SearchRequest {
        filter_groups: vec![
            group(vec![
                Filter::new("dealstage", Operator::Eq, "closedwon"),
                Filter::new("amount", Operator::Gt, "1000"),
            ]),
            group(vec![Filter::new("dealname", Operator::Eq, "alpha")]),
        ],
        sorts: vec![Sort::ascending("amount")],
        properties: vec!["dealname".into(), "amount".into()],
        ..Default::default()
    };
    let page = client.search("deals", &req).await.unwrap();
    assert_eq!(names(&page), ["Alpha", "Delta"]);
    assert_eq!(page.total, 2);
    assert!(page.next_after.is_none());
    assert!(page.results[0]
        .properties
        .contains_key("hs_lastmodifieddate"));

    let mut between = Filter::new("amount", Operator::Between, "80");
    between.high_value = Some("2500".into());
    let req = SearchRequest {
        filter_groups: vec![group(vec![between])],
        sorts: vec![Sort {
            property_name: "amount".into(),
            direction: Direction::Descending,
        }],
        properties: vec!["dealname".into()],
        ..Default::default()
    };
    let page = client.search("deals", &req).await.unwrap();
    assert_eq!(
        names(&page),
        ["Bravo", "Charlie", "Alpha"],
        "numeric, descending"
    );

    let mut not_in = Filter::new("dealstage", Operator::NotIn, "");
    not_in.value = None;
    not_in.values = Some(vec![json!("closedwon"), json!("closedlost")]);
    let req = SearchRequest {
        filter_groups: vec![group(vec![not_in])],
        properties: vec!["dealname".into()],
        ..Default::default()
    };
    assert_eq!(
        names(&client.search("0-3", &req).await.unwrap()),
        ["Alpha", "Bravo"]
    );
}

#[tokio::test]
async fn datetime_filters_take_epoch_milliseconds() {
    let h = Harness::unlimited().await;
    let ids = seed_deals(&h).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let cut = handoff_connector::now_ms();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    h.emu
        .update_object("deals", &ids[2], props(json!({"amount": "901"})))
        .unwrap();
    let req = SearchRequest {
        filter_groups: vec![group(vec![Filter::new(
            "hs_lastmodifieddate",
            Operator::Gte,
            cut.to_string(),
        )])],
        properties: vec!["dealname".into()],
        ..Default::default()
    };
    let page = h.client().search("deals", &req).await.unwrap();
    assert_eq!(names(&page), ["Charlie"]);
}

#[tokio::test]
async fn pages_follow_after_until_the_end() {
    let h = Harness::unlimited().await;
    for i in 0..25 {
        h.emu.create_object(
            "contacts",
            props(json!({"email": format!("p{i:02}@example.com")})),
        );
    }
    let client = h.client();
    let mut after = None;
    let mut emails = Vec::new();
    let mut pages = 0;
    loop {
        let req = SearchRequest {
            sorts: vec![Sort::ascending("email")],
            limit: Some(10),
            after: after.clone(),
            ..Default::default()
        };
        let page = client.search("contacts", &req).await.unwrap();
        assert_eq!(page.total, 25);
        pages += 1;
        emails.extend(page.results.iter().map(|r| r.prop("email").unwrap()));
        match page.next_after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(emails.len(), 25);
    assert_eq!(emails.first().unwrap(), "p00@example.com");
    assert_eq!(emails.last().unwrap(), "p24@example.com");
}

#[tokio::test]
async fn paging_past_ten_thousand_is_refused() {
    let h = Harness::unlimited().await;
    for i in 0..10_010 {
        h.emu.create_object(
            "contacts",
            props(json!({"email": format!("c{i}@example.com")})),
        );
    }
    let client = h.client();
    let req = SearchRequest {
        limit: Some(200),
        after: Some("9800".into()),
        ..Default::default()
    };
    let page = client.search("contacts", &req).await.unwrap();
    assert_eq!(page.results.len(), 200);
    assert_eq!(page.total, 10_010);
    assert_eq!(page.next_after.as_deref(), Some("10000"));

    let req = SearchRequest {
        after: page.next_after,
        ..req
    };
    let err = client.search("contacts", &req).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("VALIDATION_ERROR"), "{err}");
}

#[tokio::test]
async fn request_limits_answer_validation_errors() {
    let h = Harness::unlimited().await;
    let http = h.http();
    let f = json!({"propertyName": "email", "operator": "HAS_PROPERTY"});
    let too_many_groups: Vec<Value> = (0..6).map(|_| json!({"filters": [f.clone()]})).collect();
    let too_many_filters = vec![json!({"filters": vec![f.clone(); 11]})];
    let too_many_total: Vec<Value> = (0..3)
        .map(|_| json!({"filters": vec![f.clone(); 9]}))
        .collect();
    for body in [
        json!({"filterGroups": too_many_groups}),
        json!({"filterGroups": too_many_filters}),
        json!({"filterGroups": too_many_total}),
        json!({"limit": 201}),
        json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "SOUNDS_LIKE", "value": "x"}]}]}),
    ] {
        let resp = http
            .post(h.url("crm/v3/objects/contacts/search"))
            .header("authorization", h.bearer())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["category"], "VALIDATION_ERROR", "{body}");
        assert_eq!(err["status"], "error");
    }
    let ok = http
        .post(h.url("crm/v3/objects/contacts/search"))
        .header("authorization", h.bearer())
        .json(&json!({"filterGroups": (0..5).map(|_| json!({"filters": vec![f.clone(); 5]})).collect::<Vec<_>>()}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "5 groups × 5 filters = 25 is allowed");
}

#[tokio::test]
async fn contains_token_and_has_property() {
    let h = Harness::unlimited().await;
    h.emu.create_object(
        "contacts",
        props(json!({"email": "x@hubspot.com", "phone": "+1 555"})),
    );
    h.emu
        .create_object("contacts", props(json!({"email": "y@example.com"})));
    let client = h.client();
    let req = SearchRequest {
        filter_groups: vec![group(vec![Filter::new(
            "email",
            Operator::ContainsToken,
            "*@hubspot.com",
        )])],
        ..Default::default()
    };
    let page = client.search("contacts", &req).await.unwrap();
    assert_eq!(page.results.len(), 1);
    assert_eq!(
        page.results[0].prop("email").as_deref(),
        Some("x@hubspot.com")
    );

    let mut has = Filter::new("phone", Operator::NotHasProperty, "");
    has.value = None;
    let req = SearchRequest {
        filter_groups: vec![group(vec![has])],
        ..Default::default()
    };
    let page = client.search("contacts", &req).await.unwrap();
    assert_eq!(
        page.results[0].prop("email").as_deref(),
        Some("y@example.com")
    );
}
