//! The public listener's connection hygiene, black-box (`connections:` in the config): a sender
//! trickling its headers is cut off, a body that never completes is answered without being
//! stored, and connections past `max_open` are closed at once while the daemon keeps serving.

mod common;

use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start() -> TestEnv {
    let mut env = TestEnv::new(Options::default()).await;
    let mut config = std::fs::read_to_string(&env.config_path).unwrap();
    config.push_str("connections: { max_open: 4, header_timeout_s: 1, body_timeout_s: 1 }\n");
    std::fs::write(&env.config_path, config).unwrap();
    env.start_in_process().await;
    env
}

fn addr(env: &TestEnv) -> String {
    format!(
        "{}:{}",
        env.daemon_url.host_str().unwrap(),
        env.daemon_url.port().unwrap()
    )
}

/// Reads until the peer closes (or 10 s pass: then `None`); returns what it sent.
async fn until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut got)).await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_that_never_finishes_its_headers_is_cut_off() {
    let env = start().await;
    let mut slow = TcpStream::connect(addr(&env)).await.unwrap();
    slow.write_all(b"POST /webhooks/hubspot HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
        .await
        .unwrap();
    assert!(
        until_closed(&mut slow).await.is_some(),
        "the connection is still open"
    );
    assert_eq!(env.status().await.inbox_depth, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_completes_is_answered_and_not_stored() {
    let env = start().await;
    let mut slow = TcpStream::connect(addr(&env)).await.unwrap();
    slow.write_all(
        b"POST /webhooks/hubspot HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n[{\"eventId\":",
    )
    .await
    .unwrap();
    let answer = until_closed(&mut slow).await.expect("answered in time");
    let status: u16 = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!((400..500).contains(&status), "{answer}");
    assert_eq!(env.status().await.inbox_depth, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_closed_and_the_daemon_keeps_serving() {
    let env = start().await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr(&env)).await.unwrap());
    }
    let mut extra = TcpStream::connect(addr(&env)).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    let answer = until_closed(&mut extra).await.expect("closed at once");
    assert!(answer.is_empty(), "unanswered: {answer}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = env
        .metrics_text()
        .await
        .lines()
        .find(|l| l.starts_with("handoff_connections_refused_total{listener=\"public\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(refused.is_some_and(|n| n >= 1.0), "{refused:?}");
    let health = env
        .http
        .get(env.daemon_url.join("healthz").unwrap())
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
}
