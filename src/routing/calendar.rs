//! Business hours of a team: weekly opening hours in an IANA time zone, minus holidays.
//!
//! Pure: every question takes the instant it is about (`now_utc`); nothing reads the clock.
//! Local times are resolved with jiff, so DST changes are handled by the time zone database:
//! on a spring-forward day an opening inside the gap moves forward, and "08:00" is always
//! 08:00 on the wall clock whatever the UTC offset that day.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// When a team works: local weekdays, a local open/close time, and holiday dates.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz_name: String,
    tz: TimeZone,
    days: BTreeSet<i8>,
    open: Time,
    close: Time,
    holidays: BTreeSet<Date>,
}

/// How far ahead [`BusinessCalendar::next_opening`] looks, in days. Longer than any list of
/// consecutive holidays a config can reasonably hold.
const LOOKAHEAD_DAYS: i64 = 3 * 366;

impl BusinessCalendar {
    /// A calendar open on `days` (ISO weekday numbers, Monday = 1) from `open` (inclusive)
    /// to `close` (exclusive), local to `tz_name`, closed on `holidays` (local dates).
    ///
    /// # Errors
    /// A message when the time zone is unknown, `days` is empty, or `open` is not before `close`.
    pub fn new(
        tz_name: &str,
        days: impl IntoIterator<Item = Weekday>,
        open: Time,
        close: Time,
        holidays: impl IntoIterator<Item = Date>,
    ) -> Result<BusinessCalendar, String> {
        let tz = TimeZone::get(tz_name)
            .map_err(|e| format!("unknown IANA time zone \"{tz_name}\": {e}"))?;
        let days: BTreeSet<i8> = days.into_iter().map(|d| d.to_monday_one_offset()).collect();
        if days.is_empty() {
            return Err("a team needs at least one working day".into());
        }
        if open >= close {
            return Err(format!("open ({open}) must be before close ({close})"));
        }
        Ok(BusinessCalendar {
            tz_name: tz_name.to_owned(),
            tz,
            days,
            open,
            close,
            holidays: holidays.into_iter().collect(),
        })
    }

    /// The IANA time zone name.
    pub fn time_zone(&self) -> &str {
        &self.tz_name
    }

    /// The local calendar date at `now_utc`.
    pub fn local_date(&self, now_utc: Timestamp) -> Date {
        now_utc.to_zoned(self.tz.clone()).date()
    }

    /// `now_utc` rendered in the team's zone, e.g. `2026-11-24T09:00:00-08:00[America/Los_Angeles]`.
    pub fn local_string(&self, now_utc: Timestamp) -> String {
        now_utc.to_zoned(self.tz.clone()).to_string()
    }

    /// Whether `date` (local) is a holiday.
    pub fn is_holiday(&self, date: Date) -> bool {
        self.holidays.contains(&date)
    }

    /// Whether `date` (local) is a working day: a listed weekday and not a holiday.
    pub fn is_working_day(&self, date: Date) -> bool {
        self.days.contains(&date.weekday().to_monday_one_offset()) && !self.is_holiday(date)
    }

    /// Whether the team is open at `now_utc`.
    pub fn is_open(&self, now_utc: Timestamp) -> bool {
        let local = now_utc.to_zoned(self.tz.clone());
        let time = local.time();
        self.is_working_day(local.date()) && time >= self.open && time < self.close
    }

    /// Why the team is closed at `now_utc` (`None` when open), in words for `explain`.
    pub fn closed_because(&self, now_utc: Timestamp) -> Option<String> {
        let local = now_utc.to_zoned(self.tz.clone());
        let date = local.date();
        if self.is_holiday(date) {
            Some(format!("holiday {date} in {}", self.tz_name))
        } else if !self.is_working_day(date) {
            Some(format!(
                "{:?} is not a working day in {}",
                date.weekday(),
                self.tz_name
            ))
        } else if local.time() < self.open || local.time() >= self.close {
            Some(format!(
                "outside hours {}-{} ({} local time {})",
                hm(self.open),
                hm(self.close),
                self.tz_name,
                hm(local.time())
            ))
        } else {
            None
        }
    }

    /// The opening instant on local `date`, or `None` when `date` is not a working day. An
    /// opening time that falls in a DST gap resolves to the first instant after the gap.
    pub fn opening_on(&self, date: Date) -> Option<Timestamp> {
        if !self.is_working_day(date) {
            return None;
        }
        date.to_datetime(self.open)
            .to_zoned(self.tz.clone())
            .ok()
            .map(|z| z.timestamp())
    }

    /// The closing instant on local `date` (the first instant no longer open), or `None` when
    /// `date` is not a working day. A closing time in a DST gap resolves to the first instant
    /// after the gap.
    pub fn closing_on(&self, date: Date) -> Option<Timestamp> {
        if !self.is_working_day(date) {
            return None;
        }
        date.to_datetime(self.close)
            .to_zoned(self.tz.clone())
            .ok()
            .map(|z| z.timestamp())
    }

    /// The first instant at or after `now_utc` when the team is open: `now_utc` itself when
    /// open, otherwise the next working day's opening time (local), skipping holidays.
    pub fn next_opening(&self, now_utc: Timestamp) -> Timestamp {
        if self.is_open(now_utc) {
            return now_utc;
        }
        self.openings_after(now_utc).next().unwrap_or(now_utc)
    }

    /// Every opening instant strictly after `now_utc`, in order, for up to about three years.
    pub fn openings_after(&self, now_utc: Timestamp) -> impl Iterator<Item = Timestamp> + '_ {
        let start = self.local_date(now_utc);
        (0..LOOKAHEAD_DAYS)
            .filter_map(move |i| start.checked_add(jiff::Span::new().days(i)).ok())
            .filter_map(|d| self.opening_on(d))
            .filter(move |t| *t > now_utc)
    }
}

/// `08:00`.
pub(crate) fn hm(t: Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// Parses `mon`..`sun` (or full English names), case-insensitively.
pub(crate) fn parse_weekday(s: &str) -> Option<Weekday> {
    let s = s.trim().to_ascii_lowercase();
    let day = match s.get(..3)? {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    };
    let full = format!("{day:?}").to_ascii_lowercase();
    (s.len() == 3 || s == full).then_some(day)
}

/// Parses `HH:MM` (24-hour) as a local time.
pub(crate) fn parse_hm(s: &str) -> Option<Time> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}
