//! `CallerDenylist` (cdl): denied caller numbers in a DynamoDB table in every region of a group.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::ObjectRef;

/// Denied caller numbers (E.164), kept in a DynamoDB table in every region the referenced group
/// distributes traffic to, with the two Lambda handlers (add, check) answering in each region.
/// Numbers flagged by agents are never removed.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "connectgr.io",
    version = "v1alpha1",
    kind = "CallerDenylist",
    plural = "callerdenylists",
    singular = "callerdenylist",
    shortname = "cdl",
    category = "connectgr",
    namespaced,
    doc = "Denied caller numbers kept in a DynamoDB table in every region of a traffic distribution group.",
    status = "CallerDenylistStatus",
    printcolumn = r#"{"name":"Group","type":"string","jsonPath":".spec.groupRef.name"}"#,
    printcolumn = r#"{"name":"Table","type":"string","jsonPath":".spec.tableName"}"#,
    printcolumn = r#"{"name":"Declared","type":"integer","jsonPath":".status.declared"}"#,
    printcolumn = r#"{"name":"Flagged","type":"integer","jsonPath":".status.agentFlagged"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Writer","type":"string","jsonPath":".status.writer.cluster","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct CallerDenylistSpec {
    /// The TrafficDistributionGroup (same namespace) whose regions must answer. Immutable.
    pub group_ref: ObjectRef,
    /// DynamoDB table (keyed by ContactNumber) in every region of the group. Immutable.
    pub table_name: String,
    /// Denied caller numbers in E.164, declared by hand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub numbers: Vec<String>,
    /// The Lambda functions of the contact flows, which must exist with these names in every
    /// region (rule R4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_functions: Option<LambdaFunctions>,
}

/// Names of the two denylist Lambda functions.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LambdaFunctions {
    /// Adds the caller's number (an agent's "denylist" quick connect).
    pub add: String,
    /// Checks the caller's number (the inbound flow).
    pub check: String,
}

/// Denylist state in one region.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DenylistRegionStatus {
    /// The region.
    pub region: String,
    /// The table's name or ARN in this region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// State of the table in this region (e.g. ACTIVE, CREATING, or the replica status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
    /// Whether both Lambda functions are associated with the instance in this region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_associated: Option<bool>,
}

/// Observed state of a CallerDenylist.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallerDenylistStatus {
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
    /// The table name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The table ARN in the source region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The source region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Numbers declared in spec and present in the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<i32>,
    /// Numbers added by agents (never removed by the controller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_flagged: Option<i32>,
    /// All numbers in the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i32>,
    /// Per-region state of table and handlers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<DenylistRegionStatus>,
    /// Numbers the controller added (and may remove when undeclared).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_numbers: Vec<String>,
}
