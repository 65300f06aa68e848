//! Emulator state: instances, users, routing profiles, hierarchy groups, traffic distribution
//! groups, phone numbers, Lambda associations. Plus the YAML state file and the built-in default.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

pub const DEFAULT_ACCOUNT: &str = "123456789012";
pub const DEFAULT_INSTANCE_ID: &str = "4f5e3c1a-7b2d-4c8e-9a10-2b3c4d5e6f70";

/// Durations (virtual seconds) of the asynchronous transitions.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    pub replication_s: f64,
    pub tdg_create_s: f64,
    pub tdg_update_s: f64,
    pub tdg_delete_s: f64,
    pub phone_claim_s: f64,
    pub user_mirror_s: f64,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            replication_s: 2.0,
            tdg_create_s: 1.0,
            tdg_update_s: 1.0,
            tdg_delete_s: 1.0,
            phone_claim_s: 1.0,
            user_mirror_s: 2.0,
        }
    }
}

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

// ---------------------------------------------------------------- deterministic ids

fn ns(instance_id: &str) -> Uuid {
    Uuid::parse_str(instance_id)
        .unwrap_or_else(|_| Uuid::new_v5(&Uuid::NAMESPACE_OID, instance_id.as_bytes()))
}

/// User id: UUID v5 in the namespace of the instance id, name = username.
pub fn user_id(instance_id: &str, username: &str) -> String {
    Uuid::new_v5(&ns(instance_id), username.as_bytes()).to_string()
}
pub fn routing_profile_id(instance_id: &str, name: &str) -> String {
    Uuid::new_v5(
        &ns(instance_id),
        format!("routing-profile:{name}").as_bytes(),
    )
    .to_string()
}
pub fn hierarchy_group_id(instance_id: &str, name: &str) -> String {
    Uuid::new_v5(
        &ns(instance_id),
        format!("hierarchy-group:{name}").as_bytes(),
    )
    .to_string()
}
pub fn security_profile_id(instance_id: &str, name: &str) -> String {
    Uuid::new_v5(
        &ns(instance_id),
        format!("security-profile:{name}").as_bytes(),
    )
    .to_string()
}
pub fn phone_number_id(instance_id: &str, number: &str) -> String {
    Uuid::new_v5(
        &ns(instance_id),
        format!("phone-number:{number}").as_bytes(),
    )
    .to_string()
}
pub fn default_tdg_id(instance_id: &str) -> String {
    Uuid::new_v5(&ns(instance_id), b"default-traffic-distribution-group").to_string()
}

// ---------------------------------------------------------------- runtime state

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replica {
    pub region: String,
    pub alias: String,
    pub started: f64,
    pub fails: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub id: String,
    pub account: String,
    pub alias: Option<String>,
    pub region: String,
    pub identity_management_type: String,
    pub status: String,
    pub created: f64,
    pub replica: Option<Replica>,
    pub replication_fails: bool,
    /// Enabled for global routing (see [`InstanceSpec::global_routing`]).
    pub global_routing: bool,
    /// Cross-region routing off for every region of the instance (IsolatedAll).
    pub isolated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    None,
    InProgress,
    Complete,
    Failed,
}

impl Instance {
    pub fn arn(&self, region: &str) -> String {
        format!(
            "arn:aws:connect:{region}:{}:instance/{}",
            self.account, self.id
        )
    }
    pub fn replication(&self, now: f64, t: &Timings) -> Replication {
        match &self.replica {
            None => Replication::None,
            Some(r) if now < r.started + t.replication_s => Replication::InProgress,
            Some(r) if r.fails => Replication::Failed,
            Some(_) => Replication::Complete,
        }
    }
    pub fn replica_region(&self) -> Option<&str> {
        self.replica.as_ref().map(|r| r.region.as_str())
    }
    /// The instance answers in `region`: its source region, or its replica region once
    /// ReplicateInstance was called.
    pub fn present_in(&self, region: &str) -> bool {
        self.region == region || self.replica_region() == Some(region)
    }
    /// Mirrored resources (users, routing profiles, hierarchies) are readable in `region`.
    pub fn mirrored_in(&self, region: &str, now: f64, t: &Timings) -> bool {
        self.region == region
            || (self.replica_region() == Some(region)
                && self.replication(now, t) == Replication::Complete)
    }
    pub fn other_region(&self, region: &str) -> Option<&str> {
        if self.region == region {
            self.replica_region()
        } else if self.replica_region() == Some(region) {
            Some(self.region.as_str())
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub instance_id: String,
    pub username: String,
    pub routing_profile_id: String,
    pub hierarchy_group_id: Option<String>,
    pub security_profile_ids: Vec<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone_type: String,
    pub auto_accept: bool,
    pub acw_limit: i64,
    pub desk_phone: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub created: f64,
    pub modified: f64,
    pub origin_region: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Named {
    pub id: String,
    pub instance_id: String,
    pub name: String,
    pub modified: f64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tdg {
    pub id: String,
    pub account: String,
    pub instance_id: String,
    /// Source region (where it was created; its ARN carries this region).
    pub region: String,
    pub name: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub is_default: bool,
    pub created: f64,
    pub active_at: f64,
    pub update_until: f64,
    pub delete_at: Option<f64>,
    pub creation_fails: bool,
    pub telephony: Vec<(String, i64)>,
    pub agents: Vec<(String, i64)>,
    pub sign_in: Option<Vec<(String, bool)>>,
    pub users: BTreeSet<String>,
    pub client_token: Option<String>,
}

impl Tdg {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:connect:{}:{}:traffic-distribution-group/{}",
            self.region, self.account, self.id
        )
    }
    pub fn status(&self, now: f64) -> &'static str {
        if self.delete_at.is_some() {
            "PENDING_DELETION"
        } else if now < self.active_at {
            "CREATION_IN_PROGRESS"
        } else if self.creation_fails {
            "CREATION_FAILED"
        } else if now < self.update_until {
            "UPDATE_IN_PROGRESS"
        } else {
            "ACTIVE"
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Phone {
    pub id: String,
    pub account: String,
    pub number: String,
    pub country: String,
    pub number_type: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Region where the number is claimed.
    pub region: String,
    pub instance_id: String,
    pub target_arn: String,
    pub ready_at: f64,
}

impl Phone {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:connect:{}:{}:phone-number/{}",
            self.region, self.account, self.id
        )
    }
    pub fn status(&self, now: f64) -> &'static str {
        if now < self.ready_at {
            "IN_PROGRESS"
        } else {
            "CLAIMED"
        }
    }
}

pub fn country_of(number: &str) -> &'static str {
    const TABLE: &[(&str, &str)] = &[
        ("+44", "GB"),
        ("+49", "DE"),
        ("+33", "FR"),
        ("+81", "JP"),
        ("+61", "AU"),
        ("+353", "IE"),
        ("+65", "SG"),
        ("+82", "KR"),
        ("+1", "US"),
    ];
    TABLE
        .iter()
        .find(|(p, _)| number.starts_with(p))
        .map(|(_, c)| *c)
        .unwrap_or("US")
}

pub fn type_of(number: &str) -> &'static str {
    const TOLL_FREE: &[&str] = &[
        "+1800", "+1888", "+1877", "+1866", "+1855", "+1844", "+1833",
    ];
    if TOLL_FREE.iter().any(|p| number.starts_with(p)) {
        "TOLL_FREE"
    } else {
        "DID"
    }
}

/// A cached idempotent result: request parameters and the response sent.
#[derive(Debug, Clone)]
pub struct Idem {
    pub params: Value,
    pub response: Value,
}

#[derive(Debug, Clone, Default)]
pub struct State {
    pub accounts: Vec<String>,
    pub region_pairs: Vec<(String, String)>,
    pub instances: BTreeMap<String, Instance>,
    /// Keyed by (instance id, user id).
    pub users: BTreeMap<(String, String), User>,
    /// (instance id, lowercase username) -> user id.
    pub usernames: HashMap<(String, String), String>,
    pub routing_profiles: BTreeMap<(String, String), Named>,
    pub hierarchy_groups: BTreeMap<(String, String), Named>,
    pub tdgs: BTreeMap<String, Tdg>,
    pub phones: BTreeMap<String, Phone>,
    /// (instance id, region) -> function ARNs (not mirrored, R4).
    pub lambdas: BTreeMap<(String, String), Vec<String>>,
    pub idempotency: HashMap<(String, String, String), Idem>,
    /// Agent presence and queue health per region (real-time metrics).
    pub presence: super::presence::Presence,
    /// Flows, modules, Lex bots, replication findings (see `flows.rs`).
    pub flows: super::flows::FlowState,
}

impl State {
    pub fn account(&self) -> &str {
        self.accounts
            .first()
            .map(|s| s.as_str())
            .unwrap_or(DEFAULT_ACCOUNT)
    }

    pub fn build(
        file: &StateFile,
        extra_pairs: &[(String, String)],
        now: f64,
        t: &Timings,
    ) -> anyhow::Result<State> {
        let mut s = State {
            accounts: file.accounts.iter().map(|a| a.id.clone()).collect(),
            region_pairs: default_region_pairs(),
            ..Default::default()
        };
        if s.accounts.is_empty() {
            s.accounts.push(DEFAULT_ACCOUNT.into());
        }
        for p in file.region_pairs.iter().chain(extra_pairs) {
            if !s.region_pairs.contains(p) {
                s.region_pairs.push(p.clone());
            }
        }
        let past = now - 86_400.0;
        for spec in &file.instances {
            if Uuid::parse_str(&spec.id).is_err() {
                anyhow::bail!("instance id {:?} is not a UUID", spec.id);
            }
            let id = spec.id.to_lowercase();
            let account = spec
                .account
                .clone()
                .unwrap_or_else(|| s.account().to_string());
            if !s.accounts.contains(&account) {
                s.accounts.push(account.clone());
            }
            let replica = if spec.replicated {
                let region = spec
                    .replica_region
                    .clone()
                    .or_else(|| {
                        s.region_pairs
                            .iter()
                            .find(|(a, _)| *a == spec.region)
                            .map(|(_, b)| b.clone())
                    })
                    .ok_or_else(|| anyhow::anyhow!("instance {id}: no replica region"))?;
                Some(Replica {
                    alias: spec
                        .replica_alias
                        .clone()
                        .or_else(|| spec.alias.clone().map(|a| format!("{a}-replica")))
                        .unwrap_or_else(|| "replica".into()),
                    region,
                    started: past,
                    fails: spec.replication_fails,
                })
            } else {
                None
            };
            s.instances.insert(
                id.clone(),
                Instance {
                    id: id.clone(),
                    account: account.clone(),
                    alias: spec.alias.clone(),
                    region: spec.region.clone(),
                    identity_management_type: spec.identity_management_type.clone(),
                    status: spec.status.clone(),
                    created: past,
                    replica,
                    replication_fails: spec.replication_fails,
                    global_routing: spec.global_routing,
                    isolated: spec.isolated,
                },
            );
            s.flows.load(
                &s.instances[&id],
                super::flows::InstanceFlows {
                    contact_flows: &spec.contact_flows,
                    flow_modules: &spec.flow_modules,
                    lex_bots: &spec.lex_bots,
                    replication_findings: &spec.replication_findings,
                },
                past,
            );
            for name in &spec.routing_profiles {
                let rid = routing_profile_id(&id, name);
                s.routing_profiles.insert(
                    (id.clone(), rid.clone()),
                    Named {
                        id: rid,
                        instance_id: id.clone(),
                        name: name.clone(),
                        modified: past,
                    },
                );
            }
            for name in &spec.hierarchy_groups {
                let hid = hierarchy_group_id(&id, name);
                s.hierarchy_groups.insert(
                    (id.clone(), hid.clone()),
                    Named {
                        id: hid,
                        instance_id: id.clone(),
                        name: name.clone(),
                        modified: past,
                    },
                );
            }
            let first_rp = spec.routing_profiles.first().cloned();
            for u in &spec.users {
                let rp = u
                    .routing_profile
                    .clone()
                    .or_else(|| first_rp.clone())
                    .ok_or_else(|| anyhow::anyhow!("user {}: no routing profile", u.username))?;
                if !spec.routing_profiles.contains(&rp) {
                    anyhow::bail!("user {}: unknown routing profile {rp:?}", u.username);
                }
                if let Some(h) = &u.hierarchy_group
                    && !spec.hierarchy_groups.contains(h)
                {
                    anyhow::bail!("user {}: unknown hierarchy group {h:?}", u.username);
                }
                let user = s.new_user(
                    &id,
                    &u.username,
                    routing_profile_id(&id, &rp),
                    u.hierarchy_group
                        .as_ref()
                        .map(|h| hierarchy_group_id(&id, h)),
                    u.tags.clone(),
                    &spec.region,
                    past,
                );
                s.insert_user(user);
            }
            for p in &spec.phone_numbers {
                let (number, description, region) = match p {
                    PhoneSpec::Number(n) => (n.clone(), None, spec.region.clone()),
                    PhoneSpec::Full {
                        number,
                        description,
                        region,
                    } => (
                        number.clone(),
                        description.clone(),
                        region.clone().unwrap_or_else(|| spec.region.clone()),
                    ),
                };
                let inst = &s.instances[&id];
                let phone = Phone {
                    id: phone_number_id(&id, &number),
                    account: account.clone(),
                    country: country_of(&number).into(),
                    number_type: type_of(&number).into(),
                    number,
                    description,
                    tags: BTreeMap::new(),
                    target_arn: inst.arn(&region),
                    region,
                    instance_id: id.clone(),
                    ready_at: past,
                };
                s.phones.insert(phone.id.clone(), phone);
            }
            for (region, fns) in &spec.lambda_functions {
                s.lambdas.insert((id.clone(), region.clone()), fns.clone());
            }
            if spec.replicated {
                s.create_default_tdg(&id, past, t);
            }
        }
        for g in &file.groups {
            s.add_group(g, past)?;
        }
        Ok(s)
    }

    /// A group of the state file, ACTIVE since `past`.
    fn add_group(&mut self, g: &GroupSpec, past: f64) -> anyhow::Result<()> {
        let inst =
            self.instances.get(&g.instance).cloned().ok_or_else(|| {
                anyhow::anyhow!("group {}: unknown instance {}", g.name, g.instance)
            })?;
        let replica = inst.replica.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "group {}: instance {} is not replicated",
                g.name,
                g.instance
            )
        })?;
        let split = |m: &BTreeMap<String, i64>| -> Vec<(String, i64)> {
            if m.is_empty() {
                vec![(inst.region.clone(), 100), (replica.region.clone(), 0)]
            } else {
                m.iter().map(|(r, v)| (r.clone(), *v)).collect()
            }
        };
        let mut users = BTreeSet::new();
        for name in &g.members {
            let id = self
                .usernames
                .get(&(g.instance.clone(), name.to_lowercase()))
                .ok_or_else(|| anyhow::anyhow!("group {}: unknown member {name}", g.name))?;
            users.insert(id.clone());
        }
        let existing = self
            .tdgs
            .values()
            .find(|t| g.default && t.instance_id == g.instance && t.is_default)
            .map(|t| t.id.clone());
        if let Some(old) = &existing {
            // Described here: it holds the numbers listed here, not those ReplicateInstance moved
            // into it; and a snapshot's default group keeps its live id.
            let old_arn = self.tdgs[old].arn();
            let inst_arn = inst.arn(&inst.region);
            for p in self.phones.values_mut() {
                if p.target_arn == old_arn {
                    p.target_arn = inst_arn.clone();
                }
            }
            if g.id.as_ref().is_some_and(|id| id != old) {
                self.tdgs.remove(old);
            }
        }
        let id = g.id.clone().or(existing).unwrap_or_else(|| {
            Uuid::new_v5(&ns(&g.instance), format!("tdg:{}", g.name).as_bytes()).to_string()
        });
        let tdg = Tdg {
            id: id.clone(),
            account: inst.account.clone(),
            instance_id: g.instance.clone(),
            region: inst.region.clone(),
            name: g.name.clone(),
            description: g.description.clone(),
            tags: g.tags.clone(),
            is_default: g.default,
            created: past,
            active_at: past,
            update_until: 0.0,
            delete_at: None,
            creation_fails: false,
            telephony: split(&g.telephony),
            agents: split(&g.agents),
            sign_in: g.default.then(|| {
                if g.sign_in.is_empty() {
                    vec![(inst.region.clone(), true), (replica.region.clone(), false)]
                } else {
                    g.sign_in.iter().map(|(r, v)| (r.clone(), *v)).collect()
                }
            }),
            users,
            client_token: None,
        };
        let arn = tdg.arn();
        self.tdgs.insert(id, tdg);
        for n in &g.phone_numbers {
            let p = self
                .phones
                .values_mut()
                .find(|p| p.instance_id == g.instance && &p.number == n)
                .ok_or_else(|| anyhow::anyhow!("group {}: unknown phone number {n}", g.name))?;
            p.target_arn = arn.clone();
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new_user(
        &self,
        instance_id: &str,
        username: &str,
        routing_profile_id: String,
        hierarchy_group_id: Option<String>,
        tags: BTreeMap<String, String>,
        region: &str,
        now: f64,
    ) -> User {
        User {
            id: user_id(instance_id, username),
            instance_id: instance_id.to_string(),
            username: username.to_string(),
            routing_profile_id,
            hierarchy_group_id,
            security_profile_ids: vec![security_profile_id(instance_id, "Agent")],
            first_name: username.to_string(),
            last_name: "Agent".into(),
            email: None,
            phone_type: "SOFT_PHONE".into(),
            auto_accept: false,
            acw_limit: 0,
            desk_phone: None,
            tags,
            created: now,
            modified: now,
            origin_region: region.to_string(),
        }
    }

    pub fn insert_user(&mut self, u: User) {
        self.usernames.insert(
            (u.instance_id.clone(), u.username.to_lowercase()),
            u.id.clone(),
        );
        self.users.insert((u.instance_id.clone(), u.id.clone()), u);
    }

    pub fn remove_user(&mut self, instance_id: &str, user_id: &str) -> Option<User> {
        let u = self
            .users
            .remove(&(instance_id.to_string(), user_id.to_string()))?;
        self.usernames
            .remove(&(instance_id.to_string(), u.username.to_lowercase()));
        for g in self.tdgs.values_mut() {
            if g.instance_id == instance_id {
                g.users.remove(user_id);
            }
        }
        Some(u)
    }

    /// R5: the default TDG (if none) with every source number not yet in a group.
    pub fn create_default_tdg(&mut self, instance_id: &str, now: f64, t: &Timings) {
        let inst = self.instances[instance_id].clone();
        let Some(replica) = inst.replica.clone() else {
            return;
        };
        if self
            .tdgs
            .values()
            .any(|g| g.instance_id == instance_id && g.is_default)
        {
            return;
        }
        let g = Tdg {
            id: default_tdg_id(instance_id),
            account: inst.account.clone(),
            instance_id: instance_id.to_string(),
            region: inst.region.clone(),
            name: format!(
                "{}-default",
                inst.alias.clone().unwrap_or_else(|| "instance".into())
            ),
            description: Some(
                "Default traffic distribution group created by ReplicateInstance".into(),
            ),
            tags: BTreeMap::new(),
            is_default: true,
            created: now,
            active_at: replica.started + t.replication_s,
            update_until: 0.0,
            delete_at: None,
            creation_fails: replica.fails,
            telephony: vec![(inst.region.clone(), 100), (replica.region.clone(), 0)],
            agents: vec![(inst.region.clone(), 100), (replica.region.clone(), 0)],
            sign_in: Some(vec![
                (inst.region.clone(), true),
                (replica.region.clone(), false),
            ]),
            users: BTreeSet::new(),
            client_token: None,
        };
        let arn = g.arn();
        let inst_arn = inst.arn(&inst.region);
        for p in self.phones.values_mut() {
            if p.instance_id == instance_id && p.region == inst.region && p.target_arn == inst_arn {
                p.target_arn = arn.clone();
            }
        }
        self.tdgs.insert(g.id.clone(), g);
    }

    /// Lazy transitions that remove things: PENDING_DELETION -> gone.
    pub fn tick(&mut self, now: f64) {
        if self
            .tdgs
            .values()
            .any(|g| g.delete_at.is_some_and(|d| now >= d))
        {
            self.tdgs
                .retain(|_, g| !g.delete_at.is_some_and(|d| now >= d));
        }
    }

    /// The user is readable in `region` (mirroring of users created after replication).
    pub fn user_visible(
        &self,
        u: &User,
        inst: &Instance,
        region: &str,
        now: f64,
        t: &Timings,
    ) -> bool {
        if !inst.mirrored_in(region, now, t) {
            return false;
        }
        u.origin_region == region || now >= u.created + t.user_mirror_s
    }

    /// Whole state as JSON for `GET /_emulator/state`.
    pub fn dump(&self, now: f64, t: &Timings) -> Value {
        let instances: Vec<Value> = self
            .instances
            .values()
            .map(|i| {
                let rep = i.replication(now, t);
                json!({
                    "id": i.id, "account": i.account, "alias": i.alias, "region": i.region,
                    "identityManagementType": i.identity_management_type, "status": i.status,
                    "arn": i.arn(&i.region), "globalRouting": i.global_routing, "isolated": i.isolated,
                    "replica": i.replica.as_ref().map(|r| json!({
                        "region": r.region, "alias": r.alias, "arn": i.arn(&r.region),
                        "status": replication_status(rep),
                    })),
                })
            })
            .collect();
        let tdgs: Vec<Value> = self
            .tdgs
            .values()
            .map(|g| {
                json!({
                    "id": g.id, "arn": g.arn(), "name": g.name, "description": g.description,
                    "instanceId": g.instance_id, "region": g.region, "isDefault": g.is_default,
                    "status": g.status(now), "tags": g.tags,
                    "telephony": g.telephony.iter().map(|(r, p)| json!({"region": r, "percentage": p})).collect::<Vec<_>>(),
                    "agents": g.agents.iter().map(|(r, p)| json!({"region": r, "percentage": p})).collect::<Vec<_>>(),
                    "signIn": g.sign_in.as_ref().map(|v| v.iter().map(|(r, e)| json!({"region": r, "enabled": e})).collect::<Vec<_>>()),
                    "users": g.users,
                })
            })
            .collect();
        let users: Vec<Value> = self
            .users
            .values()
            .map(|u| {
                json!({
                    "id": u.id, "instanceId": u.instance_id, "username": u.username,
                    "routingProfileId": u.routing_profile_id, "hierarchyGroupId": u.hierarchy_group_id,
                    "tags": u.tags, "originRegion": u.origin_region, "created": u.created,
                })
            })
            .collect();
        let phones: Vec<Value> = self
            .phones
            .values()
            .map(|p| {
                json!({
                    "id": p.id, "arn": p.arn(), "number": p.number, "region": p.region,
                    "instanceId": p.instance_id, "targetArn": p.target_arn, "status": p.status(now),
                    "description": p.description,
                })
            })
            .collect();
        let named = |m: &BTreeMap<(String, String), Named>| -> Vec<Value> {
            m.values()
                .map(|n| json!({"id": n.id, "instanceId": n.instance_id, "name": n.name}))
                .collect()
        };
        let lambdas: Vec<Value> = self
            .lambdas
            .iter()
            .map(|((i, r), f)| json!({"instanceId": i, "region": r, "functions": f}))
            .collect();
        json!({
            "now": now,
            "accounts": self.accounts,
            "regionPairs": self.region_pairs,
            "instances": instances,
            "trafficDistributionGroups": tdgs,
            "routingProfiles": named(&self.routing_profiles),
            "hierarchyGroups": named(&self.hierarchy_groups),
            "users": users,
            "phoneNumbers": phones,
            "lambdaFunctions": lambdas,
            "preflight": self.flows.dump(),
        })
    }
}

pub fn replication_status(r: Replication) -> Option<&'static str> {
    match r {
        Replication::None => None,
        Replication::InProgress => Some("INSTANCE_REPLICATION_IN_PROGRESS"),
        Replication::Complete => Some("INSTANCE_REPLICATION_COMPLETE"),
        Replication::Failed => Some("INSTANCE_REPLICATION_FAILED"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_state_matches_the_documented_fixture() {
        let t = Timings::default();
        let s = State::build(&default_state_file(None), &[], 1000.0, &t).unwrap();
        assert_eq!(s.users.len(), 304);
        assert_eq!(s.phones.len(), 4);
        let inst = &s.instances[DEFAULT_INSTANCE_ID];
        assert_eq!(inst.alias.as_deref(), Some("support-center"));
        let get = |n: &str| {
            &s.users[&(
                DEFAULT_INSTANCE_ID.to_string(),
                user_id(DEFAULT_INSTANCE_ID, n),
            )]
        };
        let t1 = hierarchy_group_id(DEFAULT_INSTANCE_ID, "Tier 1");
        let t2 = hierarchy_group_id(DEFAULT_INSTANCE_ID, "Tier 2");
        let sales = routing_profile_id(DEFAULT_INSTANCE_ID, "Sales Routing Profile");
        assert_eq!(get("agent150").hierarchy_group_id.as_ref(), Some(&t1));
        assert_eq!(get("agent151").hierarchy_group_id.as_ref(), Some(&t2));
        assert_eq!(get("alice").hierarchy_group_id.as_ref(), Some(&t2));
        assert_eq!(get("agent200").tags["team"], "support");
        assert_eq!(get("agent201").tags["team"], "sales");
        assert_eq!(get("agent201").routing_profile_id, sales);
        assert_ne!(get("agent200").routing_profile_id, sales);
        assert!(get("carol").tags.is_empty());
        assert_eq!(get("bob").tags["team"], "support");
    }

    #[test]
    fn users_flag_generates_five_digit_agents() {
        let f = default_state_file(Some(5000));
        assert_eq!(f.instances[0].users.len(), 5004);
        assert_eq!(f.instances[0].users[4].username, "agent00001");
        assert_eq!(f.instances[0].users[5003].username, "agent05000");
    }

    #[test]
    fn tdg_status_lifecycle() {
        let t = Timings::default();
        let mut f = default_state_file(Some(1));
        f.instances[0].replicated = true;
        let mut s = State::build(&f, &[], 1000.0, &t).unwrap();
        let g = s.tdgs.values_mut().next().unwrap();
        assert_eq!(g.status(1000.0), "ACTIVE");
        g.update_until = 1001.0;
        assert_eq!(g.status(1000.0), "UPDATE_IN_PROGRESS");
        g.delete_at = Some(1002.0);
        assert_eq!(g.status(1000.0), "PENDING_DELETION");
        s.tick(1001.0);
        assert_eq!(s.tdgs.len(), 1);
        s.tick(1002.0);
        assert!(s.tdgs.is_empty());
        // R5: the numbers moved into the default group
        assert!(
            s.phones
                .values()
                .all(|p| p.target_arn.contains("traffic-distribution-group"))
        );
    }
}
