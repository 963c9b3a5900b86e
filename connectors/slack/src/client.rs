//! `SlackClient`: the Web API calls handoff makes as its bot, over the shared paced, retrying
//! [`VendorClient`].
//!
//! Slack reports most errors as HTTP 200 with `{"ok": false, "error": "<code>"}` (vendor-specs
//! NOTES.md §3.5); [`check_body`] turns those into classed [`ConnectorError`]s so the retry
//! layer treats `ratelimited` like a 429 and transient codes like a 5xx.
//!
//! Slack writes are not idempotent. handoff tags each message with metadata carrying its
//! [`IdempotencyKey`] ([`MessageMetadata::handoff`]) and [`SlackClient::send_dm_once`] looks the
//! key up in the DM's history (`include_all_metadata=true`) before posting, so a retried outbox
//! item never sends a second DM.

use crate::model::{HistoryMessage, Message, MessageMetadata, Posted, User};
use crate::{SlackConfig, VENDOR};
use handoff_connector::{ConnectorError, IdempotencyKey, VendorClient};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// Page size for `conversations.history` (Slack recommends no more than 200).
pub const HISTORY_PAGE_LIMIT: u32 = 200;

/// Maps an `{"ok": false, "error": code}` body to a [`ConnectorError`] (a [`BodyCheck`] for
/// [`VendorClient`]):
///
/// * `ratelimited` / `rate_limited` → `RateLimited` (no `Retry-After` in a 200 body);
/// * `invalid_auth`, `not_authed`, `token_expired`, `token_revoked`, `account_inactive` →
///   `Auth`;
/// * `internal_error`, `fatal_error`, `service_unavailable`, `request_timeout` → `Transient`;
/// * anything else → `Rejected` with the code as the message (status 200).
///
/// Bodies without `"ok": false` pass.
///
/// [`BodyCheck`]: handoff_connector::http::BodyCheck
pub fn check_body(vendor: &'static str, body: &Value) -> Option<ConnectorError> {
    if body.get("ok").and_then(Value::as_bool) != Some(false) {
        return None;
    }
    let code = body
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("unknown_error")
        .to_string();
    Some(match code.as_str() {
        "ratelimited" | "rate_limited" => ConnectorError::RateLimited {
            vendor,
            retry_after: None,
        },
        "invalid_auth" | "not_authed" | "token_expired" | "token_revoked" | "account_inactive" => {
            ConnectorError::Auth {
                vendor,
                status: 200,
                message: code,
            }
        }
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
            ConnectorError::Transient {
                vendor,
                reason: code,
            }
        }
        _ => ConnectorError::Rejected {
            vendor,
            status: 200,
            message: code,
        },
    })
}

/// Handoff's Slack bot. Cheap to clone; clones share the rate limiter.
#[derive(Clone)]
pub struct SlackClient {
    http: VendorClient,
    history_limit: u32,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("base_url", &self.http.base_url().as_str())
            .finish_non_exhaustive()
    }
}

/// `auth.test`'s answer: who the token belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct AuthInfo {
    pub team_id: String,
    /// The bot user's id.
    pub user_id: String,
    #[serde(default)]
    pub bot_id: Option<String>,
    /// The workspace URL, e.g. `https://acme.slack.com/`.
    #[serde(default)]
    pub url: Option<String>,
}

impl SlackClient {
    /// A client for `config` (base URL, bot token, `requests_per_minute` budget, retries).
    /// Errors with [`ConnectorError::Config`] on a bad base URL or a zero budget.
    pub fn new(config: &SlackConfig) -> Result<Self, ConnectorError> {
        Ok(Self::from_vendor_client(VendorClient::new(
            VENDOR,
            config.client_config()?,
        )?))
    }

    /// Wraps an existing [`VendorClient`] (its base URL must end in `/api/`), installing
    /// [`check_body`].
    pub fn from_vendor_client(http: VendorClient) -> Self {
        Self {
            http: http.with_body_check(check_body),
            history_limit: HISTORY_PAGE_LIMIT,
        }
    }

    /// Sets the `conversations.history` page size [`find_message_by_key`](Self::find_message_by_key)
    /// asks for (1..=999; default [`HISTORY_PAGE_LIMIT`]).
    pub fn with_history_page_limit(mut self, limit: u32) -> Self {
        self.history_limit = limit.clamp(1, 999);
        self
    }

    async fn get<T: DeserializeOwned>(
        &self,
        method: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ConnectorError> {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        self.http
            .json(Method::GET, &format!("{method}?{query}"), None::<&()>)
            .await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        method: &str,
        body: &Value,
    ) -> Result<T, ConnectorError> {
        self.http.json(Method::POST, method, Some(body)).await
    }

    /// `GET auth.test`: checks the token and says which bot and workspace it belongs to.
    pub async fn auth_test(&self) -> Result<AuthInfo, ConnectorError> {
        self.get("auth.test", &[]).await
    }

    /// `GET users.lookupByEmail?email=`: the member with this email.
    /// `users_not_found` → [`ConnectorError::NotFound`].
    pub async fn lookup_user_by_email(&self, email: &str) -> Result<User, ConnectorError> {
        #[derive(Deserialize)]
        struct Answer {
            user: User,
        }
        match self
            .get::<Answer>("users.lookupByEmail", &[("email", email)])
            .await
        {
            Ok(a) => Ok(a.user),
            Err(ConnectorError::Rejected { message, .. }) if message == "users_not_found" => {
                Err(ConnectorError::NotFound {
                    vendor: VENDOR,
                    what: format!("Slack user with email {email}"),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// `POST conversations.open {users}`: the id (`D…`) of the bot's DM with `user_id`, opening
    /// it if needed (calling it again returns the same channel).
    pub async fn open_dm(&self, user_id: &str) -> Result<String, ConnectorError> {
        #[derive(Deserialize)]
        struct Channel {
            id: String,
        }
        #[derive(Deserialize)]
        struct Answer {
            channel: Channel,
        }
        let a: Answer = self
            .post("conversations.open", &json!({ "users": user_id }))
            .await?;
        Ok(a.channel.id)
    }

    /// `POST chat.postMessage` (JSON: `channel`, `text`, `blocks`, `metadata`): where the message
    /// landed. Not idempotent: see [`SlackClient::send_dm_once`].
    pub async fn post_message(&self, message: &Message) -> Result<Posted, ConnectorError> {
        let body = serde_json::to_value(message).map_err(|e| ConnectorError::Decode {
            vendor: VENDOR,
            reason: format!("chat.postMessage body: {e}"),
        })?;
        self.post("chat.postMessage", &body).await
    }

    /// `POST chat.update` (JSON: `channel`, `ts`, `text`, `blocks`): replaces the message's text
    /// and blocks; its metadata is kept (Slack retains fields left out). Errors with
    /// `Rejected("message_not_found")` for an unknown `ts`.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &[Value],
    ) -> Result<Posted, ConnectorError> {
        self.post(
            "chat.update",
            &json!({"channel": channel, "ts": ts, "text": text, "blocks": blocks}),
        )
        .await
    }

    /// Finds the message in `channel` tagged with `key` (handoff's metadata), newest first,
    /// reading `conversations.history?include_all_metadata=true` page by page
    /// (`response_metadata.next_cursor`, [`HISTORY_PAGE_LIMIT`] per page unless changed with
    /// [`with_history_page_limit`](Self::with_history_page_limit)).
    pub async fn find_message_by_key(
        &self,
        channel: &str,
        key: &IdempotencyKey,
    ) -> Result<Option<Posted>, ConnectorError> {
        #[derive(Deserialize)]
        struct Meta {
            #[serde(default)]
            next_cursor: String,
        }
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            messages: Vec<HistoryMessage>,
            #[serde(default)]
            response_metadata: Option<Meta>,
        }
        let limit = self.history_limit.to_string();
        let mut cursor = String::new();
        loop {
            let mut query = vec![
                ("channel", channel),
                ("include_all_metadata", "true"),
                ("limit", limit.as_str()),
            ];
            if !cursor.is_empty() {
                query.push(("cursor", cursor.as_str()));
            }
            let page: Page = self.get("conversations.history", &query).await?;
            let hit = page.messages.into_iter().find(|m| {
                m.metadata.as_ref().and_then(MessageMetadata::handoff_key) == Some(key.as_str())
            });
            if let Some(m) = hit {
                return Ok(Some(Posted {
                    channel: channel.to_string(),
                    ts: m.ts,
                }));
            }
            let next = page
                .response_metadata
                .map(|m| m.next_cursor)
                .unwrap_or_default();
            if next.is_empty() {
                return Ok(None);
            }
            if next == cursor {
                return Err(ConnectorError::Decode {
                    vendor: VENDOR,
                    reason: "conversations.history returned the same cursor twice".into(),
                });
            }
            cursor = next;
        }
    }

    /// Sends the DM for `key` to the member with `email` at most once: `users.lookupByEmail` →
    /// `conversations.open` → [`find_message_by_key`](Self::find_message_by_key) → post (with
    /// handoff's metadata) only if no message carries the key. Returns the existing or new
    /// message. The outbox calls this; after a crash mid-send it is safe to call again.
    pub async fn send_dm_once(
        &self,
        email: &str,
        key: &IdempotencyKey,
        text: &str,
        blocks: &[Value],
    ) -> Result<Posted, ConnectorError> {
        let user = self.lookup_user_by_email(email).await?;
        let channel = self.open_dm(&user.id).await?;
        if let Some(existing) = self.find_message_by_key(&channel, key).await? {
            tracing::debug!(key = %key, ts = %existing.ts, "Slack DM already sent");
            return Ok(existing);
        }
        self.post_message(&Message {
            channel,
            text: text.to_string(),
            blocks: blocks.to_vec(),
            metadata: Some(MessageMetadata::handoff(key)),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_connector::ErrorClass;

    fn class(code: &str) -> Option<ErrorClass> {
        check_body("slack", &json!({"ok": false, "error": code})).map(|e| e.class())
    }

    #[test]
    fn ok_false_codes_map_to_classes() {
        assert_eq!(class("ratelimited"), Some(ErrorClass::RateLimited));
        assert_eq!(class("invalid_auth"), Some(ErrorClass::AuthExpired));
        assert_eq!(class("not_authed"), Some(ErrorClass::AuthExpired));
        assert_eq!(class("token_expired"), Some(ErrorClass::AuthExpired));
        assert_eq!(class("account_inactive"), Some(ErrorClass::AuthExpired));
        assert_eq!(class("internal_error"), Some(ErrorClass::Retryable));
        assert_eq!(class("fatal_error"), Some(ErrorClass::Retryable));
        assert_eq!(class("service_unavailable"), Some(ErrorClass::Retryable));
        assert_eq!(class("request_timeout"), Some(ErrorClass::Retryable));
        assert_eq!(class("channel_not_found"), Some(ErrorClass::Permanent));
        match check_body("slack", &json!({"ok": false, "error": "no_text"})) {
            Some(ConnectorError::Rejected { message, .. }) => assert_eq!(message, "no_text"),
            other => panic!("expected Rejected, got {other:?}"),
        }
        assert!(check_body("slack", &json!({"ok": true})).is_none());
        assert!(check_body(
            "slack",
            &json!({"ok": true, "warning": "superfluous_charset"})
        )
        .is_none());
    }
}
