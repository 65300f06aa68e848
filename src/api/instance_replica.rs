//! `InstanceReplica` (irep): replicate a Connect instance to its paired region.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Replicates an Amazon Connect instance from its source region to the paired replica region
/// (ReplicateInstance, called once) and reports the replication status of each region. Deleting
/// the object never deletes the replica (only AWS Support can); it only releases it.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "connectgr.io",
    version = "v1alpha1",
    kind = "InstanceReplica",
    plural = "instancereplicas",
    singular = "instancereplica",
    shortname = "irep",
    category = "connectgr",
    namespaced,
    doc = "Replicates an Amazon Connect instance to its paired region and reports replication status.",
    status = "InstanceReplicaStatus",
    printcolumn = r#"{"name":"Source","type":"string","jsonPath":".spec.sourceRegion"}"#,
    printcolumn = r#"{"name":"Replica","type":"string","jsonPath":".spec.replicaRegion"}"#,
    printcolumn = r#"{"name":"Alias","type":"string","jsonPath":".spec.replicaAlias"}"#,
    printcolumn = r#"{"name":"Replication","type":"string","jsonPath":".status.replication[*].status"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"FailoverReady","type":"string","jsonPath":".status.conditions[?(@.type==\"FailoverReady\")].status"}"#,
    printcolumn = r#"{"name":"Blocking","type":"integer","jsonPath":".status.preflight.blocking"}"#,
    printcolumn = r#"{"name":"Warnings","type":"integer","jsonPath":".status.preflight.warnings"}"#,
    printcolumn = r#"{"name":"Writer","type":"string","jsonPath":".status.writer.cluster","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct InstanceReplicaSpec {
    /// The source instance: its id (UUID) or its ARN. Immutable.
    pub instance_id: String,
    /// Region of the source instance, e.g. us-west-2. Immutable.
    pub source_region: String,
    /// Region of the replica; must be paired with the source region (us-east-1 <-> us-west-2,
    /// eu-central-1 <-> eu-west-2, ap-northeast-1 -> ap-northeast-3). Immutable.
    pub replica_region: String,
    /// Alias of the replica instance (1-45 letters, digits, hyphens; unique per region). Immutable.
    pub replica_alias: String,
}

/// Replication status of one region.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationRegionStatus {
    /// The region.
    pub region: String,
    /// INSTANCE_REPLICATION_IN_PROGRESS, INSTANCE_REPLICATION_COMPLETE, INSTANCE_REPLICATION_FAILED, ...
    pub status: String,
    /// Why replication failed, as Connect reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Observed state of an InstanceReplica.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceReplicaStatus {
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
    /// The instance id (the same in both regions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The replica instance ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The replica region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The source instance ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<String>,
    /// The replica instance ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_arn: Option<String>,
    /// Replication status per region, as DescribeInstance reports it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replication: Vec<ReplicationRegionStatus>,
    /// The global sign-in endpoint of the replicated instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_sign_in_endpoint: Option<String>,
    /// True once ReplicateInstance has been accepted (it is never called twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_requested: Option<bool>,
    /// The resource that blocks replication (ResourceConflictException), until resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
    /// Failover readiness: what would break in a region before a failover does (refreshed at
    /// the resync period and on `connectgr.io/reconcile-now`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<super::preflight::PreflightStatus>,
}
