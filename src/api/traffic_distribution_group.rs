//! `TrafficDistributionGroup` (tdg): a Connect traffic distribution group and its phone numbers.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{DeletionPolicy, ObjectRef};

/// A traffic distribution group of a replicated Connect instance, with the phone numbers that
/// belong to it. `default: true` adopts the group that ReplicateInstance created.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "connectgr.io",
    version = "v1alpha1",
    kind = "TrafficDistributionGroup",
    plural = "trafficdistributiongroups",
    singular = "trafficdistributiongroup",
    shortname = "tdg",
    category = "connectgr",
    namespaced,
    doc = "A traffic distribution group of a replicated Amazon Connect instance and its phone numbers.",
    status = "TrafficDistributionGroupStatus",
    printcolumn = r#"{"name":"Default","type":"boolean","jsonPath":".spec.default"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"Source","type":"string","jsonPath":".status.sourceRegion"}"#,
    printcolumn = r#"{"name":"Replica","type":"string","jsonPath":".status.replicaRegion"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Writer","type":"string","jsonPath":".status.writer.cluster","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TrafficDistributionGroupSpec {
    /// The InstanceReplica (same namespace) whose instance this group belongs to. Exactly one
    /// of replicaRef and instanceArn. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_ref: Option<ObjectRef>,
    /// ARN of the (source) instance, when it is not managed by an InstanceReplica. Exactly one
    /// of replicaRef and instanceArn. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_arn: Option<String>,
    /// Adopt the default group that ReplicateInstance created instead of creating one. Only the
    /// default group takes sign-in distributions and it is never deleted. Immutable.
    #[serde(default)]
    pub default: bool,
    /// The Connect name of the group (1-128 characters). Defaults to metadata.name. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description of the group (1-250 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags on the Connect group (at most 50; keys must not start with aws:).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Phone numbers (E.164) that belong to this group. They must be claimed in the source
    /// region; the controller moves them into the group (rule G6).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<String>,
    /// Delete or Retain the Connect group when this object is deleted. The default group is
    /// always retained.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Take over a group with the declared name that exists already but that connect-gr did not
    /// create (no `connectgr.io/owner` tag): it is tagged and managed from then on. Without it
    /// such a group stalls the object with reason AlreadyExists. A group another object owns is
    /// never taken over.
    #[serde(default)]
    pub adopt: bool,
}

/// Observed state of a TrafficDistributionGroup.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrafficDistributionGroupStatus {
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
    /// The group ARN (carries the source region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The region the group was created in (the source region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The Connect status: CREATION_IN_PROGRESS, ACTIVE, UPDATE_IN_PROGRESS, PENDING_DELETION, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Whether Connect reports this group as the default group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    /// ARN of the instance the group belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_arn: Option<String>,
    /// Source region of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_region: Option<String>,
    /// Replica region of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_region: Option<String>,
    /// Phone numbers the controller has moved into this group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_phone_numbers: Vec<String>,
    /// The `connectgr.io/owner` tag the group carries for this object (namespace/name/uid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Tag keys the controller has set on the group (only these are ever removed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_tags: Vec<String>,
}
