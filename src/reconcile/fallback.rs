//! Calls that either region can answer (rule G3: a regional outage is what failover is for):
//! the group's split, the group itself, the instance, the groups of an instance, and the urgent
//! split change, whose effect is the same from either region.
//!
//! The order and the hedge are decided in `plan::fallback` (pure); this module sends. The
//! preferred region goes first unless it recently did not answer; when it has not answered
//! within the hedge delay of the call's queue, the same call also goes to the other region and
//! the first success wins; the overtaken region is remembered as slow only when its call was on
//! the wire (not waiting in the scheduler) for the hedge delay. A region that times out or fails (`ConnectError::is_outage`) is
//! remembered in `Engine::health`; throttling and NotFound fall back too but are not outages.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{Either, select};
use k8s_openapi::jiff::Timestamp;
use parking_lot::Mutex;

use crate::connect::{ConnectError, ConnectResult, ErrorClass, Priority, QUEUED, QueueTime};
use crate::plan::fallback::{RegionHealth, hedge_delay, order, overtaken_means_slow};

/// The engine's memory of which region recently did not answer; shared by every pass.
pub type Health = Arc<Mutex<RegionHealth>>;

fn note(health: &Health, region: &str, result: &Result<impl Sized, ConnectError>) {
    match result {
        Ok(_) => health.lock().answered(region),
        Err(e) if e.is_outage() => health.lock().unreachable(region, Timestamp::now()),
        // Throttling, NotFound, rejections: the region answered.
        Err(_) => health.lock().answered(region),
    }
}

/// Calls `f` in the preferred region of `regions` (or the other one when the preferred one
/// recently did not answer); also in the other region when the first fails with anything but a
/// rejection of the request itself, or (Urgent) has not answered within `hedge_delay`.
/// Returns the first success and the region that gave it; when both fail, the first region's
/// error.
pub(crate) async fn in_either<T, F, Fut>(
    health: &Health,
    regions: &[String; 2],
    priority: Priority,
    mut f: F,
) -> ConnectResult<(T, String)>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = ConnectResult<T>>,
{
    let [first, second] = order(regions, &health.lock(), Timestamp::now());
    // How long the first call waits for the controller's own tokens: a hedge that overtakes a
    // call still queued here says nothing about the region.
    let queued = Arc::new(Mutex::new(QueueTime::default()));
    let started = tokio::time::Instant::now();
    let a = Box::pin(QUEUED.scope(queued.clone(), f(first.clone())));
    // Without a hedge the first call runs until it answers or its timeouts end it.
    let hedge = hedge_delay(priority).unwrap_or(Duration::MAX);
    let a = match select(a, Box::pin(tokio::time::sleep(hedge))).await {
        Either::Left((result, _)) => {
            note(health, &first, &result);
            match result {
                Ok(v) => return Ok((v, first)),
                Err(e) if e.class() == ErrorClass::Terminal => return Err(e),
                Err(e) => {
                    let b = f(second.clone()).await;
                    note(health, &second, &b);
                    return match b {
                        Ok(v) => Ok((v, second)),
                        Err(_) => Err(e),
                    };
                }
            }
        }
        Either::Right(((), a)) => a,
    };
    // The first region is slow: ask the second one as well and take whichever answers first.
    tracing::debug!(region = %first, other = %second, "no answer within the hedge delay; asking the other region too");
    let b = Box::pin(f(second.clone()));
    match select(a, b).await {
        Either::Left((ra, b)) => {
            note(health, &first, &ra);
            match ra {
                Ok(v) => Ok((v, first)),
                Err(e) if e.class() == ErrorClass::Terminal => Err(e),
                Err(e) => {
                    let rb = b.await;
                    note(health, &second, &rb);
                    rb.map(|v| (v, second)).map_err(|_| e)
                }
            }
        }
        Either::Right((rb, a)) => {
            note(health, &second, &rb);
            match rb {
                Ok(v) => {
                    // The other region answered first: when the first call was on the wire all
                    // along, the slow region is asked second for a while.
                    if overtaken_means_slow(started.elapsed(), *queued.lock(), hedge) {
                        health.lock().unreachable(&first, Timestamp::now());
                    }
                    Ok((v, second))
                }
                Err(_) => {
                    let ra = a.await;
                    note(health, &first, &ra);
                    ra.map(|v| (v, first))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions() -> [String; 2] {
        ["us-west-2".to_string(), "us-east-1".to_string()]
    }

    /// A call that answers `Ok(region)` after `delay` for the slow region, at once otherwise.
    async fn answer(region: String, slow: &str, delay: Duration) -> ConnectResult<String> {
        if region == slow {
            tokio::time::sleep(delay).await;
        }
        Ok(region)
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_preferred_region_is_overtaken_after_the_hedge_delay_and_remembered() {
        let health = Health::default();
        let started = tokio::time::Instant::now();
        let (v, served) = in_either(&health, &regions(), Priority::Urgent, |r| {
            answer(r, "us-west-2", Duration::from_secs(120))
        })
        .await
        .unwrap();
        assert_eq!((v.as_str(), served.as_str()), ("us-east-1", "us-east-1"));
        assert_eq!(Some(started.elapsed()), hedge_delay(Priority::Urgent));
        assert!(health.lock().is_unreachable("us-west-2", Timestamp::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_overtaken_while_it_waits_for_the_controllers_own_tokens_marks_no_region() {
        use crate::connect::{Scheduler, SchedulerConfig};
        let scheduler = Scheduler::new(SchedulerConfig::default());
        let op = "DescribeTrafficDistributionGroup";
        // Ten urgent reads of one lane at once, as the distributions make at a resync: the
        // burst (5) goes out, the rest queue at 2/s in the controller's own scheduler.
        for _ in 0..5 {
            scheduler.acquire("us-west-2", op, Priority::Urgent).await;
        }
        let health = Health::default();
        let scheduler = &scheduler;
        let (_, served) = in_either(&health, &regions(), Priority::Urgent, |r| async move {
            if r == "us-west-2" {
                // Queued behind four more urgent calls of the lane, then answered at once.
                for _ in 0..4 {
                    scheduler.acquire(&r, op, Priority::Urgent).await;
                }
                scheduler.acquire(&r, op, Priority::Urgent).await;
            }
            Ok(r)
        })
        .await
        .unwrap();
        assert_eq!(served, "us-east-1", "the hedge still asks the other region");
        assert!(
            !health.lock().is_unreachable("us-west-2", Timestamp::now()),
            "a call that never left the controller marked its region unreachable"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn once_remembered_the_slow_region_is_asked_second_and_nothing_waits() {
        let health = Health::default();
        health.lock().unreachable("us-west-2", Timestamp::now());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let started = tokio::time::Instant::now();
        let (_, served) = in_either(&health, &regions(), Priority::Urgent, |r| {
            calls.lock().push(r.clone());
            answer(r, "us-west-2", Duration::from_secs(120))
        })
        .await
        .unwrap();
        assert_eq!(served, "us-east-1");
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(*calls.lock(), vec!["us-east-1".to_string()]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_quick_answer_from_the_preferred_region_sends_nothing_to_the_other() {
        let health = Health::default();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (_, served) = in_either(&health, &regions(), Priority::Urgent, |r| {
            calls.lock().push(r.clone());
            answer(r, "none", Duration::ZERO)
        })
        .await
        .unwrap();
        assert_eq!(served, "us-west-2");
        assert_eq!(*calls.lock(), vec!["us-west-2".to_string()]);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_falls_back_but_is_not_remembered_as_an_outage() {
        let health = Health::default();
        let (_, served) = in_either(&health, &regions(), Priority::Normal, |r| async move {
            if r == "us-west-2" {
                Err(ConnectError::Throttled("slow down".into()))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!(served, "us-east-1");
        assert!(!health.lock().is_unreachable("us-west-2", Timestamp::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_falls_back_and_is_remembered() {
        let health = Health::default();
        let (_, served) = in_either(&health, &regions(), Priority::Normal, |r| async move {
            if r == "us-west-2" {
                Err(ConnectError::TimedOut("attempt timeout".into()))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap();
        assert_eq!(served, "us-east-1");
        assert!(health.lock().is_unreachable("us-west-2", Timestamp::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_rejection_of_the_request_is_returned_without_asking_the_other_region() {
        let health = Health::default();
        let calls = Arc::new(Mutex::new(0));
        let err = in_either(&health, &regions(), Priority::Urgent, |_| {
            *calls.lock() += 1;
            async { Err::<(), _>(ConnectError::Invalid("bad split".into())) }
        })
        .await
        .unwrap_err();
        assert_eq!(err, ConnectError::Invalid("bad split".into()));
        assert_eq!(*calls.lock(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn when_both_fail_the_preferred_regions_error_is_returned() {
        let health = Health::default();
        let err = in_either(&health, &regions(), Priority::Urgent, |r| async move {
            Err::<(), _>(ConnectError::Transient(r))
        })
        .await
        .unwrap_err();
        assert_eq!(err, ConnectError::Transient("us-west-2".into()));
    }

    #[tokio::test(start_paused = true)]
    async fn an_ordinary_read_waits_for_the_preferred_region_and_sends_nothing_else() {
        let health = Health::default();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let started = tokio::time::Instant::now();
        let (_, served) = in_either(&health, &regions(), Priority::Normal, |r| {
            calls.lock().push(r.clone());
            answer(r, "us-west-2", Duration::from_secs(8))
        })
        .await
        .unwrap();
        assert_eq!(served, "us-west-2");
        assert_eq!(started.elapsed(), Duration::from_secs(8));
        assert_eq!(*calls.lock(), vec!["us-west-2".to_string()]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hedged_call_that_fails_waits_for_the_slow_region_instead() {
        let health = Health::default();
        let started = tokio::time::Instant::now();
        let (_, served) = in_either(&health, &regions(), Priority::Urgent, |r| async move {
            if r == "us-west-2" {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Ok(())
            } else {
                Err(ConnectError::Transient("503".into()))
            }
        })
        .await
        .unwrap();
        assert_eq!(served, "us-west-2");
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }
}
