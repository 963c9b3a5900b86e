//! The public HTTP server: webhook intake, Slack interactivity, health, readiness, metrics.
//!
//! Intake follows the connector contract (`docs/specs/connector.md`): the signature is checked
//! on the raw bytes before anything parses them (a bad one gets 401 and is counted, nothing is
//! stored); the changes are deduplicated into the inbox and flushed to disk; only then does the
//! vendor get its 2xx. A store failure answers 503 so the vendor retries.
//!
//! Slack interactivity: each `block_actions` action becomes one change whose record carries
//! `action_id`, `value`, `user_id`, `user_name`, `channel_id`, `message_ts`, `action_ts`; for a
//! `static_select` (the lead DM's `reject_lead` menu) `value` is the chosen option's value
//! (parsed by the Slack connector, `handoff_slack::interaction`).

use crate::state::Store;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use handoff_connector::{WebhookRequest, WebhookSource};
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Shared by the handlers.
#[derive(Clone)]
pub struct Intake {
    pub store: Store,
    /// The base URL vendors post to (some vendors sign the full URL).
    pub public_url: url::Url,
    /// Wakes the worker when changes arrive.
    pub wake: Arc<Notify>,
    /// Set once the daemon is ready to do its job (store open, first sync done).
    pub ready: Arc<AtomicBool>,
    pub metrics: PrometheusHandle,
}

/// One endpoint vendors post to: `POST /<path>`, verified and parsed by `source`.
#[derive(Clone)]
pub struct WebhookRoute {
    /// Path under the public URL, without a leading `/` (`slack/interactivity`).
    pub path: String,
    /// The vendor, for logs and metric labels.
    pub vendor: &'static str,
    pub source: Arc<dyn WebhookSource>,
}

/// The public router: one intake route per webhook endpoint, health, readiness, metrics.
pub fn router(intake: Intake, webhooks: Vec<WebhookRoute>) -> Router {
    let mut router = Router::new();
    for hook in webhooks {
        router = router.route(&format!("/{}", hook.path), intake_route(hook));
    }
    router
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(intake)
}

/// A POST route that verifies, stores and acknowledges one vendor's deliveries.
fn intake_route(hook: WebhookRoute) -> axum::routing::MethodRouter<Intake> {
    post(
        move |State(intake): State<Intake>,
              method: Method,
              OriginalUri(uri): OriginalUri,
              headers: HeaderMap,
              body: Bytes| async move {
            let status = accept(
                &intake,
                hook.source.as_ref(),
                hook.vendor,
                &method,
                &uri,
                &headers,
                &body,
            )
            .await;
            match hook.source.ack().filter(|_| status == StatusCode::OK) {
                Some((content_type, ack)) => (
                    status,
                    [(axum::http::header::CONTENT_TYPE, content_type)],
                    ack,
                )
                    .into_response(),
                None => status.into_response(),
            }
        },
    )
}

async fn readyz(State(intake): State<Intake>) -> impl IntoResponse {
    if intake.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

async fn metrics(State(intake): State<Intake>) -> impl IntoResponse {
    intake.metrics.render()
}

async fn accept(
    intake: &Intake,
    source: &dyn WebhookSource,
    vendor: &'static str,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> StatusCode {
    let now = handoff_connector::now_ms();
    let full_uri = public_uri(&intake.public_url, uri);
    let request = WebhookRequest {
        method: method.as_str(),
        uri: &full_uri,
        headers,
        body,
    };
    if let Err(e) = source.verify(&request, now) {
        metrics::counter!("handoff_webhooks_rejected_total", "vendor" => vendor, "reason" => "signature").increment(1);
        tracing::warn!(vendor, error = %e, "webhook rejected before parsing");
        return StatusCode::UNAUTHORIZED;
    }
    let changes = match source.parse(body, now) {
        Ok(c) => c,
        Err(e) => {
            metrics::counter!("handoff_webhooks_rejected_total", "vendor" => vendor, "reason" => "body").increment(1);
            tracing::warn!(vendor, error = %e, "webhook body refused");
            return StatusCode::BAD_REQUEST;
        }
    };
    let n = changes.len();
    match intake.store.enqueue(changes).await {
        Ok(report) => {
            metrics::counter!("handoff_webhook_events_total", "vendor" => vendor)
                .increment(n as u64);
            tracing::debug!(
                vendor,
                accepted = report.accepted,
                duplicates = report.duplicates,
                "webhook stored"
            );
            if report.accepted > 0 {
                intake.wake.notify_one();
            }
            StatusCode::OK
        }
        Err(e) => {
            tracing::error!(vendor, error = %e, "webhook not stored; vendor will retry");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// The URI as the vendor addressed it: the configured public base URL's scheme, host and path
/// prefix, plus the request's path and query.
fn public_uri(public: &url::Url, uri: &axum::http::Uri) -> String {
    let base = public.as_str().trim_end_matches('/');
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    format!("{base}{path}")
}

/// A flag set once startup finished.
pub fn set_ready(flag: &AtomicBool) {
    flag.store(true, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_uri_keeps_path_and_query() {
        let base: url::Url = "https://handoff.example.com/".parse().unwrap();
        let uri: axum::http::Uri = "/webhooks/crm?x=1".parse().unwrap();
        assert_eq!(
            public_uri(&base, &uri),
            "https://handoff.example.com/webhooks/crm?x=1"
        );
    }
}
