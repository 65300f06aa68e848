//! TrafficDistributionGroup as its steps: desired (name, default, numbers), observe (where the
//! group lives: the InstanceReplica, which must be Ready, G1, or the instance ARN; the instance's
//! groups from either region, G3; on the plan's request the group's tags and the source region's
//! numbers), plan (`plan::group_pass::decide`, pure), execute (the owner tag of an adopted group,
//! CreateTrafficDistributionGroup, UpdatePhoneNumber, TagResource / UntagResource: each recorded
//! in status as it lands) and status. On deletion `cleanup` honours deletionPolicy.

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::fallback::in_either;
use super::steps::{Planned, Steps};
use super::*;
use crate::api::{DeletionPolicy, TrafficDistributionGroupStatus, reasons};
use crate::connect::{
    GroupInfo, PhoneNumberInfo, Priority, arn_in_region, arn_region, instance_id_of,
};
use crate::plan::group::{DesiredGroup, numbers_in_group, owner_value};
use crate::plan::group_pass::{self, Decided, Placement, Plan, Read, Write};

/// Dereference: where the group lives, from the InstanceReplica (which must be Ready, G1) or from
/// the instance ARN (which must have a replica).
async fn placement(
    engine: &Engine,
    obj: &TrafficDistributionGroup,
    objects: &dyn Objects,
) -> Result<Result<Placement, Ending>, PassError> {
    let ns = obj.namespace().unwrap_or_default();
    if let Some(r) = &obj.spec.replica_ref {
        let Some(rep) = objects.replica(&ns, &r.name).await? else {
            return Ok(Err(Ending::wait(
                reasons::REPLICA_NOT_FOUND,
                format!(
                    "InstanceReplica {} does not exist in namespace {ns} yet",
                    r.name
                ),
            )));
        };
        let ready = rep
            .status
            .as_ref()
            .is_some_and(|s| conditions::is_true(&s.conditions, conditions::READY));
        if !ready {
            return Ok(Err(Ending::wait(
                reasons::WAITING_FOR_REPLICA,
                format!(
                    "InstanceReplica {} is not Ready yet (rule G1: groups need a replicated instance)",
                    r.name
                ),
            )));
        }
        return Ok(Ok(Placement {
            instance_id: instance_id_of(&rep.spec.instance_id).to_string(),
            source_region: rep.spec.source_region.clone(),
            replica_region: rep.spec.replica_region.clone(),
        }));
    }
    let arn = obj.spec.instance_arn.clone().unwrap_or_default();
    let region = arn_region(&arn).unwrap_or_default().to_string();
    let instance_id = instance_id_of(&arn).to_string();
    let info = engine
        .connect
        .describe_instance(&region, &instance_id)
        .await?;
    let source = info.source_region.clone().unwrap_or(region.clone());
    let Some(replica) = info
        .replication
        .iter()
        .map(|r| r.region.clone())
        .find(|r| *r != source)
    else {
        return Ok(Err(Ending::wait(
            reasons::INSTANCE_NOT_REPLICATED,
            format!("instance {instance_id} has no replica yet (rule G1)"),
        )));
    };
    Ok(Ok(Placement {
        instance_id,
        source_region: source,
        replica_region: replica,
    }))
}

fn desired(obj: &TrafficDistributionGroup) -> DesiredGroup {
    DesiredGroup {
        name: obj.spec.name.clone().unwrap_or_else(|| obj.name_any()),
        default: obj.spec.default,
        phone_numbers: obj.spec.phone_numbers.iter().cloned().collect(),
    }
}

fn owner_of(obj: &TrafficDistributionGroup) -> String {
    owner_value(
        &obj.namespace().unwrap_or_default(),
        &obj.name_any(),
        &obj.uid().unwrap_or_default(),
    )
}

pub struct Observed {
    placement: Placement,
    groups: Vec<GroupInfo>,
    served: String,
    described: Option<GroupInfo>,
    numbers: Option<Vec<PhoneNumberInfo>>,
}

#[async_trait]
impl Steps for TrafficDistributionGroup {
    type Desired = DesiredGroup;
    type Observed = Observed;
    type Read = Read;
    type Plan = Plan;

    fn desired(&self) -> DesiredGroup {
        desired(self)
    }

    async fn observe(
        &self,
        engine: &Engine,
        objects: &dyn Objects,
        _: &DesiredGroup,
    ) -> Result<Result<Observed, Ending>, PassError> {
        let p = match placement(engine, self, objects).await? {
            Ok(p) => p,
            Err(wait) => return Ok(Err(wait)),
        };
        // Groups are listed from either region (G3); only the source region creates them and
        // moves numbers, so with the source down the pass observes and records.
        let regions = [p.source_region.clone(), p.replica_region.clone()];
        let id = p.instance_id.as_str();
        let connect = &engine.connect;
        let (groups, served) =
            in_either(&engine.health, &regions, Priority::Normal, |r| async move {
                connect
                    .list_traffic_distribution_groups(&r, id, Priority::Normal)
                    .await
            })
            .await?;
        Ok(Ok(Observed {
            placement: p,
            groups,
            served,
            described: None,
            numbers: None,
        }))
    }

    async fn observe_more(
        &self,
        engine: &Engine,
        o: &mut Observed,
        read: Read,
    ) -> Result<(), PassError> {
        match read {
            // The list call does not return tags; Describe does.
            Read::Described { region, arn } => {
                o.described = Some(
                    engine
                        .connect
                        .describe_traffic_distribution_group(&region, &arn, Priority::Normal)
                        .await?,
                );
            }
            Read::Numbers { region } => {
                o.numbers = Some(
                    engine
                        .connect
                        .list_phone_numbers(&region, Priority::Normal)
                        .await?,
                );
            }
        }
        Ok(())
    }

    fn plan(
        &self,
        engine: &Engine,
        desired: &DesiredGroup,
        o: &Observed,
        previous: &TrafficDistributionGroupStatus,
        _withheld: bool,
        _now: Timestamp,
    ) -> Planned<Plan, Read> {
        let owner = owner_of(self);
        let was_settled = self.status.as_ref().is_some_and(|s| {
            settled(
                self.metadata.generation,
                s.observed_generation,
                &s.conditions,
            )
        });
        let facts = group_pass::Facts {
            obj: self,
            desired,
            placement: &o.placement,
            groups: &o.groups,
            served: &o.served,
            owner: &owner,
            described: o.described.as_ref(),
            numbers: o.numbers.as_deref(),
            was_settled,
            resync: engine.resync,
        };
        match group_pass::decide(&facts, previous) {
            Decided::Read(r) => Planned::Read(r),
            Decided::Plan(p) => Planned::Final(*p),
        }
    }

    fn planned_calls(plan: &Plan) -> Vec<String> {
        plan.writes.iter().map(Write::describe).collect()
    }

    fn status_step(plan: &Plan) -> (TrafficDistributionGroupStatus, Vec<Note>, Ending) {
        (plan.status.clone(), plan.notes.clone(), plan.ending.clone())
    }

    async fn execute(
        &self,
        engine: &Engine,
        _: &dyn Objects,
        plan: &Plan,
        status: &mut TrafficDistributionGroupStatus,
        notes: &mut Vec<Note>,
        _now: Timestamp,
    ) -> Result<Option<Ending>, PassError> {
        let connect = &engine.connect;
        let uid = self.uid().unwrap_or_default();
        let mut tags_written = false;
        for w in &plan.writes {
            match w {
                Write::Claim {
                    region, arn, owner, ..
                } => {
                    let tag = [(crate::plan::group::OWNER_TAG.to_string(), owner.clone())].into();
                    connect.tag_resource(region, arn, &tag).await?;
                }
                Write::Create {
                    region,
                    request,
                    placement,
                } => {
                    let mut req = request.clone();
                    req.client_token = client_token(&uid, "create-group");
                    let id = connect
                        .create_traffic_distribution_group(region, &req)
                        .await?;
                    let owner = owner_of(self);
                    group_pass::created(
                        status, notes, &id.id, &id.arn, placement, &req.name, &owner,
                    );
                    continue;
                }
                Write::Number {
                    region,
                    phone_id,
                    number,
                    target,
                    into,
                    ..
                } => {
                    let purpose = if *into { "number-in" } else { "number-out" };
                    let token = client_token(&uid, &format!("{purpose}/{number}"));
                    connect
                        .update_phone_number(region, phone_id, target, &token)
                        .await?;
                }
                Write::Tag { region, arn, tags } => {
                    connect.tag_resource(region, arn, tags).await?;
                    tags_written = true;
                }
                Write::Untag { region, arn, keys } => {
                    connect.untag_resource(region, arn, keys).await?;
                    tags_written = true;
                }
            }
            group_pass::landed(status, notes, w);
        }
        if tags_written && let Some(t) = &plan.tags_landed {
            status.managed_tags = t.managed_tags.clone();
            if t.drift {
                crate::metrics::drift("TrafficDistributionGroup", "tags");
            }
            notes.push(t.note.clone());
        }
        Ok(None)
    }
}

pub async fn apply(
    engine: &Engine,
    obj: &TrafficDistributionGroup,
    objects: &dyn Objects,
    now: Timestamp,
) -> Pass<TrafficDistributionGroupStatus> {
    super::steps::run(engine, objects, obj, now).await
}

/// On deletion: `Retain` (and the default group, which cannot be deleted, G5) only releases;
/// `Delete` moves every number back to the instance, then deletes and waits until it is gone.
/// `Ok(None)` = done; `Ok(Some(message))` = not yet.
pub async fn cleanup(
    engine: &Engine,
    obj: &TrafficDistributionGroup,
    _objects: &dyn Objects,
) -> Result<Option<String>, PassError> {
    let st = obj.status.clone().unwrap_or_default();
    if obj.spec.deletion_policy == DeletionPolicy::Retain
        || obj.spec.default
        || st.is_default == Some(true)
    {
        return Ok(None);
    }
    let (Some(arn), Some(region)) = (st.arn.clone(), st.source_region.clone()) else {
        return Ok(None); // never created
    };
    let instance_arn = st.instance_arn.clone().unwrap_or_default();
    let g = match engine
        .connect
        .describe_traffic_distribution_group(&region, &arn, Priority::Urgent)
        .await
    {
        Ok(g) => g,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match g.status.as_str() {
        "PENDING_DELETION" => return Ok(Some("deletion in progress".into())),
        "DELETION_FAILED" => {
            return Err(ConnectError::Transient(
                "Connect reports DELETION_FAILED; retrying".into(),
            )
            .into());
        }
        _ => {}
    }
    let claimed = engine
        .connect
        .list_phone_numbers(&region, Priority::Urgent)
        .await?;
    for (id, n) in numbers_in_group(&g.arn, &claimed) {
        let token = client_token(&obj.uid().unwrap_or_default(), &format!("release/{n}"));
        let target = if instance_arn.is_empty() {
            arn_in_region(&g.instance_arn, &region)
        } else {
            instance_arn.clone()
        };
        engine
            .connect
            .update_phone_number(&region, &id, &target, &token)
            .await?;
    }
    match engine
        .connect
        .delete_traffic_distribution_group(&region, &arn)
        .await
    {
        Ok(()) => Ok(Some("deletion requested".into())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}
