//! The public HTTP server: webhook intake, Slack interactivity, health, readiness, metrics.
//!
//! Intake follows the connector contract (`docs/specs/connector.md`): the signature is checked
//! on the raw bytes before anything parses them (a bad one gets 401 and is counted, nothing is
//! stored); the changes are deduplicated into the inbox and flushed to disk; only then does the
//! vendor get its 2xx. A store failure answers 503 so the vendor retries.
//!
//! Slack interactivity: each `block_actions` action becomes one change whose record carries
//! `action_id`, `value`, `user_id`, `user_name`, `channel_id`, `message_ts`, `action_ts`. For a
//! `static_select` (the lead DM's `reject_lead` menu) Slack sends no `value` on the action but
//! `selected_option: {text, value}` (SDK sample `BlockActionPayload.json`, `actions[]`;
//! <https://docs.slack.dev/reference/interaction-payloads/block_actions-payload>): the
//! server carries the selected option's value as `value` ([`carry_selected_options`]).

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
    /// The base URL vendors post to (HubSpot signs the full URL).
    pub public_url: url::Url,
    pub hubspot: Arc<dyn WebhookSource>,
    pub slack: Arc<dyn WebhookSource>,
    /// Wakes the worker when changes arrive.
    pub wake: Arc<Notify>,
    /// Set once the daemon is ready to do its job (store open, first sync done).
    pub ready: Arc<AtomicBool>,
    pub metrics: PrometheusHandle,
}

/// The public router.
pub fn router(intake: Intake) -> Router {
    Router::new()
        .route("/webhooks/hubspot", intake_route(Vendor::HubSpot))
        .route("/slack/interactivity", intake_route(Vendor::Slack))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(intake)
}

/// The vendors whose deliveries the server takes in.
#[derive(Clone, Copy, Debug)]
enum Vendor {
    HubSpot,
    Slack,
}

impl Vendor {
    fn name(self) -> &'static str {
        match self {
            Vendor::HubSpot => "hubspot",
            Vendor::Slack => "slack",
        }
    }
}

/// A POST route that verifies, stores and acknowledges one vendor's deliveries.
fn intake_route(vendor: Vendor) -> axum::routing::MethodRouter<Intake> {
    post(
        move |State(intake): State<Intake>,
              method: Method,
              OriginalUri(uri): OriginalUri,
              headers: HeaderMap,
              body: Bytes| async move {
            let source = match vendor {
                Vendor::HubSpot => intake.hubspot.clone(),
                Vendor::Slack => intake.slack.clone(),
            };
            accept(
                &intake,
                source.as_ref(),
                vendor.name(),
                &method,
                &uri,
                &headers,
                &body,
            )
            .await
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
        Ok(mut c) => {
            if vendor == "slack" {
                carry_selected_options(body, &mut c);
            }
            c
        }
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

/// Sets `value` on the records of `static_select` actions to the selected option's value
/// (matched by `action_id` and `action_ts`). `body` is the verified, form-encoded interactivity
/// request (`payload` = JSON); anything unreadable is left as parsed.
fn carry_selected_options(body: &[u8], changes: &mut [handoff_connector::Change]) {
    let Some(payload) = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str::<serde_json::Value>(&v).ok())
    else {
        return;
    };
    let Some(actions) = payload["actions"].as_array() else {
        return;
    };
    for action in actions {
        let (Some(id), Some(ts), Some(value)) = (
            action["action_id"].as_str(),
            action["action_ts"].as_str(),
            action["selected_option"]["value"].as_str(),
        ) else {
            continue;
        };
        if action["type"] != "static_select" {
            continue;
        }
        for change in changes.iter_mut() {
            let Some(record) = change.snapshot.as_mut() else {
                continue;
            };
            let props = &mut record.properties;
            if props.get("action_id").and_then(|v| v.as_str()) == Some(id)
                && props.get("action_ts").and_then(|v| v.as_str()) == Some(ts)
            {
                props.insert("value".into(), serde_json::Value::String(value.to_string()));
            }
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
    fn static_select_actions_carry_the_selected_value() {
        let payload = serde_json::json!({"actions": [
            {"action_id": "reject_lead", "type": "static_select", "action_ts": "1.2",
             "selected_option": {"text": {"type": "plain_text", "text": "Not a fit"}, "value": "not_a_fit|hubspot:contacts:4"}},
            {"action_id": "claim_lead", "type": "button", "action_ts": "1.3", "value": "k"}
        ]});
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        let change = |id: &str, ts: &str| handoff_connector::Change {
            source: "slack".into(),
            object_type: "block_actions".into(),
            object_id: "D1:1.0".into(),
            event_id: None,
            modified_at_ms: 0,
            received_at_ms: 0,
            origin: handoff_connector::ChangeOrigin::Webhook,
            kind: handoff_connector::ChangeKind::Updated,
            changed_property: None,
            snapshot: Some(handoff_connector::Record {
                id: "D1:1.0".into(),
                object_type: "block_actions".into(),
                properties: serde_json::json!({"action_id": id, "action_ts": ts})
                    .as_object()
                    .cloned()
                    .unwrap(),
                associations: Default::default(),
            }),
        };
        let mut changes = vec![change("reject_lead", "1.2"), change("claim_lead", "1.3")];
        carry_selected_options(body.as_bytes(), &mut changes);
        let value = |c: &handoff_connector::Change| c.snapshot.as_ref().unwrap().prop("value");
        assert_eq!(
            value(&changes[0]).as_deref(),
            Some("not_a_fit|hubspot:contacts:4")
        );
        assert_eq!(value(&changes[1]), None);
    }

    #[test]
    fn public_uri_keeps_path_and_query() {
        let base: url::Url = "https://handoff.example.com/".parse().unwrap();
        let uri: axum::http::Uri = "/webhooks/hubspot?x=1".parse().unwrap();
        assert_eq!(
            public_uri(&base, &uri),
            "https://handoff.example.com/webhooks/hubspot?x=1"
        );
    }
}
