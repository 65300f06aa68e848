//! Reads live Connect (reads only) into an emulator state file: the instances the manifests
//! name, with their users, routing profiles, hierarchy groups, numbers, Lambda associations and
//! traffic distribution groups (tags, split, members, numbers). `connect-gr plan` loads it into
//! the embedded emulator and runs the driver there, so the plan shows the whole change.
//!
//! A read that fails (throttled, timed out, 5xx, denied) is never taken for "none": it is
//! recorded as a [`FailedRead`] (the plan reports it and exits 1) and the snapshot goes on with
//! what it could read. Only NotFound of something optional (an instance, Lambda, bots, flows)
//! means absent.

use std::collections::{BTreeMap, BTreeSet};

use crate::connect::LexBotRef;
use crate::connect::{
    ConnectApi, ConnectError, PhoneNumberInfo, Priority, arn_account, arn_region, instance_id_of,
};
use crate::emulator::flows::{BotSpec, FindingSpec, FlowSpec};
use crate::emulator::model::{GroupSpec, InstanceSpec, PhoneSpec, StateFile, UserSpec};
use crate::local::World;
pub use crate::plan::report::FailedRead;

/// The reads that failed while taking a snapshot.
#[derive(Debug, Default)]
struct Reads(Vec<FailedRead>);

impl Reads {
    fn fail(&mut self, operation: &str, region: &str, e: &ConnectError) {
        self.0.push(FailedRead {
            operation: operation.to_string(),
            region: region.to_string(),
            error: e.to_string(),
        });
    }
    /// The value, or None with the failure recorded.
    fn ok<T>(&mut self, operation: &str, region: &str, r: Result<T, ConnectError>) -> Option<T> {
        r.map_err(|e| self.fail(operation, region, &e)).ok()
    }
    /// The value; an empty one when Connect says NotFound; an empty one and the failure
    /// recorded on any other error.
    fn or_absent<T: Default>(
        &mut self,
        operation: &str,
        region: &str,
        r: Result<T, ConnectError>,
    ) -> T {
        match r {
            Ok(v) => v,
            Err(ConnectError::NotFound(_)) => T::default(),
            Err(e) => {
                self.fail(operation, region, &e);
                T::default()
            }
        }
    }
}

/// Live Connect as a state file, and the reads that failed on the way.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub state: StateFile,
    pub failed: Vec<FailedRead>,
}

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
/// out (the plan then shows what the controller would report); any other failed read is recorded
/// in `failed` (an instance that cannot be described is left out too).
pub async fn snapshot(connect: &dyn ConnectApi, named: &[Named]) -> Snapshot {
    let mut file = StateFile::default();
    let mut reads = Reads::default();
    for n in named {
        let info = match connect.describe_instance(&n.region, &n.instance_id).await {
            Ok(i) => i,
            Err(ConnectError::NotFound(_)) => continue,
            Err(e) => {
                reads.fail("DescribeInstance", &n.region, &e);
                continue;
            }
        };
        let source = info.source_region.clone().unwrap_or(n.region.clone());
        let replica = info.replication.iter().find(|r| r.region != source);
        let id = n.instance_id.clone();
        let named_ids = |v: Vec<crate::connect::NamedId>| -> BTreeMap<String, String> {
            v.into_iter().map(|x| (x.id, x.name)).collect()
        };
        let profiles = named_ids(reads.or_absent(
            "ListRoutingProfiles",
            &source,
            connect.list_routing_profiles(&source, &id).await,
        ));
        let hierarchies = named_ids(reads.or_absent(
            "ListUserHierarchyGroups",
            &source,
            connect.list_hierarchy_groups(&source, &id).await,
        ));
        let users = reads.or_absent(
            "SearchUsers",
            &source,
            connect.search_users(&source, &id, Priority::Normal).await,
        );
        let usernames: BTreeMap<String, String> = users
            .iter()
            .map(|u| (u.id.to_string(), u.username.to_string()))
            .collect();
        let groups: Vec<_> = match replica {
            Some(_) => reads
                .or_absent(
                    "ListTrafficDistributionGroups",
                    &source,
                    connect
                        .list_traffic_distribution_groups(&source, &id, Priority::Normal)
                        .await,
                )
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
            let listed = connect.list_phone_numbers(r, Priority::Normal).await;
            for p in reads.or_absent("ListPhoneNumbersV2", r, listed) {
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
                Err(e) => reads.fail("ListLambdaFunctions", r, &e),
            }
        }
        {
            for g in &groups {
                let d = connect
                    .describe_traffic_distribution_group(&source, &g.arn, Priority::Normal)
                    .await;
                let split = connect
                    .get_traffic_distribution(&source, &g.arn, Priority::Normal)
                    .await;
                let members = connect
                    .list_group_users(&source, &g.arn, Priority::Normal)
                    .await;
                // A group that cannot be read whole is left out (and the failure reported).
                let (Some(d), Some(split), Some(members)) = (
                    reads.ok("DescribeTrafficDistributionGroup", &source, d),
                    reads.ok("GetTrafficDistribution", &source, split),
                    reads.ok("ListTrafficDistributionGroupUsers", &source, members),
                ) else {
                    continue;
                };
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
                Err(e) => reads.fail("ListBots", r, &e),
            }
        }
        // Some(isolated) when the instance has global routing; None when Connect refuses the
        // call (not enabled) or the instance is not replicated. Any other failure is a failed
        // read, not "not enabled".
        let routing = match replica {
            Some(_) => match connect.get_cross_region_routing(&source, &id).await {
                Ok(isolated) => Some(!isolated.is_empty()),
                Err(e) if e.class() == crate::connect::ErrorClass::Terminal => None,
                Err(e) => {
                    reads.fail("GetCrossRegionRouting", &source, &e);
                    None
                }
            },
            None => None,
        };
        let mut findings = Vec::new();
        if replica.is_some() {
            for t in crate::reconcile::preflight::FINDING_TYPES {
                let listed = connect.list_replication_findings(&source, &id, t).await;
                let Some(f) = reads.ok("ListReplicationFindings", &source, listed) else {
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
                    username: u.username.to_string(),
                    routing_profile: u
                        .routing_profile_id()
                        .and_then(|p| profiles.get(p).cloned()),
                    hierarchy_group: u
                        .hierarchy_group_id()
                        .and_then(|h| hierarchies.get(h).cloned()),
                    tags: u.details.map(|d| d.tags.clone()).unwrap_or_default(),
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
            contact_flows: flows(connect, &source, &id, false, &mut reads).await,
            flow_modules: flows(connect, &source, &id, true, &mut reads).await,
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
    Snapshot {
        state: file,
        failed: reads.0,
    }
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
    reads: &mut Reads,
) -> Vec<FlowSpec> {
    let (list_op, describe_op) = if module {
        ("ListContactFlowModules", "DescribeContactFlowModule")
    } else {
        ("ListContactFlows", "DescribeContactFlow")
    };
    let listed = connect.list_flows(region, instance_id, module).await;
    let list = reads.or_absent(list_op, region, listed);
    let mut out = Vec::new();
    for f in list {
        let described = connect
            .describe_flow_content(region, instance_id, module, &f.id)
            .await;
        let Some(content) = reads.ok(describe_op, region, described) else {
            continue;
        };
        out.push(FlowSpec {
            name: f.name,
            flow_type: None,
            description: None,
            content: serde_json::from_str(&content).unwrap_or(serde_json::Value::String(content)),
        });
    }
    out
}
