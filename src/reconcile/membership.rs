//! AgentMembership: resolve usernames and selectors cheaply (ListUsers / SearchUsers), diff
//! against the group's members, associate and (Exact) disassociate as a rate-limited batch whose
//! progress is written to status between windows.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::*;
use crate::api::{
    AgentMembership, AgentMembershipStatus, DeletionPolicy, MembershipMode, common::STATUS_LIST_CAP,
};
use crate::connect::{ConnectResult, Priority};
use crate::plan::membership::{DesiredAgents, Mode, Resolution, diff, release, resolve};
use crate::plan::sweep::Write;

/// How many association calls are in flight at once (the scheduler paces them).
const CONCURRENCY: usize = 8;

fn cap(mut v: Vec<String>) -> Vec<String> {
    v.truncate(STATUS_LIST_CAP);
    v
}

fn desired_of(obj: &AgentMembership) -> DesiredAgents {
    let sel = obj.spec.selector.clone().unwrap_or_default();
    DesiredAgents {
        users: obj.spec.users.clone(),
        routing_profiles: sel.routing_profiles,
        hierarchy_groups: sel.hierarchy_groups,
        tags: sel.tags,
    }
}

/// Declared usernames and selectors -> user ids of the source instance.
async fn resolve_agents(
    engine: &Engine,
    group: &GroupRef,
    want: &DesiredAgents,
    priority: Priority,
    users_max_age: std::time::Duration,
) -> ConnectResult<Resolution> {
    let users = engine
        .instance_users(
            &group.source_region,
            &group.instance_id,
            want.has_selector(),
            priority,
            users_max_age,
        )
        .await?;
    let (rps, hgs) = if want.has_selector() {
        (
            engine
                .connect
                .list_routing_profiles(&group.source_region, &group.instance_id)
                .await?,
            engine
                .connect
                .list_hierarchy_groups(&group.source_region, &group.instance_id)
                .await?,
        )
    } else {
        (vec![], vec![])
    };
    Ok(resolve(want, &users, &rps, &hgs))
}

/// What one batch window of association calls did.
struct Batch {
    added: usize,
    removed: usize,
    /// Associations Connect answered NotFound (A2: not a user of both regions yet).
    not_found: Vec<String>,
    first_error: Option<ConnectError>,
}

/// Runs (associate?, user id) calls at bulk priority, several in flight (the scheduler paces
/// them), until done or the batch window closes; records each success in the members cache.
async fn run_batch(engine: &Engine, group: &GroupRef, calls: Vec<(bool, String)>) -> Batch {
    let deadline = tokio::time::Instant::now() + engine.batch_window;
    let mut batch = Batch {
        added: 0,
        removed: 0,
        not_found: Vec::new(),
        first_error: None,
    };
    let mut stream = futures::stream::iter(calls.into_iter().map(|(assoc, id)| async move {
        if tokio::time::Instant::now() >= deadline {
            return (assoc, id, None);
        }
        let (region, arn, instance) = (&group.source_region, &group.arn, &group.instance_id);
        let r = if assoc {
            engine
                .connect
                .associate_group_user(region, arn, instance, &id)
                .await
        } else {
            engine
                .connect
                .disassociate_group_user(region, arn, instance, &id)
                .await
        };
        (assoc, id, Some(r))
    }))
    .buffer_unordered(CONCURRENCY);
    while let Some((assoc, id, r)) = stream.next().await {
        match r {
            None => {}
            Some(Ok(())) if assoc => {
                batch.added += 1;
                engine.record_write(&group.arn, Write::Associated(id));
            }
            Some(Ok(())) => {
                batch.removed += 1;
                engine.record_write(&group.arn, Write::Disassociated(id));
            }
            Some(Err(ConnectError::NotFound(_))) if assoc => batch.not_found.push(id),
            // Not a member (any more): the goal of a disassociation is met.
            Some(Err(ConnectError::NotFound(_))) => {
                engine.record_write(&group.arn, Write::Disassociated(id));
            }
            Some(Err(e)) if batch.first_error.is_none() => batch.first_error = Some(e),
            Some(Err(_)) => {}
        }
    }
    batch
}

pub async fn apply(
    engine: &Engine,
    obj: &AgentMembership,
    objects: &dyn Objects,
    _now: Timestamp,
) -> ConnectResult<Outcome<AgentMembershipStatus>> {
    let mut status = obj.status.clone().unwrap_or_default();
    let ns = obj.namespace().unwrap_or_default();
    let group = match resolve_group(objects, &ns, &obj.spec.group_ref.name).await {
        Ok(g) => g,
        Err(verdict) => {
            return Ok(Outcome {
                status,
                verdict,
                requeue: PROGRESS_REQUEUE,
                notes: vec![],
            });
        }
    };
    status.group_arn = Some(group.arn.clone());
    status.arn = Some(group.arn.clone());
    status.id = Some(group.id.clone());
    status.region = Some(group.source_region.clone());

    // A pass over a Ready object whose spec was already applied is a drift check: its reads go
    // at background priority (within the budget) and reuse what other memberships just read.
    let drift_check = settled(
        obj.metadata.generation,
        status.observed_generation,
        &status.conditions,
    );
    let (read_priority, users_max_age) = if drift_check {
        (Priority::Background, engine.resync / 2)
    } else {
        (Priority::Normal, std::time::Duration::ZERO)
    };

    // A1/G2: associations need an ACTIVE group; otherwise every call would answer NotFound.
    let info = engine
        .connect
        .describe_traffic_distribution_group(&group.source_region, &group.arn, read_priority)
        .await?;
    if info.status != "ACTIVE" {
        return Ok(Outcome {
            status,
            verdict: Verdict::Progressing {
                reason: "GroupNotActive".into(),
                message: format!("group is {} (rule A1)", info.status),
            },
            requeue: std::time::Duration::from_secs(1),
            notes: vec![],
        });
    }
    let want = desired_of(obj);
    let resolution = resolve_agents(engine, &group, &want, read_priority, users_max_age).await?;
    // A2: a user not mirrored to the replica yet cannot be associated: pending, no call.
    let replica_users = engine
        .instance_users(
            &group.replica_region,
            &group.instance_id,
            false,
            read_priority,
            users_max_age,
        )
        .await?;
    let replica_ids: std::collections::HashSet<&str> =
        replica_users.iter().map(|u| u.id.as_str()).collect();
    let (ready, pending): (BTreeMap<String, String>, BTreeMap<String, String>) = resolution
        .ids
        .clone()
        .into_iter()
        .partition(|(id, _)| replica_ids.contains(id.as_str()));
    let mut pending_names: Vec<String> = pending.values().cloned().collect();

    let sweep_eta = engine
        .ensure_members(&group.source_region, &group.arn)
        .await?;
    let mode = match obj.spec.mode {
        MembershipMode::Exact => Mode::Exact,
        MembershipMode::Additive => Mode::Additive,
    };
    let desired_ids: BTreeSet<String> = ready.keys().cloned().collect();
    let plan = engine.with_members(&group.arn, |current| diff(&desired_ids, current, mode));
    let drift = drift_check && !plan.is_empty();

    // Execute within one window, then write progress and come back.
    let calls = plan
        .disassociate
        .iter()
        .map(|id| (false, id.clone()))
        .chain(plan.associate.iter().map(|id| (true, id.clone())))
        .collect::<Vec<_>>();
    let batch = run_batch(engine, &group, calls).await;
    let (added, removed, first_error) = (batch.added, batch.removed, batch.first_error);
    // A2: not (yet) a user of the source/replica: report as pending.
    pending_names.extend(
        batch
            .not_found
            .into_iter()
            .map(|id| ready.get(&id).cloned().unwrap_or(id)),
    );

    let associated = engine.with_members(&group.arn, |members| {
        resolution
            .ids
            .keys()
            .filter(|id| members.contains(*id))
            .count()
    });
    let desired_count = resolution.ids.len();
    pending_names.sort();
    pending_names.dedup();
    let mut unknown = resolution.unknown_users.clone();
    unknown.extend(
        resolution
            .unknown_selectors
            .iter()
            .map(|s| format!("selector:{s}")),
    );
    status.desired = Some(desired_count as i32);
    status.associated_count = Some(associated as i32);
    status.associated = Some(format!("{associated}/{desired_count}"));
    status.pending_count = Some(pending_names.len() as i32);
    status.pending = cap(pending_names.clone());
    status.unknown = cap(unknown.clone());
    status.removed_count = Some(status.removed_count.unwrap_or(0) + removed as i32);

    let mut notes = Vec::new();
    if drift {
        crate::metrics::drift("AgentMembership", "members");
        notes.push(Note::warning(
            "DriftCorrected",
            format!(
                "group membership changed outside the controller: {} to add, {} to remove",
                plan.associate.len(),
                plan.disassociate.len()
            ),
        ));
    }
    if added + removed > 0 {
        notes.push(Note::normal(
            "MembershipUpdated",
            format!("associated {added}, disassociated {removed} ({associated}/{desired_count})"),
        ));
    }
    if let Some(e) = first_error {
        if e.class() != ErrorClass::Terminal && added + removed > 0 {
            // Progress was made: record it and keep going rather than backing off.
            return Ok(Outcome {
                status,
                verdict: Verdict::Progressing {
                    reason: "Associating".into(),
                    message: format!("{associated}/{desired_count} associated; retrying: {e}"),
                },
                requeue: PROGRESS_REQUEUE,
                notes,
            });
        }
        return Err(e);
    }
    let remaining = plan.associate.len() + plan.disassociate.len() - added - removed;
    let verdict = if remaining > 0 {
        Verdict::Progressing {
            reason: "Associating".into(),
            message: format!("{associated}/{desired_count} agents associated"),
        }
    } else if !unknown.is_empty() {
        Verdict::Stalled {
            reason: "UnknownUsers".into(),
            message: format!(
                "not users of instance {}: {} (rule A2)",
                group.instance_id,
                cap(unknown).join(", ")
            ),
        }
    } else if !pending_names.is_empty() {
        Verdict::Progressing {
            reason: "WaitingForReplication".into(),
            message: format!(
                "{} users not yet mirrored to {} (rule A2): {}",
                pending_names.len(),
                group.replica_region,
                cap(pending_names.clone()).join(", ")
            ),
        }
    } else {
        Verdict::Ready(format!("{associated}/{desired_count} agents associated"))
    };
    // A drift sweep in flight: look again as soon as it should be done, to act on what it found.
    let after_sweep = sweep_eta
        .map(|eta| eta.saturating_duration_since(tokio::time::Instant::now()))
        .map(|d| (d + std::time::Duration::from_millis(500)).min(engine.resync))
        .unwrap_or(engine.resync);
    let requeue = match &verdict {
        Verdict::Ready(_) | Verdict::Stalled { .. } => after_sweep,
        Verdict::Progressing { reason, .. } if reason == "WaitingForReplication" => {
            std::time::Duration::from_secs(5)
        }
        Verdict::Progressing { .. } => std::time::Duration::from_millis(200),
    };
    Ok(Outcome {
        status,
        verdict,
        requeue,
        notes,
    })
}

/// Finalizer step. Retain: nothing to do. Delete: disassociate the agents this membership declares
/// that no other (live) membership of the group declares, one batch window at a time; Some(why)
/// while some remain.
pub async fn cleanup(
    engine: &Engine,
    obj: &AgentMembership,
    objects: &dyn Objects,
) -> ConnectResult<Option<String>> {
    if obj.spec.deletion_policy == DeletionPolicy::Retain {
        return Ok(None);
    }
    let ns = obj.namespace().unwrap_or_default();
    let group_name = &obj.spec.group_ref.name;
    let Ok(group) = resolve_group(objects, &ns, group_name).await else {
        // The group object is gone (with its members, under deletionPolicy Delete) or never
        // became ready: there is no group to take agents out of.
        return Ok(None);
    };
    let mine = resolve_agents(
        engine,
        &group,
        &desired_of(obj),
        Priority::Normal,
        std::time::Duration::ZERO,
    )
    .await?;
    let mut kept = BTreeSet::new();
    for other in objects.memberships(&ns).await {
        let live = other.metadata.deletion_timestamp.is_none();
        if live && other.spec.group_ref.name == *group_name && other.uid() != obj.uid() {
            let theirs = resolve_agents(
                engine,
                &group,
                &desired_of(&other),
                Priority::Normal,
                engine.resync / 2,
            )
            .await?;
            kept.extend(theirs.ids.into_keys());
        }
    }
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
    if let Some(e) = batch.first_error
        && batch.removed == 0
    {
        return Err(e);
    }
    let left = total - batch.removed;
    Ok((left > 0).then(|| format!("removing agents from the group: {left} of {total} left")))
}
