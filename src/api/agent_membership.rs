//! `AgentMembership` (agm): which agents belong to a traffic distribution group.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{DeletionPolicy, ObjectRef};
use super::drift::{DEFAULT_DRIFT_PAUSE_SECONDS, DriftPolicy, DriftStatus};

/// The agents (Connect users) that belong to a traffic distribution group: named users and
/// selectors. In Exact mode users that are not declared are removed from the group.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "connectgr.io",
    version = "v1alpha1",
    kind = "AgentMembership",
    plural = "agentmemberships",
    singular = "agentmembership",
    shortname = "agm",
    category = "connectgr",
    namespaced,
    doc = "The agents (Connect users) that belong to a traffic distribution group.",
    status = "AgentMembershipStatus",
    printcolumn = r#"{"name":"Group","type":"string","jsonPath":".spec.groupRef.name"}"#,
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Associated","type":"string","jsonPath":".status.associated"}"#,
    printcolumn = r#"{"name":"Pending","type":"integer","jsonPath":".status.pendingCount"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Writer","type":"string","jsonPath":".status.writer.cluster","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AgentMembershipSpec {
    /// The TrafficDistributionGroup (same namespace) the agents belong to. Immutable.
    pub group_ref: ObjectRef,
    /// Additive (default, safe): only add the declared agents. Exact: also remove agents of the
    /// group that are not declared.
    #[serde(default)]
    pub mode: MembershipMode,
    /// Connect usernames of the agents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Agents selected by routing profile, hierarchy group or tags (union with users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<AgentSelector>,
    /// When this object is deleted: Retain (default) leaves the agents in the group; Delete
    /// removes the agents it declares from the group, except those another AgentMembership of
    /// the same group declares.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// What to do when the group's members are changed outside the controller (an agent the
    /// controller keeps taken out, or, in Exact mode, an agent nobody declares put in): Correct
    /// (report it, leave it alone for driftPauseSeconds, then restore the spec) or Report (never
    /// correct it). Default: the controller's --drift-policy, Correct unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_policy: Option<DriftPolicy>,
    /// Seconds a change made outside the controller is left alone before it is corrected
    /// (0..604800; 0 corrects at once). Annotation connectgr.io/resume corrects earlier.
    #[serde(default = "default_drift_pause_seconds")]
    #[schemars(default = "default_drift_pause_seconds")]
    pub drift_pause_seconds: i64,
}

fn default_drift_pause_seconds() -> i64 {
    DEFAULT_DRIFT_PAUSE_SECONDS
}

/// The declared agents the controller keeps in the group, as fingerprints: one that is missing
/// was taken out by someone else; a member that is not among them and that nobody declares was
/// put in by someone else. A new selector match is neither: it is added at once.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeptMembers {
    /// How many.
    pub count: i32,
    /// 12 hex digits per agent (48 bits of FNV-1a of the user id), sorted, concatenated.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fingerprints: String,
}

/// How declared agents relate to the group's members.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum MembershipMode {
    /// The group holds exactly the declared agents; others are removed.
    Exact,
    /// The declared agents are added; other members are left alone.
    #[default]
    Additive,
}

/// Selects users of the source instance. A user matches when it matches every criterion that is
/// set (routing profile in routingProfiles AND hierarchy group in hierarchyGroups AND all tags).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentSelector {
    /// Routing profile names; a user matches when its routing profile is one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routing_profiles: Vec<String>,
    /// Agent hierarchy group names; a user matches when its hierarchy group is one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hierarchy_groups: Vec<String>,
    /// User tags; a user matches when it carries all of them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl AgentSelector {
    pub fn is_empty(&self) -> bool {
        self.routing_profiles.is_empty() && self.hierarchy_groups.is_empty() && self.tags.is_empty()
    }
}

/// Observed state of an AgentMembership.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentMembershipStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
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
    /// The region associations are made in (the source region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// ARN of the traffic distribution group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_arn: Option<String>,
    /// Number of agents declared (users plus selector matches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<i32>,
    /// Number of declared agents associated with the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated_count: Option<i32>,
    /// Progress as "associated/desired", e.g. 4980/5000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associated: Option<String>,
    /// Declared agents not associated yet (first 50).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
    /// Number of declared agents not associated yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_count: Option<i32>,
    /// Declared usernames that are not users of the source instance (first 50).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
    /// Number of agents removed from the group (Exact mode) in the last pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_count: Option<i32>,
    /// The declared agents the controller keeps in the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_members: Option<KeptMembers>,
    /// A change made outside the controller, while it is left alone (see driftPolicy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftStatus>,
    /// The last connectgr.io/resume value acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_resume: Option<String>,
}
