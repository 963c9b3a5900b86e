//! Business time in a team's calendar: adding an amount of working time to an instant, and
//! measuring the working time between two instants (nights, non-working days and holidays
//! skipped; local times resolved by jiff, so DST changes are handled), plus the close of a
//! business day. Pure; used by the SLA policies ([`super::sla`]).
//!
//! Each working day is one interval `[opening, closing)` of [`BusinessCalendar::opening_on`]
//! and [`BusinessCalendar::closing_on`] (hours never span midnight).

use jiff::civil::Date;
use jiff::Timestamp;

use super::calendar::BusinessCalendar;

fn add_ms(t: Timestamp, ms: i64) -> Timestamp {
    Timestamp::from_millisecond(t.as_millisecond().saturating_add(ms)).unwrap_or(Timestamp::MAX)
}

/// How many local days the business-time functions look at, at most (about three years, as
/// [`BusinessCalendar::openings_after`]).
const MAX_DAYS: usize = 3 * 366;

/// The business interval `[open, close)` of local `date`, UTC ms; `None` on a non-working day.
fn business_interval(cal: &BusinessCalendar, date: Date) -> Option<(i64, i64)> {
    let open = cal.opening_on(date)?.as_millisecond();
    let close = cal.closing_on(date)?.as_millisecond();
    Some((open, close.max(open)))
}

/// `start` plus `ms` of business time in `cal`: nights, non-working days and holidays are
/// skipped. `ms = 0` gives `start` when open, else the next opening. An amount that ends
/// exactly at a close gives that close.
pub fn add_business(cal: &BusinessCalendar, start: Timestamp, ms: i64) -> Timestamp {
    let mut left = ms.max(0);
    let start_ms = start.as_millisecond();
    let mut date = cal.local_date(start);
    for _ in 0..MAX_DAYS {
        if let Some((open, close)) = business_interval(cal, date) {
            let from = open.max(start_ms);
            if from < close {
                let avail = close - from;
                if left <= avail {
                    return Timestamp::from_millisecond(from + left).unwrap_or(start);
                }
                left -= avail;
            }
        }
        match date.tomorrow() {
            Ok(d) => date = d,
            Err(_) => break,
        }
    }
    add_ms(start, ms)
}

/// The business time in `cal` between `from` and `to`, ms (0 when `to <= from`).
pub fn business_ms_between(cal: &BusinessCalendar, from: Timestamp, to: Timestamp) -> i64 {
    let (a, b) = (from.as_millisecond(), to.as_millisecond());
    if b <= a {
        return 0;
    }
    let last = cal.local_date(to);
    let mut date = cal.local_date(from);
    let mut total = 0;
    for _ in 0..MAX_DAYS {
        if let Some((open, close)) = business_interval(cal, date) {
            let (s, e) = (open.max(a), close.min(b));
            if s < e {
                total += e - s;
            }
        }
        if date >= last {
            break;
        }
        match date.tomorrow() {
            Ok(d) => date = d,
            Err(_) => break,
        }
    }
    total
}

/// The close of the business day `at` falls in; after hours, the close of the day of the next
/// opening.
pub fn close_of_business_day(cal: &BusinessCalendar, at: Timestamp) -> Timestamp {
    let opening = cal.next_opening(at);
    business_interval(cal, cal.local_date(opening))
        .and_then(|(_, close)| Timestamp::from_millisecond(close).ok())
        .unwrap_or(opening)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jiff::civil::{date, time, Weekday};
    use proptest::prelude::*;

    /// 08:00–17:00 Mon–Fri in New York, closed on Thanksgiving 2026-11-26.
    pub(crate) fn ny() -> BusinessCalendar {
        BusinessCalendar::new(
            "America/New_York",
            [
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ],
            time(8, 0, 0, 0),
            time(17, 0, 0, 0),
            [date(2026, 11, 26)],
        )
        .unwrap()
    }

    pub(crate) fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const MIN: i64 = 60_000;
    const HOUR: i64 = 3_600_000;

    #[test]
    fn adds_within_a_day_and_across_the_night() {
        let cal = ny();
        // Tue 2026-11-24 16:58 EST = 21:58Z; 5 business minutes → Wed 08:03 EST = 13:03Z.
        assert_eq!(
            add_business(&cal, ts("2026-11-24T21:58:00Z"), 5 * MIN),
            ts("2026-11-25T13:03:00Z")
        );
        // Inside the day: plain addition.
        assert_eq!(
            add_business(&cal, ts("2026-11-24T15:00:00Z"), 5 * MIN),
            ts("2026-11-24T15:05:00Z")
        );
        // Ending exactly at the close gives the close.
        assert_eq!(
            add_business(&cal, ts("2026-11-24T21:55:00Z"), 5 * MIN),
            ts("2026-11-24T22:00:00Z")
        );
    }

    #[test]
    fn skips_the_holiday_and_the_weekend() {
        let cal = ny();
        // Wed 2026-11-25 16:00 EST, 2 business hours: 1 h on Wednesday, Thanksgiving skipped,
        // 1 h on Friday → Fri 09:00 EST = 14:00Z.
        assert_eq!(
            add_business(&cal, ts("2026-11-25T21:00:00Z"), 2 * HOUR),
            ts("2026-11-27T14:00:00Z")
        );
        // Fri 16:30 EST + 1 h → Mon 2026-11-30 08:30 EST.
        assert_eq!(
            add_business(&cal, ts("2026-11-27T21:30:00Z"), HOUR),
            ts("2026-11-30T13:30:00Z")
        );
        assert_eq!(
            business_ms_between(&cal, ts("2026-11-25T21:00:00Z"), ts("2026-11-27T14:00:00Z")),
            2 * HOUR
        );
    }

    #[test]
    fn counts_across_the_us_dst_change() {
        let cal = ny();
        // Fri 2026-10-30 16:00 EDT (20:00Z) + 2 business hours: 1 h Friday, then the clocks go
        // back on Sunday 2026-11-01; Monday opens at 08:00 EST = 13:00Z → 09:00 EST = 14:00Z.
        let start = ts("2026-10-30T20:00:00Z");
        let due = add_business(&cal, start, 2 * HOUR);
        assert_eq!(due, ts("2026-11-02T14:00:00Z"));
        assert_eq!(business_ms_between(&cal, start, due), 2 * HOUR);
        // Same business day: Friday's close is 17:00 EDT = 21:00Z; Monday's is 17:00 EST = 22:00Z.
        assert_eq!(
            close_of_business_day(&cal, start),
            ts("2026-10-30T21:00:00Z")
        );
        assert_eq!(
            close_of_business_day(&cal, ts("2026-11-01T12:00:00Z")),
            ts("2026-11-02T22:00:00Z")
        );
        // A whole week spanning the change still holds 5 × 9 business hours.
        assert_eq!(
            business_ms_between(&cal, ts("2026-10-26T00:00:00Z"), ts("2026-11-02T00:00:00Z")),
            45 * HOUR
        );
    }

    #[test]
    fn same_business_day_after_hours_is_the_next_openings_close() {
        let cal = ny();
        // Wed 2026-11-25 18:00 EST: Thanksgiving is closed, so Friday's close (22:00Z).
        assert_eq!(
            close_of_business_day(&cal, ts("2026-11-25T23:00:00Z")),
            ts("2026-11-27T22:00:00Z")
        );
    }

    proptest! {
        /// Adding `n` ms of business time and measuring the business time back gives `n`, from
        /// any start (nights, weekends, Thanksgiving and both 2026 US DST changes included).
        #[test]
        fn add_then_measure_round_trips(
            start_s in 1_772_323_200i64..1_798_761_600, // 2026-03-01 .. 2027-01-01 UTC
            n in 0i64..(60 * HOUR),
        ) {
            let cal = ny();
            let start = Timestamp::from_second(start_s).unwrap();
            let end = add_business(&cal, start, n);
            prop_assert!(end >= start);
            prop_assert_eq!(business_ms_between(&cal, start, end), n);
        }

        /// Measuring then adding never goes past the later instant (unless the measure is 0:
        /// adding nothing after hours gives the next opening), and measures the same.
        #[test]
        fn measure_then_add_stays_within(
            a_s in 1_772_323_200i64..1_798_761_600,
            gap_s in 0i64..(14 * 86_400),
        ) {
            let cal = ny();
            let a = Timestamp::from_second(a_s).unwrap();
            let b = Timestamp::from_second(a_s + gap_s).unwrap();
            let m = business_ms_between(&cal, a, b);
            let back = add_business(&cal, a, m);
            prop_assert!(m == 0 || back <= b);
            prop_assert_eq!(business_ms_between(&cal, a, back), m);
        }
    }
}
