//! Drift settings and status, shared by TrafficDistribution and AgentMembership: what a change
//! made outside the controller is, and what the controller does about it (`spec.driftPolicy`,
//! `spec.driftPauseSeconds`, `status.drift`, annotation `connectgr.io/resume`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `spec.driftPauseSeconds` when it is not set: an hour.
pub const DEFAULT_DRIFT_PAUSE_SECONDS: i64 = 3600;

/// Largest `spec.driftPauseSeconds`: a week (for longer, use `driftPolicy: Report`).
pub const MAX_DRIFT_PAUSE_SECONDS: i64 = 604_800;

/// What the controller does with a change made outside it (in the console, with the AWS CLI):
/// Correct (report it, leave it alone for driftPauseSeconds, then restore the spec) or Report
/// (never correct it). Not set: the controller's --drift-policy (Correct unless set).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DriftPolicy {
    /// Report it at once, leave it alone for driftPauseSeconds, then restore the spec.
    #[default]
    Correct,
    /// Report it, never correct it (until the spec changes or connectgr.io/resume is set).
    Report,
}

impl std::fmt::Display for DriftPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Correct => "Correct",
            Self::Report => "Report",
        })
    }
}

impl std::str::FromStr for DriftPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Correct" | "correct" => Ok(Self::Correct),
            "Report" | "report" => Ok(Self::Report),
            _ => Err(format!("drift policy is Correct or Report, not {s:?}")),
        }
    }
}

/// One thing that was changed outside the controller.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftChange {
    /// What changed, e.g. `telephony` or `agent alice`.
    pub field: String,
    /// As the controller last applied it.
    pub from: String,
    /// As it is in Connect now.
    pub to: String,
}

/// A change made outside the controller that it is leaving alone (for now or for good).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftStatus {
    /// The policy in force (spec.driftPolicy, or the controller's --drift-policy).
    pub policy: DriftPolicy,
    /// What changed, from what the controller last applied to what Connect has (first 50).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<DriftChange>,
    /// How many changes in all.
    pub total: i32,
    /// One line for humans: what changed and what happens next.
    pub message: String,
    /// When the controller first saw Connect this way.
    pub first_seen_time: Time,
    /// When the controller corrects it; absent: never (policy Report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction_time: Option<Time>,
    /// Fingerprint of the spec (less the drift settings) when the drift was seen: a change of the
    /// spec wins over a paused correction, a change of only driftPolicy/driftPauseSeconds does not.
    pub spec_hash: String,
}
