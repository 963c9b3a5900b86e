//! The org's daily API allocation, and handoff's share of it.
//!
//! Every REST response carries `Sforce-Limit-Info: api-usage=<used>/<limit>` (24-hour rolling
//! org allocation; e.g. `api-usage=18/5000`, or `api-usage=10018/100000; api-bursts=1/750`;
//! NOTES §2.2). Over the allocation Salesforce answers 403 `REQUEST_LIMIT_EXCEEDED` (no 429, no
//! `Retry-After`). The allocation is shared with every other integration and user of the org,
//! so handoff keeps itself to `daily_api_share × limit`:
//!
//! * [`ApiUsage::observe`] reads the header of every response;
//! * once `used ≥ share × limit`, [`ApiUsage::check`] refuses calls for `limit_wait` without
//!   calling Salesforce, with [`ConnectorError::RateLimited`] carrying the remaining wait (the
//!   client hands it back to the daemon, which parks the work); after the wait, calls go through
//!   again and the next response's header decides (the window is rolling, so usage drops as
//!   old calls age out).
//!
//! [`SalesforceHooks`] plugs both, and [`crate::error::classify`], into the core client.

use crate::error::{classify, VENDOR};
use handoff_connector::{ConnectorError, VendorHooks};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The response header carrying the org's API usage.
pub const LIMIT_INFO_HEADER: &str = "sforce-limit-info";

/// `(used, limit)` from a `Sforce-Limit-Info` value (`api-usage=18/5000; api-bursts=1/750`).
pub fn parse_limit_info(value: &str) -> Option<(u64, u64)> {
    value.split(';').find_map(|part| {
        let (name, usage) = part.trim().split_once('=')?;
        if name.trim() != "api-usage" {
            return None;
        }
        let (used, max) = usage.trim().split_once('/')?;
        Some((used.trim().parse().ok()?, max.trim().parse().ok()?))
    })
}

/// What handoff knows of the org's API usage, and its own budget.
#[derive(Debug)]
pub struct ApiUsage {
    share: f64,
    wait: Duration,
    state: Mutex<UsageState>,
}

#[derive(Debug, Default)]
struct UsageState {
    last: Option<(u64, u64)>,
    blocked_until: Option<Instant>,
}

impl ApiUsage {
    /// A budget of `share` (0 < share ≤ 1) of the allocation; calls pause for `wait` when it
    /// is used up.
    pub fn new(share: f64, wait: Duration) -> Self {
        Self {
            share: share.clamp(0.0, 1.0),
            wait,
            state: Mutex::new(UsageState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, UsageState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// handoff's budget out of an allocation of `limit` calls: `floor(share × limit)`.
    pub fn budget(&self, limit: u64) -> u64 {
        (self.share * limit as f64).floor() as u64
    }

    /// The last `(used, limit)` seen, if any response carried the header yet.
    pub fn last(&self) -> Option<(u64, u64)> {
        self.state().last
    }

    /// Reads a response's `Sforce-Limit-Info`; blocks calls for the wait once the budget is
    /// used up.
    pub fn observe(&self, headers: &HeaderMap) {
        let Some((used, max)) = headers
            .get(LIMIT_INFO_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_limit_info)
        else {
            return;
        };
        let budget = self.budget(max);
        let mut state = self.state();
        state.last = Some((used, max));
        if used >= budget {
            if state.blocked_until.is_none() {
                tracing::warn!(
                    vendor = VENDOR,
                    used,
                    limit = max,
                    budget,
                    wait_s = self.wait.as_secs(),
                    "handoff's share of the daily API allocation is used up; pausing calls"
                );
            }
            state.blocked_until = Some(Instant::now() + self.wait);
        } else {
            state.blocked_until = None;
        }
    }

    /// `Ok` when a call may go out; [`ConnectorError::RateLimited`] with the remaining wait
    /// while the budget is used up.
    pub fn check(&self) -> Result<(), ConnectorError> {
        let mut state = self.state();
        match state.blocked_until {
            Some(until) => {
                let now = Instant::now();
                if now >= until {
                    // Let calls probe again; the next header decides.
                    state.blocked_until = None;
                    Ok(())
                } else {
                    Err(ConnectorError::RateLimited {
                        vendor: VENDOR,
                        retry_after: Some(until - now),
                    })
                }
            }
            None => Ok(()),
        }
    }
}

/// The Salesforce [`VendorHooks`]: budget check before each call, `Sforce-Limit-Info` after
/// each response, and Salesforce's error classes ([`crate::error`]).
#[derive(Debug)]
pub struct SalesforceHooks {
    usage: std::sync::Arc<ApiUsage>,
    limit_wait: Duration,
}

impl SalesforceHooks {
    /// Hooks over `usage`; `limit_wait` is the wait reported for a used-up allocation.
    pub fn new(usage: std::sync::Arc<ApiUsage>, limit_wait: Duration) -> Self {
        Self { usage, limit_wait }
    }
}

impl VendorHooks for SalesforceHooks {
    fn before_send(&self) -> Result<(), ConnectorError> {
        self.usage.check()
    }

    fn on_response(&self, _status: StatusCode, headers: &HeaderMap) {
        self.usage.observe(headers);
    }

    fn classify(
        &self,
        _vendor: &'static str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<ConnectorError> {
        Some(classify(status, headers, body, self.limit_wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(LIMIT_INFO_HEADER, v.parse().unwrap());
        h
    }

    #[test]
    fn documented_header_forms_parse() {
        assert_eq!(parse_limit_info("api-usage=18/5000"), Some((18, 5000)));
        assert_eq!(
            parse_limit_info("api-usage=10018/100000; api-bursts=1/750"),
            Some((10018, 100000))
        );
        assert_eq!(
            parse_limit_info("per-app-api-usage=17/250(appName=sample-connected-app)"),
            None
        );
        assert_eq!(parse_limit_info("api-usage=x/5"), None);
    }

    #[test]
    fn the_share_blocks_calls_until_the_wait_passes() {
        let usage = ApiUsage::new(0.5, Duration::from_millis(50));
        usage.observe(&header("api-usage=49/100"));
        assert!(usage.check().is_ok());
        usage.observe(&header("api-usage=50/100"));
        let err = usage.check().unwrap_err();
        let wait = err.retry_after().unwrap();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(50));
        std::thread::sleep(Duration::from_millis(60));
        assert!(usage.check().is_ok(), "a probe goes out after the wait");
        usage.observe(&header("api-usage=10/100"));
        assert!(usage.check().is_ok());
        assert_eq!(usage.last(), Some((10, 100)));
    }
}
