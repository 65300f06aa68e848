//! Contact flows and flow modules (content stored as given, mirrored to the replica by
//! replication, R4), Lex bot associations (per region, not mirrored), and Connect's own
//! replication findings (a model of resources whose replication failed). State-file specs and
//! runtime state; the operations are in `ops/flows.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::entities::{Instance, Timings};

/// A flow or a flow module in the state file. `content` is the flow-language document, as a
/// JSON object or as the string Connect stores.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowSpec {
    pub name: String,
    /// ContactFlowType (flows only; default CONTACT_FLOW).
    #[serde(default, rename = "type")]
    pub flow_type: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub content: Value,
}

/// A Lex bot association in the state file: a Lex V2 alias ARN, or a Lex V1 bot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum BotSpec {
    V2(String),
    #[serde(rename_all = "camelCase")]
    V1 {
        name: String,
        lex_region: String,
    },
}

/// A resource whose replication failed (what ListReplicationFindings reports).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindingSpec {
    /// ListReplicationFindings resource type, e.g. CONTACT_FLOW, QUEUE.
    pub resource_type: String,
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
    /// Region where it was detected (default: the replica region).
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default = "update")]
    pub operation: String,
    pub reference_code: String,
    pub message: String,
}

fn update() -> String {
    "UPDATE".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FlowKind {
    Flow,
    Module,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    pub id: String,
    pub instance_id: String,
    pub kind: FlowKind,
    pub name: String,
    pub flow_type: String,
    pub description: Option<String>,
    pub content: String,
    /// The content before the last update: what the replica shows until it is mirrored.
    pub previous_content: Option<String>,
    pub status: String,
    pub version: i64,
    /// Region where it was created (and where its content is edited).
    pub origin_region: String,
    pub created: f64,
    pub modified: f64,
    pub tags: BTreeMap<String, String>,
}

impl Flow {
    pub fn arn(&self, inst: &Instance, region: &str) -> String {
        let kind = match self.kind {
            FlowKind::Flow => "contact-flow",
            FlowKind::Module => "flow-module",
        };
        format!("{}/{kind}/{}", inst.arn(region), self.id)
    }

    /// The content readable in `region`: the origin region sees every edit at once; the other
    /// region sees the flow once the instance is replicated and mirroring has caught up (an edit
    /// shows there `user_mirror_s` later; until then the previous content).
    pub fn content_in(&self, inst: &Instance, region: &str, now: f64, t: &Timings) -> Option<&str> {
        if self.origin_region == region {
            return Some(&self.content);
        }
        if !inst.mirrored_in(region, now, t) || now < self.created + t.user_mirror_s {
            return None;
        }
        if now < self.modified + t.user_mirror_s {
            return self.previous_content.as_deref().or(Some(&self.content));
        }
        Some(&self.content)
    }
}

/// A Lex bot association as ListBots reports it.
pub fn bot_json(b: &BotSpec) -> Value {
    match b {
        BotSpec::V2(arn) => json!({"LexV2Bot": {"AliasArn": arn}}),
        BotSpec::V1 { name, lex_region } => {
            json!({"LexBot": {"Name": name, "LexRegion": lex_region}})
        }
    }
}

/// Flows, modules, bots and replication findings of every instance.
#[derive(Debug, Clone, Default)]
pub struct FlowState {
    /// (instance id, flow or module id) -> flow.
    pub flows: BTreeMap<(String, String), Flow>,
    /// (instance id, region) -> bot associations (not mirrored).
    pub bots: BTreeMap<(String, String), Vec<BotSpec>>,
    /// instance id -> resources whose replication failed.
    pub findings: BTreeMap<String, Vec<FindingSpec>>,
}

/// Deterministic id of a flow (or module) by name: UUID v5 in the instance's namespace.
pub fn flow_id(instance_id: &str, kind: FlowKind, name: &str) -> String {
    let ns = Uuid::parse_str(instance_id)
        .unwrap_or_else(|_| Uuid::new_v5(&Uuid::NAMESPACE_OID, instance_id.as_bytes()));
    let k = match kind {
        FlowKind::Flow => "contact-flow",
        FlowKind::Module => "flow-module",
    };
    Uuid::new_v5(&ns, format!("{k}:{name}").as_bytes()).to_string()
}

/// Flow content as Connect stores it: a string (an object in the state file is serialized).
pub fn content_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The part of an instance's state-file entry this module reads.
pub struct InstanceFlows<'a> {
    pub contact_flows: &'a [FlowSpec],
    pub flow_modules: &'a [FlowSpec],
    pub lex_bots: &'a BTreeMap<String, Vec<BotSpec>>,
    pub replication_findings: &'a [FindingSpec],
}

impl FlowState {
    /// Loads one instance's flows, modules, bots and findings from the state file (all created
    /// `past`, so already mirrored when the instance starts replicated).
    pub fn load(&mut self, inst: &Instance, spec: InstanceFlows, past: f64) {
        let id = &inst.id;
        for (kind, list) in [
            (FlowKind::Flow, spec.contact_flows),
            (FlowKind::Module, spec.flow_modules),
        ] {
            for f in list {
                let fid = flow_id(id, kind, &f.name);
                self.flows.insert(
                    (id.clone(), fid.clone()),
                    Flow {
                        id: fid,
                        instance_id: id.clone(),
                        kind,
                        name: f.name.clone(),
                        flow_type: f.flow_type.clone().unwrap_or_else(|| "CONTACT_FLOW".into()),
                        description: f.description.clone(),
                        content: content_string(&f.content),
                        previous_content: None,
                        status: "PUBLISHED".into(),
                        version: 1,
                        origin_region: inst.region.clone(),
                        created: past,
                        modified: past,
                        tags: BTreeMap::new(),
                    },
                );
            }
        }
        for (region, bots) in spec.lex_bots {
            self.bots.insert((id.clone(), region.clone()), bots.clone());
        }
        if !spec.replication_findings.is_empty() {
            self.findings
                .insert(id.clone(), spec.replication_findings.to_vec());
        }
    }

    pub fn dump(&self) -> Value {
        let flows: Vec<Value> = self
            .flows
            .values()
            .map(|f| {
                json!({"id": f.id, "instanceId": f.instance_id, "kind": f.kind, "name": f.name,
                       "type": f.flow_type, "originRegion": f.origin_region, "content": f.content})
            })
            .collect();
        let bots: Vec<Value> = self
            .bots
            .iter()
            .map(|((i, r), b)| json!({"instanceId": i, "region": r, "bots": b}))
            .collect();
        json!({"contactFlows": flows, "lexBots": bots, "replicationFindings": self.findings})
    }
}

/// The default state's flows: the two reference flows (Lambda ARNs with `$.AwsRegion`) and an
/// older inbound flow that still hard-codes the source region's Lambda ARN, so that a preflight
/// of the demo shows a finding.
pub fn default_flows() -> Vec<FlowSpec> {
    let check = include_str!("default_flows/inbound-denylist-check.json");
    let add = include_str!("default_flows/queue-transfer-denylist-add.json");
    let legacy = check.replace(
        "arn:aws:lambda:$.AwsRegion:123456789012:function:DenylistCheck",
        "arn:aws:lambda:us-west-2:123456789012:function:DenylistCheck",
    );
    let flow = |name: &str, ty: &str, content: &str| FlowSpec {
        name: name.into(),
        flow_type: Some(ty.into()),
        description: None,
        content: Value::String(content.into()),
    };
    vec![
        flow("Inbound denylist check", "CONTACT_FLOW", check),
        flow("Denylist add transfer", "QUEUE_TRANSFER", add),
        flow("Legacy support inbound", "CONTACT_FLOW", &legacy),
    ]
}
