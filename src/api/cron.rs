//! Five-field cron schedules (`minute hour day-of-month month day-of-week`) in an IANA time
//! zone, on jiff's time zone database. Pure: the time is an argument.
//!
//! Fields take `*`, numbers, ranges `a-b`, lists `a,b` and steps `*/n`, `a-b/n`; months and
//! days of the week also take names (`JAN`, `MON`); day of week 0 and 7 are Sunday. When both
//! day of month and day of week are restricted, a day matching either runs (as cron does).
//! DST: a local time that does not exist (spring forward) runs at the time it maps to (02:30 ->
//! 03:30); a local time that occurs twice (fall back) runs once, at its first occurrence.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    days_any: bool,
    weekdays_any: bool,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(s: &str, names: &[&str], offset: u32) -> Option<u32> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Some(i as u32 + offset);
    }
    s.parse().ok()
}

/// The bits of one field; `any` when it is `*` (or `*/1`).
fn field(
    s: &str,
    min: u32,
    max: u32,
    names: &[&str],
    name_offset: u32,
    what: &str,
) -> Result<(u64, bool), String> {
    let bad = |why: &str| format!("{what} field {s:?}: {why}");
    let mut bits = 0u64;
    let mut any = false;
    for part in s.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, n)) => (
                r,
                n.parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad("the step must be a positive number"))?,
            ),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            any |= step == 1;
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = value(a, names, name_offset).ok_or_else(|| bad("not a number or name"))?;
            let b = value(b, names, name_offset).ok_or_else(|| bad("not a number or name"))?;
            (a, b)
        } else {
            let a = value(range, names, name_offset).ok_or_else(|| bad("not a number or name"))?;
            (a, if step > 1 { max } else { a })
        };
        if lo < min || hi > max || lo > hi {
            return Err(bad(&format!("values must be within {min}-{max}")));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, any))
}

impl Cron {
    /// Parses five fields separated by white space.
    pub fn parse(s: &str) -> Result<Self, String> {
        let f: Vec<&str> = s.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!(
                "schedule {s:?} must have 5 fields (minute hour day-of-month month day-of-week), it has {}",
                f.len()
            ));
        }
        let (minutes, _) = field(f[0], 0, 59, &[], 0, "minute")?;
        let (hours, _) = field(f[1], 0, 23, &[], 0, "hour")?;
        let (days, days_any) = field(f[2], 1, 31, &[], 0, "day-of-month")?;
        let (months, _) = field(f[3], 1, 12, &MONTHS, 1, "month")?;
        let (mut weekdays, weekdays_any) = field(f[4], 0, 7, &DAYS, 0, "day-of-week")?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Self {
            minutes,
            hours: hours as u32,
            days: days as u32,
            months: months as u16,
            weekdays: (weekdays & 0x7f) as u8,
            days_any,
            weekdays_any,
        })
    }

    fn day_matches(&self, d: Date) -> bool {
        if self.months & (1 << d.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << d.day()) != 0;
        let dow = self.weekdays & (1 << d.weekday().to_sunday_zero_offset()) != 0;
        match (self.days_any, self.weekdays_any) {
            (true, true) => true,
            (false, true) => dom,
            (true, false) => dow,
            (false, false) => dom || dow,
        }
    }

    /// The first run time strictly after `after`, in `tz`; `None` when there is none within
    /// eight years (e.g. `0 0 31 2 *`).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = after.to_zoned(tz.clone()).datetime();
        let mut dt: DateTime = local
            .date()
            .at(local.hour(), local.minute(), 0, 0)
            .checked_add(1.minute())
            .ok()?;
        let limit = local.date().checked_add(8.years()).ok()?;
        while dt.date() < limit {
            if !self.day_matches(dt.date()) {
                dt = dt.date().tomorrow().ok()?.at(0, 0, 0, 0);
                continue;
            }
            if self.hours & (1 << dt.hour()) == 0 {
                dt = dt
                    .date()
                    .at(dt.hour(), 0, 0, 0)
                    .checked_add(1.hour())
                    .ok()?;
                continue;
            }
            if self.minutes & (1 << dt.minute()) == 0 {
                dt = dt.checked_add(1.minute()).ok()?;
                continue;
            }
            let ts = tz.to_ambiguous_zoned(dt).compatible().ok()?.timestamp();
            if ts > after {
                return Some(ts);
            }
            dt = dt.checked_add(1.minute()).ok()?;
        }
        None
    }
}

/// The time zone of a drill: an IANA name.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| format!("timeZone {name:?} is not an IANA time zone name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(expr: &str, tz: &str, after: &str) -> String {
        let tz = time_zone(tz).unwrap();
        let t = Cron::parse(expr)
            .unwrap()
            .next_after(after.parse().unwrap(), &tz)
            .unwrap();
        t.to_zoned(tz).strftime("%Y-%m-%dT%H:%M%:z").to_string()
    }

    #[test]
    fn every_minute_runs_at_the_next_whole_minute() {
        assert_eq!(
            next("* * * * *", "UTC", "2026-12-04T10:00:30Z"),
            "2026-12-04T10:01+00:00"
        );
        assert_eq!(
            next("* * * * *", "UTC", "2026-12-04T10:01:00Z"),
            "2026-12-04T10:02+00:00"
        );
    }

    #[test]
    fn a_weekly_schedule_is_read_in_its_time_zone() {
        // 2026-12-04 is a Friday; the next Tuesday 03:00 in Berlin is 02:00 UTC on 12-08.
        assert_eq!(
            next("0 3 * * 2", "Europe/Berlin", "2026-12-04T10:00:00Z"),
            "2026-12-08T03:00+01:00"
        );
        assert_eq!(
            next("0 3 * * TUE", "America/Los_Angeles", "2026-12-04T10:00:00Z"),
            "2026-12-08T03:00-08:00"
        );
    }

    #[test]
    fn a_local_time_skipped_by_spring_forward_runs_at_the_time_it_maps_to() {
        // 2026-03-08: New York jumps from 02:00 to 03:00.
        assert_eq!(
            next("30 2 * * *", "America/New_York", "2026-03-08T05:00:00Z"),
            "2026-03-08T03:30-04:00"
        );
        // The day after, 02:30 exists again.
        assert_eq!(
            next("30 2 * * *", "America/New_York", "2026-03-08T08:00:00Z"),
            "2026-03-09T02:30-04:00"
        );
    }

    #[test]
    fn a_local_time_repeated_by_fall_back_runs_once() {
        // 2026-11-01: New York goes from 02:00 EDT back to 01:00 EST.
        let first = next("30 1 * * *", "America/New_York", "2026-11-01T04:00:00Z");
        assert_eq!(first, "2026-11-01T01:30-04:00");
        // After the first 01:30 (05:30Z), the next run is the following day, not 01:30 EST.
        assert_eq!(
            next("30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z"),
            "2026-11-02T01:30-05:00"
        );
    }

    #[test]
    fn day_of_month_and_day_of_week_both_restricted_match_either() {
        // 2026-12-05 is a Saturday, 12-15 a Tuesday.
        assert_eq!(
            next("0 0 15 * SAT", "UTC", "2026-12-04T10:00:00Z"),
            "2026-12-05T00:00+00:00"
        );
        assert_eq!(
            next("0 0 15 * *", "UTC", "2026-12-04T10:00:00Z"),
            "2026-12-15T00:00+00:00"
        );
    }

    #[test]
    fn steps_ranges_lists_and_sunday_as_seven() {
        assert_eq!(
            next("*/15 9-17 * * 1-5", "UTC", "2026-12-04T17:50:00Z"),
            "2026-12-07T09:00+00:00"
        );
        assert_eq!(
            next("0 12 * * 7", "UTC", "2026-12-04T00:00:00Z"),
            "2026-12-06T12:00+00:00"
        );
        assert_eq!(
            next("5,35 * * JAN,jul *", "UTC", "2026-12-04T00:00:00Z"),
            "2027-01-01T00:05+00:00"
        );
    }

    #[test]
    fn bad_schedules_and_zones_are_refused_with_the_field_named() {
        assert!(Cron::parse("0 3 * *").unwrap_err().contains("5 fields"));
        assert!(Cron::parse("60 3 * * *").unwrap_err().contains("minute"));
        assert!(
            Cron::parse("0 3 * * 8")
                .unwrap_err()
                .contains("day-of-week")
        );
        assert!(Cron::parse("0 3 * FOO *").unwrap_err().contains("month"));
        assert!(Cron::parse("*/0 * * * *").unwrap_err().contains("step"));
        assert!(time_zone("Mars/Olympus").unwrap_err().contains("IANA"));
    }

    #[test]
    fn an_impossible_date_has_no_next_run() {
        let tz = time_zone("UTC").unwrap();
        let c = Cron::parse("0 0 31 2 *").unwrap();
        assert_eq!(
            c.next_after("2026-01-01T00:00:00Z".parse().unwrap(), &tz),
            None
        );
    }
}
