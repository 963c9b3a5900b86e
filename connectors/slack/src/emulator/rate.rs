//! Slack's per-method rate limits, as the emulator enforces them.
//!
//! Slack limits each Web API method per workspace per app by tier
//! (<https://api.slack.com/docs/rate-limits>, vendor-specs NOTES.md §3.3):
//!
//! * **Tier 3, 50 requests per minute**: `users.lookupByEmail`, `conversations.open`,
//!   `conversations.history`, `chat.update` (fixed 60 s windows, [`RateWindow`]);
//! * **Tier 4, 100 per minute**: `auth.test` (Slack lists it as "Special"; the emulator uses
//!   Tier 4);
//! * **`chat.postMessage`, special**: "one message per second per channel" with short bursts
//!   allowed. The emulator uses a token bucket per channel holding [`POST_MESSAGE_BURST`] (5)
//!   messages, refilled at 1 per second. Slack documents no burst size and an unnumbered
//!   workspace-wide limit; both numbers here are the emulator's choice.
//!
//! Over the limit the emulator answers HTTP 429, `Retry-After: <seconds>` and
//! `{"ok":false,"error":"ratelimited"}`.

use handoff_connector::emulator::RateWindow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Tier 3: requests per minute.
pub const TIER3_PER_MINUTE: u32 = 50;
/// Tier 4: requests per minute.
pub const TIER4_PER_MINUTE: u32 = 100;
/// `chat.postMessage` messages a channel may take at once before the 1 per second pace.
pub const POST_MESSAGE_BURST: f64 = 5.0;
/// `chat.postMessage` refill rate per channel, messages per second.
pub const POST_MESSAGE_PER_SECOND: f64 = 1.0;

/// The emulator's limiters, one per method (keyed by token) and one bucket per channel for
/// `chat.postMessage`.
#[derive(Debug)]
pub(crate) struct RateLimits {
    enabled: AtomicBool,
    windows: HashMap<&'static str, RateWindow>,
    post_buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimits {
    pub fn new(enabled: bool) -> Self {
        let minute = Duration::from_secs(60);
        let mut windows = HashMap::new();
        for method in [
            "users.lookupByEmail",
            "conversations.open",
            "conversations.history",
            "chat.update",
        ] {
            windows.insert(method, RateWindow::new(TIER3_PER_MINUTE, minute));
        }
        windows.insert("auth.test", RateWindow::new(TIER4_PER_MINUTE, minute));
        Self {
            enabled: AtomicBool::new(enabled),
            windows,
            post_buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Counts one call of `method` by `token` (to `channel`, for `chat.postMessage`); `Err`
    /// holds the `Retry-After` seconds.
    pub fn check(&self, method: &str, token: &str, channel: Option<&str>) -> Result<(), u64> {
        if !self.enabled.load(Ordering::Relaxed) {
            return Ok(());
        }
        if method == "chat.postMessage" {
            return self.take_post_token(channel.unwrap_or_default());
        }
        match self.windows.get(method) {
            Some(w) => w.check(token).map(|_| ()).map_err(|o| o.retry_after_secs),
            None => Ok(()),
        }
    }

    fn take_post_token(&self, channel: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.post_buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = buckets
            .entry(channel.to_string())
            .or_insert((POST_MESSAGE_BURST, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * POST_MESSAGE_PER_SECOND)
            .min(POST_MESSAGE_BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / POST_MESSAGE_PER_SECOND;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_message_allows_a_burst_per_channel_then_paces() {
        let r = RateLimits::new(true);
        for _ in 0..5 {
            assert_eq!(r.check("chat.postMessage", "t", Some("D1")), Ok(()));
        }
        assert_eq!(r.check("chat.postMessage", "t", Some("D1")), Err(1));
        assert_eq!(
            r.check("chat.postMessage", "t", Some("D2")),
            Ok(()),
            "per channel"
        );
        r.set_enabled(false);
        assert_eq!(r.check("chat.postMessage", "t", Some("D1")), Ok(()));
    }

    #[test]
    fn tier3_allows_fifty_per_minute() {
        let r = RateLimits::new(true);
        for _ in 0..50 {
            assert_eq!(r.check("users.lookupByEmail", "t", None), Ok(()));
        }
        let wait = r.check("users.lookupByEmail", "t", None).unwrap_err();
        assert!((1..=60).contains(&wait));
        assert_eq!(
            r.check("conversations.open", "t", None),
            Ok(()),
            "per method"
        );
    }
}
