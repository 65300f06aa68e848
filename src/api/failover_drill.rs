//! `FailoverDrill` (drill): a scheduled or on-demand failover of a TrafficDistribution's split to
//! a target, held for a while and reverted by itself, with a report of each run.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::ObjectRef;
use super::rollout::{Gate, GateStatus};
use super::traffic_distribution::Rollout;

/// Annotation: any new value starts a run at once (the last value acted on is kept in
/// `status.lastHandledRunNow`).
pub const RUN_NOW: &str = "connectgr.io/run-now";

/// A failover drill of one TrafficDistribution: shift its split to `target`, hold it for
/// `holdSeconds`, revert to the split the TrafficDistribution declares at that moment, report.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "connectgr.io",
    version = "v1alpha1",
    kind = "FailoverDrill",
    plural = "failoverdrills",
    singular = "failoverdrill",
    shortname = "drill",
    category = "connectgr",
    namespaced,
    doc = "A scheduled or on-demand failover drill of a TrafficDistribution that reverts by itself and reports.",
    status = "FailoverDrillStatus",
    printcolumn = r#"{"name":"Last Result","type":"string","jsonPath":".status.lastRun.result"}"#,
    printcolumn = r#"{"name":"Last Run","type":"date","jsonPath":".status.lastRun.start"}"#,
    printcolumn = r#"{"name":"Next Run","type":"string","jsonPath":".status.nextRunTime"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct FailoverDrillSpec {
    /// The TrafficDistribution (same namespace) whose split is drilled.
    pub distribution_ref: ObjectRef,
    /// Cron schedule, 5 fields (minute hour day-of-month month day-of-week). Omitted: only on
    /// demand (annotation connectgr.io/run-now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// IANA time zone of the schedule (default UTC).
    #[serde(default = "default_time_zone")]
    #[schemars(default = "default_time_zone")]
    pub time_zone: String,
    /// The split held during the drill (the TrafficDistribution rules: both regions, multiples
    /// of 10 adding up to 100). It must differ from the split the distribution declares.
    pub target: DrillTarget,
    /// Seconds at the target before the automatic revert (1..86400).
    pub hold_seconds: i64,
    /// How to get to the target: steps of stepPercent, pauseSeconds apart. Omitted: one update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// Gates checked while shifting and holding; a failure reverts at once (Aborted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub abort_if: Vec<Gate>,
    /// No scheduled run starts while true (a run in progress finishes; run-now still works).
    #[serde(default)]
    pub suspend: bool,
    /// Runs kept in status.runs (1..50).
    #[serde(default = "default_history_limit")]
    #[schemars(default = "default_history_limit")]
    pub history_limit: i32,
}

fn default_time_zone() -> String {
    "UTC".into()
}
fn default_history_limit() -> i32 {
    5
}

/// Telephony and agent percentages per region held during a drill.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillTarget {
    /// Percentage of new inbound voice contacts per region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telephony: Option<BTreeMap<String, i32>>,
    /// Percentage of agents per region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<BTreeMap<String, i32>>,
}

/// Idle | Shifting | Holding | Reverting.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DrillPhase {
    #[default]
    Idle,
    Shifting,
    Holding,
    Reverting,
}

impl DrillPhase {
    /// Whether the distribution works towards the drill's target in this phase.
    pub fn at_target(self) -> bool {
        matches!(self, Self::Shifting | Self::Holding)
    }
}

/// Succeeded | Aborted | Skipped | Failed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DrillResult {
    Succeeded,
    Aborted,
    Skipped,
    Failed,
}

impl DrillResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "Succeeded",
            Self::Aborted => "Aborted",
            Self::Skipped => "Skipped",
            Self::Failed => "Failed",
        }
    }
}

/// One step of a run as it was seen: the phase, the split, gate results and the figures.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillStep {
    /// Shifting | Holding | Reverting.
    pub phase: String,
    /// When the step was recorded.
    pub time: Time,
    /// The split observed, short form ("T 0/100 A 0/100").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// The abortIf gates' results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GateStatus>,
    /// Agents Available seen by the gates (the region taking the traffic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents_available: Option<i64>,
    /// Oldest waiting contact age seen by the gates, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_contact_age_seconds: Option<i64>,
}

/// One run of a drill.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillRun {
    /// Run id: the start time and trigger, e.g. `20261204T030000Z-schedule`.
    pub id: String,
    /// What started it: schedule | run-now.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub trigger: String,
    /// When the run started.
    pub start: Time,
    /// When the run ended (its result is then set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Time>,
    /// Succeeded | Aborted | Skipped | Failed, once ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<DrillResult>,
    /// Why it ended as it did.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The split before the drill (short form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The split reverted to (short form): what the distribution declared at revert time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_to: Option<String>,
    /// When the target was reached (the hold began).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_start: Option<Time>,
    /// When the hold ends (recorded, so a restart resumes on time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_end: Option<Time>,
    /// When the revert began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_start: Option<Time>,
    /// Seconds from the start to the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift_seconds: Option<i64>,
    /// Seconds held at the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_seconds: Option<i64>,
    /// Seconds from the revert's start to the declared split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_seconds: Option<i64>,
    /// What was seen along the way (at most 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<DrillStep>,
}

/// Observed state of a FailoverDrill.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailoverDrillStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling and Stalled (kstatus).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Observe mode: the calls the controller would make (a drill never writes in observe mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<super::common::PlannedCalls>,
    /// The last `connectgr.io/reconcile-now` value acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_now: Option<String>,
    /// The cluster that writes to Connect (`--writer-lease-table`), as last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<super::common::Writer>,
    /// The last `connectgr.io/run-now` value acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_run_now: Option<String>,
    /// Idle | Shifting | Holding | Reverting.
    #[serde(default)]
    pub phase: DrillPhase,
    /// When the schedule starts the next run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_time: Option<Time>,
    /// The run in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<DrillRun>,
    /// The last run that ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<DrillRun>,
    /// The last historyLimit runs, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<DrillRun>,
}
