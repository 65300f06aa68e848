//! InstanceReplica: ReplicateInstance exactly once, then follow replication per region.

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::fallback::in_either;
use super::*;
use crate::api::{InstanceReplicaStatus, ReplicationRegionStatus, reasons};
use crate::connect::{arn_in_region, instance_id_of};
use crate::plan::replica::{Decision, DesiredReplica, plan};

pub async fn apply(
    engine: &Engine,
    obj: &InstanceReplica,
    _objects: &dyn Objects,
    now: Timestamp,
) -> Pass<InstanceReplicaStatus> {
    let mut status = obj.status.clone().unwrap_or_default();
    let mut notes = Vec::new();
    let result = steps(engine, obj, &mut status, &mut notes).await;
    if let Ok(end) = &result {
        let id = instance_id_of(&obj.spec.instance_id);
        let complete = end.verdict.is_ready();
        super::preflight::refresh(engine, obj, id, complete, &mut status, now).await;
    }
    crate::metrics::objects::replica(obj, &status, engine.resync);
    Pass {
        status,
        notes,
        result,
    }
}

async fn steps(
    engine: &Engine,
    obj: &InstanceReplica,
    status: &mut InstanceReplicaStatus,
    notes: &mut Vec<Note>,
) -> Result<Ending, PassError> {
    let spec = &obj.spec;
    let instance_id = instance_id_of(&spec.instance_id).to_string();
    let desired = DesiredReplica {
        instance_id: instance_id.clone(),
        source_region: spec.source_region.clone(),
        replica_region: spec.replica_region.clone(),
        replica_alias: spec.replica_alias.clone(),
    };
    // The replica answers DescribeInstance with the same replication summary (R3), so a source
    // region that is down does not hide an instance that is already replicated.
    let regions = [spec.source_region.clone(), spec.replica_region.clone()];
    let (observed, answered) = in_either(
        &engine.health,
        &regions,
        crate::connect::Priority::Normal,
        |r| {
            let id = instance_id.clone();
            async move { engine.connect.describe_instance(&r, &id).await }
        },
    )
    .await?;
    status.id = Some(observed.id.clone());
    status.arn = Some(observed.arn.clone());
    status.region = Some(spec.source_region.clone());
    status.source_arn = Some(observed.arn.clone());
    status.replica_arn = Some(arn_in_region(&observed.arn, &spec.replica_region));
    status.global_sign_in_endpoint = observed.global_sign_in_endpoint.clone();
    status.replication = observed
        .replication
        .iter()
        .map(|r| ReplicationRegionStatus {
            region: r.region.clone(),
            status: r.status.clone(),
            reason: r.reason.clone(),
        })
        .collect();
    let decision = plan(&desired, &observed, |a, b| engine.pairs.can_replicate(a, b));
    if answered != spec.source_region {
        return Ok(through_replica(&decision, spec, engine));
    }
    let (verdict, requeue) = match decision {
        Decision::Replicate => {
            let token = client_token(&obj.uid().unwrap_or_default(), "replicate");
            match engine
                .connect
                .replicate_instance(
                    &spec.source_region,
                    &instance_id,
                    &spec.replica_region,
                    &spec.replica_alias,
                    &token,
                )
                .await
            {
                Ok(_) => {
                    status.replication_requested = Some(true);
                    status.conflict = None;
                    notes.push(Note::normal(
                        reasons::REPLICATION_STARTED,
                        format!(
                            "ReplicateInstance {} -> {} ({})",
                            spec.source_region, spec.replica_region, spec.replica_alias
                        ),
                    ));
                    (
                        Verdict::progressing(reasons::REPLICATING, "ReplicateInstance accepted"),
                        PROGRESS_REQUEUE,
                    )
                }
                Err(ConnectError::Conflict(msg)) => {
                    // R2: the message names the conflicting resource; once a person resolves it,
                    // calling again resumes, so keep retrying at a calm pace.
                    status.conflict = Some(msg.clone());
                    (
                        Verdict::stalled(
                            reasons::RESOURCE_CONFLICT,
                            format!("replication blocked by a name conflict: {msg}"),
                        ),
                        std::time::Duration::from_secs(30),
                    )
                }
                Err(e) => return Err(e.into()),
            }
        }
        Decision::Wait { status: s } => (
            Verdict::progressing(
                reasons::REPLICATING,
                format!("replication to {} is {s}", spec.replica_region),
            ),
            PROGRESS_REQUEUE,
        ),
        Decision::Ready => (
            Verdict::Ready(format!(
                "replicated {} -> {}",
                spec.source_region, spec.replica_region
            )),
            engine.resync,
        ),
        Decision::Failed { reason } => (
            Verdict::stalled(reasons::REPLICATION_FAILED, reason),
            engine.resync,
        ),
        Decision::Refuse { reason, rule } => (
            Verdict::stalled(reasons::INVALID_REPLICA, format!("{reason} (rule {rule})")),
            engine.resync,
        ),
    };
    Ok(Ending::new(verdict, requeue))
}

/// The source region did not answer and the replica did: a completed replication is Ready (it is
/// what a failover needs); anything else waits for the source region, the only one that can act.
fn through_replica(
    decision: &Decision,
    spec: &crate::api::InstanceReplicaSpec,
    engine: &Engine,
) -> Ending {
    match decision {
        Decision::Ready => Ending::new(
            Verdict::Ready(format!(
                "replicated {} -> {} (read through {}: {} does not answer)",
                spec.source_region, spec.replica_region, spec.replica_region, spec.source_region
            )),
            engine.resync.min(std::time::Duration::from_secs(60)),
        ),
        _ => Ending::new(
            Verdict::progressing(
                reasons::SOURCE_REGION_UNAVAILABLE,
                format!(
                    "{} does not answer and replication is not complete in {}",
                    spec.source_region, spec.replica_region
                ),
            ),
            std::time::Duration::from_secs(30),
        ),
    }
}
