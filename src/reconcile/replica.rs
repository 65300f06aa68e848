//! InstanceReplica as its steps: desired (the replica the spec asks for), observe
//! (DescribeInstance in either region: the replica answers with the same replication summary, R3,
//! so a source region that is down does not hide an instance that is already replicated; on the
//! plan's request, the preflight reads of both regions), plan (`plan::replica`, pure), execute
//! (ReplicateInstance exactly once, by client token) and status (replication per region, the
//! preflight findings and FailoverReady).

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::fallback::in_either;
use super::steps::{Planned, Steps};
use super::*;
use crate::api::{InstanceReplicaStatus, ReplicationRegionStatus, reasons};
use crate::connect::{InstanceInfo, arn_in_region, instance_id_of};
use crate::plan::preflight::PreflightInput;
use crate::plan::replica::{Decision, DesiredReplica, plan};

pub struct Observed {
    info: InstanceInfo,
    /// The region that answered DescribeInstance.
    answered: String,
    /// The preflight reads, once the plan asked for them (`Err`: why they failed).
    preflight: Option<Result<PreflightInput, String>>,
}

/// The preflight reads of both regions, asked for when the replica is Ready.
pub struct PreflightReads;

pub struct Plan {
    status: InstanceReplicaStatus,
    notes: Vec<Note>,
    ending: Ending,
    /// ReplicateInstance with this client token.
    replicate: Option<String>,
    /// `[region] Operation detail` of the planned writes.
    calls: Vec<String>,
}

#[async_trait]
impl Steps for InstanceReplica {
    type Desired = DesiredReplica;
    type Observed = Observed;
    type Read = PreflightReads;
    type Plan = Plan;

    fn desired(&self) -> DesiredReplica {
        DesiredReplica {
            instance_id: instance_id_of(&self.spec.instance_id).to_string(),
            source_region: self.spec.source_region.clone(),
            replica_region: self.spec.replica_region.clone(),
            replica_alias: self.spec.replica_alias.clone(),
        }
    }

    async fn observe(
        &self,
        engine: &Engine,
        _: &dyn Objects,
        desired: &DesiredReplica,
    ) -> Result<Result<Observed, Ending>, PassError> {
        let regions = [
            desired.source_region.clone(),
            desired.replica_region.clone(),
        ];
        let id = desired.instance_id.as_str();
        let connect = &engine.connect;
        let (info, answered) = in_either(
            &engine.health,
            &regions,
            crate::connect::Priority::Normal,
            |r| async move { connect.describe_instance(&r, id).await },
        )
        .await?;
        Ok(Ok(Observed {
            info,
            answered,
            preflight: None,
        }))
    }

    async fn observe_more(
        &self,
        engine: &Engine,
        observed: &mut Observed,
        _: PreflightReads,
    ) -> Result<(), PassError> {
        let status = self.status.clone().unwrap_or_default();
        let mut input =
            super::preflight::input(self, &record_instance(self, status, &observed.info));
        let id = instance_id_of(&self.spec.instance_id).to_string();
        observed.preflight = Some(
            super::preflight::observe(engine, &id, &mut input)
                .await
                .map(|_| input)
                .map_err(|e| e.to_string()),
        );
        Ok(())
    }

    fn plan(
        &self,
        engine: &Engine,
        desired: &DesiredReplica,
        o: &Observed,
        previous: &InstanceReplicaStatus,
        _withheld: bool,
        now: Timestamp,
    ) -> Planned<Plan, PreflightReads> {
        let spec = &self.spec;
        let mut status = record_instance(self, previous.clone(), &o.info);
        let decision = plan(desired, &o.info, |a, b| engine.pairs.can_replicate(a, b));
        let (ending, replicate) = if o.answered != spec.source_region {
            (through_replica(&decision, spec, engine), None)
        } else {
            match decision {
                Decision::Replicate => (
                    Ending::new(
                        Verdict::progressing(reasons::REPLICATING, "ReplicateInstance accepted"),
                        PROGRESS_REQUEUE,
                    ),
                    Some(client_token(&self.uid().unwrap_or_default(), "replicate")),
                ),
                d => (ending_of(d, spec, engine), None),
            }
        };
        // The preflight: after a replication write, `execute` records it from what Connect took.
        if replicate.is_none() {
            let complete = ending.verdict.is_ready();
            match (&o.preflight, complete) {
                (None, true) => return Planned::Read(PreflightReads),
                (Some(read), true) => {
                    let read = read.as_ref().map_err(String::as_str);
                    super::preflight::record(self, &mut status, read, now);
                }
                (_, false) => {
                    let input = super::preflight::input(self, &status);
                    super::preflight::record(self, &mut status, Ok(&input), now);
                }
            }
        }
        let calls = replicate
            .iter()
            .map(|_| {
                format!(
                    "[{}] ReplicateInstance instance={} replicaRegion={} replicaAlias={}",
                    spec.source_region,
                    desired.instance_id,
                    spec.replica_region,
                    spec.replica_alias
                )
            })
            .collect();
        Planned::Final(Plan {
            status,
            notes: vec![],
            ending,
            replicate,
            calls,
        })
    }

    fn planned_calls(plan: &Plan) -> Vec<String> {
        plan.calls.clone()
    }

    fn status_step(plan: &Plan) -> (InstanceReplicaStatus, Vec<Note>, Ending) {
        (plan.status.clone(), plan.notes.clone(), plan.ending.clone())
    }

    async fn execute(
        &self,
        engine: &Engine,
        _: &dyn Objects,
        plan: &Plan,
        status: &mut InstanceReplicaStatus,
        notes: &mut Vec<Note>,
        now: Timestamp,
    ) -> Result<Option<Ending>, PassError> {
        let Some(token) = &plan.replicate else {
            return Ok(None);
        };
        let spec = &self.spec;
        let sent = engine
            .connect
            .replicate_instance(
                &spec.source_region,
                instance_id_of(&spec.instance_id),
                &spec.replica_region,
                &spec.replica_alias,
                token,
            )
            .await;
        let rejected = match sent {
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
                None
            }
            Err(ConnectError::Conflict(msg)) => {
                // R2: the message names the conflicting resource; once a person resolves it,
                // calling again resumes, so keep retrying at a calm pace.
                status.conflict = Some(msg.clone());
                Some(Ending::new(
                    Verdict::stalled(
                        reasons::RESOURCE_CONFLICT,
                        format!("replication blocked by a name conflict: {msg}"),
                    ),
                    std::time::Duration::from_secs(30),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let input = super::preflight::input(self, status);
        super::preflight::record(self, status, Ok(&input), now);
        Ok(rejected)
    }
}

/// The instance as DescribeInstance answered, in status.
fn record_instance(
    obj: &InstanceReplica,
    mut status: InstanceReplicaStatus,
    info: &InstanceInfo,
) -> InstanceReplicaStatus {
    let spec = &obj.spec;
    status.id = Some(info.id.clone());
    status.arn = Some(info.arn.clone());
    status.region = Some(spec.source_region.clone());
    status.source_arn = Some(info.arn.clone());
    status.replica_arn = Some(arn_in_region(&info.arn, &spec.replica_region));
    status.global_sign_in_endpoint = info.global_sign_in_endpoint.clone();
    status.replication = info
        .replication
        .iter()
        .map(|r| ReplicationRegionStatus {
            region: r.region.clone(),
            status: r.status.clone(),
            reason: r.reason.clone(),
        })
        .collect();
    status
}

fn ending_of(
    decision: Decision,
    spec: &crate::api::InstanceReplicaSpec,
    engine: &Engine,
) -> Ending {
    let (verdict, requeue) = match decision {
        // Planned as a write by the caller; not reached.
        Decision::Replicate => (
            Verdict::progressing(reasons::REPLICATING, "ReplicateInstance planned"),
            PROGRESS_REQUEUE,
        ),
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
    Ending::new(verdict, requeue)
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

pub async fn apply(
    engine: &Engine,
    obj: &InstanceReplica,
    objects: &dyn Objects,
    now: Timestamp,
) -> Pass<InstanceReplicaStatus> {
    let pass = super::steps::run(engine, objects, obj, now).await;
    crate::metrics::objects::replica(obj, &pass.status, engine.resync);
    pass
}
