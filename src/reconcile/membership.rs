//! AgentMembership: resolve usernames and selectors cheaply (ListUsers / SearchUsers), diff
//! against the group's members, associate and (Exact) disassociate as a rate-limited batch whose
//! progress is written to status between windows.

use std::collections::{BTreeSet, HashSet};

use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::*;
use crate::api::agent_membership::KeptMembers;
use crate::api::annotations::RESUME as RESUME_ANNOTATION;
use crate::api::{
    AgentMembership, AgentMembershipStatus, MembershipMode, common::STATUS_LIST_CAP, reasons,
};
use crate::connect::{ConnectResult, Priority};
use crate::plan::drift;
use crate::plan::membership::{
    DesiredAgents, Mode, Next, Progress, Resolution, diff, has_removal_candidates, resolve, verdict,
};
use crate::plan::sweep::Write;

/// How many association calls are in flight at once (the scheduler paces them).
const CONCURRENCY: usize = 8;

fn cap(mut v: Vec<String>) -> Vec<String> {
    v.truncate(STATUS_LIST_CAP);
    v
}

pub(super) fn desired_of(obj: &AgentMembership) -> DesiredAgents {
    let sel = obj.spec.selector.clone().unwrap_or_default();
    DesiredAgents {
        users: obj.spec.users.clone(),
        routing_profiles: sel.routing_profiles,
        hierarchy_groups: sel.hierarchy_groups,
        tags: sel.tags,
    }
}

/// Declared usernames and selectors -> user ids of the source instance.
pub(super) async fn resolve_agents(
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
pub(super) struct Batch {
    pub(super) added: usize,
    pub(super) removed: usize,
    /// Associations Connect answered NotFound (A2: not a user of both regions yet).
    pub(super) not_found: Vec<String>,
    /// Disassociations Connect answered NotFound: not a member, or the group not ACTIVE (Connect
    /// answers NotFound for both); a cleanup checks which before it lets go.
    pub(super) leaves_not_found: usize,
    pub(super) first_error: Option<ConnectError>,
}

/// One association call, unless the batch window closed (then `None`).
async fn call(
    engine: &Engine,
    group: &GroupRef,
    deadline: tokio::time::Instant,
    assoc: bool,
    id: String,
) -> (bool, String, Option<ConnectResult<()>>) {
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
}

/// Runs (associate?, user id) calls at bulk priority until done or the batch window closes;
/// records each success in the members cache. Joins and leaves are separate operations with
/// separate quota buckets (rule Q1), so they run side by side, each with several calls in flight
/// (the scheduler paces each): a mixed change takes max(joins, leaves) / rate, not the sum.
pub(super) async fn run_batch(
    engine: &Engine,
    group: &GroupRef,
    calls: Vec<(bool, String)>,
) -> Batch {
    let deadline = tokio::time::Instant::now() + engine.batch_window;
    let mut batch = Batch {
        added: 0,
        removed: 0,
        not_found: Vec::new(),
        leaves_not_found: 0,
        first_error: None,
    };
    let (joins, leaves): (Vec<_>, Vec<_>) = calls.into_iter().partition(|(assoc, _)| *assoc);
    let lane = |calls: Vec<(bool, String)>| {
        futures::stream::iter(
            calls
                .into_iter()
                .map(move |(assoc, id)| call(engine, group, deadline, assoc, id)),
        )
        .buffer_unordered(CONCURRENCY)
    };
    let mut stream = futures::stream::select(lane(leaves), lane(joins));
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
                batch.leaves_not_found += 1;
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
    now: Timestamp,
) -> Pass<AgentMembershipStatus> {
    let mut status = obj.status.clone().unwrap_or_default();
    let mut notes = Vec::new();
    let result = steps(engine, obj, objects, now, &mut status, &mut notes).await;
    crate::metrics::objects::membership(obj, &status, engine.resync);
    Pass {
        status,
        notes,
        result,
    }
}

async fn steps(
    engine: &Engine,
    obj: &AgentMembership,
    objects: &dyn Objects,
    now: Timestamp,
    status: &mut AgentMembershipStatus,
    notes: &mut Vec<Note>,
) -> Result<Ending, PassError> {
    let ns = obj.namespace().unwrap_or_default();
    let group = match resolve_group(objects, &ns, &obj.spec.group_ref.name).await? {
        Ok(g) => g,
        Err(wait) => return Ok(wait),
    };
    record_group(status, &group);
    let want = desired_of(obj);
    let seen = match observe(engine, obj, objects, &group, &want, status).await? {
        Ok(seen) => seen,
        Err(wait) => return Ok(wait),
    };
    let plan = engine.with_members(&group.arn, |current| {
        diff(
            &seen.desired_ids,
            &seen.declared_by_others,
            current,
            seen.mode,
        )
    });
    let (decision, split) = drift_decision(engine, obj, status, &group, &seen, &plan, now).await?;
    let resume = drift::resume_requested(
        obj.metadata.annotations.as_ref(),
        status.last_handled_resume.as_deref(),
    )
    .map(str::to_string);
    // What this pass sends: everything, unless a change made outside is being left alone.
    let (todo, held) = match &decision {
        drift::Decision::Report { drift, new } => {
            if *new {
                notes.push(Note::warning(
                    reasons::DRIFT_DETECTED,
                    drift.message.clone(),
                ));
            }
            (split.now.clone(), Some(drift.clone()))
        }
        drift::Decision::Correct { drift, new, .. } => {
            if *new {
                notes.push(Note::warning(
                    reasons::DRIFT_DETECTED,
                    drift.message.clone(),
                ));
            }
            (plan.clone(), None)
        }
        drift::Decision::InSync => {
            if let Some(d) = status.drift.take() {
                let why = if split.outside.is_empty() {
                    "the group's members are as the controller keeps them again"
                } else {
                    "the spec changed; it is applied"
                };
                notes.push(Note::normal(
                    reasons::DRIFT_RESOLVED,
                    format!(
                        "{why} (reported: {})",
                        drift::describe(&d.changes, d.total as usize)
                    ),
                ));
            }
            (plan.clone(), None)
        }
    };
    let batch = run_batch(engine, &group, todo.calls()).await;
    // The declared agents the controller keeps: those that are members now, those taken out by
    // hand that are being left alone (still kept: they come back when corrected), and those it
    // is taking out and has not yet (so the rest of a batch is never mistaken for drift).
    let kept: Vec<String> = engine.with_members(&group.arn, |members| {
        seen.desired_ids
            .iter()
            .filter(|id| members.contains(*id))
            .chain(todo.disassociate.iter().filter(|id| members.contains(*id)))
            .chain(held.iter().flat_map(|_| split.outside.associate.iter()))
            .cloned()
            .collect()
    });
    let (count, fingerprints) = drift::encode_kept(&kept);
    status.kept_members = Some(KeptMembers {
        count,
        fingerprints,
    });
    let failed = batch.first_error.is_some();
    match &decision {
        drift::Decision::Correct { drift, why, .. } => {
            status.drift = None;
            crate::metrics::drift("AgentMembership", "members");
            let how = match why {
                drift::Why::PauseOver => {
                    format!("after driftPauseSeconds {}", obj.spec.drift_pause_seconds)
                }
                drift::Why::Resumed => format!("on {RESUME_ANNOTATION}"),
            };
            notes.push(Note::warning(
                reasons::DRIFT_CORRECTED,
                format!(
                    "group membership {} ({how}); restoring it",
                    drift::describe(&drift.changes, drift.total as usize)
                ),
            ));
            if !failed || !matches!(why, drift::Why::Resumed) {
                status.last_handled_resume = resume.or(status.last_handled_resume.take());
            }
        }
        _ => status.last_handled_resume = resume.or(status.last_handled_resume.take()),
    }
    if held.is_some() {
        // Recorded before the batch's outcome is: a failed pass keeps the pause's start.
        status.drift = held.clone();
    }
    let ending = report(engine, status, notes, &group, &seen, &todo, batch)?;
    let Some(d) = held else {
        return Ok(ending);
    };
    let after = drift::recheck_after(&d, now, engine.resync);
    let message = d.message;
    Ok(match ending.verdict {
        // Nothing else to do: the object stands as drifted (not in progress, not failed).
        Verdict::Ready(_) => Ending::new(
            Verdict::progressing(reasons::DRIFT_DETECTED, message),
            after,
        ),
        // Work of its own still goes on; status.drift says what is left alone meanwhile.
        v => Ending::new(v, ending.requeue.min(after)),
    })
}

/// Splits the diff into the controller's own work and changes made outside it, and decides about
/// the latter (policy, pause, resume; a spec change wins).
async fn drift_decision(
    engine: &Engine,
    obj: &AgentMembership,
    status: &AgentMembershipStatus,
    group: &GroupRef,
    seen: &Seen,
    plan: &crate::plan::membership::MembershipDiff,
    now: Timestamp,
) -> Result<(drift::Decision, drift::MembershipSplit), PassError> {
    let kept = status
        .kept_members
        .as_ref()
        .map(|k| drift::decode_kept(&k.fingerprints));
    let split = drift::split_membership(plan, kept.as_ref());
    // Agents put in by hand are not declared: their names come from the instance's users.
    let others = if split.outside.disassociate.is_empty() {
        None
    } else {
        Some(
            engine
                .instance_users(
                    &group.source_region,
                    &group.instance_id,
                    // the list resolve_agents read (and cached) for this membership
                    desired_of(obj).has_selector(),
                    Priority::Background,
                    engine.resync / 2,
                )
                .await?,
        )
    };
    let name_of = |id: &str| {
        seen.resolution
            .ids
            .get(id)
            .cloned()
            .or_else(|| {
                others
                    .as_ref()
                    .and_then(|u| u.iter().find(|u| u.id == id).map(|u| u.username.clone()))
            })
            .unwrap_or_else(|| id.to_string())
    };
    let changes = drift::membership_changes(&split.outside, name_of);
    let hash = spec_hash(obj);
    let decision = drift::decide(drift::Facts {
        changes,
        generation_applied: obj.metadata.generation == status.observed_generation,
        spec_hash: &hash,
        previous: status.drift.as_ref(),
        policy: obj.spec.drift_policy.unwrap_or(engine.drift_policy),
        pause_seconds: obj.spec.drift_pause_seconds,
        now,
        resume: drift::resume_requested(
            obj.metadata.annotations.as_ref(),
            status.last_handled_resume.as_deref(),
        )
        .is_some(),
    });
    Ok((decision, split))
}

/// The spec less the drift settings: changing only driftPolicy or driftPauseSeconds during a
/// paused correction is not a change of what to apply.
fn spec_hash(obj: &AgentMembership) -> String {
    let mut spec = obj.spec.clone();
    spec.drift_policy = None;
    spec.drift_pause_seconds = 0;
    drift::spec_hash(&spec)
}

fn record_group(status: &mut AgentMembershipStatus, group: &GroupRef) {
    status.group_arn = Some(group.arn.clone());
    status.arn = Some(group.arn.clone());
    status.id = Some(group.id.clone());
    status.region = Some(group.source_region.clone());
}

/// What a pass knows before it plans.
struct Seen {
    mode: Mode,
    resolution: Resolution,
    /// Declared agents that are users of both regions (A2): the ones to associate.
    desired_ids: BTreeSet<String>,
    /// Declared agents not mirrored to the replica yet, by username.
    pending: Vec<String>,
    /// What the group's other live memberships declare (read only when this one could remove).
    declared_by_others: BTreeSet<String>,
    /// When a members sweep in flight should end.
    sweep_eta: Option<tokio::time::Instant>,
}

/// Reads what the plan needs: the group is ACTIVE (A1), the declared agents resolved, which are
/// mirrored (A2), the group's members, and (Exact, when someone could be removed) what the other
/// memberships of the group declare.
async fn observe(
    engine: &Engine,
    obj: &AgentMembership,
    objects: &dyn Objects,
    group: &GroupRef,
    want: &DesiredAgents,
    status: &AgentMembershipStatus,
) -> Result<Result<Seen, Ending>, PassError> {
    // A pass over a Ready object whose spec was already applied is a drift check: its reads go
    // at background priority (within the budget) and reuse what other memberships just read.
    // A drift check also while a reported drift waits for its correction.
    let drift_check = settled(
        obj.metadata.generation,
        status.observed_generation,
        &status.conditions,
    ) || (status.drift.is_some()
        && obj.metadata.generation == status.observed_generation);
    // `connectgr.io/reconcile-now`: nothing cached is trusted (drift is still drift).
    let fresh = super::driver::fresh_reads_requested();
    if fresh {
        engine.forget_members(&group.arn);
    }
    let (priority, users_max_age) = if drift_check && !fresh {
        (Priority::Background, engine.resync / 2)
    } else {
        (Priority::Normal, std::time::Duration::ZERO)
    };
    let info = engine
        .connect
        .describe_traffic_distribution_group(&group.source_region, &group.arn, priority)
        .await?;
    if let Some(v) = crate::plan::group::until_active(&info.status, "A1") {
        return Ok(Err(Ending::new(v, std::time::Duration::from_secs(1))));
    }
    let resolution = resolve_agents(engine, group, want, priority, users_max_age).await?;
    let replica_users = engine
        .instance_users(
            &group.replica_region,
            &group.instance_id,
            false,
            priority,
            users_max_age,
        )
        .await?;
    let replica_ids: HashSet<&str> = replica_users.iter().map(|u| u.id.as_str()).collect();
    let mut desired_ids = BTreeSet::new();
    let mut pending = Vec::new();
    for (id, name) in &resolution.ids {
        if replica_ids.contains(id.as_str()) {
            desired_ids.insert(id.clone());
        } else {
            pending.push(name.clone());
        }
    }
    let sweep_eta = engine
        .ensure_members(&group.source_region, &group.arn)
        .await?;
    let mode = match obj.spec.mode {
        MembershipMode::Exact => Mode::Exact,
        MembershipMode::Additive => Mode::Additive,
    };
    let could_remove = engine.with_members(&group.arn, |current| {
        has_removal_candidates(&desired_ids, current, mode)
    });
    let declared_by_others = if could_remove {
        declared_by_others(
            engine,
            obj,
            objects,
            group,
            users_max_age.max(engine.resync / 2),
        )
        .await?
    } else {
        BTreeSet::new()
    };
    Ok(Ok(Seen {
        mode,
        resolution,
        desired_ids,
        pending,
        declared_by_others,
        sweep_eta,
    }))
}

/// The user ids the group's other live memberships declare. A failed read of the memberships is
/// an error: taking it for "no other membership" would remove their agents.
pub(super) async fn declared_by_others(
    engine: &Engine,
    obj: &AgentMembership,
    objects: &dyn Objects,
    group: &GroupRef,
    users_max_age: std::time::Duration,
) -> Result<BTreeSet<String>, PassError> {
    let ns = obj.namespace().unwrap_or_default();
    let mut ids = BTreeSet::new();
    for other in objects.memberships(&ns).await? {
        let live = other.metadata.deletion_timestamp.is_none();
        if live && other.spec.group_ref.name == obj.spec.group_ref.name && other.uid() != obj.uid()
        {
            let theirs = resolve_agents(
                engine,
                group,
                &desired_of(&other),
                Priority::Normal,
                users_max_age,
            )
            .await?;
            ids.extend(theirs.ids.into_keys());
        }
    }
    Ok(ids)
}

/// Records what the batch did in status and says where the membership stands.
fn report(
    engine: &Engine,
    status: &mut AgentMembershipStatus,
    notes: &mut Vec<Note>,
    group: &GroupRef,
    seen: &Seen,
    plan: &crate::plan::membership::MembershipDiff,
    batch: Batch,
) -> Result<Ending, PassError> {
    let resolution = &seen.resolution;
    // A2: not (yet) a user of the source/replica: report as pending.
    let mut pending_names = seen.pending.clone();
    pending_names.extend(batch.not_found.iter().map(|id| {
        resolution
            .ids
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.clone())
    }));
    pending_names.sort();
    pending_names.dedup();
    let associated = engine.with_members(&group.arn, |members| {
        resolution
            .ids
            .keys()
            .filter(|id| members.contains(*id))
            .count()
    });
    let desired_count = resolution.ids.len();
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
    status.removed_count = Some(status.removed_count.unwrap_or(0) + batch.removed as i32);

    let (added, removed) = (batch.added, batch.removed);
    if added + removed > 0 {
        notes.push(Note::normal(
            reasons::MEMBERSHIP_UPDATED,
            format!("associated {added}, disassociated {removed} ({associated}/{desired_count})"),
        ));
    }
    if let Some(e) = batch.first_error {
        if e.class() != ErrorClass::Terminal && added + removed > 0 {
            // Progress was made: it is in status; keep going rather than backing off.
            return Ok(Ending::wait(
                reasons::ASSOCIATING,
                format!("{associated}/{desired_count} associated; retrying: {e}"),
            ));
        }
        return Err(e.into());
    }
    let progress = Progress {
        remaining: plan.associate.len() + plan.disassociate.len() - added - removed,
        unknown,
        pending: pending_names,
        associated,
        desired: desired_count,
    };
    let (verdict, next) = verdict(&progress, &group.instance_id, &group.replica_region);
    // A drift sweep in flight: look again as soon as it should be done, to act on what it found.
    let after_sweep = seen
        .sweep_eta
        .map(|eta| eta.saturating_duration_since(tokio::time::Instant::now()))
        .map(|d| (d + std::time::Duration::from_millis(500)).min(engine.resync))
        .unwrap_or(engine.resync);
    let requeue = match next {
        Next::Continue => std::time::Duration::from_millis(200),
        Next::Replication => std::time::Duration::from_secs(5),
        Next::Resync => after_sweep,
    };
    Ok(Ending::new(verdict, requeue))
}

pub use super::membership_cleanup::cleanup;
