//! How long a Connect call may take, by the scheduler queue it waits in (issue 25). A region
//! that accepts connections and answers slowly (a brownout) must not hold a failover: the urgent
//! lane gives up on a region within a few seconds so the caller can try the other one
//! (`reconcile::fallback`); ordinary and bulk calls get more room because nothing waits on them.
//!
//! Pure: the values only. `sdk.rs` turns them into the SDK's `TimeoutConfig` per client.

use std::time::Duration;

use super::Priority;

/// The three SDK timeouts of one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP/TLS connection.
    pub connect: Duration,
    /// One HTTP attempt, from sending to the parsed response.
    pub attempt: Duration,
    /// The whole operation including the SDK's own retries.
    pub operation: Duration,
}

impl Timeouts {
    /// The timeouts of a call sent at `priority`.
    pub const fn for_priority(priority: Priority) -> Timeouts {
        match priority {
            // The failover lane: split changes, group lifecycle, health-gate metrics.
            Priority::Urgent => Timeouts {
                connect: Duration::from_secs(1),
                attempt: Duration::from_secs(2),
                operation: Duration::from_secs(4),
            },
            Priority::Normal => Timeouts {
                connect: Duration::from_secs(2),
                attempt: Duration::from_secs(10),
                operation: Duration::from_secs(25),
            },
            Priority::Bulk | Priority::Background => Timeouts {
                connect: Duration::from_secs(2),
                attempt: Duration::from_secs(15),
                operation: Duration::from_secs(40),
            },
        }
    }

    /// The SDK's form.
    pub fn sdk(self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failover_lane_gives_up_on_a_region_within_a_few_seconds() {
        let t = Timeouts::for_priority(Priority::Urgent);
        assert!(t.operation <= Duration::from_secs(5), "{t:?}");
        assert!(t.attempt < t.operation && t.connect <= t.attempt, "{t:?}");
    }

    #[test]
    fn every_queue_has_all_three_timeouts_and_none_waits_less_than_the_failover_lane() {
        let urgent = Timeouts::for_priority(Priority::Urgent);
        for p in Priority::ALL {
            let t = Timeouts::for_priority(p);
            assert!(
                t.connect <= t.attempt && t.attempt <= t.operation,
                "{p:?}: {t:?}"
            );
            assert!(t.operation >= urgent.operation, "{p:?}: {t:?}");
            let sdk = t.sdk();
            assert_eq!(sdk.connect_timeout(), Some(t.connect));
            assert_eq!(sdk.operation_attempt_timeout(), Some(t.attempt));
            assert_eq!(sdk.operation_timeout(), Some(t.operation));
        }
    }

    #[test]
    fn no_call_waits_anywhere_near_a_two_minute_brownout() {
        for p in Priority::ALL {
            assert!(
                Timeouts::for_priority(p).operation < Duration::from_secs(60),
                "{p:?}"
            );
        }
    }
}
