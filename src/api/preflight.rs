//! Preflight findings: what would break in a region before a failover into it does. Shown on
//! `InstanceReplica.status.preflight` with the `FailoverReady` condition.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition type on InstanceReplica: True when no finding is blocking.
pub const FAILOVER_READY: &str = "FailoverReady";

/// At most this many findings are listed in status (blocking first); `total` counts them all.
pub const MAX_LISTED_FINDINGS: usize = 20;

/// Finding kinds (stable names; `TrafficDistribution.spec.acceptRisks` lists them).
pub mod kinds {
    /// A flow or module names a region literally in a Lambda or Lex ARN (or `LexBot.Region`)
    /// instead of `$.AwsRegion`: it calls that region from the other one.
    pub const FLOW_HARDCODED_REGION: &str = "FlowHardcodedRegion";
    /// A flow or module names a Connect resource (queue, flow, prompt, module) by an ARN with a
    /// literal region; ACGR is said to resolve these, unproven on real telephony.
    pub const FLOW_REGIONAL_ARN: &str = "FlowRegionalArn";
    /// A bare region literal in an executable flow parameter.
    pub const FLOW_REGION_LITERAL: &str = "FlowRegionLiteral";
    /// A Lambda ARN taken from a contact attribute that no Set contact attributes block sets.
    pub const FLOW_DYNAMIC_ARN: &str = "FlowDynamicArn";
    /// Flow content that is not a readable flow-language document.
    pub const FLOW_UNREADABLE: &str = "FlowUnreadable";
    /// A Lambda function associated with the instance in one region only.
    pub const LAMBDA_ONE_REGION: &str = "LambdaOneRegion";
    /// A Lambda function referenced by a flow but not associated in a region.
    pub const LAMBDA_NOT_ASSOCIATED: &str = "LambdaNotAssociated";
    /// A Lex bot associated in one region only (and no replica associated in the other).
    pub const LEX_BOT_ONE_REGION: &str = "LexBotOneRegion";
    /// Phone numbers claimed in the source region that are in no traffic distribution group.
    pub const NUMBER_NOT_IN_GROUP: &str = "NumberNotInGroup";
    /// Users of the source not yet mirrored to the replica.
    pub const USERS_NOT_MIRRORED: &str = "UsersNotMirrored";
    /// Replication is not complete in a region.
    pub const REPLICATION_INCOMPLETE: &str = "ReplicationIncomplete";
    /// ResourceConflictException named a resource that blocks replication.
    pub const REPLICATION_CONFLICT: &str = "ReplicationConflict";
    /// One of Connect's own replication findings (ListReplicationFindings).
    pub const REPLICATION_FINDING: &str = "ReplicationFinding";
    /// Connect reports resources of a type not yet in sync in a region.
    pub const REPLICATION_DRIFT: &str = "ReplicationDrift";
}

/// Blocking findings refuse a move of telephony into their region (unless accepted);
/// warnings are reported only.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum Severity {
    Blocking,
    Warning,
}

/// The resource a finding is about.
#[derive(
    Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct FindingResource {
    /// ContactFlow, ContactFlowModule, LambdaFunction, LexBot, PhoneNumber, User, Instance, or
    /// Connect's resource type (QUEUE, ...).
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Its name (or a count, e.g. "3 users").
    pub name: String,
    /// Its ARN, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

/// One preflight finding.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreflightFinding {
    /// Stable CamelCase name (see the kinds in docs/crds.md).
    pub kind: String,
    pub severity: Severity,
    pub resource: FindingResource,
    /// The region where it would break.
    pub region: String,
    /// What is wrong, naming the flow parameter, function, bot or number.
    pub message: String,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Connect's reference code (ReplicationFinding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_code: Option<String>,
}

/// `status.preflight`: the findings (bounded, blocking first) and their counts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreflightStatus {
    /// The first findings (at most 20), blocking first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<PreflightFinding>,
    /// Every finding, listed or not.
    pub total: i64,
    /// Blocking findings (FailoverReady is False while any).
    pub blocking: i64,
    /// Warnings.
    pub warnings: i64,
}

/// `TrafficDistribution.spec.crossRegionRouting`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum CrossRegionRouting {
    /// Contacts may be routed to agents in the other region (global routing on).
    Enabled,
    /// Cross-region routing off for every region (IsolatedAll=true).
    Isolated,
}
