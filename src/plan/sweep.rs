//! Membership drift checks as paced sweeps: a group's members are re-read page by page
//! (ListTrafficDistributionGroupUsers returns at most 10 ids a page, so 5,000 agents are 500
//! calls) spread over the resync period and never faster than the background read budget allows,
//! instead of bursting every page at each resync. Pure: durations and sets in, decisions out.

use std::collections::BTreeSet;
use std::time::Duration;

/// ListTrafficDistributionGroupUsers' largest page.
pub const PAGE_SIZE: usize = 10;

/// The share of the background budget one sweep plans to use, so sweeps of several groups, other
/// drift reads and rounding stay inside the budget the scheduler enforces anyway.
pub const BUDGET_HEADROOM: f64 = 0.8;

/// Pages a sweep of a group with `members` members reads (the last page may be partial; an empty
/// group is still one call).
pub fn pages(members: usize) -> usize {
    members / PAGE_SIZE + 1
}

/// The pause between two page reads of a sweep: the pages spread over half the resync period (so
/// the sweep is done before the next resync looks at it), but never faster than
/// `BUDGET_HEADROOM` of `budget_rate` (pages per second drift checks may use for this operation).
pub fn page_interval(members: usize, resync: Duration, budget_rate: f64) -> Duration {
    let n = pages(members) as f64;
    let spread = resync.as_secs_f64() / 2.0 / n;
    let floor = if budget_rate > 0.0 {
        1.0 / (budget_rate * BUDGET_HEADROOM)
    } else {
        0.0
    };
    Duration::from_secs_f64(spread.max(floor))
}

/// How long a whole sweep takes at `page_interval`.
pub fn duration(members: usize, resync: Duration, budget_rate: f64) -> Duration {
    page_interval(members, resync, budget_rate) * pages(members) as u32
}

/// Whether a group whose last complete read finished `since_check` ago needs a new sweep.
pub fn due(since_check: Duration, sweeping: bool, resync: Duration) -> bool {
    !sweeping && since_check >= resync
}

/// One of the controller's own writes while a sweep was reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Associated(String),
    Disassociated(String),
}

/// The members after a sweep: what the pages said, corrected by the controller's own writes made
/// while they were being read (a page read before a write does not show it; one read after shows
/// it already, and replaying the write is harmless). Writes are replayed in order, so the last
/// one for a user wins.
pub fn finish(read: BTreeSet<String>, writes: &[Write]) -> BTreeSet<String> {
    let mut members = read;
    for w in writes {
        match w {
            Write::Associated(id) => {
                members.insert(id.clone());
            }
            Write::Disassociated(id) => {
                members.remove(id);
            }
        }
    }
    members
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIN5: Duration = Duration::from_secs(300);

    #[test]
    fn a_5000_agent_group_is_read_at_most_at_80_percent_of_a_one_per_second_budget() {
        // 2 req/s quota x 50 % budget = 1 page/s; 501 pages at 0.8 page/s.
        let i = page_interval(5_000, MIN5, 1.0);
        assert_eq!(i, Duration::from_secs_f64(1.25));
        assert_eq!(pages(5_000), 501);
        assert!(
            duration(5_000, MIN5, 1.0) > MIN5,
            "budget, not resync, bounds it"
        );
    }

    #[test]
    fn a_small_group_is_spread_over_half_the_resync_period() {
        // 31 pages over 150 s: one every ~4.8 s, far slower than the budget would allow.
        let i = page_interval(300, MIN5, 1.0);
        assert!((i.as_secs_f64() - 150.0 / 31.0).abs() < 1e-9);
        assert!(duration(300, MIN5, 1.0) <= MIN5 / 2 + Duration::from_millis(1));
    }

    #[test]
    fn an_empty_group_is_one_call() {
        assert_eq!(pages(0), 1);
        assert_eq!(duration(0, MIN5, 1.0), MIN5 / 2);
    }

    #[test]
    fn a_zero_budget_rate_does_not_divide_by_zero() {
        assert_eq!(
            page_interval(10, Duration::from_secs(4), 0.0),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn a_sweep_is_due_once_per_resync_and_never_twice_at_once() {
        assert!(!due(Duration::from_secs(299), false, MIN5));
        assert!(due(MIN5, false, MIN5));
        assert!(!due(Duration::from_secs(900), true, MIN5));
    }

    #[test]
    fn writes_made_during_a_sweep_are_not_mistaken_for_drift() {
        let read: BTreeSet<String> = ["a", "b"].map(String::from).into();
        let got = finish(
            read,
            &[
                Write::Associated("c".into()),
                Write::Disassociated("a".into()),
            ],
        );
        assert_eq!(got, ["b", "c"].map(String::from).into());
    }

    #[test]
    fn the_last_write_for_a_user_wins() {
        let got = finish(
            BTreeSet::new(),
            &[
                Write::Associated("x".into()),
                Write::Disassociated("x".into()),
            ],
        );
        assert!(got.is_empty());
    }

    proptest! {
        #[test]
        fn sweeps_never_read_faster_than_the_budget_share(
            members in 0usize..20_000,
            resync_s in 1u64..3_600,
            budget in 0.01f64..100.0,
        ) {
            let resync = Duration::from_secs(resync_s);
            let rate = 1.0 / page_interval(members, resync, budget).as_secs_f64();
            prop_assert!(rate <= budget * BUDGET_HEADROOM * (1.0 + 1e-6)); // Duration keeps nanoseconds
        }

        #[test]
        fn sweeps_finish_within_half_a_resync_when_the_budget_allows(
            members in 0usize..20_000,
            resync_s in 1u64..3_600,
            budget in 0.01f64..100.0,
        ) {
            let resync = Duration::from_secs(resync_s);
            let needed = pages(members) as f64 / (budget * BUDGET_HEADROOM);
            let took = duration(members, resync, budget).as_secs_f64();
            prop_assert!(took <= (resync.as_secs_f64() / 2.0).max(needed) * (1.0 + 1e-6) + 1e-6);
        }

        #[test]
        fn after_a_sweep_each_written_user_is_as_last_written(
            read in proptest::collection::btree_set("[a-e]", 0..5),
            writes in proptest::collection::vec((any::<bool>(), "[a-e]"), 0..10),
        ) {
            let writes: Vec<Write> = writes
                .into_iter()
                .map(|(a, id)| if a { Write::Associated(id) } else { Write::Disassociated(id) })
                .collect();
            let got = finish(read.clone(), &writes);
            for id in ["a", "b", "c", "d", "e"] {
                let last = writes.iter().rev().find_map(|w| match w {
                    Write::Associated(x) if x == id => Some(true),
                    Write::Disassociated(x) if x == id => Some(false),
                    _ => None,
                });
                let expected = last.unwrap_or(read.contains(id));
                prop_assert_eq!(got.contains(id), expected);
            }
        }
    }
}
