//! Region fallback (issue 25): which of the two regions a call that either can answer goes to
//! first, and when the other one is started too (a hedge). Pure: the time is an argument.
//!
//! A region that timed out, refused connections or answered 5xx is remembered as unreachable for
//! `REMEMBER`; while it is, calls go to the other region first, so a restarted controller waits
//! for a slow region once, not on every read. Throttling and NotFound are answers of a working
//! region and are not remembered. A region that answers is forgotten at once.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

use crate::connect::{Priority, QueueTime};

/// How long a region that did not answer is asked second.
pub const REMEMBER: Duration = Duration::from_secs(30);

/// When each region last failed to answer (an outage or a hedge that the other region won).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionHealth {
    unreachable_since: BTreeMap<String, Timestamp>,
}

impl RegionHealth {
    /// `region` timed out, refused the connection, answered 5xx, or was overtaken by a hedge.
    pub fn unreachable(&mut self, region: &str, now: Timestamp) {
        self.unreachable_since.insert(region.to_string(), now);
    }

    /// `region` answered (any answer of the service itself, throttling included).
    pub fn answered(&mut self, region: &str) {
        self.unreachable_since.remove(region);
    }

    /// Whether `region` failed to answer within the last `REMEMBER`.
    pub fn is_unreachable(&self, region: &str, now: Timestamp) -> bool {
        self.unreachable_since.get(region).is_some_and(|since| {
            let age = now.as_millisecond() - since.as_millisecond();
            age >= 0 && (age as u128) < REMEMBER.as_millis()
        })
    }
}

/// The order to ask the regions in: `preferred` unless its first region is remembered as
/// unreachable and the second is not.
pub fn order(preferred: &[String; 2], health: &RegionHealth, now: Timestamp) -> [String; 2] {
    if health.is_unreachable(&preferred[0], now) && !health.is_unreachable(&preferred[1], now) {
        [preferred[1].clone(), preferred[0].clone()]
    } else {
        preferred.clone()
    }
}

/// How long the first region has to answer before the same call also goes to the second one:
/// the failover lane (Urgent) only, where a split change is idempotent in effect (the same
/// desired split from either region) and nothing of a lower priority queues ahead of it. The
/// delay counts from the call's start, queue included: urgent calls of one lane may queue for
/// each other's tokens, and the other region's quota is then the quicker way. Other queues wait
/// in the scheduler behind their quotas, which is no sign of a slow region: they fall back on an
/// error, bounded by their timeouts (`connect::Timeouts`), and follow the memory of unreachable
/// regions.
pub fn hedge_delay(priority: Priority) -> Option<Duration> {
    match priority {
        Priority::Urgent => Some(Duration::from_secs(1)),
        Priority::Normal | Priority::Bulk | Priority::Background => None,
    }
}

/// Whether a region whose call the other region's answer overtook is remembered as unreachable:
/// only when the call had been on the wire for the hedge delay. A call that was still waiting
/// for the controller's own tokens, or spent its time queued, says nothing about the region.
pub fn overtaken_means_slow(elapsed: Duration, queue: QueueTime, hedge: Duration) -> bool {
    !queue.waiting && elapsed.saturating_sub(queue.waited) >= hedge
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::Timeouts;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).unwrap()
    }

    fn pair() -> [String; 2] {
        ["us-west-2".to_string(), "us-east-1".to_string()]
    }

    #[test]
    fn with_nothing_remembered_the_preferred_region_goes_first() {
        assert_eq!(order(&pair(), &RegionHealth::default(), at(0)), pair());
    }

    #[test]
    fn a_region_that_just_timed_out_is_asked_second() {
        let mut h = RegionHealth::default();
        h.unreachable("us-west-2", at(0));
        assert_eq!(
            order(&pair(), &h, at(5)),
            ["us-east-1".to_string(), "us-west-2".to_string()]
        );
    }

    #[test]
    fn after_the_memory_runs_out_the_preferred_region_is_tried_first_again() {
        let mut h = RegionHealth::default();
        h.unreachable("us-west-2", at(0));
        let later = at(REMEMBER.as_secs() as i64);
        assert!(!h.is_unreachable("us-west-2", later));
        assert_eq!(order(&pair(), &h, later), pair());
    }

    #[test]
    fn an_answer_from_the_region_forgets_it_at_once() {
        let mut h = RegionHealth::default();
        h.unreachable("us-west-2", at(0));
        h.answered("us-west-2");
        assert_eq!(order(&pair(), &h, at(1)), pair());
    }

    #[test]
    fn with_both_regions_unreachable_the_preferred_order_stays() {
        let mut h = RegionHealth::default();
        h.unreachable("us-west-2", at(0));
        h.unreachable("us-east-1", at(1));
        assert_eq!(order(&pair(), &h, at(2)), pair());
    }

    #[test]
    fn a_second_region_remembered_as_unreachable_does_not_change_the_order() {
        let mut h = RegionHealth::default();
        h.unreachable("us-east-1", at(0));
        assert_eq!(order(&pair(), &h, at(1)), pair());
    }

    #[test]
    fn a_time_before_the_failure_does_not_count_as_remembered() {
        let mut h = RegionHealth::default();
        h.unreachable("us-west-2", at(10));
        assert!(!h.is_unreachable("us-west-2", at(9)));
    }

    #[test]
    fn a_hedge_starts_before_the_queue_would_give_up_on_an_attempt() {
        for p in Priority::ALL {
            if let Some(d) = hedge_delay(p) {
                assert!(
                    d < Timeouts::for_priority(p).attempt,
                    "{p:?}: a hedge after the attempt timeout never saves time"
                );
            }
        }
    }

    #[test]
    fn the_failover_lane_hedges_within_about_a_second() {
        let d = hedge_delay(Priority::Urgent).expect("urgent calls are hedged");
        assert!(d <= Duration::from_secs(1));
    }

    fn queue(waiting: bool, waited_ms: u64) -> QueueTime {
        QueueTime {
            waiting,
            waited: Duration::from_millis(waited_ms),
        }
    }

    #[test]
    fn a_call_on_the_wire_for_the_hedge_delay_marks_its_region_slow() {
        let hedge = Duration::from_secs(1);
        assert!(overtaken_means_slow(hedge, queue(false, 0), hedge));
        assert!(overtaken_means_slow(
            Duration::from_millis(1_500),
            queue(false, 400),
            hedge
        ));
    }

    #[test]
    fn a_call_still_waiting_for_the_controllers_own_tokens_marks_nothing() {
        let hedge = Duration::from_secs(1);
        assert!(!overtaken_means_slow(
            Duration::from_secs(30),
            queue(true, 0),
            hedge
        ));
    }

    #[test]
    fn a_call_that_spent_its_time_in_the_queue_marks_nothing() {
        let hedge = Duration::from_secs(1);
        assert!(!overtaken_means_slow(
            Duration::from_millis(1_200),
            queue(false, 900),
            hedge
        ));
    }

    #[test]
    fn calls_that_may_wait_behind_their_quota_are_not_hedged() {
        for p in [Priority::Normal, Priority::Bulk, Priority::Background] {
            assert_eq!(hedge_delay(p), None, "{p:?}");
        }
    }
}
