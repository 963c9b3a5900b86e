//! Time for code that schedules, behind a trait so tests control it.
//!
//! Durable timers (`state::Timer`, run by `daemon::timers`) are due at a UTC time in ms. The
//! runner asks a [`Clock`] what time it is and for a future that completes at a given time:
//!
//! - [`SystemClock`]: the wall clock (production). Waits use tokio's monotonic timer, so a
//!   wall-clock jump is only noticed when the wait ends; the runner bounds every wait for that.
//! - [`TokioClock`]: a fixed UTC origin plus the time elapsed on tokio's clock. Under
//!   `#[tokio::test(start_paused = true)]` it moves only with `tokio::time::advance` (or tokio's
//!   auto-advance), so a test can jump five minutes ahead in no real time.
//! - [`ManualClock`]: set and advanced by the test itself, with waits that complete exactly
//!   when the test moves the clock past them. Needs no tokio feature.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A wait returned by [`Clock::sleep_until_ms`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of the current UTC time.
pub trait Clock: Send + Sync {
    /// Now, as UTC epoch milliseconds.
    fn now_ms(&self) -> i64;

    /// A future that completes once `now_ms() >= at_ms` (at once if that is already so).
    ///
    /// The default sleeps on tokio's timer for the difference measured now, which follows
    /// tokio's paused clock in tests; it may end late or early if the wall clock jumps.
    fn sleep_until_ms(&self, at_ms: i64) -> Sleep {
        let wait_ms = at_ms.saturating_sub(self.now_ms()).max(0) as u64;
        Box::pin(tokio::time::sleep_until(
            tokio::time::Instant::now() + Duration::from_millis(wait_ms),
        ))
    }
}

/// The wall clock ([`handoff_connector::now_ms`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        handoff_connector::now_ms()
    }
}

/// UTC time that advances with tokio's clock: `origin_ms` plus the time elapsed on tokio's
/// clock since `origin`. Under paused time it moves only with `tokio::time::advance`.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    /// UTC epoch ms at `origin`.
    pub origin_ms: i64,
    /// The tokio instant that corresponds to `origin_ms`.
    pub origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `origin_ms` (UTC epoch ms) now.
    pub fn new(origin_ms: i64) -> TokioClock {
        TokioClock {
            origin_ms,
            origin: tokio::time::Instant::now(),
        }
    }

    /// A clock that starts at the current wall-clock time.
    pub fn starting_now() -> TokioClock {
        TokioClock::new(handoff_connector::now_ms())
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        self.origin_ms + self.origin.elapsed().as_millis() as i64
    }
}

/// A clock the test moves by hand. Waits from [`Clock::sleep_until_ms`] complete when
/// [`ManualClock::advance`] or [`ManualClock::set`] reaches their time, and never otherwise.
#[derive(Debug)]
pub struct ManualClock {
    now: tokio::sync::watch::Sender<i64>,
}

impl ManualClock {
    /// A clock reading `now_ms` (UTC epoch ms).
    pub fn new(now_ms: i64) -> ManualClock {
        ManualClock {
            now: tokio::sync::watch::Sender::new(now_ms),
        }
    }

    /// Moves the clock forward by `by` (ms precision).
    pub fn advance(&self, by: Duration) {
        self.now
            .send_modify(|now| *now = now.saturating_add(by.as_millis() as i64));
    }

    /// Sets the clock to `now_ms` (UTC epoch ms); going backwards is allowed (a wall-clock
    /// correction).
    pub fn set(&self, now_ms: i64) {
        self.now.send_replace(now_ms);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        *self.now.borrow()
    }

    fn sleep_until_ms(&self, at_ms: i64) -> Sleep {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock; if it is gone, nothing will ever move it.
            if rx.wait_for(|now| *now >= at_ms).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_only_when_moved_past_their_time() {
        let clock = ManualClock::new(1_000);
        let mut sleep = clock.sleep_until_ms(1_500);
        let poll_once = |s: &mut Sleep| futures::FutureExt::now_or_never(s.as_mut()).is_some();
        assert!(!poll_once(&mut sleep));
        clock.advance(Duration::from_millis(499));
        assert!(!poll_once(&mut sleep));
        assert_eq!(clock.now_ms(), 1_499);
        clock.advance(Duration::from_millis(1));
        assert!(poll_once(&mut sleep));
        // A time already passed completes at once.
        assert!(poll_once(&mut clock.sleep_until_ms(0)));
    }

    #[tokio::test]
    async fn tokio_clock_starts_at_its_origin_and_moves_forward() {
        let clock = TokioClock::new(1_700_000_000_000);
        let first = clock.now_ms();
        assert!((1_700_000_000_000..1_700_000_000_000 + 1_000).contains(&first));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(clock.now_ms() >= first + 20);
    }
}
