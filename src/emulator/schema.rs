//! The emulator's state file (YAML): accounts, instances, users, numbers, groups, flows, and the
//! built-in default state. Read once, by [`super::model::State::build`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const DEFAULT_ACCOUNT: &str = "123456789012";
pub const DEFAULT_INSTANCE_ID: &str = "4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70";

/// R1: the default replication pairs (source, replica). Extend with `--region-pair A:B`.
pub fn default_region_pairs() -> Vec<(String, String)> {
    [
        ("us-east-1", "us-west-2"),
        ("us-west-2", "us-east-1"),
        ("eu-central-1", "eu-west-2"),
        ("eu-west-2", "eu-central-1"),
        ("ap-northeast-1", "ap-northeast-3"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

// ---------------------------------------------------------------- state file (YAML)

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StateFile {
    #[serde(default)]
    pub accounts: Vec<AccountSpec>,
    #[serde(default)]
    pub instances: Vec<InstanceSpec>,
    /// Extra replication pairs `[source, replica]` (added to the R1 table).
    #[serde(default)]
    pub region_pairs: Vec<(String, String)>,
    /// Traffic distribution groups that exist at start (ACTIVE), e.g. a snapshot of live Connect
    /// taken by `connect-gr plan`. `default: true` describes the default group of a replicated
    /// instance (created by the replication) instead of adding one.
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupSpec {
    /// Instance id (must be replicated).
    pub instance: String,
    pub name: String,
    /// Group id (default: derived from the name), e.g. the live id in a snapshot.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Percent per region (default: all in the source region).
    #[serde(default)]
    pub telephony: BTreeMap<String, i64>,
    #[serde(default)]
    pub agents: BTreeMap<String, i64>,
    /// Default group only.
    #[serde(default)]
    pub sign_in: BTreeMap<String, bool>,
    /// Usernames of the members.
    #[serde(default)]
    pub members: Vec<String>,
    /// E.164 numbers whose target is this group.
    #[serde(default)]
    pub phone_numbers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountSpec {
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceSpec {
    pub id: String,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub alias: Option<String>,
    pub region: String,
    #[serde(default = "saml")]
    pub identity_management_type: String,
    #[serde(default = "active")]
    pub status: String,
    /// Already replicated (replication complete, default TDG ACTIVE) at start.
    #[serde(default)]
    pub replicated: bool,
    #[serde(default)]
    pub replica_region: Option<String>,
    #[serde(default)]
    pub replica_alias: Option<String>,
    /// Replication to this instance's replica fails (status INSTANCE_REPLICATION_FAILED).
    #[serde(default)]
    pub replication_fails: bool,
    #[serde(default)]
    pub routing_profiles: Vec<String>,
    #[serde(default)]
    pub hierarchy_groups: Vec<String>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
    #[serde(default)]
    pub phone_numbers: Vec<PhoneSpec>,
    /// Lambda function ARNs associated per region.
    #[serde(default)]
    pub lambda_functions: BTreeMap<String, Vec<String>>,
    /// Enabled for global routing (cross-region routing): on by default, as for instances
    /// created since September 2026. Decides whether real-time metrics are one combined view
    /// of both regions and whether the cross-region-routing operations are available.
    #[serde(default = "yes")]
    pub global_routing: bool,
    /// Cross-region routing turned off (UpdateCrossRegionRouting IsolatedAll=true).
    #[serde(default)]
    pub isolated: bool,
    // Preflight: flows, modules, Lex bots and replication findings (see `flows.rs`).
    #[serde(default)]
    pub contact_flows: Vec<super::flows::FlowSpec>,
    #[serde(default)]
    pub flow_modules: Vec<super::flows::FlowSpec>,
    /// Lex bot associations per region (not mirrored).
    #[serde(default)]
    pub lex_bots: BTreeMap<String, Vec<super::flows::BotSpec>>,
    #[serde(default)]
    pub replication_findings: Vec<super::flows::FindingSpec>,
}

fn yes() -> bool {
    true
}

fn saml() -> String {
    "SAML".into()
}
fn active() -> String {
    "ACTIVE".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSpec {
    pub username: String,
    #[serde(default)]
    pub routing_profile: Option<String>,
    #[serde(default)]
    pub hierarchy_group: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PhoneSpec {
    Number(String),
    Full {
        number: String,
        #[serde(default)]
        description: Option<String>,
        /// Region where it is claimed (defaults to the instance's region).
        #[serde(default)]
        region: Option<String>,
    },
}

/// The fixed default state (see docs/emulator.md). `agents` replaces the 300 generated agents
/// (`agent001`..`agent300`) by `agent00001`.. `agentNNNNN`.
pub fn default_state_file(agents: Option<usize>) -> StateFile {
    let (n, width) = match agents {
        Some(n) => (n, 5),
        None => (300, 3),
    };
    let basic = "Basic Routing Profile";
    let sales = "Sales Routing Profile";
    let mut users = Vec::with_capacity(n + 4);
    for name in ["alice", "bob", "carol", "dave"] {
        let mut tags = BTreeMap::new();
        if name == "alice" || name == "bob" {
            tags.insert("team".into(), "support".into());
        }
        users.push(UserSpec {
            username: name.into(),
            routing_profile: Some(basic.into()),
            hierarchy_group: Some("Tier 2".into()),
            tags,
        });
    }
    for i in 1..=n {
        let tier1 = i * 2 <= n; // first half
        let sales_team = i * 3 > n * 2; // last third
        let mut tags = BTreeMap::new();
        tags.insert(
            "team".into(),
            if sales_team { "sales" } else { "support" }.into(),
        );
        users.push(UserSpec {
            username: format!("agent{i:0width$}"),
            routing_profile: Some(if sales_team { sales } else { basic }.into()),
            hierarchy_group: Some(if tier1 { "Tier 1" } else { "Tier 2" }.into()),
            tags,
        });
    }
    StateFile {
        accounts: vec![AccountSpec {
            id: DEFAULT_ACCOUNT.into(),
        }],
        instances: vec![InstanceSpec {
            id: DEFAULT_INSTANCE_ID.into(),
            account: Some(DEFAULT_ACCOUNT.into()),
            alias: Some("support-center".into()),
            region: "us-west-2".into(),
            identity_management_type: "SAML".into(),
            status: "ACTIVE".into(),
            replicated: false,
            replica_region: None,
            replica_alias: None,
            replication_fails: false,
            routing_profiles: vec![basic.into(), sales.into()],
            hierarchy_groups: vec!["Tier 1".into(), "Tier 2".into()],
            users,
            phone_numbers: (100..104)
                .map(|i| PhoneSpec::Number(format!("+14255550{i}")))
                .collect(),
            lambda_functions: BTreeMap::new(),
            global_routing: true,
            isolated: false,
            contact_flows: super::flows::default_flows(),
            flow_modules: vec![],
            lex_bots: BTreeMap::new(),
            replication_findings: vec![],
        }],
        region_pairs: vec![],
        groups: vec![],
    }
}
