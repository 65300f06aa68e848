//! TrafficDistributionGroup: create in the source region (or adopt the default group), wait for
//! ACTIVE, keep the declared phone numbers in it; on deletion honour deletionPolicy.

use std::collections::BTreeSet;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::fallback::in_either;
use super::*;
use crate::api::{DeletionPolicy, TrafficDistributionGroupStatus, reasons};
use crate::connect::{CreateGroup, GroupInfo, Priority, arn_in_region, arn_region, instance_id_of};
use crate::plan::group::{
    DesiredGroup, Lifecycle, NumberPlan, OWNER_TAG, Ownership, find, hold_taken, lifecycle,
    numbers, numbers_in_group, owner_value, ownership, tags,
};

/// The instance and both regions a group lives in.
#[derive(Debug, Clone)]
pub struct Placement {
    pub instance_id: String,
    pub source_region: String,
    pub replica_region: String,
}

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
) -> Pass<TrafficDistributionGroupStatus> {
    let mut status = obj.status.clone().unwrap_or_default();
    let mut notes = Vec::new();
    let result = steps(engine, obj, objects, &mut status, &mut notes).await;
    Pass {
        status,
        notes,
        result,
    }
}

async fn steps(
    engine: &Engine,
    obj: &TrafficDistributionGroup,
    objects: &dyn Objects,
    status: &mut TrafficDistributionGroupStatus,
    notes: &mut Vec<Note>,
) -> Result<Ending, PassError> {
    let p = match placement(engine, obj, objects).await? {
        Ok(p) => p,
        Err(wait) => return Ok(wait),
    };
    let d = desired(obj);
    // Groups are listed and described from either region (G3); only the source region creates
    // them and moves numbers, so with the source down this pass observes and records.
    let regions = [p.source_region.clone(), p.replica_region.clone()];
    let (groups, served) = in_either(&engine.health, &regions, Priority::Normal, |r| {
        let id = p.instance_id.clone();
        async move {
            engine
                .connect
                .list_traffic_distribution_groups(&r, &id, Priority::Normal)
                .await
        }
    })
    .await?;
    let found = find(&d, status.id.as_deref(), &groups).cloned();
    if let Some(g) = &found {
        if let Some(stall) = claim(engine, obj, &served, g, status, notes).await? {
            return Ok(stall);
        }
        record(status, g, &p);
    }
    if served != p.source_region {
        return Ok(source_down(&d, found.as_ref(), &p));
    }
    let g = match lifecycle(&d, found.as_ref()) {
        Lifecycle::Create => return create(engine, obj, &d, &p, status, notes).await,
        Lifecycle::WaitForDefault => {
            return Ok(Ending::wait(
                reasons::WAITING_FOR_DEFAULT_GROUP,
                "the default group does not exist yet (ReplicateInstance creates it, rule R5)",
            ));
        }
        Lifecycle::Wait { status: s } => {
            return Ok(Ending::wait(
                reasons::GROUP_NOT_ACTIVE,
                format!("group is {s} (rule G2)"),
            ));
        }
        Lifecycle::Failed { status: s } => {
            return Ok(Ending::new(
                Verdict::stalled(
                    reasons::GROUP_FAILED,
                    format!("Connect reports the group as {s}"),
                ),
                engine.resync,
            ));
        }
        Lifecycle::Active => match found {
            Some(g) => g,
            // Not expected (Active comes from a group found); never a panic on Connect's data.
            None => {
                return Ok(Ending::wait(
                    reasons::WAITING,
                    "the group was reported ACTIVE but not found; looking again",
                ));
            }
        },
    };
    let default_groups: BTreeSet<String> = groups
        .iter()
        .filter(|x| x.is_default)
        .map(|x| x.arn.clone())
        .collect();
    let plan = move_numbers(engine, obj, &d, &p, &g, &default_groups, status, notes).await?;
    sync_tags(engine, obj, &p, &g, status, notes).await?;
    let verdict = crate::plan::group::verdict(&plan, &d.name, &p.source_region, &p.replica_region);
    let requeue = if plan.move_in.is_empty() && plan.move_out.is_empty() {
        engine.resync
    } else {
        PROGRESS_REQUEUE
    };
    Ok(Ending::new(verdict, requeue))
}

/// The source region does not answer: the group's identity is recorded (a failover through the
/// replica needs nothing more), creating it and moving numbers wait for the source region.
fn source_down(d: &DesiredGroup, found: Option<&GroupInfo>, p: &Placement) -> Ending {
    let message = match found {
        Some(g) => format!(
            "group {} is {} (read through {}); phone numbers are checked once {} answers",
            d.name, g.status, p.replica_region, p.source_region
        ),
        None => format!(
            "group {} does not exist and can be created only in {}, which does not answer",
            d.name, p.source_region
        ),
    };
    Ending::new(
        Verdict::progressing(reasons::SOURCE_REGION_UNAVAILABLE, message),
        std::time::Duration::from_secs(30),
    )
}

fn owner_of(obj: &TrafficDistributionGroup) -> String {
    owner_value(
        &obj.namespace().unwrap_or_default(),
        &obj.name_any(),
        &obj.uid().unwrap_or_default(),
    )
}

/// Ownership, checked once per group: a group this object does not record yet (found by name,
/// or the default group) is managed only if it carries this object's owner tag, or carries none
/// and may be adopted (`adopt: true`, or `default: true` for the default group); it is then
/// tagged. A group recorded in status from before ownership tags counts as this object's and is
/// tagged. `Some(ending)`: not ours, stall.
async fn claim(
    engine: &Engine,
    obj: &TrafficDistributionGroup,
    region: &str,
    g: &GroupInfo,
    status: &mut TrafficDistributionGroupStatus,
    notes: &mut Vec<Note>,
) -> Result<Option<Ending>, PassError> {
    let me = owner_of(obj);
    let recorded = status.id.as_deref() == Some(g.id.as_str());
    if recorded && status.owner.is_some() {
        return Ok(None);
    }
    let described = engine
        .connect
        .describe_traffic_distribution_group(region, &g.arn, Priority::Normal)
        .await?;
    let may_adopt = recorded || obj.spec.adopt || (obj.spec.default && g.is_default);
    match ownership(&described.tags, &me, may_adopt) {
        Ownership::Ours => {}
        Ownership::Claim => {
            let tag = [(OWNER_TAG.to_string(), me.clone())].into();
            engine.connect.tag_resource(region, &g.arn, &tag).await?;
            if !recorded {
                notes.push(Note::normal(
                    reasons::ADOPTED,
                    format!("group {} ({}) is now managed by this object", g.name, g.arn),
                ));
            }
        }
        Ownership::Foreign(other) => {
            return Ok(Some(Ending::new(
                Verdict::stalled(
                    reasons::ALREADY_EXISTS,
                    format!(
                        "group {} ({}) is managed by {other} (tag {OWNER_TAG}); two objects never manage one group",
                        g.name, g.arn
                    ),
                ),
                engine.resync,
            )));
        }
        Ownership::Unowned => {
            return Ok(Some(Ending::new(
                Verdict::stalled(
                    reasons::ALREADY_EXISTS,
                    format!(
                        "group {} ({}) exists and was not created by connect-gr; set spec.adopt: true to manage it",
                        g.name, g.arn
                    ),
                ),
                engine.resync,
            )));
        }
    }
    status.owner = Some(me);
    Ok(None)
}

/// CreateTrafficDistributionGroup (idempotent by a token from the UID); the identity goes into
/// status at once.
async fn create(
    engine: &Engine,
    obj: &TrafficDistributionGroup,
    d: &DesiredGroup,
    p: &Placement,
    status: &mut TrafficDistributionGroupStatus,
    notes: &mut Vec<Note>,
) -> Result<Ending, PassError> {
    let owner = owner_of(obj);
    let mut tags = obj.spec.tags.clone();
    tags.insert(OWNER_TAG.to_string(), owner.clone());
    let req = CreateGroup {
        instance_id: p.instance_id.clone(),
        name: d.name.clone(),
        description: obj.spec.description.clone(),
        tags,
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
    status.owner = Some(owner);
    notes.push(Note::normal(
        reasons::CREATED,
        format!(
            "CreateTrafficDistributionGroup {} in {}",
            d.name, p.source_region
        ),
    ));
    Ok(Ending::wait(
        reasons::CREATING,
        format!("creating traffic distribution group {}", d.name),
    ))
}

/// Declared numbers into the group, numbers the controller put there and no longer declared back
/// to the instance. Each move is recorded in `status.managedPhoneNumbers` as soon as Connect
/// accepted it, so a later failure in the same pass does not lose it.
#[allow(clippy::too_many_arguments)]
async fn move_numbers(
    engine: &Engine,
    obj: &TrafficDistributionGroup,
    d: &DesiredGroup,
    p: &Placement,
    g: &GroupInfo,
    default_groups: &BTreeSet<String>,
    status: &mut TrafficDistributionGroupStatus,
    notes: &mut Vec<Note>,
) -> Result<NumberPlan, PassError> {
    let claimed = engine
        .connect
        .list_phone_numbers(&p.source_region, Priority::Normal)
        .await?;
    let managed: BTreeSet<String> = status.managed_phone_numbers.iter().cloned().collect();
    let plan = hold_taken(
        numbers(&d.phone_numbers, &managed, &g.arn, &claimed),
        &claimed,
        default_groups,
        obj.spec.adopt,
    );
    let uid = obj.uid().unwrap_or_default();
    for (id, n) in &plan.move_in {
        let token = client_token(&uid, &format!("number-in/{n}"));
        engine
            .connect
            .update_phone_number(&p.source_region, id, &g.arn, &token)
            .await?;
        set_managed(status, n, true);
        notes.push(Note::normal(
            reasons::PHONE_NUMBER_ADDED,
            format!("{n} moved into group {}", d.name),
        ));
    }
    for (id, n) in &plan.move_out {
        let token = client_token(&uid, &format!("number-out/{n}"));
        engine
            .connect
            .update_phone_number(&p.source_region, id, &g.instance_arn, &token)
            .await?;
        set_managed(status, n, false);
        notes.push(Note::normal(
            reasons::PHONE_NUMBER_REMOVED,
            format!("{n} moved back to the instance"),
        ));
    }
    Ok(plan)
}

fn set_managed(status: &mut TrafficDistributionGroupStatus, number: &str, managed: bool) {
    let list = &mut status.managed_phone_numbers;
    list.retain(|n| n != number);
    if managed {
        list.push(number.to_string());
        list.sort();
    }
}

/// Declared tags set, tags the controller set and no longer declared removed, person-added tags
/// kept. The list call does not return tags; Describe does. Nothing declared and nothing set
/// before: nothing to compare, so no call.
async fn sync_tags(
    engine: &Engine,
    obj: &TrafficDistributionGroup,
    p: &Placement,
    g: &GroupInfo,
    status: &mut TrafficDistributionGroupStatus,
    notes: &mut Vec<Note>,
) -> Result<(), PassError> {
    if obj.spec.tags.is_empty() && status.managed_tags.is_empty() {
        return Ok(());
    }
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
    if tag_plan.is_empty() {
        return Ok(());
    }
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
            reasons::DRIFT_CORRECTED,
            format!(
                "tags changed outside the controller restored: {}",
                keys.join(", ")
            ),
        ));
    } else {
        notes.push(Note::normal(
            reasons::TAGS_UPDATED,
            format!("tags set or removed: {}", keys.join(", ")),
        ));
    }
    Ok(())
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
