//! Pieces every vendor emulator shares.
//!
//! Each connector crate ships an axum emulator of its vendor's API (same paths, JSON shapes,
//! paging, errors and 429s). These helpers keep the emulators small and alike:
//!
//! * [`RateWindow`]: a fixed-window request counter per token that answers "over quota, retry
//!   after N s", which each emulator renders as its vendor's 429;
//! * [`Faults`]: injected failures (the next N requests answer 429 or 500), for tests;
//! * [`serve`]: binds a router and serves it until a cancellation token fires;
//! * [`write_state_file`]: writes `DIR/<vendor>/<name>.json` as a JSON array, the format
//!   `--state-dir` promises.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// An emulator's clock, UTC epoch ms: the system clock unless a test pins it, so records can
/// share one millisecond deterministically or follow a simulated clock.
#[derive(Debug, Default)]
pub struct PinnedClock(std::sync::atomic::AtomicI64);

impl PinnedClock {
    /// Now: the pinned time, or the system clock.
    pub fn now_ms(&self) -> i64 {
        match self.0.load(Ordering::SeqCst) {
            0 => crate::now_ms(),
            pinned => pinned,
        }
    }

    /// Pins the clock to `ms`, or follows the system clock again with `None`.
    pub fn set(&self, ms: Option<i64>) {
        self.0.store(ms.unwrap_or(0), Ordering::SeqCst);
    }
}

/// A quota of at most `limit` requests per `window` for each key (token): a fixed window
/// (it starts at the first request after the previous one ended) or a sliding one (the last
/// `window` before each request), as [`RateWindow::new`] or [`RateWindow::sliding`].
#[derive(Debug)]
pub struct RateWindow {
    limit: u32,
    window: Duration,
    enabled: std::sync::atomic::AtomicBool,
    counters: Mutex<HashMap<String, (Instant, u32)>>,
    /// Sliding mode: the send times within the window, per key, oldest first.
    sliding: Option<Mutex<HashMap<String, std::collections::VecDeque<Instant>>>>,
}

/// The answer of [`RateWindow::check`] when over quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverQuota {
    /// Whole seconds until the window resets (at least 1), for `Retry-After`.
    pub retry_after_secs: u64,
    /// The quota's size, for the vendor's limit headers.
    pub limit: u32,
}

impl RateWindow {
    /// A fixed-window quota of `limit` requests per `window`, enforced from the start.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            enabled: std::sync::atomic::AtomicBool::new(true),
            counters: Mutex::new(HashMap::new()),
            sliding: None,
        }
    }

    /// A sliding-window quota: at most `limit` requests in any `window`.
    pub fn sliding(limit: u32, window: Duration) -> Self {
        Self {
            sliding: Some(Mutex::new(HashMap::new())),
            ..Self::new(limit, window)
        }
    }

    /// Turns enforcement on or off (the sandbox relaxes limits; tests keep them).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Whether the quota is enforced.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Counts one request for `key`; returns the remaining quota, or [`OverQuota`].
    pub fn check(&self, key: &str) -> Result<u32, OverQuota> {
        if !self.enabled.load(Ordering::Relaxed) {
            return Ok(self.limit);
        }
        let now = Instant::now();
        if let Some(sliding) = &self.sliding {
            let mut times = sliding.lock().unwrap_or_else(|p| p.into_inner());
            let sent = times.entry(key.to_string()).or_default();
            while sent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= self.window)
            {
                sent.pop_front();
            }
            if sent.len() as u32 >= self.limit {
                let left = self
                    .window
                    .saturating_sub(now.duration_since(*sent.front().expect("limit ≥ 1")));
                return Err(OverQuota {
                    retry_after_secs: left.as_secs_f64().ceil().max(1.0) as u64,
                    limit: self.limit,
                });
            }
            sent.push_back(now);
            return Ok(self.limit - sent.len() as u32);
        }
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        // Prune windows that ended, so the map stays bounded by the active keys.
        if counters.len() > 1024 {
            counters.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = counters.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            let left = self.window.saturating_sub(now.duration_since(entry.0));
            return Err(OverQuota {
                retry_after_secs: left.as_secs_f64().ceil().max(1.0) as u64,
                limit: self.limit,
            });
        }
        entry.1 += 1;
        Ok(self.limit - entry.1)
    }

    /// The quota's size.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The quota's window.
    pub fn window(&self) -> Duration {
        self.window
    }
}

/// A failure to inject into upcoming requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer 429 with the vendor's body and a `Retry-After` of this many seconds.
    RateLimited { retry_after_secs: u64 },
    /// Answer 500 with the vendor's error body.
    ServerError,
}

/// Failures queued for the next requests an emulator serves.
#[derive(Debug, Default)]
pub struct Faults {
    remaining: AtomicU32,
    kind: Mutex<Option<Fault>>,
    served: AtomicU32,
}

impl Faults {
    /// The next `count` requests fail with `fault`.
    pub fn inject(&self, fault: Fault, count: u32) {
        *self.kind.lock().unwrap_or_else(|p| p.into_inner()) = Some(fault);
        self.remaining.store(count, Ordering::SeqCst);
    }

    /// Takes one queued failure, if any.
    pub fn take(&self) -> Option<Fault> {
        let took = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !took {
            return None;
        }
        self.served.fetch_add(1, Ordering::SeqCst);
        *self.kind.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many injected failures were served so far.
    pub fn served(&self) -> u32 {
        self.served.load(Ordering::SeqCst)
    }
}

/// A running emulator: its address and the task serving it.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// `http://ADDR/`, the base URL clients use.
    pub fn base_url(&self) -> url::Url {
        format!("http://{}/", self.addr)
            .parse()
            .expect("socket address forms a URL")
    }
}

/// Binds `addr` (use port 0 for any) and serves `router` until `shutdown` is cancelled.
pub async fn serve(
    router: axum::Router,
    addr: SocketAddr,
    shutdown: CancellationToken,
) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
    });
    Ok(Running { addr, task })
}

/// Writes `items` as a pretty JSON array to `dir/vendor/name.json`, creating folders; returns
/// the file's path.
pub fn write_state_file(
    dir: &Path,
    vendor: &str,
    name: &str,
    items: &[serde_json::Value],
) -> std::io::Result<PathBuf> {
    let folder = dir.join(vendor);
    std::fs::create_dir_all(&folder)?;
    let path = folder.join(format!("{name}.json"));
    let tmp = folder.join(format!(".{name}.json.tmp"));
    let text = serde_json::to_vec_pretty(items).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_refuses_past_the_limit_per_key() {
        let w = RateWindow::new(2, Duration::from_secs(10));
        assert_eq!(w.check("a"), Ok(1));
        assert_eq!(w.check("a"), Ok(0));
        let over = w.check("a").unwrap_err();
        assert!(over.retry_after_secs >= 1 && over.retry_after_secs <= 10);
        assert_eq!(w.check("b"), Ok(1), "keys have separate budgets");
        w.set_enabled(false);
        assert!(w.check("a").is_ok());
    }

    #[test]
    fn faults_are_served_exactly_count_times() {
        let f = Faults::default();
        f.inject(Fault::ServerError, 2);
        assert_eq!(f.take(), Some(Fault::ServerError));
        assert_eq!(f.take(), Some(Fault::ServerError));
        assert_eq!(f.take(), None);
        assert_eq!(f.served(), 2);
    }
}
