//! `TrafficDistribution` (tdist): the telephony, agent and sign-in split of a group.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::ObjectRef;
use super::drift::{DEFAULT_DRIFT_PAUSE_SECONDS, DriftPolicy, DriftStatus};

/// The desired split of a traffic distribution group between its two regions: telephony and
/// agent percentages (multiples of 10 that add up to 100) and sign-in regions (default group
/// only), optionally reached step by step.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "connectgr.io",
    version = "v1alpha1",
    kind = "TrafficDistribution",
    plural = "trafficdistributions",
    singular = "trafficdistribution",
    shortname = "tdist",
    category = "connectgr",
    namespaced,
    doc = "The telephony, agent and sign-in split of a traffic distribution group between its two regions.",
    status = "TrafficDistributionStatus",
    printcolumn = r#"{"name":"Group","type":"string","jsonPath":".spec.groupRef.name"}"#,
    printcolumn = r#"{"name":"Split","type":"string","jsonPath":".status.split"}"#,
    printcolumn = r#"{"name":"Step","type":"integer","jsonPath":".status.rollout.step"}"#,
    printcolumn = r#"{"name":"Served-By","type":"string","jsonPath":".status.servedBy","priority":1}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Writer","type":"string","jsonPath":".status.writer.cluster","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TrafficDistributionSpec {
    /// The TrafficDistributionGroup (same namespace) to distribute. Immutable.
    pub group_ref: ObjectRef,
    /// Percentage of new inbound voice contacts per region: both regions of the group,
    /// multiples of 10, adding up to 100. Left as it is in Connect when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telephony: Option<BTreeMap<String, i32>>,
    /// Percentage of agents per region: both regions of the group, multiples of 10, adding up
    /// to 100. Agents on a live voice contact finish it before they move. Left as it is when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<BTreeMap<String, i32>>,
    /// Which regions' sign-in servers agents use (default group only): both regions, at least
    /// one true. Recommended steady state: both true. Left as it is when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<BTreeMap<String, bool>>,
    /// Allow telephony to a region that receives 0% of the agents. Off by default: calls would
    /// land where nobody can take them (rule D4).
    #[serde(default)]
    pub allow_telephony_without_agents: bool,
    /// Reach the target in steps instead of one update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// What to do when the split is changed outside the controller (console, AWS CLI): Correct
    /// (report it, leave it alone for driftPauseSeconds, then restore the spec) or Report (never
    /// correct it). Default: the controller's --drift-policy, Correct unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_policy: Option<DriftPolicy>,
    /// Seconds a change made outside the controller is left alone before it is corrected
    /// (0..604800; 0 corrects at once). Annotation connectgr.io/resume corrects earlier.
    #[serde(default = "default_drift_pause_seconds")]
    #[schemars(default = "default_drift_pause_seconds")]
    pub drift_pause_seconds: i64,
    /// Preflight finding kinds (e.g. FlowHardcodedRegion) accepted for a move of telephony into
    /// a region with blocking findings on the InstanceReplica; others refuse it (Stalled,
    /// PreflightBlocking). PreflightUnknown lets such a move go while the findings are unknown
    /// (otherwise Stalled, PreflightUnknown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept_risks: Vec<String>,
    /// Global routing between the regions (default group only): Enabled, or Isolated
    /// (UpdateCrossRegionRouting IsolatedAll). Left as it is when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_region_routing: Option<super::preflight::CrossRegionRouting>,
}

fn default_drift_pause_seconds() -> i64 {
    DEFAULT_DRIFT_PAUSE_SECONDS
}

/// The split the controller itself last applied (the declared parts only): a split in Connect
/// that differs from it while the spec is unchanged was changed by someone else.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastAppliedSplit {
    /// Telephony percentages per region, when declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telephony: Option<BTreeMap<String, i32>>,
    /// Agent percentages per region, when declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<BTreeMap<String, i32>>,
    /// Sign-in regions, when declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<BTreeMap<String, bool>>,
}

/// A progressive rollout: move at most stepPercent per step, waiting pauseSeconds between steps.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// Largest change of any percentage in one step (10..100, multiple of 10).
    #[serde(default = "default_step_percent")]
    #[schemars(default = "default_step_percent")]
    pub step_percent: i32,
    /// Seconds to wait between two steps (0..86400).
    #[serde(default = "default_pause_seconds")]
    #[schemars(default = "default_pause_seconds")]
    pub pause_seconds: i64,
    /// Gate: hold the rollout at its current step while true.
    #[serde(default)]
    pub paused: bool,
    /// Gate: take the next step only once the group is ACTIVE again and the previous step is
    /// observed in both regions.
    #[serde(default = "default_true")]
    #[schemars(default = "default_true")]
    pub require_observed: bool,
    /// Checks before each step (health, webhook, approval); none: steps follow the pause only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<super::rollout::Gate>,
    /// Consecutive failed or inconclusive checks before onFailure applies (1..100).
    #[serde(default = "default_failure_limit")]
    #[schemars(default = "default_failure_limit")]
    pub failure_limit: i32,
    /// Abort (restore the split of the rollout's start) or Pause (hold the current step).
    #[serde(default)]
    pub on_failure: super::rollout::OnFailure,
}

fn default_failure_limit() -> i32 {
    3
}

fn default_step_percent() -> i32 {
    10
}
fn default_pause_seconds() -> i64 {
    60
}
fn default_true() -> bool {
    true
}

impl Default for Rollout {
    fn default() -> Self {
        Self {
            step_percent: default_step_percent(),
            pause_seconds: default_pause_seconds(),
            paused: false,
            require_observed: true,
            gates: Vec::new(),
            failure_limit: default_failure_limit(),
            on_failure: Default::default(),
        }
    }
}

/// Progress of a rollout.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// Steps applied so far.
    pub step: i32,
    /// Total number of steps to the target.
    pub of: i32,
    /// Earliest time of the next step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_step_time: Option<Time>,
    /// Gated rollouts: Progressing | Paused | Aborted | Complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Gated rollouts: the last result of each gate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<super::rollout::GateStatus>,
    /// Gated rollouts: consecutive failed or inconclusive checks.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures: i32,
    /// Gated rollouts: the split when the rollout began (restored on abort).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<super::rollout::RolloutStart>,
    /// Gated rollouts: the metadata.generation the rollout works toward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// Observed state of a TrafficDistribution.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrafficDistributionStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Cross-region routing as Connect reports it (Enabled | Isolated), when declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_region_routing: Option<super::preflight::CrossRegionRouting>,
    /// Ready, Reconciling and Stalled (kstatus).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Observe mode (`connectgr.io/management-policy: Observe`): the Connect calls the controller
    /// would make, not made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<super::common::PlannedCalls>,
    /// The last `connectgr.io/reconcile-now` value acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_now: Option<String>,
    /// The cluster that writes to Connect (`--writer-lease-table`), as last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<super::common::Writer>,
    /// The group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The group ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The region of the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// ARN of the traffic distribution group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_arn: Option<String>,
    /// Telephony percentages as observed in Connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telephony: Option<BTreeMap<String, i32>>,
    /// Agent percentages as observed in Connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<BTreeMap<String, i32>>,
    /// Sign-in regions as observed in Connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<BTreeMap<String, bool>>,
    /// The observed split in short form, e.g. "T 60/40 A 50/50".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// The region whose endpoint served the last update (the replica when the source is down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<String>,
    /// When the split last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_shift_time: Option<Time>,
    /// Progress of the rollout, while one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutStatus>,
    /// The split the controller itself last applied (declared parts only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied: Option<LastAppliedSplit>,
    /// A split write about to be sent (declared parts only), recorded before the write so a
    /// crash before its outcome is recorded is not taken for drift after a restart: when Connect
    /// has it, it becomes lastApplied. Cleared once the outcome is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_split: Option<LastAppliedSplit>,
    /// A change made outside the controller, while it is left alone (see driftPolicy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftStatus>,
    /// The last connectgr.io/resume value acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_resume: Option<String>,
}

/// Percentages in the order `first` region, then the other one: `60/40`. Missing regions count
/// as 0; a map with other regions than `first` and one partner yields what it has, sorted.
pub fn ratio(map: &BTreeMap<String, i32>, first: &str) -> String {
    let mut parts: Vec<(bool, &String, i32)> =
        map.iter().map(|(r, p)| (r != first, r, *p)).collect();
    parts.sort();
    parts
        .iter()
        .map(|(_, _, p)| p.to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The printer-column summary of a split, source region first: `T 60/40 A 50/50` (telephony,
/// agents; a part that is unknown is left out).
pub fn split_summary(
    telephony: Option<&BTreeMap<String, i32>>,
    agents: Option<&BTreeMap<String, i32>>,
    source_region: &str,
) -> String {
    let mut out = Vec::new();
    if let Some(t) = telephony {
        out.push(format!("T {}", ratio(t, source_region)));
    }
    if let Some(a) = agents {
        out.push(format!("A {}", ratio(a, source_region)));
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_summary_puts_the_source_region_first() {
        let t: BTreeMap<String, i32> =
            [("us-east-1".to_string(), 40), ("us-west-2".to_string(), 60)].into();
        let a: BTreeMap<String, i32> =
            [("us-east-1".to_string(), 50), ("us-west-2".to_string(), 50)].into();
        assert_eq!(
            split_summary(Some(&t), Some(&a), "us-west-2"),
            "T 60/40 A 50/50"
        );
        assert_eq!(split_summary(Some(&t), None, "us-east-1"), "T 40/60");
        assert_eq!(split_summary(None, None, "us-east-1"), "");
    }
}
