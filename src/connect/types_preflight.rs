//! Plain data of the preflight reads and cross-region routing (no SDK types).

/// A flow or module as ListContactFlows / ListContactFlowModules report it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowSummary {
    pub id: String,
    pub arn: Option<String>,
    pub name: String,
}

/// A Lex bot association (ListBots): a V2 alias ARN, or a V1 bot name and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBotRef {
    V2 { alias_arn: String },
    V1 { name: String, lex_region: String },
}

/// One ListReplicationFindings item, as Connect gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplicationFindingInfo {
    pub resource_type: String,
    pub name: Option<String>,
    pub arn: Option<String>,
    pub region: Option<String>,
    pub reference_code: Option<String>,
    pub message: Option<String>,
}

/// ListReplicationFindings for one resource type: findings and drifted counts per region.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplicationFindings {
    pub findings: Vec<ReplicationFindingInfo>,
    /// (region, count)
    pub drifted: Vec<(String, i64)>,
}
