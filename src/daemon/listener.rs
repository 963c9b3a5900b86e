//! Serving a listener (public or admin) with connection hygiene, which `axum::serve` lacks:
//!
//! * at most `max_connections` open connections; one more is closed at once, unanswered, and
//!   counted (`handoff_connections_refused_total{listener}`), so a flood cannot take every
//!   descriptor (the unit's `LimitNOFILE=` bounds the rest);
//! * a request's headers must arrive within `header_timeout` (hyper's
//!   `header_read_timeout`: a sender trickling bytes is cut off) and its body within
//!   `body_timeout` (tower-http's `RequestBodyTimeoutLayer`: a webhook whose body never
//!   completes is answered 400, "failed to buffer the request body", without being stored;
//!   its sender retries);
//! * HTTP/1.1 with keep-alive, as vendors' webhook senders use.
//!
//! Shutdown: when `stop` is cancelled, no connection is accepted any more, idle connections
//! close, and requests in flight finish (hyper's graceful shutdown per connection); [`serve`]
//! returns when the last connection has closed.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// Bounds on one listener's connections (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections at most.
    pub max_connections: usize,
    /// Time to receive a request's headers.
    pub header_timeout: Duration,
    /// Time to receive a request's body.
    pub body_timeout: Duration,
}

/// Serves `router` on `listener` within `limits` until `stop` is cancelled and the last
/// connection has closed. `name` (`public`, `admin`) labels metrics and logs.
pub async fn serve(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
) {
    let router = router.layer(RequestBodyTimeoutLayer::new(limits.body_timeout));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, or a connection reset before accept: go on.
                    tracing::warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics::counter!("handoff_connections_refused_total", "listener" => name).increment(1);
            tracing::warn!(listener = name, %peer, max = limits.max_connections, "connection refused: too many open");
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let stop = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let connection = http.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let result = tokio::select! {
                r = connection.as_mut() => r,
                _ = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(listener = name, %peer, error = %e, "connection ended with an error");
            }
        });
    }
    connections.close();
    connections.wait().await;
}
