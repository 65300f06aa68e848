//! Types and patterns shared by the five kinds.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Calls a pass would make (observe mode): the first ones, and how many in all.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlannedCalls {
    /// `[region] Operation detail`, at most 50.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<String>,
    /// How many calls in all.
    pub total: i32,
}

/// The cluster whose controller holds the writer lease (one writer across clusters), as this
/// cluster's controller last saw it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Writer {
    /// `--cluster-name` of the holder.
    pub cluster: String,
    /// When the holder acquired the lease (RFC 3339, the holder's clock).
    pub since: String,
}

/// A reference to another object of this API group in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// Name of the referenced object, in the same namespace.
    pub name: String,
}

impl ObjectRef {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
        }
    }
}

/// What happens to the Connect resource when the Kubernetes object is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the Connect resource (numbers are moved back to the instance first).
    Delete,
    /// Keep the Connect resource; only the Kubernetes object goes away.
    #[default]
    Retain,
}

/// Bare instance id (UUID) or instance ARN.
pub const INSTANCE_ID_OR_ARN_PATTERN: &str = "^(arn:(aws|aws-us-gov):connect:[a-z]{2}(-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:instance/)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
/// Instance ARN.
pub const INSTANCE_ARN_PATTERN: &str = "^arn:(aws|aws-us-gov):connect:[a-z]{2}(-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:instance/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
/// Connect instance alias (1-45 characters; letters, digits and inner hyphens; not `d-…`).
pub const ALIAS_PATTERN: &str = "^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$";
pub const ALIAS_MAX: usize = 45;
/// Connect names and descriptions: no leading or trailing white space.
pub const CONNECT_NAME_PATTERN: &str = "^\\S(.*\\S)?$";
pub const TDG_NAME_MAX: usize = 128;
pub const DESCRIPTION_MAX: usize = 250;
/// Phone numbers in E.164.
pub const E164_PATTERN: &str = "^\\+[1-9][0-9]{1,14}$";
/// DynamoDB table name.
pub const TABLE_NAME_PATTERN: &str = "^[a-zA-Z0-9_.-]{3,255}$";
/// Lambda function name (the same name in every region, rule R4; no ARN).
pub const LAMBDA_NAME_PATTERN: &str = "^[a-zA-Z0-9_-]{1,64}$";
/// Connect username.
pub const USERNAME_PATTERN: &str = "^[a-zA-Z0-9_.@+=,-]{1,100}$";
/// Tag keys (AWS: 1-128, no `aws:` prefix) and values (0-256).
pub const TAG_KEY_PATTERN: &str = "^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]{1,128}$";
pub const TAG_VALUE_MAX: usize = 256;
pub const MAX_TAGS: usize = 50;
pub const MAX_GROUP_PHONE_NUMBERS: usize = 500;
pub const MAX_USERS: usize = 10_000;
pub const MAX_SELECTOR_NAMES: usize = 50;
pub const SELECTOR_NAME_MAX: usize = 127;
pub const MAX_DENYLIST_NUMBERS: usize = 10_000;
pub const REFERENCE_NAME_MAX: usize = 253;
/// Kubernetes object names (DNS subdomain).
pub const OBJECT_NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$";
/// Longest pause between two rollout steps (a day).
pub const MAX_PAUSE_SECONDS: i64 = 86_400;
/// Upper bound on status lists the controller writes (pending, unknown usernames).
pub const STATUS_LIST_CAP: usize = 50;
