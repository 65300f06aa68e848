//! Prometheus metrics (`/metrics`): reconciles, errors, Connect calls by region/operation/outcome,
//! throttled responses, scheduler queue depth and wait time per priority, drift corrections and
//! traffic shifts. One process-wide registry, so the cloud seam and the reconcilers share it.

use std::cell::Cell;
use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub mod objects;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindOutcome {
    pub kind: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub region: String,
    pub operation: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RegionOperation {
    pub region: String,
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PriorityLabel {
    pub priority: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabel {
    pub cluster: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DriftLabels {
    pub kind: String,
    pub aspect: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShiftLabels {
    /// The region that took the UpdateTrafficDistribution call. Object names are not labels
    /// (unbounded cardinality): they are in Events and logs.
    pub region: String,
}

/// Health gates: a gate's result (Pass | Fail | Inconclusive | Pending).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GateLabels {
    pub result: String,
}

/// Health gates: what a gated rollout did (step | abort | pause).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RolloutLabels {
    pub action: String,
}

fn wait_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 4.0, 10))
}

fn calls_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 14))
}

pub struct Metrics {
    pub registry: Registry,
    pub reconciles: Family<KindOutcome, Counter>,
    pub reconcile_errors: Family<KindOutcome, Counter>,
    pub connect_calls: Family<CallLabels, Counter>,
    pub connect_throttled: Family<RegionOperation, Counter>,
    pub scheduler_wait: Family<PriorityLabel, Histogram, fn() -> Histogram>,
    pub scheduler_queue_depth: Family<PriorityLabel, Gauge>,
    pub calls_per_reconcile: Family<KindLabel, Histogram, fn() -> Histogram>,
    pub drift_corrections: Family<DriftLabels, Counter>,
    pub traffic_shifts: Family<ShiftLabels, Counter>,
    /// 1 while this replica reconciles (leads, or runs without leader election).
    pub leader: Gauge,
    /// 1 for the cluster that holds the writer lease as last seen (and, for this cluster, may
    /// write now), 0 for the others seen.
    pub writer: Family<ClusterLabel, Gauge>,
    pub gate_results: Family<GateLabels, Counter>,
    pub rollout_steps: Family<RolloutLabels, Counter>,
    // Per-object gauges (issue 24; set by `objects`, label sets documented in README).
    pub split_declared: Family<objects::SplitLabels, Gauge>,
    pub split_live: Family<objects::SplitLabels, Gauge>,
    pub split_differs_since: Family<objects::ObjectLabels, Gauge>,
    pub drift_pause: Family<objects::ObjectLabels, Gauge>,
    pub drift_state: Family<objects::KindObjectLabels, Gauge>,
    pub failover_ready: Family<objects::ObjectLabels, Gauge>,
    pub preflight_findings: Family<objects::FindingLabels, Gauge>,
    pub leader_renewals: Family<objects::ResultLabel, Counter>,
    pub drill_runs: Family<objects::ResultLabel, Counter>,
    pub drill_duration: Histogram,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("connectgr");
        let m = Self {
            reconciles: Family::default(),
            reconcile_errors: Family::default(),
            connect_calls: Family::default(),
            connect_throttled: Family::default(),
            scheduler_wait: Family::new_with_constructor(wait_histogram),
            scheduler_queue_depth: Family::default(),
            calls_per_reconcile: Family::new_with_constructor(calls_histogram),
            drift_corrections: Family::default(),
            traffic_shifts: Family::default(),
            leader: Gauge::default(),
            writer: Family::default(),
            gate_results: Family::default(),
            rollout_steps: Family::default(),
            split_declared: Family::default(),
            split_live: Family::default(),
            split_differs_since: Family::default(),
            drift_pause: Family::default(),
            drift_state: Family::default(),
            failover_ready: Family::default(),
            preflight_findings: Family::default(),
            leader_renewals: Family::default(),
            drill_runs: Family::default(),
            drill_duration: Histogram::new([
                30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
            ]),
            registry: Registry::default(),
        };
        registry.register(
            "reconciles",
            "Reconcile passes by kind and outcome",
            m.reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconcile errors by kind and class",
            m.reconcile_errors.clone(),
        );
        registry.register(
            "connect_calls",
            "Connect API calls by region, operation and outcome",
            m.connect_calls.clone(),
        );
        registry.register(
            "connect_throttled_responses",
            "HTTP 429 responses received (every attempt, including SDK retries)",
            m.connect_throttled.clone(),
        );
        registry.register(
            "scheduler_wait_seconds",
            "Time a call waited for its token, by priority",
            m.scheduler_wait.clone(),
        );
        registry.register(
            "scheduler_queue_depth",
            "Calls waiting for a token, by priority",
            m.scheduler_queue_depth.clone(),
        );
        registry.register(
            "connect_calls_per_reconcile",
            "Connect calls made by one reconcile pass",
            m.calls_per_reconcile.clone(),
        );
        registry.register(
            "drift_corrections",
            "Changes made to Connect behind the controller's back that it undid",
            m.drift_corrections.clone(),
        );
        registry.register(
            "traffic_shifts",
            "UpdateTrafficDistribution calls that changed a split",
            m.traffic_shifts.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica reconciles (holds the Lease, or runs without leader election)",
            m.leader.clone(),
        );
        registry.register(
            "writer",
            "1 for the cluster whose controller writes to Connect (holds the writer lease), 0 for the others seen",
            m.writer.clone(),
        );
        registry.register(
            "rollout_gate_results",
            "Health-gate checks of gated rollouts, by result",
            m.gate_results.clone(),
        );
        registry.register(
            "rollout_steps",
            "Gated rollout actions (step, abort, pause)",
            m.rollout_steps.clone(),
        );
        registry.register(
            "split_declared_percent",
            "The split a TrafficDistribution declares, by channel (telephony, agents) and region",
            m.split_declared.clone(),
        );
        registry.register(
            "split_live_percent",
            "The split Connect has (as last read or written), by channel and region",
            m.split_live.clone(),
        );
        registry.register(
            "split_differs_since_timestamp_seconds",
            "Since when the live split differs from the declared one, no rollout under way (absent: it does not)",
            m.split_differs_since.clone(),
        );
        registry.register(
            "drift_pause_seconds",
            "A TrafficDistribution's driftPauseSeconds",
            m.drift_pause.clone(),
        );
        registry.register(
            "drift_state",
            "Drift of an object: 0 none, 1 detected and corrected after the drift pause, 2 left alone (policy Report)",
            m.drift_state.clone(),
        );
        registry.register(
            "failover_ready",
            "1 while an InstanceReplica's FailoverReady condition is True",
            m.failover_ready.clone(),
        );
        registry.register(
            "preflight_findings",
            "Preflight findings over all InstanceReplicas, by finding kind and severity",
            m.preflight_findings.clone(),
        );
        registry.register(
            "leader_lease_renewals",
            "Renewals of the in-cluster leader Lease by this replica, by result (ok, failed, lost)",
            m.leader_renewals.clone(),
        );
        registry.register(
            "drill_runs",
            "FailoverDrill runs by result (Succeeded, Aborted, Skipped, Failed)",
            m.drill_runs.clone(),
        );
        registry.register(
            "drill_duration_seconds",
            "Time from the start of a FailoverDrill run to its end (skipped runs not counted)",
            m.drill_duration.clone(),
        );
        Self { registry, ..m }
    }

    pub fn encode(&self) -> String {
        objects::expire();
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

pub static METRICS: LazyLock<Metrics> =
    LazyLock::new(|| with_drill_results_at_zero(Metrics::new()));

/// The drill results, each exported at 0 from the start: `increase()` of a counter that appears
/// at 1 sees no increase, so the drill alerts need every series present before the first run.
pub const DRILL_RESULTS: [&str; 4] = ["Succeeded", "Aborted", "Skipped", "Failed"];

fn with_drill_results_at_zero(m: Metrics) -> Metrics {
    for result in DRILL_RESULTS {
        m.drill_runs
            .get_or_create(&objects::ResultLabel {
                result: result.into(),
            })
            .inc_by(0);
    }
    m
}

pub fn reconcile(kind: &str, outcome: &str) {
    METRICS
        .reconciles
        .get_or_create(&KindOutcome {
            kind: kind.into(),
            outcome: outcome.into(),
        })
        .inc();
}

pub fn reconcile_error(kind: &str, class: &str) {
    METRICS
        .reconcile_errors
        .get_or_create(&KindOutcome {
            kind: kind.into(),
            outcome: class.into(),
        })
        .inc();
}

pub fn drift(kind: &str, aspect: &str) {
    METRICS
        .drift_corrections
        .get_or_create(&DriftLabels {
            kind: kind.into(),
            aspect: aspect.into(),
        })
        .inc();
}

/// One UpdateTrafficDistribution sent, via `region`.
pub fn shift(region: &str) {
    METRICS
        .traffic_shifts
        .get_or_create(&ShiftLabels {
            region: region.into(),
        })
        .inc();
}

/// A FailoverDrill run ended (or was skipped) with `result`.
pub fn drill_run(result: &str) {
    METRICS
        .drill_runs
        .get_or_create(&objects::ResultLabel {
            result: result.into(),
        })
        .inc();
}

/// How long a FailoverDrill run took, start to end.
pub fn drill_duration(seconds: f64) {
    METRICS.drill_duration.observe(seconds);
}

/// One renewal of the leader Lease (ok | failed | lost).
pub fn leader_renewal(result: &str) {
    METRICS
        .leader_renewals
        .get_or_create(&objects::ResultLabel {
            result: result.into(),
        })
        .inc();
}

/// One health-gate check with this result.
pub fn gate_result(result: &str) {
    METRICS
        .gate_results
        .get_or_create(&GateLabels {
            result: result.into(),
        })
        .inc();
}

/// One gated-rollout action (step | abort | pause).
pub fn rollout_step(action: &str) {
    METRICS
        .rollout_steps
        .get_or_create(&RolloutLabels {
            action: action.into(),
        })
        .inc();
}

tokio::task_local! {
    /// Connect calls made so far by the reconcile pass running on this task.
    static PASS_CALLS: Cell<u64>;
}

/// Runs one reconcile pass and records how many Connect calls it made
/// (`connect_calls_per_reconcile`). Calls made by background sweeps it spawned are not its own.
pub async fn count_calls<F: Future>(kind: &str, pass: F) -> F::Output {
    let (out, calls) = PASS_CALLS
        .scope(Cell::new(0), async {
            let out = pass.await;
            (out, PASS_CALLS.with(Cell::get))
        })
        .await;
    METRICS
        .calls_per_reconcile
        .get_or_create(&KindLabel { kind: kind.into() })
        .observe(calls as f64);
    out
}

/// Counts one Connect call towards the pass running on this task, if any.
pub fn count_call() {
    let _ = PASS_CALLS.try_with(|c| c.set(c.get() + 1));
}

/// `connectgr_writer{cluster}`: 1 for the writer, 0 for a cluster that is not.
pub fn writer(cluster: &str, writes: bool) {
    METRICS
        .writer
        .get_or_create(&ClusterLabel {
            cluster: cluster.into(),
        })
        .set(writes as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_metrics_carry_the_prefix_and_labels() {
        reconcile("TrafficDistribution", "ok");
        let text = METRICS.encode();
        assert!(
            text.contains(
                "connectgr_reconciles_total{kind=\"TrafficDistribution\",outcome=\"ok\"}"
            ),
            "{text}"
        );
    }

    #[test]
    fn every_drill_result_is_exported_at_zero_before_the_first_run() {
        let text = METRICS.encode();
        for result in DRILL_RESULTS {
            assert!(
                text.contains(&format!(
                    "connectgr_drill_runs_total{{result=\"{result}\"}}"
                )),
                "{result}: {text}"
            );
        }
        assert!(
            text.contains("connectgr_drill_duration_seconds_bucket{le=\"7200.0\"}"),
            "{text}"
        );
    }

    #[test]
    fn a_drill_run_counts_under_its_result_and_its_duration() {
        drill_run("Aborted");
        drill_duration(400.0);
        let text = METRICS.encode();
        let count = |s: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(s)?.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        assert!(
            count("connectgr_drill_runs_total{result=\"Aborted\"}") >= 1.0,
            "{text}"
        );
        assert!(
            count("connectgr_drill_duration_seconds_count") >= 1.0,
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_pass_records_the_calls_it_made_and_not_those_of_tasks_it_spawned() {
        count_calls("CountTest", async {
            count_call();
            count_call();
            tokio::spawn(async { count_call() }).await.unwrap();
        })
        .await;
        let text = METRICS.encode();
        assert!(
            text.contains("connectgr_connect_calls_per_reconcile_sum{kind=\"CountTest\"} 2.0"),
            "{text}"
        );
        assert!(
            text.contains("connectgr_connect_calls_per_reconcile_count{kind=\"CountTest\"} 1"),
            "{text}"
        );
    }
}
