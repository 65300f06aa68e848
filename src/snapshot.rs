//! Reads live Connect (reads only) into an emulator state file: the instances the manifests
//! name, with their users, routing profiles, hierarchy groups, numbers, Lambda associations and
//! traffic distribution groups (tags, split, members, numbers). `connect-gr plan` loads it into
//! the embedded emulator and runs the driver there, so the plan shows the whole change.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;

use crate::connect::LexBotRef;
use crate::connect::{
    ConnectApi, ConnectError, PhoneNumberInfo, Priority, arn_account, arn_region, instance_id_of,
};
use crate::emulator::flows::{BotSpec, FindingSpec, FlowSpec};
use crate::emulator::model::{GroupSpec, InstanceSpec, PhoneSpec, StateFile, UserSpec};
use crate::local::World;

/// An instance the manifests name: its id and the region to ask first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Named {
    pub instance_id: String,
    pub region: String,
    pub replica_region: Option<String>,
}

/// The instances the manifests' InstanceReplicas and groups (by instance ARN) name, once each.
pub fn instances(world: &World) -> Vec<Named> {
    let mut out: BTreeSet<Named> = BTreeSet::new();
    for r in world.replicas.lock().iter() {
        out.insert(Named {
            instance_id: instance_id_of(&r.spec.instance_id).to_string(),
            region: r.spec.source_region.clone(),
            replica_region: Some(r.spec.replica_region.clone()),
        });
    }
    for g in world.groups.lock().iter() {
        if let Some(arn) = &g.spec.instance_arn {
            let id = instance_id_of(arn).to_string();
            if !out.iter().any(|n| n.instance_id == id) {
                out.insert(Named {
                    instance_id: id,
                    region: arn_region(arn).unwrap_or_default().to_string(),
                    replica_region: None,
                });
            }
        }
    }
    out.into_iter().collect()
}

/// The live state of `named` as an emulator state file. An instance that does not exist is left
/// out (the plan then shows what the controller would report); any other failed read is an error.
pub async fn snapshot(connect: &dyn ConnectApi, named: &[Named]) -> anyhow::Result<StateFile> {
    let mut file = StateFile::default();
    for n in named {
        let info = match connect.describe_instance(&n.region, &n.instance_id).await {
            Ok(i) => i,
            Err(ConnectError::NotFound(_)) => continue,
            Err(e) => return Err(e).context(format!("DescribeInstance {}", n.instance_id)),
        };
        let source = info.source_region.clone().unwrap_or(n.region.clone());
        let replica = info.replication.iter().find(|r| r.region != source);
        let id = n.instance_id.clone();
        let named_ids = |v: Vec<crate::connect::NamedId>| -> BTreeMap<String, String> {
            v.into_iter().map(|x| (x.id, x.name)).collect()
        };
        let profiles = named_ids(connect.list_routing_profiles(&source, &id).await?);
        let hierarchies = named_ids(connect.list_hierarchy_groups(&source, &id).await?);
        let users = connect.search_users(&source, &id, Priority::Normal).await?;
        let usernames: BTreeMap<String, String> = users
            .iter()
            .map(|u| (u.id.clone(), u.username.clone()))
            .collect();
        let groups = match replica {
            Some(_) => connect
                .list_traffic_distribution_groups(&source, &id, Priority::Normal)
                .await?
                .into_iter()
                .filter(|g| !g.status.contains("DELET"))
                .collect(),
            None => Vec::new(),
        };
        let group_arns: BTreeSet<&str> = groups.iter().map(|g| g.arn.as_str()).collect();
        let mut regions = vec![source.clone()];
        regions.extend(replica.map(|r| r.region.clone()));
        let mut phones = Vec::new();
        let mut lambdas = BTreeMap::new();
        for r in &regions {
            for p in connect.list_phone_numbers(r, Priority::Normal).await? {
                let ours = p.instance_id.as_deref() == Some(id.as_str())
                    || p.target_arn.as_deref().is_some_and(|t| {
                        t.contains(&format!("instance/{id}")) || group_arns.contains(t)
                    });
                // A number in a group is listed in both regions; it is claimed where its ARN says.
                let claimed_in = arn_region(&p.arn).unwrap_or(r).to_string();
                if ours
                    && !phones
                        .iter()
                        .any(|(q, _): &(PhoneNumberInfo, String)| q.number == p.number)
                {
                    phones.push((p, claimed_in));
                }
            }
            match connect.list_lambda_functions(r, &id).await {
                Ok(f) => {
                    lambdas.insert(r.clone(), f);
                }
                Err(ConnectError::NotFound(_)) => {}
                Err(e) => return Err(e).context(format!("ListLambdaFunctions in {r}")),
            }
        }
        {
            for g in &groups {
                let d = connect
                    .describe_traffic_distribution_group(&source, &g.arn, Priority::Normal)
                    .await?;
                let split = connect
                    .get_traffic_distribution(&source, &g.arn, Priority::Normal)
                    .await?;
                let members = connect
                    .list_group_users(&source, &g.arn, Priority::Normal)
                    .await?;
                let widen = |m: &BTreeMap<String, i32>| {
                    m.iter().map(|(k, v)| (k.clone(), i64::from(*v))).collect()
                };
                file.groups.push(GroupSpec {
                    instance: id.clone(),
                    name: g.name.clone(),
                    id: Some(g.id.clone()),
                    default: g.is_default,
                    description: d.description.clone(),
                    tags: d.tags.clone(),
                    telephony: widen(&split.telephony),
                    agents: widen(&split.agents),
                    sign_in: if g.is_default {
                        split.sign_in.clone()
                    } else {
                        BTreeMap::new()
                    },
                    members: members
                        .iter()
                        .filter_map(|u| usernames.get(u).cloned())
                        .collect(),
                    phone_numbers: phones
                        .iter()
                        .filter(|(p, _)| p.target_arn.as_deref() == Some(g.arn.as_str()))
                        .map(|(p, _)| p.number.clone())
                        .collect(),
                });
            }
        }
        let mut bots = BTreeMap::new();
        for r in &regions {
            match connect.list_bots(r, &id).await {
                Ok(b) => {
                    bots.insert(r.clone(), b.into_iter().map(bot_spec).collect());
                }
                Err(ConnectError::NotFound(_)) => {}
                Err(e) => return Err(e).context(format!("ListBots in {r}")),
            }
        }
        // Some(isolated) when the instance has global routing; None when Connect refuses the
        // call (not enabled) or the instance is not replicated.
        let routing = match replica {
            Some(_) => connect
                .get_cross_region_routing(&source, &id)
                .await
                .ok()
                .map(|isolated| !isolated.is_empty()),
            None => None,
        };
        let mut findings = Vec::new();
        if replica.is_some() {
            for t in crate::reconcile::preflight::FINDING_TYPES {
                let Ok(f) = connect.list_replication_findings(&source, &id, t).await else {
                    continue;
                };
                findings.extend(f.findings.into_iter().map(|f| FindingSpec {
                    resource_type: f.resource_type,
                    name: f.name.unwrap_or_default(),
                    id: None,
                    arn: f.arn,
                    region: f.region,
                    operation: "UPDATE".into(),
                    reference_code: f.reference_code.unwrap_or_default(),
                    message: f.message.unwrap_or_default(),
                }));
            }
        }
        file.instances.push(InstanceSpec {
            id: id.clone(),
            account: arn_account(&info.arn).map(str::to_string),
            alias: info.alias.clone(),
            region: source.clone(),
            identity_management_type: info.identity_management_type.clone(),
            status: info.status.clone(),
            replicated: replica.is_some(),
            replica_region: replica.map(|r| r.region.clone()),
            replica_alias: None,
            replication_fails: replica.is_some_and(|r| r.status.contains("FAILED")),
            routing_profiles: profiles.values().cloned().collect(),
            hierarchy_groups: hierarchies.values().cloned().collect(),
            users: users
                .iter()
                .map(|u| UserSpec {
                    username: u.username.clone(),
                    routing_profile: u
                        .routing_profile_id
                        .as_ref()
                        .and_then(|p| profiles.get(p).cloned()),
                    hierarchy_group: u
                        .hierarchy_group_id
                        .as_ref()
                        .and_then(|h| hierarchies.get(h).cloned()),
                    tags: u.tags.clone(),
                })
                .collect(),
            phone_numbers: phones
                .iter()
                .map(|(p, r)| PhoneSpec::Full {
                    number: p.number.clone(),
                    description: None,
                    region: Some(r.clone()),
                })
                .collect(),
            lambda_functions: lambdas,
            global_routing: routing.is_some(),
            isolated: routing.unwrap_or(false),
            contact_flows: flows(connect, &source, &id, false).await?,
            flow_modules: flows(connect, &source, &id, true).await?,
            lex_bots: bots,
            replication_findings: findings,
        });
        if let Some(a) = arn_account(&info.arn)
            && !file.accounts.iter().any(|x| x.id == a)
        {
            file.accounts
                .push(crate::emulator::model::AccountSpec { id: a.to_string() });
        }
    }
    Ok(file)
}

fn bot_spec(b: LexBotRef) -> BotSpec {
    match b {
        LexBotRef::V2 { alias_arn } => BotSpec::V2(alias_arn),
        LexBotRef::V1 { name, lex_region } => BotSpec::V1 { name, lex_region },
    }
}

/// Flows (or modules) with their published content, as the state file holds them.
async fn flows(
    connect: &dyn ConnectApi,
    region: &str,
    instance_id: &str,
    module: bool,
) -> anyhow::Result<Vec<FlowSpec>> {
    let list = match connect.list_flows(region, instance_id, module).await {
        Ok(l) => l,
        Err(ConnectError::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e).context("ListContactFlows"),
    };
    let mut out = Vec::new();
    for f in list {
        let content = connect
            .describe_flow_content(region, instance_id, module, &f.id)
            .await?;
        out.push(FlowSpec {
            name: f.name,
            flow_type: None,
            description: None,
            content: serde_json::from_str(&content).unwrap_or(serde_json::Value::String(content)),
        });
    }
    Ok(out)
}
