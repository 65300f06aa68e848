//! Five-field cron schedules (`minute hour day-of-month month day-of-week`) in a time zone, for
//! FailoverDrill's `schedule`. Pure: the time zone is resolved by the caller, time is an argument.
//!
//! Fields take `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, and comma lists; months and
//! weekdays also take three-letter names (`JAN`, `MON`); day-of-week 0 and 7 are Sunday. As in
//! Vixie cron, when both day-of-month and day-of-week are restricted a day matching either runs.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(s: &str, lo: u32, hi: u32, names: &[&str], names_from: u32) -> Result<u32, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Ok(i as u32 + names_from);
    }
    let v: u32 = s.parse().map_err(|_| {
        format!(
            "{s:?} is not a number{}",
            if names.is_empty() { "" } else { " or a name" }
        )
    })?;
    if v < lo || v > hi {
        return Err(format!("{v} is outside {lo}-{hi}"));
    }
    Ok(v)
}

/// One field as a bit set; `restricted` is false for `*` (and `*/1`).
fn field(
    text: &str,
    what: &str,
    lo: u32,
    hi: u32,
    names: &[&str],
    names_from: u32,
) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut restricted = false;
    for part in text.split(',') {
        let err = |e: String| format!("{what} {part:?}: {e}");
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| err(format!("step {s:?} is not a number")))?;
                if step == 0 {
                    return Err(err("a step of 0".into()));
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            restricted |= step != 1;
            (lo, hi)
        } else {
            restricted = true;
            match range.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (
                        value(a, lo, hi, names, names_from).map_err(err)?,
                        value(b, lo, hi, names, names_from).map_err(err)?,
                    );
                    if a > b {
                        return Err(err(format!("the range {a}-{b} runs backwards")));
                    }
                    (a, b)
                }
                None => {
                    let a = value(range, lo, hi, names, names_from).map_err(err)?;
                    (a, if step == 1 { a } else { hi })
                }
            }
        };
        let mut v = a;
        while v <= b {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, restricted))
}

impl Schedule {
    /// Parses five fields; the error says which field is wrong and why.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let f: Vec<&str> = expr.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!(
                "{expr:?} has {} fields; a schedule has five: minute hour day-of-month month day-of-week",
                f.len()
            ));
        }
        let (minutes, _) = field(f[0], "minute", 0, 59, &[], 0)?;
        let (hours, _) = field(f[1], "hour", 0, 23, &[], 0)?;
        let (days, days_restricted) = field(f[2], "day-of-month", 1, 31, &[], 0)?;
        let (months, _) = field(f[3], "month", 1, 12, &MONTHS, 1)?;
        let (mut weekdays, weekdays_restricted) = field(f[4], "day-of-week", 0, 7, &WEEKDAYS, 0)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Self {
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted,
            weekdays_restricted,
        })
    }

    fn day_matches(&self, d: Date) -> bool {
        if self.months & (1 << d.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << d.day()) != 0;
        let dow = self.weekdays & (1 << d.weekday().to_sunday_zero_offset()) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            _ => dom && dow,
        }
    }

    /// The first wall-clock minute strictly after `after` that matches (within about 5 years).
    pub fn next_civil(&self, after: DateTime) -> Option<DateTime> {
        let start = after
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        let mut day = start.date();
        for _ in 0..(366 * 5) {
            if self.day_matches(day) {
                let from = if day == start.date() {
                    start.time()
                } else {
                    Time::midnight()
                };
                for h in from.hour()..24 {
                    if self.hours & (1 << h) == 0 {
                        continue;
                    }
                    let m0 = if h == from.hour() { from.minute() } else { 0 };
                    if let Some(m) = (m0..60).find(|m| self.minutes & (1 << m) != 0) {
                        return Some(day.at(h, m, 0, 0));
                    }
                }
            }
            day = day.tomorrow().ok()?;
        }
        None
    }

    /// The next run strictly after `after`, in `tz`: a wall-clock time skipped by a DST change
    /// runs at the first instant after the gap; a repeated one runs once, at its first occurrence.
    pub fn next(&self, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
        let mut from = after.to_zoned(tz.clone()).datetime();
        for _ in 0..4 {
            let civil = self.next_civil(from)?;
            let t = tz.to_ambiguous_zoned(civil).compatible().ok()?.timestamp();
            if t > after {
                return Some(t);
            }
            from = civil;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    #[test]
    fn tuesdays_at_three_run_on_the_next_tuesday() {
        // 2026-12-04 is a Friday.
        let s = Schedule::parse("0 3 * * 2").unwrap();
        assert_eq!(
            s.next_civil(at("2026-12-04T12:00")),
            Some(at("2026-12-08T03:00"))
        );
        assert_eq!(
            s.next_civil(at("2026-12-08T03:00")),
            Some(at("2026-12-15T03:00"))
        );
    }

    #[test]
    fn steps_ranges_lists_and_names_expand() {
        let s = Schedule::parse("*/15 9-17/4 1,15 JAN-MAR mon").unwrap();
        assert_eq!(
            s.next_civil(at("2027-01-01T00:00")),
            Some(at("2027-01-01T09:00"))
        );
        assert_eq!(
            s.next_civil(at("2027-01-01T09:00")),
            Some(at("2027-01-01T09:15"))
        );
        assert_eq!(
            s.next_civil(at("2027-01-01T17:45")),
            Some(at("2027-01-04T09:00"))
        );
    }

    #[test]
    fn day_of_month_and_day_of_week_both_restricted_run_on_either() {
        let s = Schedule::parse("0 0 13 * 5").unwrap();
        // Friday 2026-12-04 is not the 13th but is a Friday.
        assert_eq!(
            s.next_civil(at("2026-12-03T00:00")),
            Some(at("2026-12-04T00:00"))
        );
    }

    #[test]
    fn sunday_is_both_zero_and_seven() {
        let a = Schedule::parse("0 0 * * 0").unwrap();
        let b = Schedule::parse("0 0 * * 7").unwrap();
        assert_eq!(
            a.next_civil(at("2026-12-04T00:00")),
            b.next_civil(at("2026-12-04T00:00"))
        );
        assert_eq!(
            a.next_civil(at("2026-12-04T00:00")),
            Some(at("2026-12-06T00:00"))
        );
    }

    #[test]
    fn a_date_that_never_comes_has_no_next_run() {
        let s = Schedule::parse("0 0 31 2 *").unwrap();
        assert_eq!(s.next_civil(at("2026-12-04T00:00")), None);
    }

    #[test]
    fn malformed_schedules_say_which_field_is_wrong() {
        for (expr, says) in [
            ("0 3 * *", "five"),
            ("60 3 * * 2", "minute"),
            ("0 24 * * 2", "hour"),
            ("0 3 0 * 2", "day-of-month"),
            ("0 3 * 13 2", "month"),
            ("0 3 * * 8", "day-of-week"),
            ("*/0 3 * * 2", "step"),
            ("0 5-3 * * *", "backwards"),
            ("0 3 * * funday", "day-of-week"),
        ] {
            let e = Schedule::parse(expr).unwrap_err();
            assert!(e.contains(says), "{expr}: {e}");
        }
    }

    #[test]
    fn the_next_run_is_in_the_schedules_time_zone() {
        let s = Schedule::parse("0 3 * * *").unwrap();
        let tz = TimeZone::fixed(jiff::tz::offset(-8));
        let after: Timestamp = "2026-12-04T12:00:00Z".parse().unwrap();
        // 03:00 at UTC-8 is 11:00 UTC; 12:00 UTC is past it today.
        assert_eq!(
            s.next(&tz, after),
            Some("2026-12-05T11:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn the_next_run_is_always_strictly_later() {
        let s = Schedule::parse("* * * * *").unwrap();
        let t: Timestamp = "2026-12-04T12:00:00Z".parse().unwrap();
        assert_eq!(
            s.next(&TimeZone::UTC, t),
            Some("2026-12-04T12:01:00Z".parse().unwrap())
        );
    }
}
