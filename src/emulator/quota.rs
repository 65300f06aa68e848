//! Token buckets per (account, region, operation): rule Q1. Time is injected (seconds as f64) so
//! the bucket is a pure piece that unit tests drive directly.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub rate: f64,
    pub burst: f64,
}

/// Q1: 2 requests/s with burst 5, the default of every operation.
pub const STANDARD: Limit = Limit {
    rate: 2.0,
    burst: 5.0,
};

/// Q1: 10 requests/s with burst 10 (ListUsers and DescribeUser).
pub const USER_READS: Limit = Limit {
    rate: 10.0,
    burst: 10.0,
};

/// Q1 default of an operation: its entry in the operation table (`ops::OPS`), else [`STANDARD`].
pub fn default_limit(operation: &str) -> Limit {
    super::ops::find(operation).map_or(STANDARD, |o| o.quota)
}

#[derive(Debug, Clone)]
pub struct Bucket {
    limit: Limit,
    tokens: f64,
    last: f64,
}

impl Bucket {
    pub fn new(limit: Limit, now: f64) -> Self {
        Self {
            limit,
            tokens: limit.burst,
            last: now,
        }
    }

    /// Takes one token if there is one. On refusal returns the seconds until one is available.
    pub fn try_take(&mut self, now: f64) -> Result<(), f64> {
        if now > self.last {
            self.tokens = (self.tokens + (now - self.last) * self.limit.rate).min(self.limit.burst);
            self.last = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else if self.limit.rate > 0.0 {
            Err((1.0 - self.tokens) / self.limit.rate)
        } else {
            Err(f64::INFINITY)
        }
    }
}

/// All buckets of the emulator. `scale` multiplies rates and bursts (benchmarks).
#[derive(Debug)]
pub struct Quotas {
    pub enabled: bool,
    pub scale: f64,
    buckets: HashMap<(String, String, String), Bucket>,
}

impl Quotas {
    pub fn new(enabled: bool, scale: f64) -> Self {
        Self {
            enabled,
            scale: if scale.is_finite() && scale > 0.0 {
                scale
            } else {
                1.0
            },
            buckets: HashMap::new(),
        }
    }

    pub fn limit(&self, operation: &str) -> Limit {
        let l = default_limit(operation);
        Limit {
            rate: l.rate * self.scale,
            burst: (l.burst * self.scale).max(1.0),
        }
    }

    pub fn check(
        &mut self,
        account: &str,
        region: &str,
        operation: &str,
        now: f64,
    ) -> Result<(), f64> {
        if !self.enabled {
            return Ok(());
        }
        let limit = self.limit(operation);
        let key = (
            account.to_string(),
            region.to_string(),
            operation.to_string(),
        );
        self.buckets
            .entry(key)
            .or_insert_with(|| Bucket::new(limit, now))
            .try_take(now)
    }

    pub fn reset(&mut self) {
        self.buckets.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let mut b = Bucket::new(
            Limit {
                rate: 2.0,
                burst: 5.0,
            },
            0.0,
        );
        for _ in 0..5 {
            assert!(b.try_take(0.0).is_ok());
        }
        let wait = b.try_take(0.0).unwrap_err();
        assert!((wait - 0.5).abs() < 1e-9);
        assert!(b.try_take(0.49).is_err());
        assert!(b.try_take(0.5).is_ok());
        assert!(b.try_take(0.5).is_err());
        // refill never exceeds burst
        for _ in 0..5 {
            assert!(b.try_take(100.0).is_ok());
        }
        assert!(b.try_take(100.0).is_err());
    }

    #[test]
    fn q1_defaults_and_scale() {
        assert_eq!(
            default_limit("ListUsers"),
            Limit {
                rate: 10.0,
                burst: 10.0
            }
        );
        assert_eq!(default_limit("DescribeUser").rate, 10.0);
        assert_eq!(
            default_limit("AssociateTrafficDistributionGroupUser"),
            Limit {
                rate: 2.0,
                burst: 5.0
            }
        );
        let q = Quotas::new(true, 10.0);
        assert_eq!(
            q.limit("UpdateTrafficDistribution"),
            Limit {
                rate: 20.0,
                burst: 50.0
            }
        );
    }

    #[test]
    fn buckets_are_per_region_and_operation() {
        let mut q = Quotas::new(true, 1.0);
        for _ in 0..5 {
            assert!(
                q.check("a", "us-west-2", "CreateTrafficDistributionGroup", 0.0)
                    .is_ok()
            );
        }
        assert!(
            q.check("a", "us-west-2", "CreateTrafficDistributionGroup", 0.0)
                .is_err()
        );
        assert!(
            q.check("a", "us-east-1", "CreateTrafficDistributionGroup", 0.0)
                .is_ok()
        );
        assert!(q.check("a", "us-west-2", "DescribeInstance", 0.0).is_ok());
        let mut off = Quotas::new(false, 1.0);
        for _ in 0..100 {
            assert!(off.check("a", "r", "X", 0.0).is_ok());
        }
    }
}
