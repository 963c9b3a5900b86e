//! Simulated time for the sandbox: when things happen in the replayed week, and the driver that
//! jumps the [`SimClock`] over idle stretches.
//!
//! The replay runs from Thursday 2026-11-19 15:00 UTC (10:00 in New York, 09:00 in Chicago,
//! 07:00 in Los Angeles: West opens an hour later) to Monday 2026-11-23 20:00 UTC, through a
//! weekend, so leads arrive in business hours, after hours and on the weekend. Arrivals come in
//! sessions (a few simulated minutes each, at a weight); every replayed event is placed in them
//! in timeline order. While the daemon works, simulated time runs `speed` times faster than
//! real time; when it is idle and the next wait on the clock is more than [`JUMP_MIN_MS`] away,
//! [`drive`] jumps straight to it (the timer runner waits at most a simulated minute, so a
//! daemon timer is never overshot). Idle includes the CRM: a webhook still queued, or a change
//! a polled CRM's next poll has to read, holds the jump back ([`SandboxCrm::delivered`]).

use super::crm::SandboxCrm;
use crate::clock::{Clock, SimClock};
use crate::state::StatusReport;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// 2026-11-19T15:00:00Z, a Thursday morning in the teams' US zones.
pub const START_MS: i64 = 1_795_100_400_000;
/// 2026-11-23T20:00:00Z, Monday afternoon: weekend deferrals are handed off at Monday's
/// opening and their SLA steps play out.
pub const END_MS: i64 = START_MS + (4 * 24 + 5) * 3_600_000;
/// The shortest jump worth making, simulated ms (shorter waits just run at speed).
pub const JUMP_MIN_MS: i64 = 5_000;
/// How long the driver waits before reading the daemon's status again when the daemon is idle
/// but the CRM still holds changes it has not delivered (a poll to come), real time.
const UNDELIVERED_RECHECK: Duration = Duration::from_millis(10);
/// Simulated ms of arrivals in all sessions together; with `--replay-seconds R` the clock
/// runs `ACTIVE_MS / (R s)` times faster than real time.
pub const ACTIVE_MS: i64 = 20 * 60_000;

/// Arrival sessions: (start offset from [`START_MS`], weight). Thursday morning and
/// afternoon, Thursday night (after hours everywhere), Friday, Friday late afternoon (running
/// into the close), Saturday and Sunday (weekend), Monday morning.
const SESSIONS: [(i64, u32); 9] = [
    (0, 3),                          // Thu 15:00Z
    (4 * 3_600_000, 3),              // Thu 19:00Z
    (11 * 3_600_000, 1),             // Fri 02:00Z = Thu 21:00 New York
    (26 * 3_600_000, 3),             // Fri 17:00Z
    (30 * 3_600_000 + 1_800_000, 2), // Fri 21:30Z = 16:30 New York
    (44 * 3_600_000, 1),             // Sat 11:00Z
    (71 * 3_600_000, 1),             // Sun 14:00Z
    (89 * 3_600_000, 2),             // Mon 08:00Z (before any opening)
    (91 * 3_600_000, 3),             // Mon 10:00Z
];

/// The speed-up for a replay of `replay_seconds` real seconds (at least 1).
pub fn speed_for(replay_seconds: f64) -> f64 {
    (ACTIVE_MS as f64 / (replay_seconds.max(0.1) * 1000.0)).max(1.0)
}

/// The simulated time (UTC ms) of event `k` of `n`, spread over the sessions by weight.
pub fn event_time(k: usize, n: usize) -> i64 {
    let total: u32 = SESSIONS.iter().map(|(_, w)| w).sum();
    let pos = k as f64 / n.max(1) as f64 * total as f64;
    let mut acc = 0.0;
    for (offset, w) in SESSIONS {
        let w = w as f64;
        if pos < acc + w {
            let within = (pos - acc) / w;
            let length = ACTIVE_MS as f64 * w / total as f64;
            return START_MS + offset + (within * length) as i64;
        }
        acc += w;
    }
    let (offset, _) = SESSIONS[SESSIONS.len() - 1];
    START_MS + offset + ACTIVE_MS
}

/// Whether the daemon has nothing in hand: every change in the CRM delivered to it
/// ([`SandboxCrm::delivered`]; with `own_writes` false the echoes of its own writes do not
/// count), empty inbox, only parked sagas in the outbox.
pub fn idle(status: &StatusReport, crm: &dyn SandboxCrm, own_writes: bool) -> bool {
    status.inbox_depth == 0
        && status.outbox_depth == status.parked_sagas
        && crm.delivered(status, own_writes)
}

/// Drives the simulated reps and jumps `clock` over idle stretches until `stop`: the reps
/// read their DMs every 25 ms (real) and right before a jump; whenever the daemon is idle and
/// the earliest wait is more than [`JUMP_MIN_MS`] ahead, the clock moves to it. Idle means
/// every change someone else made in the CRM has reached the daemon (a polled CRM's echoes of
/// handoff's own writes decide nothing, so a jump does not wait for the poll that reads them).
/// Counts jumps and simulated ms skipped in `jumps`.
pub async fn drive(
    clock: SimClock,
    admin: crate::admin_client::AdminClient,
    crm: Arc<dyn SandboxCrm>,
    mut reps: super::reps::Reps,
    jumps: std::sync::Arc<JumpStats>,
    stop: CancellationToken,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut quiet = 0;
    let mut last_calls = 0;
    let mut last_scan = tokio::time::Instant::now();
    let mut next_status = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(2)) => {}
            _ = stop.cancelled() => break,
        }
        if last_scan.elapsed() >= Duration::from_millis(25) {
            reps.scan(&stop);
            last_scan = tokio::time::Instant::now();
        }
        let Some(next) = clock.next_deadline() else {
            quiet = 0;
            continue;
        };
        if next - clock.now_ms() < JUMP_MIN_MS {
            quiet = 0;
            continue;
        }
        // Cheap signs of work first (deliveries pending, CRM calls since the last look); the
        // daemon's own queues and cursors (a full status read) only when those are quiet.
        let calls = crm.request_count();
        if crm.pending_deliveries() > 0 || calls != last_calls {
            last_calls = calls;
            quiet = 0;
            continue;
        }
        quiet += 1;
        if quiet < 2 || tokio::time::Instant::now() < next_status {
            continue;
        }
        let status = admin.status().await.unwrap_or_default();
        let daemon_idle = status.inbox_depth == 0 && status.outbox_depth == status.parked_sagas;
        if idle(&status, crm.as_ref(), false) && crm.request_count() == last_calls {
            // The reps read what the daemon sent; their actions' waits count too.
            reps.scan(&stop);
            last_scan = tokio::time::Instant::now();
            if let Some(next) = clock.next_deadline() {
                let by = clock.jump_to(next);
                if by > 0 {
                    jumps.jumps.fetch_add(1, Relaxed);
                    jumps.skipped_ms.fetch_add(by as u64, Relaxed);
                }
            }
            quiet = 0;
        } else if daemon_idle && !crm.delivered(&status, false) {
            // Only a change the CRM has not handed over yet (a polled CRM's next poll): the
            // daemon's status is not worth reading every loop meanwhile.
            next_status = tokio::time::Instant::now() + UNDELIVERED_RECHECK;
        }
    }
    reps.finish().await;
}

/// What [`drive`] did.
#[derive(Debug, Default)]
pub struct JumpStats {
    pub jumps: std::sync::atomic::AtomicU64,
    pub skipped_ms: std::sync::atomic::AtomicU64,
}

/// A simulated time as `Thu 15:00Z`.
pub fn show(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%a %H:%MZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_starts_on_a_thursday_morning_and_spans_a_weekend() {
        let tz = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let start = jiff::Timestamp::from_millisecond(START_MS)
            .unwrap()
            .to_zoned(tz.clone());
        assert_eq!(start.weekday(), jiff::civil::Weekday::Thursday);
        assert_eq!(start.hour(), 10);
        let end = jiff::Timestamp::from_millisecond(END_MS)
            .unwrap()
            .to_zoned(tz);
        assert_eq!(end.weekday(), jiff::civil::Weekday::Monday);
    }

    #[test]
    fn events_are_in_order_inside_sessions_and_some_fall_on_the_weekend() {
        let n = 1000;
        let times: Vec<i64> = (0..n).map(|k| event_time(k, n)).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times.iter().all(|t| (START_MS..END_MS).contains(t)));
        let weekend = times
            .iter()
            .filter(|t| {
                let d = jiff::Timestamp::from_millisecond(**t)
                    .unwrap()
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .weekday();
                matches!(
                    d,
                    jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
                )
            })
            .count();
        assert!(weekend > 50 && weekend < 200, "{weekend}");
        assert_eq!(speed_for(5.0), 240.0);
    }
}
