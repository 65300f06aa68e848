//! Connect's clock, as the `Date` header of its answers shows it. A FailoverDrill's schedule
//! runs on it: against AWS it is our own clock (an offset under [`SKEW_IGNORED`] is the
//! header's one-second resolution plus a round trip, and is ignored); against the emulator it is
//! the emulator's virtual clock, so a weekly schedule is tested by moving that clock a week.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

/// Offsets smaller than this are taken for none.
pub const SKEW_IGNORED: i64 = 5;

/// The last offset seen (seconds, Connect's clock minus ours), shared by every client.
#[derive(Clone, Debug, Default)]
pub struct ServerClock(Arc<AtomicI64>);

impl ServerClock {
    /// Records the `Date` header of an answer received at `local`; a header that does not parse
    /// changes nothing.
    pub fn observe(&self, date: &str, local: Timestamp) {
        if let Some(offset) = offset(date, local) {
            self.0.store(offset, Ordering::Relaxed);
        }
    }

    /// Connect's time when ours is `local`.
    pub fn at(&self, local: Timestamp) -> Timestamp {
        local
            .checked_add(SignedDuration::from_secs(self.0.load(Ordering::Relaxed)))
            .unwrap_or(local)
    }
}

/// The offset a `Date` header (IMF-fixdate, e.g. `Fri, 04 Dec 2026 14:57:17 GMT`) shows.
fn offset(date: &str, local: Timestamp) -> Option<i64> {
    let seen = jiff::fmt::rfc2822::parse(date.trim()).ok()?.timestamp();
    let d = seen.as_second() - local.as_second();
    Some(if d.abs() < SKEW_IGNORED { 0 } else { d })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// `t` as an HTTP `Date` header value (as the emulator writes it).
    fn http_date(t: Timestamp) -> String {
        t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
    }

    #[test]
    fn a_date_a_week_ahead_moves_connects_clock_a_week_ahead() {
        let c = ServerClock::default();
        c.observe("Fri, 11 Dec 2026 15:00:00 GMT", t("2026-12-04T15:00:00Z"));
        assert_eq!(c.at(t("2026-12-04T15:00:10Z")), t("2026-12-11T15:00:10Z"));
    }

    #[test]
    fn a_second_of_difference_is_the_headers_resolution_not_an_offset() {
        let c = ServerClock::default();
        c.observe("Fri, 04 Dec 2026 15:00:02 GMT", t("2026-12-04T15:00:00.9Z"));
        assert_eq!(c.at(t("2026-12-04T15:00:00Z")), t("2026-12-04T15:00:00Z"));
    }

    #[test]
    fn a_header_that_does_not_parse_changes_nothing() {
        let c = ServerClock::default();
        c.observe("Fri, 11 Dec 2026 15:00:00 GMT", t("2026-12-04T15:00:00Z"));
        c.observe("yesterday", t("2026-12-04T15:00:00Z"));
        assert_eq!(c.at(t("2026-12-04T15:00:00Z")), t("2026-12-11T15:00:00Z"));
    }

    #[test]
    fn the_header_we_write_is_the_header_we_read() {
        let now = t("2026-12-04T15:00:07Z");
        assert_eq!(http_date(now), "Fri, 04 Dec 2026 15:00:07 GMT");
        assert_eq!(offset(&http_date(now), now), Some(0));
    }
}
