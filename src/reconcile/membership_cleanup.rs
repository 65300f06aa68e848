//! AgentMembership deletion (the finalizer step), failing closed (issue 25): agents come out of
//! the group only through an ACTIVE group; a group that exists but is busy (UPDATE_IN_PROGRESS
//! after a split change) holds the finalizer, and only a group Connect reports as gone lets go.

use std::collections::BTreeSet;

use kube::ResourceExt;

use super::membership::{declared_by_others, desired_of, resolve_agents, run_batch};
use super::*;
use crate::api::{AgentMembership, DeletionPolicy};
use crate::connect::Priority;
use crate::plan::membership::release;

/// Finalizer step. Retain: nothing to do. Delete: disassociate the agents this membership declares
/// that no other (live) membership of the group declares, one batch window at a time; Some(why)
/// while some remain. A failed read (the group, the other memberships) is an error: the finalizer
/// stays and the step is retried, never skipped.
pub async fn cleanup(
    engine: &Engine,
    obj: &AgentMembership,
    objects: &dyn Objects,
) -> Result<Option<String>, PassError> {
    if obj.spec.deletion_policy == DeletionPolicy::Retain {
        return Ok(None);
    }
    let ns = obj.namespace().unwrap_or_default();
    let name = &obj.spec.group_ref.name;
    let Ok(group) = resolve_group(objects, &ns, name).await? else {
        return group_not_active(engine, objects, &ns, name).await;
    };
    let order = [group.source_region.clone(), group.replica_region.clone()];
    // The group object may still say ACTIVE while Connect updates the group.
    if let Some(out) = unless_active(engine, &group.arn, &order).await? {
        return Ok(out);
    }
    let mine = resolve_agents(
        engine,
        &group,
        &desired_of(obj),
        Priority::Normal,
        std::time::Duration::ZERO,
    )
    .await?;
    let kept = declared_by_others(engine, obj, objects, &group, engine.resync / 2).await?;
    let declared: BTreeSet<String> = mine.ids.into_keys().collect();
    engine
        .ensure_members(&group.source_region, &group.arn)
        .await?;
    let to_release = engine.with_members(&group.arn, |current| release(&declared, &kept, current));
    if to_release.is_empty() {
        return Ok(None);
    }
    let total = to_release.len();
    let batch = run_batch(
        engine,
        &group,
        to_release.into_iter().map(|id| (false, id)).collect(),
    )
    .await;
    if batch.leaves_not_found > 0
        && let Some(out) = unless_active(engine, &group.arn, &order).await?
    {
        // The NotFound answers came from a group that is not ACTIVE: they prove nothing.
        engine.forget_members(&group.arn);
        return Ok(out);
    }
    if let Some(e) = batch.first_error
        && batch.removed == 0
    {
        return Err(e.into());
    }
    let left = total - batch.removed;
    Ok((left > 0).then(|| format!("removing agents from the group: {left} of {total} left")))
}

/// Cleanup while the group is not ACTIVE: the group object is gone (with its members, under
/// deletionPolicy Delete) or never got an ARN: nothing to take agents out of. Otherwise Connect
/// is asked: only a group that is really gone lets the membership go
/// (`plan::membership::release_while_not_active`).
async fn group_not_active(
    engine: &Engine,
    objects: &dyn Objects,
    ns: &str,
    name: &str,
) -> Result<Option<String>, PassError> {
    let Some(st) = objects.group(ns, name).await?.and_then(|g| g.status) else {
        return Ok(None);
    };
    let Some(arn) = st.arn.as_deref() else {
        return Ok(None);
    };
    let regions: Vec<String> = [st.source_region.clone(), st.replica_region.clone()]
        .into_iter()
        .flatten()
        .collect();
    let Some(first) = regions.first() else {
        return Ok(None);
    };
    let order = [first.clone(), regions.last().unwrap_or(first).clone()];
    match unless_active(engine, arn, &order).await? {
        Some(out) => Ok(out),
        // ACTIVE in Connect, not yet on the group object: the agents go out on the next pass.
        None => Ok(Some(
            "the group is ACTIVE again; its agents are taken out once its object says so".into(),
        )),
    }
}

/// What Connect says of the group on a cleanup: `None` when it is ACTIVE (agents can be taken
/// out); otherwise `Some` of what the cleanup comes to
/// (`plan::membership::release_while_not_active`): released when it is gone, held while busy.
async fn unless_active(
    engine: &Engine,
    arn: &str,
    order: &[String; 2],
) -> Result<Option<Option<String>>, PassError> {
    let connect = &engine.connect;
    let read =
        super::fallback::in_either(&engine.health, order, Priority::Normal, |r| async move {
            connect
                .describe_traffic_distribution_group(&r, arn, Priority::Normal)
                .await
        })
        .await;
    if let Ok((info, _)) = &read
        && info.status == "ACTIVE"
    {
        return Ok(None);
    }
    let read = read.as_ref().map(|(info, _)| info.status.as_str());
    Ok(Some(crate::plan::membership::release_while_not_active(
        read,
    )?))
}
