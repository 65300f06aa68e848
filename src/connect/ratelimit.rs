//! The request scheduler shared by every reconciler: one token bucket per (region, operation)
//! sized from the Connect quotas (rule Q1), adapting down on ThrottlingException and back up on
//! success, with priorities so a failover never waits behind a bulk membership batch, and a
//! budget that caps background drift-check reads at a share of each quota.
//!
//! The bucket arithmetic is pure (time is an argument); `Scheduler` is the async wrapper.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How long a call waited in this scheduler before it went on the wire, for whoever awaits it
/// inside [`QUEUED.scope`](QUEUED): the region hedge (`reconcile::fallback`) tells a slow region
/// from a queue of the controller's own by it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueTime {
    /// The call is waiting for a token right now.
    pub waiting: bool,
    /// Time spent waiting for tokens so far (every granted wait of the call).
    pub waited: Duration,
}

tokio::task_local! {
    /// Set by a caller that wants to know how long its call sat in the scheduler.
    pub static QUEUED: Arc<Mutex<QueueTime>>;
}

fn note_queue(f: impl FnOnce(&mut QueueTime)) {
    let _ = QUEUED.try_with(|q| f(&mut q.lock()));
}

/// Which queue a call waits in. Lower sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Traffic-distribution changes (a failover) and group lifecycle calls.
    Urgent = 0,
    /// Ordinary reconcile reads and writes.
    Normal = 1,
    /// Bulk membership batches (associate/disassociate): yield to everything else.
    Bulk = 2,
    /// Drift-check reads in steady state: limited to the background budget.
    Background = 3,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Urgent,
        Priority::Normal,
        Priority::Bulk,
        Priority::Background,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::Normal => "normal",
            Priority::Bulk => "bulk",
            Priority::Background => "background",
        }
    }
}

/// A token bucket whose rate adapts: halved on throttling (never below `floor`), raised by a
/// twentieth of the nominal rate on each success until it is back at the nominal rate.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    nominal_rate: f64,
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64) -> Self {
        let burst = burst.max(1.0);
        Self {
            nominal_rate: rate,
            rate,
            burst,
            tokens: burst,
            last: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        }
        self.last = Some(now);
    }

    /// Takes a token, or says how long until one is available.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - self.tokens;
            Err(Duration::from_secs_f64(missing / self.rate))
        }
    }

    /// The service said 429: the account's bucket is emptier than ours (someone else shares it).
    pub fn on_throttled(&mut self, now: Instant) {
        self.refill(now);
        self.rate = (self.rate / 2.0).max(self.nominal_rate / 8.0);
        self.tokens = 0.0;
    }

    pub fn on_success(&mut self) {
        self.rate = (self.rate + self.nominal_rate / 20.0).min(self.nominal_rate);
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }
}

/// Quota sizes: the AWS defaults of rule Q1, scaled for benchmarks, overridable for raised quotas.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Multiplies every rate and burst (`CONNECT_GR_BENCH_QUOTA_SCALE`; 1 in production).
    pub scale: f64,
    /// Share of each quota that background (drift-check) reads may use.
    pub background_budget: f64,
    /// Per-operation (rate, burst) overrides, e.g. for raised quotas.
    pub overrides: HashMap<String, (f64, f64)>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            scale: 1.0,
            // Issue 23: the steady state leaves three quarters of each read quota to the
            // console, other tools and a failover.
            background_budget: 0.25,
            overrides: HashMap::new(),
        }
    }
}

impl SchedulerConfig {
    /// Reads `CONNECT_GR_BENCH_QUOTA_SCALE` and `CONNECT_GR_BACKGROUND_BUDGET`.
    pub fn from_env() -> Self {
        let mut cfg = Self::default();
        if let Some(s) = std::env::var("CONNECT_GR_BENCH_QUOTA_SCALE")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            && s > 0.0
        {
            cfg.scale = s;
        }
        if let Some(b) = std::env::var("CONNECT_GR_BACKGROUND_BUDGET")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            && b > 0.0
            && b <= 1.0
        {
            cfg.background_budget = b;
        }
        cfg
    }

    /// (rate per second, burst) for an operation, after overrides and scaling.
    pub fn quota(&self, operation: &str) -> (f64, f64) {
        let (rate, burst) = self
            .overrides
            .get(operation)
            .copied()
            .unwrap_or(match operation {
                "ListUsers" | "DescribeUser" => (10.0, 10.0),
                // Real-time metrics (health gates): wave-2 reference §6.
                "GetCurrentMetricData" => (5.0, 8.0),
                "ListQueues" => (10.0, 5.0),
                _ => (2.0, 5.0),
            });
        (rate * self.scale, (burst * self.scale).max(1.0))
    }
}

/// Parses the background budget: a share of each quota, greater than 0 and at most 1.
pub fn parse_background_budget(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|b| *b > 0.0 && *b <= 1.0)
        .ok_or_else(|| {
            format!("{s:?}: the background budget is a share of each quota, in (0, 1], e.g. 0.5")
        })
}

/// Parses a quota override `Operation=RATE[/BURST]` (requests per second; the burst defaults to
/// 2.5 × the rate, the ratio of the AWS defaults), e.g. for an account with raised quotas.
pub fn parse_quota_override(s: &str) -> Result<(String, (f64, f64)), String> {
    let (op, value) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected Operation=RATE[/BURST], e.g. ListUsers=20/40"))?;
    let op = op.trim();
    if op.is_empty()
        || !op.chars().all(|c| c.is_ascii_alphanumeric())
        || !op.starts_with(|c: char| c.is_ascii_uppercase())
    {
        return Err(format!(
            "{op:?} is not a Connect operation name (e.g. AssociateTrafficDistributionGroupUser)"
        ));
    }
    let (rate, burst) = match value.split_once('/') {
        Some((r, b)) => (r, Some(b)),
        None => (value, None),
    };
    let number = |what: &str, v: &str| -> Result<f64, String> {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x > 0.0)
            .ok_or_else(|| format!("{op}: {what} {v:?} must be a positive number"))
    };
    let rate = number("rate", rate)?;
    let burst = match burst {
        Some(b) => number("burst", b)?,
        None => rate * 2.5,
    };
    Ok((op.to_string(), (rate, burst)))
}

#[derive(Debug)]
struct Lane {
    bucket: TokenBucket,
    background: TokenBucket,
    waiting: [usize; 4],
}

/// Statistics a caller (metrics, benchmarks) can read.
#[derive(Debug, Clone, Default)]
pub struct SchedulerStats {
    pub throttled: u64,
    pub granted: u64,
}

/// One caller waiting in [`Scheduler::acquire`]; leaves the lane's count when dropped unless it
/// was granted (then the grant already took it out).
struct Waiting<'a> {
    scheduler: &'a Scheduler,
    region: &'a str,
    operation: &'a str,
    priority: usize,
    granted: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.granted {
            let p = self.priority;
            self.scheduler
                .with_lane(self.region, self.operation, |l| l.waiting[p] -= 1);
        }
    }
}

/// Shared by all reconcilers; clone is cheap.
#[derive(Clone)]
pub struct Scheduler {
    config: Arc<SchedulerConfig>,
    lanes: Arc<Mutex<HashMap<(String, String), Lane>>>,
    stats: Arc<Mutex<SchedulerStats>>,
}

impl Scheduler {
    pub fn new(config: SchedulerConfig) -> Self {
        Self {
            config: Arc::new(config),
            lanes: Arc::default(),
            stats: Arc::default(),
        }
    }

    fn with_lane<T>(&self, region: &str, operation: &str, f: impl FnOnce(&mut Lane) -> T) -> T {
        let mut lanes = self.lanes.lock();
        let lane = lanes
            .entry((region.to_string(), operation.to_string()))
            .or_insert_with(|| {
                let (rate, burst) = self.config.quota(operation);
                let budget = self.config.background_budget;
                Lane {
                    bucket: TokenBucket::new(rate, burst),
                    background: TokenBucket::new(rate * budget, 1.0),
                    waiting: [0; 4],
                }
            });
        f(lane)
    }

    /// Waits until a call of `operation` in `region` may be sent at `priority`. Returns the time
    /// spent waiting.
    pub async fn acquire(&self, region: &str, operation: &str, priority: Priority) -> Duration {
        let started = tokio::time::Instant::now();
        let p = priority as usize;
        self.with_lane(region, operation, |l| l.waiting[p] += 1);
        note_queue(|q| q.waiting = true);
        // Counted as waiting until granted or given up: a caller that stops waiting (a timeout,
        // the other region answering first, a sibling read failing) must not hold back every
        // lower priority on this lane for good.
        let mut waiting = Waiting {
            scheduler: self,
            region,
            operation,
            priority: p,
            granted: false,
        };
        loop {
            // tokio's clock, so tests with a paused clock control it.
            let now = tokio::time::Instant::now().into_std();
            let decision = self.with_lane(region, operation, |lane| {
                // Anyone of a higher priority waiting goes first.
                if lane.waiting[..p].iter().any(|&n| n > 0) {
                    return Err(Duration::from_millis(5));
                }
                if priority == Priority::Background {
                    lane.background.try_take(now)?;
                }
                match lane.bucket.try_take(now) {
                    Ok(()) => {
                        lane.waiting[p] -= 1;
                        waiting.granted = true;
                        Ok(())
                    }
                    Err(wait) => {
                        if priority == Priority::Background {
                            // Give the background token back: the call did not go out.
                            lane.background.tokens =
                                (lane.background.tokens + 1.0).min(lane.background.burst);
                        }
                        Err(wait)
                    }
                }
            });
            match decision {
                Ok(()) => {
                    self.stats.lock().granted += 1;
                    let waited = started.elapsed();
                    note_queue(|q| {
                        q.waiting = false;
                        q.waited += waited;
                    });
                    return waited;
                }
                Err(wait) => {
                    tokio::time::sleep(
                        wait.clamp(Duration::from_millis(2), Duration::from_millis(250)),
                    )
                    .await
                }
            }
        }
    }

    /// Feedback from the response: adapts the lane's rate.
    pub fn record(&self, region: &str, operation: &str, throttled: bool) {
        let now = tokio::time::Instant::now().into_std();
        self.with_lane(region, operation, |lane| {
            if throttled {
                lane.bucket.on_throttled(now);
            } else {
                lane.bucket.on_success();
            }
        });
        if throttled {
            self.stats.lock().throttled += 1;
        }
    }

    /// Calls waiting right now, per priority.
    pub fn queue_depth(&self) -> [usize; 4] {
        let lanes = self.lanes.lock();
        let mut depth = [0; 4];
        for lane in lanes.values() {
            for (d, w) in depth.iter_mut().zip(lane.waiting) {
                *d += w;
            }
        }
        depth
    }

    pub fn stats(&self) -> SchedulerStats {
        self.stats.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_background_budget_is_a_share_in_0_1() {
        assert_eq!(super::parse_background_budget("0.5"), Ok(0.5));
        assert_eq!(super::parse_background_budget("1"), Ok(1.0));
        for bad in ["0", "1.5", "-0.1", "half"] {
            assert!(super::parse_background_budget(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_quota_override_takes_a_rate_and_an_optional_burst() {
        assert_eq!(
            super::parse_quota_override("ListUsers=20/40"),
            Ok(("ListUsers".into(), (20.0, 40.0)))
        );
        assert_eq!(
            super::parse_quota_override("AssociateTrafficDistributionGroupUser=4"),
            Ok(("AssociateTrafficDistributionGroupUser".into(), (4.0, 10.0)))
        );
    }

    #[test]
    fn a_malformed_quota_override_is_rejected_with_the_expected_form() {
        for bad in [
            "ListUsers",
            "ListUsers=0",
            "ListUsers=-1",
            "ListUsers=2/x",
            "=2",
            "list users=2",
        ] {
            let e = super::parse_quota_override(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
        assert!(
            super::parse_quota_override("ListUsers")
                .unwrap_err()
                .contains("Operation=RATE")
        );
    }

    use super::*;

    #[test]
    fn a_full_bucket_allows_a_burst_then_paces_at_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0, 5.0);
        for _ in 0..5 {
            assert!(b.try_take(t0).is_ok());
        }
        let wait = b.try_take(t0).unwrap_err();
        assert!(
            (wait.as_secs_f64() - 0.5).abs() < 1e-6,
            "one token takes 1/rate = 0.5 s, got {wait:?}"
        );
        assert!(b.try_take(t0 + Duration::from_millis(500)).is_ok());
    }

    #[test]
    fn tokens_never_exceed_the_burst_after_idling() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0, 5.0);
        b.try_take(t0).unwrap();
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..5 {
            assert!(b.try_take(later).is_ok());
        }
        assert!(b.try_take(later).is_err());
    }

    #[test]
    fn throttling_halves_the_rate_and_successes_restore_it() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0, 5.0);
        b.on_throttled(t0);
        assert_eq!(b.rate(), 1.0);
        b.on_throttled(t0);
        b.on_throttled(t0);
        b.on_throttled(t0);
        assert_eq!(
            b.rate(),
            0.25,
            "the rate never drops below an eighth of nominal"
        );
        for _ in 0..100 {
            b.on_success();
        }
        assert_eq!(b.rate(), 2.0, "the rate never exceeds nominal");
    }

    #[test]
    fn q1_quota_defaults_are_two_per_second_burst_five_and_ten_for_list_users() {
        let cfg = SchedulerConfig::default();
        assert_eq!(
            cfg.quota("AssociateTrafficDistributionGroupUser"),
            (2.0, 5.0)
        );
        assert_eq!(cfg.quota("ListUsers"), (10.0, 10.0));
    }

    #[test]
    fn scale_multiplies_rate_and_burst() {
        let cfg = SchedulerConfig {
            scale: 10.0,
            ..Default::default()
        };
        assert_eq!(cfg.quota("UpdateTrafficDistribution"), (20.0, 50.0));
    }

    #[tokio::test(start_paused = true)]
    async fn background_reads_use_at_most_the_budget_share() {
        let s = Scheduler::new(SchedulerConfig {
            scale: 1.0,
            background_budget: 0.5,
            ..Default::default()
        });
        let start = tokio::time::Instant::now();
        for _ in 0..11 {
            s.acquire(
                "us-west-2",
                "ListTrafficDistributionGroupUsers",
                Priority::Background,
            )
            .await;
        }
        // 1 initial token, then 10 more at 1/s (half of 2/s).
        let elapsed = start.elapsed().as_secs_f64();
        assert!(elapsed >= 9.0, "background budget not enforced: {elapsed}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_urgent_call_given_up_while_waiting_does_not_hold_back_the_calls_behind_it() {
        let s = Scheduler::new(SchedulerConfig {
            scale: 1.0,
            ..Default::default()
        });
        let op = "DescribeTrafficDistributionGroup";
        // Empty the bucket so the urgent call has to wait, then give it up (a timeout, as the
        // failover lane's region fallback does).
        while tokio::time::timeout(
            Duration::from_millis(1),
            s.acquire("us-west-2", op, Priority::Urgent),
        )
        .await
        .is_ok()
        {}
        assert_eq!(
            s.queue_depth(),
            [0; 4],
            "the given-up call still counts as waiting"
        );
        let normal = tokio::time::timeout(
            Duration::from_secs(60),
            s.acquire("us-west-2", op, Priority::Normal),
        )
        .await;
        assert!(
            normal.is_ok(),
            "a normal call starved behind a caller that left"
        );
    }
}
