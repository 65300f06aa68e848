//! InstanceReplica preflight: the reads of both regions (flows and modules with content, Lambda
//! and Lex associations, numbers, users, Connect's replication findings), the findings
//! (`plan::preflight`), `status.preflight` and the `FailoverReady` condition.
//!
//! The InstanceReplica's plan asks for the reads on the passes that end Ready (the resync period,
//! `connectgr.io/reconcile-now`); while replication is not complete only the replication finding
//! is reported (no reads). A failed read is an error: FailoverReady=Unknown with the error, the
//! previous findings kept.

use k8s_openapi::jiff::Timestamp;

use super::Engine;
use crate::api::conditions::{self, new_condition};
use crate::api::preflight::FAILOVER_READY;
use crate::api::{InstanceReplica, InstanceReplicaStatus, reasons};
use crate::connect::{ConnectError, LexBotRef, Priority, instance_id_of};
use crate::plan::preflight::{
    BotAssociation, ConnectFinding, ObservedFlow, PreflightInput, failover_ready, findings,
    status as preflight_status,
};

/// Resource types whose Connect replication findings matter for a failover (wave-2 §7).
pub const FINDING_TYPES: &[&str] = &[
    "CONTACT_FLOW",
    "FLOW_MODULE",
    "QUEUE",
    "ROUTING_PROFILE",
    "PROMPT",
    "PHONE_NUMBER",
    "AGENT",
    "OPERATING_HOURS",
    "SECURITY_PROFILE",
];

/// What the preflight starts from: the replication statuses and conflict the pass recorded.
pub fn input(obj: &InstanceReplica, status: &InstanceReplicaStatus) -> PreflightInput {
    let mut input = PreflightInput {
        source_region: obj.spec.source_region.clone(),
        replica_region: obj.spec.replica_region.clone(),
        replication: status
            .replication
            .iter()
            .filter(|r| r.region != obj.spec.source_region)
            .map(|r| (r.region.clone(), r.status.clone()))
            .collect(),
        conflict: status.conflict.clone(),
        ..Default::default()
    };
    if input.replication.is_empty() {
        input.replication.push((
            obj.spec.replica_region.clone(),
            "NOT_REPLICATED".to_string(),
        ));
    }
    input
}

/// Records `status.preflight` and `FailoverReady` from what was read (pure): `Err` is a failed
/// read (FailoverReady=Unknown with the error, the previous findings kept).
pub fn record(
    obj: &InstanceReplica,
    status: &mut InstanceReplicaStatus,
    read: Result<&PreflightInput, &str>,
    now: Timestamp,
) {
    let generation = obj.metadata.generation;
    let input = match read {
        Ok(i) => i,
        Err(e) => {
            conditions::set(
                &mut status.conditions,
                unknown(&format!("preflight reads failed: {e}"), generation, now),
            );
            return;
        }
    };
    let all = findings(input);
    let st = preflight_status(&all);
    let (ready, reason, message) = failover_ready(&st);
    status.preflight = Some(st);
    conditions::set(
        &mut status.conditions,
        new_condition(FAILOVER_READY, ready, reason, &message, generation, now),
    );
}

fn unknown(
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    let mut c = new_condition(
        FAILOVER_READY,
        false,
        reasons::PREFLIGHT_UNKNOWN,
        message,
        generation,
        now,
    );
    c.status = conditions::UNKNOWN.to_string();
    c
}

/// What one region's flows, modules, Lambda associations and Lex bots are.
struct RegionReads {
    flows: Vec<ObservedFlow>,
    lambdas: Vec<String>,
    bots: Vec<BotAssociation>,
}

async fn read_region(
    connect: &dyn crate::connect::ConnectApi,
    region: &str,
    instance_id: &str,
) -> Result<RegionReads, ConnectError> {
    let mut flows = Vec::new();
    for module in [false, true] {
        let resource_type = if module {
            "ContactFlowModule"
        } else {
            "ContactFlow"
        };
        for f in connect.list_flows(region, instance_id, module).await? {
            let content = connect
                .describe_flow_content(region, instance_id, module, &f.id)
                .await?;
            flows.push(ObservedFlow {
                region: region.to_string(),
                resource_type,
                name: f.name,
                arn: f.arn,
                content,
            });
        }
    }
    let lambdas = connect.list_lambda_functions(region, instance_id).await?;
    let bots = connect
        .list_bots(region, instance_id)
        .await?
        .into_iter()
        .map(|b| match b {
            LexBotRef::V2 { alias_arn } => BotAssociation::V2 { alias_arn },
            LexBotRef::V1 { name, lex_region } => BotAssociation::V1 { name, lex_region },
        })
        .collect();
    Ok(RegionReads {
        flows,
        lambdas,
        bots,
    })
}

/// Connect's own replication findings of the source region, per resource type.
async fn read_findings(
    connect: &dyn crate::connect::ConnectApi,
    source: &str,
    replica: &str,
    instance_id: &str,
) -> Result<(Vec<ConnectFinding>, Vec<(String, String, i64)>), ConnectError> {
    let (mut findings, mut drift) = (Vec::new(), Vec::new());
    for rt in FINDING_TYPES {
        let r = connect
            .list_replication_findings(source, instance_id, rt)
            .await?;
        for f in r.findings {
            findings.push(ConnectFinding {
                resource_type: f.resource_type,
                name: f.name.unwrap_or_default(),
                arn: f.arn,
                region: f.region.unwrap_or_else(|| replica.to_string()),
                reference_code: f.reference_code,
                message: f.message.unwrap_or_default(),
            });
        }
        for (region, count) in r.drifted {
            drift.push((rt.to_string(), region, count));
        }
    }
    Ok((findings, drift))
}

/// The reads of both regions into `input`. The regions, the findings, the numbers and the users
/// are read side by side: each has quotas of its own (per region and operation), and the groups
/// wait for this pass.
pub async fn observe(
    engine: &Engine,
    instance_id: &str,
    input: &mut PreflightInput,
) -> Result<(), ConnectError> {
    let connect = &*engine.connect;
    let (source, replica) = (input.source_region.clone(), input.replica_region.clone());
    let numbers = async {
        connect
            .list_phone_numbers(&source, Priority::Background)
            .await
            .map(|list| {
                list.into_iter()
                    .filter(|p| {
                        p.instance_id
                            .as_deref()
                            .is_none_or(|i| instance_id_of(i) == instance_id)
                    })
                    .filter(|p| {
                        !p.target_arn
                            .as_deref()
                            .is_some_and(|t| t.contains(":traffic-distribution-group/"))
                    })
                    .map(|p| (p.number, p.arn))
                    .collect::<Vec<_>>()
            })
    };
    // The user lists the membership passes read (and cache): the source's users, the replica's
    // user ids, one copy each.
    let not_mirrored = async {
        let (in_replica, in_source) = futures::future::try_join(
            engine.instance_user_ids(
                &replica,
                instance_id,
                Priority::Background,
                engine.resync / 2,
            ),
            engine.instance_users(
                &source,
                instance_id,
                false,
                Priority::Background,
                engine.resync / 2,
            ),
        )
        .await?;
        Ok::<_, ConnectError>(
            in_source
                .users()
                .filter(|u| !in_replica.contains(u.id))
                .count(),
        )
    };
    let (at_source, at_replica, (findings, drift), numbers, not_mirrored) =
        futures::future::try_join5(
            read_region(connect, &source, instance_id),
            read_region(connect, &replica, instance_id),
            read_findings(connect, &source, &replica, instance_id),
            numbers,
            not_mirrored,
        )
        .await?;
    for (region, reads) in [(&source, at_source), (&replica, at_replica)] {
        input.flows.extend(reads.flows);
        input.lambdas.insert(region.clone(), reads.lambdas);
        input.bots.insert(region.clone(), reads.bots);
    }
    input.numbers_not_in_group = numbers;
    input.users_not_mirrored = not_mirrored;
    input.connect_findings.extend(findings);
    input.drift.extend(drift);
    Ok(())
}
