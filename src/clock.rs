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
//! - [`SimClock`]: simulated UTC time for `handoff sandbox`: runs a fixed factor faster than
//!   tokio's clock from a chosen start, and can jump ahead (over nights and weekends while the
//!   daemon is idle). It knows the earliest time anyone waits for ([`SimClock::next_deadline`]),
//!   so a driver can jump to it without overshooting.

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

    /// Whether every jump of this clock wakes the pending waits it passes (so a waiter needs
    /// no periodic re-check for jumps). False by default: the wall clock can be stepped
    /// without notice. The timer runner bounds its waits only when this is false.
    fn wakes_waits_on_jumps(&self) -> bool {
        false
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

/// Simulated time: `start_ms` plus `speed` times the tokio time elapsed since creation, plus
/// every jump. Cheap to clone; clones share the time and the waits.
#[derive(Clone, Debug)]
pub struct SimClock {
    inner: std::sync::Arc<SimInner>,
}

#[derive(Debug)]
struct SimInner {
    start_ms: i64,
    origin: tokio::time::Instant,
    speed: f64,
    state: std::sync::Mutex<SimState>,
    /// Bumped at every jump, so waits re-check the time.
    jumps: tokio::sync::watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct SimState {
    /// Sum of all jumps, ms.
    jumped_ms: i64,
    /// Pending waits: id → deadline (UTC ms).
    waits: std::collections::BTreeMap<u64, i64>,
    next_id: u64,
}

impl SimInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ms(&self) -> i64 {
        let run = self.origin.elapsed().as_secs_f64() * 1000.0 * self.speed;
        self.start_ms + run as i64 + self.lock().jumped_ms
    }
}

/// Removes a wait from [`SimState::waits`] when its future completes or is dropped.
struct WaitGuard {
    inner: std::sync::Arc<SimInner>,
    id: u64,
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        self.inner.lock().waits.remove(&self.id);
    }
}

impl SimClock {
    /// A clock reading `start_ms` (UTC epoch ms) now and running `speed` times faster than
    /// tokio's clock (`speed` ≥ 1; smaller values are taken as 1).
    pub fn new(start_ms: i64, speed: f64) -> SimClock {
        SimClock {
            inner: std::sync::Arc::new(SimInner {
                start_ms,
                origin: tokio::time::Instant::now(),
                speed: speed.max(1.0),
                state: std::sync::Mutex::new(SimState::default()),
                jumps: tokio::sync::watch::Sender::new(0),
            }),
        }
    }

    /// The speed-up factor.
    pub fn speed(&self) -> f64 {
        self.inner.speed
    }

    /// The earliest time (UTC ms) a pending [`Clock::sleep_until_ms`] waits for, if any.
    pub fn next_deadline(&self) -> Option<i64> {
        self.inner.lock().waits.values().min().copied()
    }

    /// Moves the clock forward to `at_ms` (UTC ms) at once and wakes the waits it passes;
    /// a time not ahead of now is ignored. Returns how far it jumped, ms.
    pub fn jump_to(&self, at_ms: i64) -> i64 {
        let by = at_ms - self.inner.now_ms();
        if by <= 0 {
            return 0;
        }
        self.inner.lock().jumped_ms += by;
        self.inner.jumps.send_modify(|n| *n += 1);
        by
    }
}

impl Clock for SimClock {
    fn now_ms(&self) -> i64 {
        self.inner.now_ms()
    }

    fn wakes_waits_on_jumps(&self) -> bool {
        true
    }

    fn sleep_until_ms(&self, at_ms: i64) -> Sleep {
        let inner = self.inner.clone();
        let mut jumps = inner.jumps.subscribe();
        let guard = {
            let mut st = inner.lock();
            let id = st.next_id;
            st.next_id += 1;
            st.waits.insert(id, at_ms);
            WaitGuard {
                inner: inner.clone(),
                id,
            }
        };
        Box::pin(async move {
            let _guard = guard;
            loop {
                let left = at_ms - inner.now_ms();
                if left <= 0 {
                    return;
                }
                let real = Duration::from_secs_f64(left as f64 / inner.speed / 1000.0);
                tokio::select! {
                    _ = tokio::time::sleep(real) => {}
                    changed = jumps.changed() => {
                        if changed.is_err() {
                            // The clock is gone: only real time moves it now.
                            tokio::time::sleep(real).await;
                        }
                    }
                }
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

    #[tokio::test(start_paused = true)]
    async fn sim_clock_runs_faster_and_jumps_wake_the_waits_they_pass() {
        let clock = SimClock::new(1_000_000, 60.0);
        assert_eq!(clock.now_ms(), 1_000_000);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            clock.now_ms(),
            1_060_000,
            "one real second is a simulated minute"
        );

        let poll_once = |s: &mut Sleep| futures::FutureExt::now_or_never(s.as_mut()).is_some();
        let mut near = clock.sleep_until_ms(1_090_000);
        let mut far = clock.sleep_until_ms(50_000_000);
        assert!(!poll_once(&mut near) && !poll_once(&mut far));
        assert_eq!(clock.next_deadline(), Some(1_090_000));
        // Half a real second = 30 simulated seconds: the near wait is due.
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(poll_once(&mut near));
        drop(near);
        assert_eq!(clock.next_deadline(), Some(50_000_000));

        // A jump lands exactly on the far wait's time and completes it; backwards is ignored.
        assert_eq!(clock.jump_to(50_000_000), 50_000_000 - 1_090_000);
        assert_eq!(clock.now_ms(), 50_000_000);
        assert!(poll_once(&mut far));
        drop(far);
        assert_eq!(clock.next_deadline(), None);
        assert_eq!(clock.jump_to(10), 0);
        assert_eq!(clock.now_ms(), 50_000_000);
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
