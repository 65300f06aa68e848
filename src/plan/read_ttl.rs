//! Shared reads at scale: when a remembered observation may stand in for a new read, and how
//! long a full drift sweep takes under the steady-state read budget. Pure: durations in,
//! decisions out (the engine's caches hold the clock).

use std::time::Duration;

/// Why a read goes to Connect instead of using what is remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// The remembered value is fresh: use it.
    Use,
    /// Nothing remembered (or it was invalidated by a write).
    Miss,
    /// Remembered, but older than the TTL.
    Stale,
    /// `connectgr.io/reconcile-now`: nothing cached is trusted.
    Fresh,
}

/// Whether a value read `age` ago may be used, for a TTL of `ttl`. Fail closed: a value is used
/// only while strictly younger than the TTL, and a forced fresh read always reads.
pub fn reuse(age: Option<Duration>, ttl: Duration, fresh_requested: bool) -> Reuse {
    match age {
        _ if fresh_requested => Reuse::Fresh,
        None => Reuse::Miss,
        Some(a) if a < ttl => Reuse::Use,
        Some(_) => Reuse::Stale,
    }
}

/// The TTL of a shared group observation: half the resync, so every pass of a resync period sees
/// an observation taken within it, and the kinds that refer to the same group share one read.
pub fn group_ttl(resync: Duration) -> Duration {
    resync / 2
}

/// The rate (calls per second) the steady state may use of an operation whose quota is `rate`:
/// `budget` is the share (0, 1], the rest is left to other tools and to a failover.
pub fn budget_rate(rate: f64, budget: f64) -> f64 {
    rate * budget.clamp(0.0, 1.0)
}

/// The longest a change made by hand to a group's members can go unnoticed: one full sweep of
/// `pages` member pages at the budgeted rate (the sweeps of all groups share the operation's
/// lane), plus the resync before the sweep starts.
pub fn drift_detection_time(pages: usize, rate: f64, budget: f64, resync: Duration) -> Duration {
    let r = budget_rate(rate, budget);
    if r <= 0.0 {
        return Duration::MAX;
    }
    resync + Duration::from_secs_f64(pages as f64 / r)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn a_value_younger_than_the_ttl_is_used() {
        assert_eq!(reuse(Some(S(10)), S(30), false), Reuse::Use);
    }

    #[test]
    fn a_value_as_old_as_the_ttl_is_read_again() {
        assert_eq!(reuse(Some(S(30)), S(30), false), Reuse::Stale);
    }

    #[test]
    fn nothing_remembered_is_a_read() {
        assert_eq!(reuse(None, S(30), false), Reuse::Miss);
    }

    #[test]
    fn reconcile_now_bypasses_a_fresh_value() {
        assert_eq!(reuse(Some(S(0)), S(30), true), Reuse::Fresh);
    }

    #[test]
    fn a_zero_ttl_never_uses_a_remembered_value() {
        assert_eq!(reuse(Some(S(0)), S(0), false), Reuse::Stale);
    }

    #[test]
    fn the_group_ttl_is_half_the_resync() {
        assert_eq!(group_ttl(S(60)), S(30));
    }

    #[test]
    fn the_budget_is_a_share_of_the_quota_and_never_more_than_all_of_it() {
        assert_eq!(budget_rate(2.0, 0.25), 0.5);
        assert_eq!(budget_rate(2.0, 3.0), 2.0);
    }

    #[test]
    fn twenty_thousand_agents_at_a_quarter_of_two_per_second_are_checked_in_about_67_minutes() {
        // 10 groups of 2,000: 201 pages each (10 ids a page).
        let t = drift_detection_time(2_010, 2.0, 0.25, S(60));
        assert_eq!(t, S(60 + 4_020));
    }

    #[test]
    fn no_budget_means_drift_is_never_detected() {
        assert_eq!(drift_detection_time(10, 2.0, 0.0, S(60)), Duration::MAX);
    }
}
