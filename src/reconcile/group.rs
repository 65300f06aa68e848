//! TrafficDistributionGroup: create in the source region (or adopt the default group), wait for
//! ACTIVE, keep the declared phone numbers in it; on deletion honour deletionPolicy.

use std::collections::BTreeSet;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::*;
use crate::api::{DeletionPolicy, TrafficDistributionGroupStatus};
use crate::connect::{
    ConnectResult, CreateGroup, GroupInfo, Priority, arn_in_region, arn_region, instance_id_of,
};
use crate::plan::group::{
    DesiredGroup, Lifecycle, find, lifecycle, numbers, numbers_in_group, tags,
};

/// The instance and both regions a group lives in.
#[derive(Debug, Clone)]
pub struct Placement {
    pub instance_id: String,
    pub source_region: String,
    pub replica_region: String,
}

async fn placement(
    engine: &Engine,
    obj: &TrafficDistributionGroup,
    objects: &dyn Objects,
) -> ConnectResult<Result<Placement, Verdict>> {
    let ns = obj.namespace().unwrap_or_default();
    if let Some(r) = &obj.spec.replica_ref {
        let Some(rep) = objects.replica(&ns, &r.name).await else {
            return Ok(Err(Verdict::Progressing {
                reason: "ReplicaNotFound".into(),
                message: format!(
                    "InstanceReplica {} does not exist in namespace {ns} yet",
                    r.name
                ),
            }));
        };
        let ready = rep
            .status
            .as_ref()
            .is_some_and(|s| conditions::is_true(&s.conditions, conditions::READY));
        if !ready {
            return Ok(Err(Verdict::Progressing {
                reason: "WaitingForReplica".into(),
                message: format!(
                    "InstanceReplica {} is not Ready yet (rule G1: groups need a replicated instance)",
                    r.name
                ),
            }));
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
        return Ok(Err(Verdict::Progressing {
            reason: "InstanceNotReplicated".into(),
            message: format!("instance {instance_id} has no replica yet (rule G1)"),
        }));
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

fn record(status: &mut TrafficDistributionGroupStatus, g: &GroupInfo, p: &Placement) {
    status.id = Some(g.id.clone());
    status.arn = Some(g.arn.clone());
    status.region = Some(p.source_region.clone());
    status.status = Some(g.status.clone());
    status.is_default = Some(g.is_default);
    status.instance_arn = Some(g.instance_arn.clone());
    status.source_region = Some(p.source_region.clone());
    status.replica_region = Some(p.replica_region.clone());
}

pub async fn apply(
    engine: &Engine,
    obj: &TrafficDistributionGroup,
    objects: &dyn Objects,
    _now: Timestamp,
) -> ConnectResult<Outcome<TrafficDistributionGroupStatus>> {
    let mut status = obj.status.clone().unwrap_or_default();
    let mut notes = Vec::new();
    let p = match placement(engine, obj, objects).await? {
        Ok(p) => p,
        Err(verdict) => {
            return Ok(Outcome {
                status,
                verdict,
                requeue: PROGRESS_REQUEUE,
                notes,
            });
        }
    };
    let d = desired(obj);
    let groups = engine
        .connect
        .list_traffic_distribution_groups(&p.source_region, &p.instance_id, Priority::Normal)
        .await?;
    let found = find(&d, status.id.as_deref(), &groups).cloned();
    if let Some(g) = &found {
        record(&mut status, g, &p);
    }
    let wait = |reason: &str, message: String, status| Outcome {
        status,
        verdict: Verdict::Progressing {
            reason: reason.into(),
            message,
        },
        requeue: PROGRESS_REQUEUE,
        notes: Vec::new(),
    };
    match lifecycle(&d, found.as_ref()) {
        Lifecycle::Create => {
            let req = CreateGroup {
                instance_id: p.instance_id.clone(),
                name: d.name.clone(),
                description: obj.spec.description.clone(),
                tags: obj.spec.tags.clone(),
                client_token: client_token(&obj.uid().unwrap_or_default(), "create-group"),
            };
            let id = engine
                .connect
                .create_traffic_distribution_group(&p.source_region, &req)
                .await?;
            status.id = Some(id.id.clone());
            status.arn = Some(id.arn.clone());
            status.source_region = Some(p.source_region.clone());
            status.replica_region = Some(p.replica_region.clone());
            status.region = Some(p.source_region.clone());
            status.status = Some("CREATION_IN_PROGRESS".into());
            let mut out = wait(
                "Creating",
                format!("creating traffic distribution group {}", d.name),
                status,
            );
            out.notes.push(Note::normal(
                "Created",
                format!(
                    "CreateTrafficDistributionGroup {} in {}",
                    d.name, p.source_region
                ),
            ));
            return Ok(out);
        }
        Lifecycle::WaitForDefault => {
            return Ok(wait(
                "WaitingForDefaultGroup",
                "the default group does not exist yet (ReplicateInstance creates it, rule R5)"
                    .into(),
                status,
            ));
        }
        Lifecycle::Wait { status: s } => {
            return Ok(wait(
                "GroupNotActive",
                format!("group is {s} (rule G2)"),
                status,
            ));
        }
        Lifecycle::Failed { status: s } => {
            notes.push(Note::warning("GroupFailed", format!("group is {s}")));
            return Ok(Outcome {
                status,
                verdict: Verdict::Stalled {
                    reason: "GroupFailed".into(),
                    message: format!("Connect reports the group as {s}"),
                },
                requeue: engine.resync,
                notes,
            });
        }
        Lifecycle::Active => {}
    }
    let g = found.expect("active group found");
    let claimed = engine
        .connect
        .list_phone_numbers(&p.source_region, Priority::Normal)
        .await?;
    let mut managed: BTreeSet<String> = status.managed_phone_numbers.iter().cloned().collect();
    let plan = numbers(&d.phone_numbers, &managed, &g.arn, &claimed);
    let instance_arn = g.instance_arn.clone();
    for (id, n) in &plan.move_in {
        let token = client_token(&obj.uid().unwrap_or_default(), &format!("number-in/{n}"));
        engine
            .connect
            .update_phone_number(&p.source_region, id, &g.arn, &token)
            .await?;
        managed.insert(n.clone());
        notes.push(Note::normal(
            "PhoneNumberAdded",
            format!("{n} moved into group {}", d.name),
        ));
    }
    for (id, n) in &plan.move_out {
        let token = client_token(&obj.uid().unwrap_or_default(), &format!("number-out/{n}"));
        engine
            .connect
            .update_phone_number(&p.source_region, id, &instance_arn, &token)
            .await?;
        managed.remove(n);
        notes.push(Note::normal(
            "PhoneNumberRemoved",
            format!("{n} moved back to the instance"),
        ));
    }
    status.managed_phone_numbers = managed.into_iter().collect();

    // Tags: the list call does not return them; Describe does. Nothing declared and nothing set
    // before: nothing to compare, so no call.
    if !obj.spec.tags.is_empty() || !status.managed_tags.is_empty() {
        let described = engine
            .connect
            .describe_traffic_distribution_group(&p.source_region, &g.arn, Priority::Normal)
            .await?;
        let managed_tags: BTreeSet<String> = status.managed_tags.iter().cloned().collect();
        let tag_plan = tags(&obj.spec.tags, &managed_tags, &described.tags);
        if !tag_plan.set.is_empty() {
            engine
                .connect
                .tag_resource(&p.source_region, &g.arn, &tag_plan.set)
                .await?;
        }
        if !tag_plan.remove.is_empty() {
            engine
                .connect
                .untag_resource(&p.source_region, &g.arn, &tag_plan.remove)
                .await?;
        }
        status.managed_tags = obj.spec.tags.keys().cloned().collect();
        if !tag_plan.is_empty() {
            let keys: Vec<&str> = tag_plan
                .set
                .keys()
                .chain(tag_plan.remove.iter())
                .map(String::as_str)
                .collect();
            let was_settled = obj.status.as_ref().is_some_and(|s| {
                settled(
                    obj.metadata.generation,
                    s.observed_generation,
                    &s.conditions,
                )
            });
            if was_settled {
                crate::metrics::drift("TrafficDistributionGroup", "tags");
                notes.push(Note::warning(
                    "DriftCorrected",
                    format!(
                        "tags changed outside the controller restored: {}",
                        keys.join(", ")
                    ),
                ));
            } else {
                notes.push(Note::normal(
                    "TagsUpdated",
                    format!("tags set or removed: {}", keys.join(", ")),
                ));
            }
        }
    }

    let verdict = if !plan.missing.is_empty() {
        Verdict::Stalled {
            reason: "PhoneNumberNotClaimed".into(),
            message: format!(
                "phone numbers not claimed in {}: {} (rule G6: claim them in the source region first)",
                p.source_region,
                plan.missing.join(", ")
            ),
        }
    } else {
        Verdict::Ready(format!(
            "group {} is ACTIVE in {} and {}",
            d.name, p.source_region, p.replica_region
        ))
    };
    let requeue = if plan.move_in.is_empty() && plan.move_out.is_empty() {
        engine.resync
    } else {
        PROGRESS_REQUEUE
    };
    Ok(Outcome {
        status,
        verdict,
        requeue,
        notes,
    })
}

/// On deletion: `Retain` (and the default group, which cannot be deleted, G5) only releases;
/// `Delete` moves every number back to the instance, then deletes and waits until it is gone.
/// `Ok(None)` = done; `Ok(Some(message))` = not yet.
pub async fn cleanup(
    engine: &Engine,
    obj: &TrafficDistributionGroup,
) -> ConnectResult<Option<String>> {
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
        Err(e) => return Err(e),
    };
    match g.status.as_str() {
        "PENDING_DELETION" => return Ok(Some("deletion in progress".into())),
        "DELETION_FAILED" => {
            return Err(ConnectError::Transient(
                "Connect reports DELETION_FAILED; retrying".into(),
            ));
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
        Err(e) => Err(e),
    }
}
