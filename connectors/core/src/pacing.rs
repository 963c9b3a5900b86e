//! Pacing from the vendor's own rate-limit headers, so a client uses its whole quota and is
//! never refused for rate.
//!
//! A local budget (governor, [`crate::ClientConfig::requests_per_window`]) can only guess where
//! the vendor's window starts; a client that fills each window draws one 429 per window, and
//! the `Retry-After` pause that follows wastes part of the next. Vendors that report the quota
//! on every answer (HubSpot `X-HubSpot-RateLimit-Max`, `-Remaining`,
//! `-Interval-Milliseconds`; NOTES §1.4) let the client do better: [`WindowPacer`] learns the
//! quota from them, keeps when the vendor counted each of its requests still in the window
//! (bounded by the time the answer arrived) and how many are in flight, and when the quota is
//! spent holds each further request until the oldest counted one has left the window. That
//! is exact for a sliding window and, for a fixed one, frees the places at most one round trip
//! after the vendor does: no request is sent that the vendor would refuse. Requests the vendor
//! counts that this client did not send (a second process on the same token, the previous run
//! before a restart) are read from the answer that comes when nothing else is in flight, and
//! held back for one window.
//!
//! Until the first answer (or after a window passes with no answer seen), the pacer does not
//! hold anything: the local budget still applies.

use http::HeaderMap;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The header names of one vendor's window quota.
#[derive(Clone, Copy, Debug)]
pub struct QuotaHeaders {
    /// Requests allowed per window (`X-HubSpot-RateLimit-Max`).
    pub max: &'static str,
    /// Requests left in the current window (`X-HubSpot-RateLimit-Remaining`).
    pub remaining: &'static str,
    /// The window, ms (`X-HubSpot-RateLimit-Interval-Milliseconds`).
    pub interval_ms: &'static str,
}

#[derive(Debug, Default)]
struct Window {
    max: Option<u32>,
    interval: Option<Duration>,
    /// When the vendor counted each of this client's requests still in its window, as an
    /// upper bound (the time its answer arrived), oldest first; at most `max` kept.
    counted: VecDeque<Instant>,
    /// Requests sent and not answered yet.
    in_flight: usize,
    /// Requests the vendor counted that this client did not send (another process with the
    /// same token, or this one before a restart), and until when they may stay counted.
    others: Option<(i64, Instant)>,
}

impl Window {
    /// Places left now, `None` before the vendor said its quota.
    fn left(&self, now: Instant) -> Option<i64> {
        let others = match self.others {
            Some((n, until)) if now < until => n,
            _ => 0,
        };
        self.max
            .map(|max| i64::from(max) - self.counted.len() as i64 - self.in_flight as i64 - others)
    }
}

/// Paces requests to a vendor's reported window quota (see the module docs).
#[derive(Debug)]
pub struct WindowPacer {
    headers: QuotaHeaders,
    state: Mutex<Window>,
}

/// A request's place in the pacer: hand it back with [`WindowPacer::answered`] or
/// [`WindowPacer::abandoned`].
#[derive(Debug)]
#[must_use]
pub struct Slot(());

impl WindowPacer {
    /// A pacer reading `headers`.
    pub fn new(headers: QuotaHeaders) -> Self {
        Self {
            headers,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a place for one request now, or says how long to wait first (then ask again).
    pub fn take(&self) -> Result<Slot, Duration> {
        let now = Instant::now();
        let mut w = self.lock();
        if let Some(interval) = w.interval {
            // Requests counted more than a window ago have left it: their places are free.
            while w.counted.front().is_some_and(|t| *t + interval <= now) {
                w.counted.pop_front();
            }
            if w.left(now).is_some_and(|left| left <= 0) {
                let next_free = w
                    .counted
                    .front()
                    .map(|t| *t + interval)
                    .into_iter()
                    .chain(w.others.map(|(_, until)| until).filter(|u| *u > now))
                    .min();
                return Err(match next_free {
                    Some(at) => at.saturating_duration_since(now) + Duration::from_millis(1),
                    // Only requests still in flight fill the window: their answers will say.
                    None => Duration::from_millis(5),
                });
            }
        }
        w.in_flight += 1;
        Ok(Slot(()))
    }

    /// The answer to the request in `slot` came with `headers`.
    pub fn answered(&self, slot: Slot, headers: &HeaderMap) {
        let _ = slot;
        let read =
            |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let now = Instant::now();
        let mut w = self.lock();
        w.in_flight = w.in_flight.saturating_sub(1);
        let (Some(max), Some(remaining)) = (read(self.headers.max), read(self.headers.remaining))
        else {
            return;
        };
        w.max = Some(max as u32);
        if let Some(ms) = read(self.headers.interval_ms) {
            w.interval = Some(Duration::from_millis(ms));
        }
        let interval = w.interval.unwrap_or(Duration::ZERO);
        w.counted.push_back(now);
        while w.counted.len() > max as usize {
            w.counted.pop_front();
        }
        // With nothing else in flight this answer is the vendor's latest word: what it counts
        // beyond this client's own requests belongs to someone else. (Answers to concurrent
        // requests arrive in any order, so only this one is compared.)
        if w.in_flight == 0 {
            let used = max.saturating_sub(remaining) as i64;
            let others = used - w.counted.len() as i64;
            w.others = (others > 0).then_some((others, now + interval));
        }
    }

    /// The request in `slot` got no answer (a transport error).
    pub fn abandoned(&self, slot: Slot) {
        let _ = slot;
        let mut w = self.lock();
        w.in_flight = w.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUBSPOT: QuotaHeaders = QuotaHeaders {
        max: "x-hubspot-ratelimit-max",
        remaining: "x-hubspot-ratelimit-remaining",
        interval_ms: "x-hubspot-ratelimit-interval-milliseconds",
    };

    fn answer(max: u32, remaining: u32, interval_ms: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HUBSPOT.max, max.into());
        h.insert(HUBSPOT.remaining, remaining.into());
        h.insert(HUBSPOT.interval_ms, interval_ms.into());
        h
    }

    #[test]
    fn a_spent_window_holds_requests_until_it_passes_then_opens_a_new_one() {
        let p = WindowPacer::new(HUBSPOT);
        // Nothing known yet: no hold.
        let s = p.take().unwrap();
        p.answered(s, &answer(3, 2, 200));
        let s = p.take().unwrap();
        p.answered(s, &answer(3, 1, 200));
        // One in flight takes the last place; the next waits about the rest of the window.
        let last = p.take().unwrap();
        let wait = p.take().unwrap_err();
        assert!(
            wait > Duration::from_millis(150) && wait <= Duration::from_millis(201),
            "{wait:?}"
        );
        p.answered(last, &answer(3, 0, 200));
        assert!(p.take().is_err());
        std::thread::sleep(wait);
        // The window passed: a new one, with the whole quota.
        for _ in 0..3 {
            let _held = p.take().unwrap();
        }
        assert!(p.take().is_err());
    }

    #[test]
    fn requests_the_vendor_counted_from_someone_else_are_held_back() {
        let p = WindowPacer::new(HUBSPOT);
        let s = p.take().unwrap();
        // The vendor counts 5 of 5: four were another process's (same token).
        p.answered(s, &answer(5, 0, 200));
        let wait = p.take().unwrap_err();
        assert!(wait > Duration::from_millis(150), "{wait:?}");
    }

    #[test]
    fn answers_without_the_headers_and_transport_errors_change_nothing() {
        let p = WindowPacer::new(HUBSPOT);
        let s = p.take().unwrap();
        p.answered(s, &HeaderMap::new());
        let s = p.take().unwrap();
        p.abandoned(s);
        for _ in 0..100 {
            let s = p.take().unwrap();
            p.answered(s, &HeaderMap::new());
        }
    }
}
