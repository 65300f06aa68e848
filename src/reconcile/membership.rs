//! AgentMembership: resolve usernames and selectors cheaply (ListUsers / SearchUsers), diff
//! against the group's members, associate and (Exact) disassociate as a rate-limited batch whose
//! progress is written to status between windows.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::*;
use crate::api::{AgentMembership, AgentMembershipStatus, MembershipMode, common::STATUS_LIST_CAP};
use crate::connect::{ConnectResult, Priority};
use crate::plan::membership::{DesiredAgents, Mode, diff, resolve};
use crate::plan::sweep::Write;

/// How many association calls are in flight at once (the scheduler paces them).
const CONCURRENCY: usize = 8;

fn cap(mut v: Vec<String>) -> Vec<String> {
    v.truncate(STATUS_LIST_CAP);
    v
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
    let drift_check = obj.metadata.generation == status.observed_generation
        && conditions::is_true(&status.conditions, conditions::READY);
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
    let sel = obj.spec.selector.clone().unwrap_or_default();
    let want = DesiredAgents {
        users: obj.spec.users.clone(),
        routing_profiles: sel.routing_profiles.clone(),
        hierarchy_groups: sel.hierarchy_groups.clone(),
        tags: sel.tags.clone(),
    };
    let users = engine
        .instance_users(
            &group.source_region,
            &group.instance_id,
            want.has_selector(),
            read_priority,
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
    let resolution = resolve(&want, &users, &rps, &hgs);
    // A2: a user not mirrored to the replica yet cannot be associated: pending, no call.
    let replica_ids: BTreeSet<String> = engine
        .instance_users(
            &group.replica_region,
            &group.instance_id,
            false,
            read_priority,
            users_max_age,
        )
        .await?
        .iter()
        .map(|u| u.id.clone())
        .collect();
    let (ready, pending): (BTreeMap<String, String>, BTreeMap<String, String>) = resolution
        .ids
        .clone()
        .into_iter()
        .partition(|(id, _)| replica_ids.contains(id));
    let mut pending_names: Vec<String> = pending.values().cloned().collect();

    let (current, sweep_eta) = engine
        .group_members(&group.source_region, &group.arn)
        .await?;
    let mode = match obj.spec.mode {
        MembershipMode::Exact => Mode::Exact,
        MembershipMode::Additive => Mode::Additive,
    };
    let desired_ids: BTreeSet<String> = ready.keys().cloned().collect();
    let plan = diff(&desired_ids, &current, mode);
    let drift = drift_check && !plan.is_empty();

    // Execute within one window, then write progress and come back.
    let deadline = tokio::time::Instant::now() + engine.batch_window;
    let mut added = 0usize;
    let mut removed = 0usize;
    let mut first_error: Option<ConnectError> = None;
    let calls = plan
        .disassociate
        .iter()
        .map(|id| (false, id.clone()))
        .chain(plan.associate.iter().map(|id| (true, id.clone())))
        .collect::<Vec<_>>();
    let mut stream = futures::stream::iter(calls.into_iter().map(|(assoc, id)| {
        let group = group.clone();
        async move {
            if tokio::time::Instant::now() >= deadline {
                return (assoc, id, None);
            }
            let r = if assoc {
                engine
                    .connect
                    .associate_group_user(&group.source_region, &group.arn, &group.instance_id, &id)
                    .await
            } else {
                engine
                    .connect
                    .disassociate_group_user(
                        &group.source_region,
                        &group.arn,
                        &group.instance_id,
                        &id,
                    )
                    .await
            };
            (assoc, id, Some(r))
        }
    }))
    .buffer_unordered(CONCURRENCY);
    while let Some((assoc, id, r)) = stream.next().await {
        match r {
            None => {}
            Some(Ok(())) => {
                if assoc {
                    added += 1;
                    engine.record_write(&group.arn, Write::Associated(id));
                } else {
                    removed += 1;
                    engine.record_write(&group.arn, Write::Disassociated(id));
                }
            }
            // A2: not (yet) a user of the source/replica: report as pending.
            Some(Err(ConnectError::NotFound(_))) if assoc => {
                pending_names.push(ready.get(&id).cloned().unwrap_or(id))
            }
            Some(Err(ConnectError::NotFound(_))) => {
                engine.record_write(&group.arn, Write::Disassociated(id));
            }
            Some(Err(e)) if first_error.is_none() => first_error = Some(e),
            Some(Err(_)) => {}
        }
    }
    drop(stream);

    let now_members = engine.known_members(&group.arn);
    let associated = resolution
        .ids
        .keys()
        .filter(|id| now_members.contains(*id))
        .count();
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
