//! The emulator's HTTP surface (auth, form bodies, rate limits), its signed clicks and its
//! state files.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{emulator_config, start, SIGNING_SECRET, TOKEN};
use handoff_connector::IdempotencyKey;
use handoff_slack::blocks::{handoff_dm, CLAIM_LEAD_ACTION};
use handoff_slack::signature;
use handoff_slack::{parse_block_actions, BlockActions};
use secrecy::SecretString;
use serde_json::Value;
use tokio::sync::mpsc;

/// A tiny interactivity endpoint: verifies the signature with `secret`, parses the payload,
/// forwards it, answers 200 (or 401 on a bad signature, 400 on a bad payload).
async fn receiver(secret: &str) -> (url::Url, mpsc::UnboundedReceiver<BlockActions>) {
    #[derive(Clone)]
    struct Rx {
        secret: SecretString,
        tx: mpsc::UnboundedSender<BlockActions>,
    }
    async fn handle(State(rx): State<Rx>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let now_s = handoff_connector::now_ms() / 1000;
        if signature::verify(&rx.secret, &headers, &body, now_s).is_err() {
            return StatusCode::UNAUTHORIZED;
        }
        match parse_block_actions(&body) {
            Ok(actions) => {
                let _ = rx.tx.send(actions);
                StatusCode::OK
            }
            Err(_) => StatusCode::BAD_REQUEST,
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/slack/interactivity", post(handle))
        .with_state(Rx {
            secret: SecretString::from(secret),
            tx,
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (
        format!("http://{addr}/slack/interactivity")
            .parse()
            .unwrap(),
        rx,
    )
}

#[tokio::test]
async fn click_delivers_a_signed_block_actions_payload() {
    let (url, mut rx) = receiver(SIGNING_SECRET).await;
    let mut cfg = emulator_config();
    cfg.interactivity_url = Some(url);
    let env = start(cfg).await;
    let rep = env.emulator.add_user("ana@example.com", "Ana Rep");
    let crm: url::Url = "https://app.hubspot.com/contacts/1/record/0-1/42"
        .parse()
        .unwrap();
    let posted = env
        .client
        .send_dm_once(
            "ana@example.com",
            &IdempotencyKey::new("lead-route:hubspot:contacts:42"),
            "New lead: Bo",
            &handoff_dm("*New lead*: Bo", "hubspot:contacts:42", &crm),
        )
        .await
        .unwrap();

    let status = env
        .emulator
        .click(&posted.channel, &posted.ts, CLAIM_LEAD_ACTION, &rep)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    let click = rx.recv().await.unwrap();
    assert_eq!(click.user.id, rep);
    assert_eq!(click.user.team_id.as_deref(), Some("T0TEST0001"));
    assert_eq!(click.channel_id, posted.channel);
    assert_eq!(click.message_ts, posted.ts);
    let action = click.action(CLAIM_LEAD_ACTION).unwrap();
    assert_eq!(action.value.as_deref(), Some("hubspot:contacts:42"));
    assert_eq!(action.r#type, "button");
    assert_eq!(action.block_id, handoff_slack::blocks::ACTIONS_BLOCK_ID);

    // Unknown action ids and messages are refused before anything is sent.
    assert!(env
        .emulator
        .click(&posted.channel, &posted.ts, "no_such_button", &rep)
        .await
        .is_err());
    assert!(env
        .emulator
        .click(&posted.channel, "1.000001", CLAIM_LEAD_ACTION, &rep)
        .await
        .is_err());
}

#[tokio::test]
async fn click_signed_with_another_secret_is_refused_by_the_receiver() {
    let (url, mut rx) = receiver("a-different-secret").await;
    let mut cfg = emulator_config();
    cfg.interactivity_url = Some(url);
    let env = start(cfg).await;
    let rep = env.emulator.add_user("ana@example.com", "Ana");
    let crm: url::Url = "https://crm.example.com/1".parse().unwrap();
    let posted = env
        .client
        .send_dm_once(
            "ana@example.com",
            &IdempotencyKey::new("k"),
            "x",
            &handoff_dm("x", "k", &crm),
        )
        .await
        .unwrap();
    let status = env
        .emulator
        .click(&posted.channel, &posted.ts, CLAIM_LEAD_ACTION, &rep)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let env = start(emulator_config()).await;
    let http = reqwest::Client::new();
    let body: Value = http
        .get(env.api("auth.test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        serde_json::json!({"ok": false, "error": "not_authed"})
    );
    let body: Value = http
        .get(env.api("auth.test"))
        .bearer_auth("xoxb-nope")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"], "invalid_auth");
    let r = http
        .post(env.api("admin.users.remove"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn form_encoded_post_message_is_accepted_like_slack() {
    let env = start(emulator_config()).await;
    let rep = env.emulator.add_user("ana@example.com", "Ana");
    let http = reqwest::Client::new();
    // Token in the form body, channel given as the member id (posts to the bot's DM).
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", TOKEN)
        .append_pair("channel", &rep)
        .append_pair("text", "hello")
        .append_pair(
            "blocks",
            r#"[{"type":"section","text":{"type":"mrkdwn","text":"hello"}}]"#,
        )
        .append_pair(
            "metadata",
            r#"{"event_type":"handoff_notification","event_payload":{"idempotency_key":"k"}}"#,
        )
        .finish();
    let answer: Value = http
        .post(env.api("chat.postMessage"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    assert!(answer["channel"].as_str().unwrap().starts_with('D'));
    assert_eq!(answer["message"]["type"], "message");
    assert_eq!(answer["message"]["ts"], answer["ts"]);
    assert!(answer["message"]["bot_id"]
        .as_str()
        .unwrap()
        .starts_with('B'));
    assert_eq!(
        answer["message"]["metadata"]["event_payload"]["idempotency_key"],
        "k"
    );
    assert_eq!(env.emulator.dm_messages_for("ana@example.com").len(), 1);
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let env = start(emulator_config()).await;
    let rep = env.emulator.add_user("ana@example.com", "Ana");
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..51 {
        let r = http
            .get(env.api("users.lookupByEmail?email=ana%40example.com"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry));
            let body: Value = r.json().await.unwrap();
            assert_eq!(
                body,
                serde_json::json!({"ok": false, "error": "ratelimited"})
            );
        }
    }
    assert!(statuses[..50].iter().all(|s| *s == 200));
    assert_eq!(statuses[50], 429, "Tier 3: 50 per minute");

    // chat.postMessage: a burst of 5 per channel, then 1 per second.
    let mut post_statuses = Vec::new();
    for i in 0..6 {
        let r = http
            .post(env.api("chat.postMessage"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"channel": rep, "text": format!("m{i}")}))
            .send()
            .await
            .unwrap();
        post_statuses.push(r.status().as_u16());
    }
    assert_eq!(post_statuses, vec![200, 200, 200, 200, 200, 429]);

    env.emulator.set_rate_limits(false);
    let r = http
        .post(env.api("chat.postMessage"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"channel": rep, "text": "after"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
}

#[tokio::test]
async fn write_state_writes_messages_and_users() {
    let env = start(emulator_config()).await;
    env.emulator.add_user("ana@example.com", "Ana Rep");
    env.client
        .send_dm_once("ana@example.com", &IdempotencyKey::new("k"), "hi", &[])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    env.emulator.write_state(dir.path()).unwrap();
    let read = |name: &str| -> Vec<Value> {
        serde_json::from_slice(&std::fs::read(dir.path().join("slack").join(name)).unwrap())
            .unwrap()
    };
    let messages = read("messages.json");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["text"], "hi");
    assert!(messages[0]["channel"].as_str().unwrap().starts_with('D'));
    let users = read("users.json");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["profile"]["email"], "ana@example.com");
    assert_eq!(users[0]["real_name"], "Ana Rep");
}
